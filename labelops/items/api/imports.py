"""Import endpoints: upload a file to import, list and read import jobs.

POST only stores the upload and queues a job (202); a Celery worker runs the
import (`labelops.items.tasks.run_import_job`). Leads may import; every
member may read the jobs and their reports.
"""

from __future__ import annotations

from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.reverse import reverse

from labelops.items.importing.jobs import UPLOAD_EXTENSIONS, ImportNotQueued, check_upload_size, submit_import
from labelops.items.importing.options import ImportOptions, infer_format
from labelops.items.models import ImportJob, LabelsAs
from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import Role


class ImportJobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)

    class Meta:
        model = ImportJob
        fields = [
            "id", "url", "format", "original_name", "options", "state", "report", "error",
            "created_by", "created_at", "started_at", "finished_at",
        ]
        read_only_fields = fields

    def get_url(self, job) -> str:
        return reverse("import-detail", kwargs={"project_pk": job.project_id, "pk": job.pk},
                       request=self.context.get("request"))


class _KeepDefaultBooleanField(serializers.BooleanField):
    """A boolean that keeps its default when a multipart form leaves it out
    (DRF reads an absent HTML checkbox as False, which would turn PII
    scrubbing off for every client that does not send the field)."""

    default_empty_html = serializers.empty


class ImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, use_url=False)
    format = serializers.ChoiceField(
        choices=list(UPLOAD_EXTENSIONS), required=False,
        help_text="Inferred from the file name when left out: .csv, .jsonl/.ndjson, .zip, .json (Label Studio).",
    )
    labels_as = serializers.ChoiceField(choices=LabelsAs.choices, default=LabelsAs.GOLD)
    holdout_fraction = serializers.FloatField(
        required=False, allow_null=True, default=None,
        help_text="Share held out for evaluation; default: the project's holdout_fraction setting.",
    )
    text_field = serializers.CharField(max_length=200, default="text")
    label_field = serializers.CharField(max_length=200, default="label")
    scrub_pii = _KeepDefaultBooleanField(default=True)
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)

    def validate_file(self, upload):
        check_upload_size(upload.size)
        return upload

    def validate(self, data):
        if not data.get("format"):
            inferred = infer_format(data["file"].name or "")
            if inferred not in UPLOAD_EXTENSIONS:
                raise serializers.ValidationError({"format": (
                    f"cannot tell the format from the file name {PurePath(data['file'].name or '').name!r}: "
                    f"pass format ({', '.join(UPLOAD_EXTENSIONS)})"
                )})
            data["format"] = inferred
        try:
            data["options"] = ImportOptions.from_dict({k: v for k, v in data.items() if k != "file"})
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return data


# Room for the multipart boundaries and the option fields around the file.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class ImportList(ProjectScopedMixin, generics.ListAPIView):
    """The project's import jobs, oldest first; POST a file to import one."""

    serializer_class = ImportJobSerializer
    parser_classes = [MultiPartParser, FormParser]
    needed_roles = {"get": Role.ANNOTATOR, "post": Role.LEAD}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no project
            return ImportJob.objects.none()
        return ImportJob.objects.filter(project=self.project).select_related("created_by")

    @extend_schema(summary="List the project's import jobs")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Upload a file to import (leads)",
        description=(
            "Stores the file and queues an import job for a worker; poll the returned job for its report. "
            "Options: format (else inferred from the file name), labels_as, holdout_fraction, text_field, "
            "label_field, scrub_pii (default true), seed."
        ),
        request={"multipart/form-data": ImportCreateSerializer},
        responses={
            202: OpenApiResponse(ImportJobSerializer, description="Stored and queued; poll the job's url."),
            400: OpenApiResponse(description="Bad options, or an empty, oversized or mismatched file."),
            503: OpenApiResponse(ImportJobSerializer, description="The broker is down: the job is saved as failed."),
        },
    )
    def post(self, request, *args, **kwargs):
        # Refuse an oversized body from its declared length, before Django
        # spools gigabytes to disk parsing it. (The parsed file's own size is
        # checked again by the serializer: the header can lie.)
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > settings.IMPORT_MAX_BYTES + MULTIPART_OVERHEAD_BYTES:
            return Response(
                {"file": [f"the upload is {declared} bytes, more than IMPORT_MAX_BYTES ({settings.IMPORT_MAX_BYTES})"]},
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        serializer = ImportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        context = {"request": request}
        try:
            job = submit_import(
                actor=request.user, project=self.project,
                upload=serializer.validated_data["file"], options=serializer.validated_data["options"],
            )
        except ImportNotQueued as exc:
            return Response(ImportJobSerializer(exc.job, context=context).data,
                            status=status.HTTP_503_SERVICE_UNAVAILABLE)
        data = ImportJobSerializer(job, context=context).data
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["url"]})


class ImportDetail(ProjectScopedMixin, generics.RetrieveAPIView):
    """One import job: its state, and its report or error once finished."""

    serializer_class = ImportJobSerializer
    needed_roles = {"get": Role.ANNOTATOR}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no project
            return ImportJob.objects.none()
        return ImportJob.objects.filter(project=self.project).select_related("created_by")
