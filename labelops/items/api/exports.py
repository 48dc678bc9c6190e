"""Exporting a project's items as a download, for leads.

JSONL, CSV and Label Studio JSON stream as they are read (nothing is held in
memory but one batch). Parquet needs a seekable footer, so it is written to
a temporary file first; the file is unlinked as soon as it is open for
reading, so it disappears when the response is closed however that happens.
"""

from __future__ import annotations

import os
import tempfile

from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from labelops.api.negotiation import BinaryNegotiation
from labelops.items.exporting import ExportOptions, ParquetFormat, format_for, iter_rows, record_export
from labelops.items.exporting.formats import FORMAT_CLASSES
from labelops.items.exporting.service import STATUSES
from labelops.items.models import Split
from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import Role


class ExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=list(FORMAT_CLASSES), default="jsonl")
    status = serializers.ChoiceField(
        choices=list(STATUSES), default="approved",
        help_text="approved: only items whose consensus is approved; all: every item with its labels, if any.",
    )
    split = serializers.ChoiceField(choices=Split.choices, required=False, help_text="Only items of this split.")


def _parquet_download(writer: ParquetFormat, rows):
    """Write the Parquet file to a temporary path and return it open for
    reading, already unlinked (POSIX keeps it readable until closed)."""
    fd, path = tempfile.mkstemp(prefix="labelops-export-", suffix=".parquet")
    os.close(fd)
    try:
        writer.write(rows, path)
        return open(path, "rb")
    finally:
        os.unlink(path)


class ExportView(ProjectScopedMixin, APIView):
    """Leads only: an export is the whole labelled dataset in one request.
    Reviewers read the same data through the paginated item API."""

    needed_roles = {"get": Role.LEAD}
    content_negotiation_class = BinaryNegotiation

    @extend_schema(
        summary="Export the project's items",
        description=(
            "Approved labels only by default, with provenance per item (annotators, agreement, consensus "
            "method, latest review, taxonomy version, split, external id, content hash, metadata). "
            "Recorded in the audit trail as items.export."
        ),
        parameters=[ExportQuerySerializer],
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.BINARY, description="format=jsonl"),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="format=csv"),
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.BINARY, description="format=label_studio: a JSON array of Label Studio tasks"
            ),
            (200, "application/vnd.apache.parquet"): OpenApiResponse(
                OpenApiTypes.BINARY, description="format=parquet"
            ),
            400: OpenApiResponse(description="A query parameter has a value that is not allowed."),
        },
    )
    def get(self, request, project_pk):
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        options = ExportOptions(**query.validated_data)
        writer = format_for(options.format, self.project)

        def file_url(item):
            return reverse("item-file", kwargs={"project_pk": item.project_id, "pk": item.pk}, request=request)

        record_export(actor=request.user, project=self.project, options=options)
        rows = iter_rows(self.project, options, file_url=file_url)
        if isinstance(writer, ParquetFormat):
            response = FileResponse(_parquet_download(writer, rows), content_type=writer.content_type)
        else:
            response = StreamingHttpResponse(writer.stream(rows), content_type=writer.content_type)
        response["Content-Disposition"] = f'attachment; filename="{writer.filename()}"'
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "no-store"
        return response
