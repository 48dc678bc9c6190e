"""Export a project's items to a file, as the API's export does, without a web
request or its time limits. Recorded in the audit trail with no actor.

    manage.py export_items 3 --format parquet --status approved --output tickets.parquet
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management import BaseCommand, CommandError
from django.urls import reverse

from labelops.items.exporting import ExportOptions, export_to_path
from labelops.items.exporting.formats import FORMAT_CLASSES
from labelops.items.exporting.service import DEFAULT_BATCH_SIZE, STATUSES
from labelops.items.models import Split
from labelops.projects.models import Project


class Command(BaseCommand):
    help = "Export a project's items (approved labels by default) as JSONL, CSV, Label Studio JSON or Parquet."

    def add_arguments(self, parser):
        parser.add_argument("project_id", type=int)
        parser.add_argument("--format", choices=list(FORMAT_CLASSES), default="jsonl")
        parser.add_argument("--status", choices=list(STATUSES), default="approved")
        parser.add_argument("--split", choices=Split.values, default=None)
        parser.add_argument("--output", required=True, type=Path, help="file to write (replaced if it exists)")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
        parser.add_argument(
            "--base-url", default="",
            help="prefix for image URLs, e.g. https://labelops.example.org (default: site-relative URLs)",
        )

    def handle(self, *args, project_id, format, status, split, output, batch_size, base_url, **options):
        project = Project.objects.filter(pk=project_id).first()
        if project is None:
            raise CommandError(f"no project with id {project_id}")
        if not output.parent.is_dir():
            raise CommandError(f"{output.parent} is not a directory")
        try:
            export_options = ExportOptions(format=format, status=status, split=split, batch_size=batch_size)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc

        def file_url(item):
            return base_url.rstrip("/") + reverse("item-file", kwargs={"project_pk": project.pk, "pk": item.pk})

        count = export_to_path(actor=None, project=project, options=export_options, path=output, file_url=file_url)
        self.stdout.write(f"exported {count} item(s) of project {project.pk} to {output}")
