"""Celery tasks of the items app (routed to the `ingest` queue by settings)."""

from __future__ import annotations

import logging
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from labelops.celery import app
from labelops.items.importing.errors import ImportFailed
from labelops.items.importing.jobs import RUN_IMPORT_TASK
from labelops.items.importing.pipeline import run_import
from labelops.items.importing.storage import resolve_source
from labelops.items.models import ImportJob, JobState

logger = logging.getLogger(__name__)

# Sent, by name, when an import has brought items: the project's cold-start
# round if it has no model yet (`labelops.learning.steps.START_COLD_START_TASK`;
# the rounds are a sibling layer, so the name is repeated, and
# tests/config/test_task_names.py holds the two equal).
COLD_START_TASK = "labelops.learning.tasks.start_cold_start_round"


@shared_task(name=RUN_IMPORT_TASK)
def run_import_job(job_id: int) -> None:
    """Run one queued import job.

    Claims the job with a conditional update (queued -> running), so a
    duplicate message, a second worker or a second call does nothing; a job
    that is gone (its project deleted) is skipped quietly. A job left running
    by a worker that died is run again (see `_abandoned`). Bad input fails the
    job with the importer's message (a finished outcome, not a task error);
    anything unexpected also fails the job, then re-raises for the worker log.
    """
    claimed = ImportJob.objects.filter(id=job_id, state=JobState.QUEUED).update(
        state=JobState.RUNNING, started_at=timezone.now()
    )
    if claimed != 1 and not _abandoned(job_id):
        logger.info("import job %s is not queued (gone, done, or running elsewhere): nothing to do", job_id)
        return
    job = ImportJob.objects.select_related("project", "created_by").filter(id=job_id).first()
    if job is None:
        return
    try:
        report = run_import(job)
    except ImportFailed as exc:
        _finish(job, JobState.FAILED, error=str(exc))
        logger.info("import job %s failed: %s", job_id, exc)
        return
    except Exception as exc:
        _finish(job, JobState.FAILED, error=f"internal error ({type(exc).__name__}): {exc}")
        raise
    _finish(job, JobState.DONE, report=report)
    _ask_for_cold_start(job)


def _ask_for_cold_start(job: ImportJob) -> None:
    """Ask a worker for the project's cold-start round. The import is done
    whatever happens here: if the broker refuses the message, the next beat
    (`start_due_rounds`) starts the round instead, so a warning is enough."""
    try:
        app.send_task(COLD_START_TASK, args=(job.project_id,))
    except Exception:
        logger.warning("import job %s: could not ask for a cold-start round; beat will", job.pk, exc_info=True)


def _abandoned(job_id: int) -> bool:
    """True for a job still marked running whose worker died mid-import.

    With `acks_late` the broker hands a dead worker's message to another
    worker. The dead worker's import transaction was rolled back, releasing
    the lock `run_import` holds on the job row for its whole run; a live worker
    still holds it. So: if the row can be locked without waiting, nobody is
    running the job. SQLite has no row locks (the lock below is a no-op); its
    embedded set-up runs a single worker, so a redelivery there also means
    that worker died.
    """
    try:
        with transaction.atomic():
            running = ImportJob.objects.select_for_update(nowait=True).filter(id=job_id, state=JobState.RUNNING)
            return bool(list(running.values_list("id", flat=True)))
    except DatabaseError:  # the lock is held: a live worker is importing it
        return False


def _finish(job: ImportJob, state: str, *, report: dict | None = None, error: str = "") -> None:
    """Record the outcome, then delete the uploaded copy: its items (or its
    error) are in the database, and an upload is no archive. Files a server
    admin imported in place (absolute sources) are never touched."""
    ImportJob.objects.filter(id=job.pk, state=JobState.RUNNING).update(
        state=state, report=report or {}, error=error, finished_at=timezone.now()
    )
    if not Path(job.source).is_absolute():
        try:
            resolve_source(settings.ARTIFACT_ROOT, job.source).unlink(missing_ok=True)
        except ValueError:  # a source outside ARTIFACT_ROOT is refused, never deleted
            pass
