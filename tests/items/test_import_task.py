"""The `run_import_job` task: claims once, records the outcome, safe to repeat."""

from __future__ import annotations

import threading

import pytest
from django.db import connections, transaction

from labelops.items.models import ImportJob, Item
from labelops.items.tasks import run_import_job
from tests.conftest import require
from tests.items.import_helpers import csv_bytes, make_job

pytestmark = pytest.mark.usefixtures("artifact_root")


def test_a_queued_job_runs_to_done_with_its_report(project, lead):
    job = make_job(project, lead, csv_bytes("text,label", "a,bug", "b,"), "csv")
    run_import_job(job.pk)
    job.refresh_from_db()
    assert job.state == "done" and job.error == ""
    assert job.report["imported"] == 2 and job.report["gold"] == 1
    assert job.started_at is not None and job.finished_at >= job.started_at
    assert Item.objects.filter(import_job=job).count() == 2


def test_running_it_twice_imports_once(project, lead):
    job = make_job(project, lead, csv_bytes("text", "a", "b"), "csv")
    run_import_job(job.pk)
    first = ImportJob.objects.get(pk=job.pk)
    run_import_job(job.pk)
    again = ImportJob.objects.get(pk=job.pk)
    assert (again.state, again.report, again.finished_at) == ("done", first.report, first.finished_at)
    assert Item.objects.count() == 2


def test_a_job_whose_worker_died_is_run_again(project, lead):
    """Left "running" with nobody holding its lock: the worker died mid-import
    and its transaction rolled back. The redelivered message runs it."""
    job = make_job(project, lead, csv_bytes("text", "a"), "csv")
    ImportJob.objects.filter(pk=job.pk).update(state="running")
    run_import_job(job.pk)
    assert ImportJob.objects.get(pk=job.pk).state == "done"
    assert Item.objects.count() == 1


@pytest.mark.postgres
def test_a_job_running_in_another_worker_is_left_alone(transactional_db, project, lead):
    """A live worker holds the job row's lock for the whole import; a second
    delivery of the same message must not start the import again."""
    from django.db import connection

    require(connection.vendor == "postgresql", "DATABASE_URL is not PostgreSQL (SQLite has no row locks)")
    job = make_job(project, lead, csv_bytes("text", "a"), "csv")
    ImportJob.objects.filter(pk=job.pk).update(state="running")
    locked, release = threading.Event(), threading.Event()

    def live_worker():
        with transaction.atomic():
            list(ImportJob.objects.select_for_update().filter(pk=job.pk))
            locked.set()
            release.wait(timeout=30)
        connections.close_all()

    holder = threading.Thread(target=live_worker)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        run_import_job(job.pk)
    finally:
        release.set()
        holder.join(timeout=30)
    assert ImportJob.objects.get(pk=job.pk).state == "running"
    assert not Item.objects.exists()


def test_a_job_that_is_gone_is_skipped_quietly(db):
    run_import_job(987654)


def test_bad_input_fails_the_job_with_the_message(project, lead):
    job = make_job(project, lead, csv_bytes("text,label", "a,bug", "b,unknown"), "csv")
    run_import_job(job.pk)
    job.refresh_from_db()
    assert job.state == "failed"
    assert job.error.startswith("line 3: label 'unknown' is not in taxonomy v1")
    assert job.report == {} and job.finished_at is not None
    assert not Item.objects.exists()


def test_a_missing_upload_fails_the_job(project, lead, artifact_root):
    job = make_job(project, lead, csv_bytes("text", "a"), "csv")
    (artifact_root / job.source).unlink()
    run_import_job(job.pk)
    job.refresh_from_db()
    assert (job.state, job.error) == ("failed", "the import file is missing (was it deleted?)")


def test_a_source_outside_the_artifact_root_is_refused(project, lead):
    job = make_job(project, lead, csv_bytes("text", "a"), "csv")
    ImportJob.objects.filter(pk=job.pk).update(source="../../etc/passwd")
    run_import_job(job.pk)
    job.refresh_from_db()
    assert job.state == "failed" and "outside ARTIFACT_ROOT" in job.error


def test_the_uploaded_copy_is_deleted_when_the_job_finishes(project, lead, artifact_root):
    done = make_job(project, lead, csv_bytes("text", "a"), "csv")
    failed = make_job(project, lead, csv_bytes("text,label", "b,unknown"), "csv")
    for job in (done, failed):
        assert (artifact_root / job.source).exists()
        run_import_job(job.pk)
        assert not (artifact_root / job.source).exists()
    assert [j.state for j in ImportJob.objects.order_by("id")] == ["done", "failed"]


def test_a_file_imported_in_place_is_left_where_it_is(project, lead, tmp_path):
    source = tmp_path / "on-the-server.csv"
    source.write_bytes(csv_bytes("text", "a"))
    job = make_job(project, lead, source, "csv")
    run_import_job(job.pk)
    assert ImportJob.objects.get(pk=job.pk).state == "done"
    assert source.exists()

