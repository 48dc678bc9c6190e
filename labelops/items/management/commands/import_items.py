"""manage.py import_items PROJECT_ID PATH --user USERNAME [options]

For a server admin: import a file or a folder of images that is already on
this machine, synchronously, through the same job and the same code a
worker runs, and print the report. Nothing is copied: PATH is read in place.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from labelops.items.importing.jobs import create_local_import_job
from labelops.items.importing.options import ImportOptions, infer_format
from labelops.items.models import ImportFormat, JobState, LabelsAs
from labelops.items.tasks import run_import_job
from labelops.projects.models import Project, Role


class Command(BaseCommand):
    help = "Import items from a CSV, JSONL, Label Studio JSON, ZIP of images or folder of images on this server."

    def add_arguments(self, parser):
        parser.add_argument("project_id", type=int)
        parser.add_argument("path", type=Path, help="a file, or a folder of images")
        parser.add_argument("--user", required=True, help="username of the lead the import is recorded for")
        parser.add_argument("--format", choices=ImportFormat.values,
                            help="default: from the extension, images_folder for a folder")
        parser.add_argument("--labels-as", choices=LabelsAs.values, default=LabelsAs.GOLD)
        parser.add_argument("--holdout-fraction", type=float, default=None,
                            help="default: the project's holdout_fraction setting")
        parser.add_argument("--text-field", default="text")
        parser.add_argument("--label-field", default="label")
        parser.add_argument("--no-scrub-pii", action="store_true", help="keep e-mails, phones and card numbers")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **opts):
        project = Project.objects.filter(pk=opts["project_id"]).first()
        if project is None:
            raise CommandError(f"there is no project {opts['project_id']}")
        user = get_user_model().objects.filter(username=opts["user"]).first()
        if user is None:
            raise CommandError(f"there is no user {opts['user']!r}")
        if project.role_of(user) != Role.LEAD:
            raise CommandError(f"{user.username} is not a lead of project {project.pk}")
        path: Path = opts["path"]
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        fmt = opts["format"] or (ImportFormat.IMAGES_FOLDER if path.is_dir() else infer_format(path.name))
        if fmt is None:
            raise CommandError(f"cannot tell the format of {path.name!r}: pass --format")
        try:
            options = ImportOptions.from_dict({
                "format": fmt, "labels_as": opts["labels_as"], "holdout_fraction": opts["holdout_fraction"],
                "text_field": opts["text_field"], "label_field": opts["label_field"],
                "scrub_pii": not opts["no_scrub_pii"], "seed": opts["seed"],
            })
            job = create_local_import_job(actor=user, project=project, path=path, options=options)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None

        self.stderr.write(f"import job {job.pk}: importing {path} ({fmt}) into project {project.pk}...")
        run_import_job(job.pk)
        job.refresh_from_db()
        if job.state != JobState.DONE:
            raise CommandError(f"import job {job.pk} failed: {job.error}")
        self.stdout.write(json.dumps(job.report, indent=2))
        report = job.report
        self.stderr.write(self.style.SUCCESS(
            f"import job {job.pk} done: {report['imported']} imported of {report['read']} read, "
            f"{report['duplicates']} duplicate(s), {report['empty']} empty, in {report['seconds']} s"
        ))
