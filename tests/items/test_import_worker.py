"""An upload through the API is imported by a real Celery worker process.

Twice: on the embedded filesystem broker (what `make demo` runs, no server
needed) and on Redis (what CI and production use; skipped with its reason
when CELERY_BROKER_URL is not a Redis URL, and failing instead under CI=true).
No eager mode and no in-process shortcut: if the worker never picks the job
up, the test fails.
"""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from labelops.items.models import ImportJob, Item
from tests.conftest import filesystem_broker_options, require
from tests.items.import_helpers import csv_bytes

pytestmark = [pytest.mark.broker, pytest.mark.usefixtures("artifact_root")]


def wait_for_job(job_id: int, worker, seconds: float = 60) -> ImportJob:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = ImportJob.objects.get(pk=job_id)
        if job.state in ("done", "failed"):
            return job
        if worker.poll() is not None:
            pytest.fail("the worker died:\n" + "".join(worker.output[-40:]), pytrace=False)
        time.sleep(0.2)
    pytest.fail(f"job {job_id} still {job.state} after {seconds} s; worker log:\n" + "".join(worker.output[-40:]),
                pytrace=False)


def upload_through_api(api, user, project) -> int:
    data = csv_bytes("text,label", "card charged twice,billing", "the app crashes on login,bug", "hello there,")
    response = api(user).post(
        reverse("import-list", kwargs={"project_pk": project.pk}),
        {"file": SimpleUploadedFile("tickets.csv", data), "labels_as": "gold", "holdout_fraction": 0},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def check_imported(job: ImportJob, worker) -> None:
    assert job.state == "done", job.error
    assert job.report["imported"] == 3 and job.report["gold"] == 2
    assert sorted(Item.objects.values_list("text", flat=True)) == [
        "card charged twice", "hello there", "the app crashes on login",
    ]
    assert any("run_import_job[" in line for line in worker.output), "the job did not run in the worker"


def test_the_embedded_broker_carries_a_job_to_a_worker(start_worker, use_broker, project, lead, api, tmp_path):
    var_dir = tmp_path / "var"
    use_broker("filesystem://", filesystem_broker_options(var_dir))
    worker = start_worker(CELERY_BROKER_URL="filesystem://", LABELOPS_VAR_DIR=str(var_dir))
    job = wait_for_job(upload_through_api(api, lead, project), worker)
    check_imported(job, worker)


def test_redis_carries_a_job_to_a_worker(start_worker, project, lead, api, settings):
    require(settings.CELERY_BROKER_URL.startswith("redis://"), "CELERY_BROKER_URL is not a redis:// URL")
    worker = start_worker()
    job = wait_for_job(upload_through_api(api, lead, project), worker)
    check_imported(job, worker)
