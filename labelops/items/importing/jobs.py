"""Creating import jobs: from an API upload (queued for a worker) or from a
server path (for the `import_items` command)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from labelops.celery import app
from labelops.items.importing.options import ImportOptions, check_format_fits
from labelops.items.importing.storage import save_upload
from labelops.items.models import ImportFormat, ImportJob, JobState
from labelops.projects.models import Project

UPLOAD_EXTENSIONS = {
    ImportFormat.CSV: "csv",
    ImportFormat.JSONL: "jsonl",
    ImportFormat.IMAGES_ZIP: "zip",
    ImportFormat.LABEL_STUDIO: "json",
}


# The worker's task (`labelops.items.tasks.run_import_job`), sent by name:
# this service does not import the task module that imports it.
RUN_IMPORT_TASK = "labelops.items.tasks.run_import_job"


class ImportNotQueued(Exception):
    """The broker refused the job. The job is saved as failed with the reason."""

    def __init__(self, job: ImportJob, reason: str):
        super().__init__(f"import job {job.pk} could not be queued: {reason}")
        self.job = job


def check_upload_size(size: int) -> None:
    """Refuse an empty or oversized upload (a flat ValidationError, so a
    serializer files it under its own field)."""
    if size == 0:
        raise ValidationError("the file is empty (0 bytes)")
    if size > settings.IMPORT_MAX_BYTES:
        raise ValidationError(f"the file is {size} bytes, more than IMPORT_MAX_BYTES ({settings.IMPORT_MAX_BYTES})")


def _options_for_job(options: ImportOptions) -> dict:
    """Options as stored on the job; the format has its own column."""
    data = options.to_dict()
    del data["format"]
    return data


def submit_import(*, actor, project: Project, upload: UploadedFile, options: ImportOptions) -> ImportJob:
    """Store an upload under a generated name, create its job (queued) and
    enqueue it once the job is committed. The import itself never runs here.

    Raises ValidationError for a wrong format, an empty or oversized file, and
    ImportNotQueued (with the job, now failed, and the upload removed) if the
    broker cannot take the job. Call it outside any transaction, as views run:
    inside one, the enqueue (and so a broker failure) waits for the outer commit.
    """
    if options.format not in UPLOAD_EXTENSIONS:
        raise ValidationError({"format": f"{options.format} cannot be uploaded; use the import_items command"})
    check_format_fits(project, options.format)
    try:
        check_upload_size(upload.size)
    except ValidationError as exc:
        raise ValidationError({"file": exc.messages}) from None
    source = save_upload(settings.ARTIFACT_ROOT, upload, UPLOAD_EXTENSIONS[options.format])
    try:
        with transaction.atomic():
            job = ImportJob.objects.create(
                project=project, created_by=actor, format=options.format, source=source,
                original_name=(upload.name or "")[:255], options=_options_for_job(options),
            )
            transaction.on_commit(lambda: _enqueue(job))
    except BaseException:
        (Path(settings.ARTIFACT_ROOT) / source).unlink(missing_ok=True)
        raise
    return job


def _enqueue(job: ImportJob) -> None:
    try:
        app.send_task(RUN_IMPORT_TASK, args=(job.pk,))
    except Exception as exc:  # any broker failure (connection refused, full disk, ...) fails the job loudly
        reason = f"{type(exc).__name__}: {exc}"
        ImportJob.objects.filter(pk=job.pk).update(
            state=JobState.FAILED, error=f"the job could not be queued: {reason}", finished_at=timezone.now()
        )
        job.refresh_from_db()
        raise ImportNotQueued(job, reason) from exc


def create_local_import_job(*, actor, project: Project, path: Path, options: ImportOptions) -> ImportJob:
    """A queued job reading a file or folder on this server, in place (the
    `import_items` command). Run it with `run_import_job(job.pk)`."""
    check_format_fits(project, options.format)
    return ImportJob.objects.create(
        project=project, created_by=actor, format=options.format, source=str(path.resolve()),
        original_name=path.name[:255], options=_options_for_job(options),
    )
