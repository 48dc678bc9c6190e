"""POST /projects/<id>/imports/ stores the upload and queues a job on a real
(filesystem) broker; the job is then run by calling the task, as a worker
would. GET lists and reads jobs."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from labelops.items.models import ImportJob, Item
from labelops.items.tasks import run_import_job
from labelops.projects import services as project_services
from tests.conftest import filesystem_broker_options
from tests.items.import_helpers import csv_bytes

pytestmark = pytest.mark.usefixtures("artifact_root")


@pytest.fixture
def broker(use_broker, tmp_path):
    """kombu's filesystem transport in a private folder; yields the folder
    that messages are written to."""
    options = filesystem_broker_options(tmp_path)
    use_broker("filesystem://", options)
    return Path(options["data_folder_in"])


@pytest.fixture
def broker_down(use_broker):
    """A Redis broker on a port where nothing listens."""
    use_broker("redis://127.0.0.1:1/0")


def upload(name="tickets.csv", data=None):
    data = csv_bytes("text,label", "card charged twice,billing", "app crashes,bug", "hello,") if data is None else data
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def imports_url(project):
    return reverse("import-list", kwargs={"project_pk": project.pk})


def queued_messages(queue):
    messages = []
    for path in sorted(queue.iterdir()):
        envelope = json.loads(path.read_text())
        args, kwargs, _ = json.loads(base64.b64decode(envelope["body"]))
        messages.append((path.name, envelope["headers"]["task"], args))
    return messages


def test_lead_uploads_job_is_queued_then_a_worker_run_imports_it(transactional_db, project, lead, api, broker,
                                                                 artifact_root):
    response = api(lead).post(imports_url(project), {"file": upload(), "labels_as": "gold", "seed": "3"},
                              format="multipart")

    assert response.status_code == 202, response.json()
    body = response.json()
    job = ImportJob.objects.get(pk=body["id"])
    assert (body["state"], body["format"], body["original_name"], body["created_by"]) == (
        "queued", "csv", "tickets.csv", "lead"
    )
    assert body["options"]["seed"] == 3 and body["options"]["scrub_pii"] is True
    assert response["Location"] == body["url"]
    # Stored under a generated name, never the client's.
    assert job.source.startswith("uploads/") and "tickets" not in job.source
    assert (artifact_root / job.source).read_bytes() == upload().read()
    # One message, on the ingest queue, naming the task and the job.
    [(filename, task, args)] = queued_messages(broker)
    assert task == "labelops.items.tasks.run_import_job" and args == [job.pk]
    assert ".ingest." in filename
    assert not Item.objects.exists()  # nothing ran inside the request

    run_import_job(job.pk)

    detail = api(lead).get(body["url"]).json()
    assert detail["state"] == "done" and detail["error"] == ""
    assert detail["report"]["imported"] == 3 and detail["report"]["gold"] == 2
    assert Item.objects.filter(import_job=job).count() == 3


def test_broker_down_fails_the_job_and_answers_503(transactional_db, project, lead, api, broker_down, artifact_root):
    response = api(lead).post(imports_url(project), {"file": upload()}, format="multipart")
    assert response.status_code == 503
    body = response.json()
    job = ImportJob.objects.get(pk=body["id"])
    assert job.state == body["state"] == "failed"
    assert job.error.startswith("the job could not be queued: OperationalError")
    assert not (artifact_root / job.source).exists()
    assert not Item.objects.exists()


def test_format_is_inferred_from_the_extension_or_given(project, lead, api, broker):
    jsonl = SimpleUploadedFile("x.ndjson", b'{"text": "a"}\n')
    assert api(lead).post(imports_url(project), {"file": jsonl}, format="multipart").json()["format"] == "jsonl"
    named = upload("export.txt")
    response = api(lead).post(imports_url(project), {"file": named, "format": "csv"}, format="multipart")
    assert response.status_code == 202 and response.json()["format"] == "csv"


def test_unknown_extension_without_format_is_400(project, lead, api, broker):
    response = api(lead).post(imports_url(project), {"file": upload("data.txt")}, format="multipart")
    assert response.status_code == 400
    assert "cannot tell the format from the file name 'data.txt'" in response.json()["format"][0]


def test_empty_and_oversized_files_are_400_naming_the_problem(project, lead, api, broker, settings):
    empty = api(lead).post(imports_url(project), {"file": upload(data=b"")}, format="multipart")
    assert empty.status_code == 400 and empty.json()["file"] == ["the file is empty (0 bytes)"]
    settings.IMPORT_MAX_BYTES = 10
    big = api(lead).post(imports_url(project), {"file": upload(data=b"text\n" + b"x" * 20)}, format="multipart")
    assert big.status_code == 400
    assert big.json()["file"] == ["the file is 25 bytes, more than IMPORT_MAX_BYTES (10)"]
    assert not ImportJob.objects.exists()


def test_a_body_declared_too_large_is_refused_before_it_is_read(project, lead, api, broker, settings, artifact_root):
    settings.IMPORT_MAX_BYTES = 1000
    response = api(lead).post(imports_url(project), {"file": upload(data=b"text\n" + b"x" * 200_000)},
                              format="multipart")
    assert response.status_code == 413
    assert "more than IMPORT_MAX_BYTES (1000)" in response.json()["file"][0]
    assert not ImportJob.objects.exists()
    assert not (artifact_root / "uploads").exists()


def test_bad_options_and_wrong_modality_are_400(project, lead, api, broker):
    bad = api(lead).post(imports_url(project), {"file": upload(), "holdout_fraction": "1.5", "labels_as": "x"},
                         format="multipart")
    assert bad.status_code == 400 and set(bad.json()) == {"labels_as"}
    bad = api(lead).post(imports_url(project), {"file": upload(), "holdout_fraction": "1.5"}, format="multipart")
    assert bad.status_code == 400 and "holdout_fraction must be a number in [0, 1)" in bad.json()["holdout_fraction"][0]
    images = api(lead).post(imports_url(project), {"file": upload("pets.zip", b"PK")}, format="multipart")
    assert images.status_code == 400 and "is a text project" in images.json()["format"][0]
    assert not ImportJob.objects.exists()


def test_scrub_pii_can_be_turned_off_explicitly(project, lead, api, broker):
    response = api(lead).post(imports_url(project), {"file": upload(), "scrub_pii": "false"}, format="multipart")
    assert response.json()["options"]["scrub_pii"] is False


def test_only_leads_import_members_read_outsiders_see_nothing(project, lead, annotator, outsider, api, broker):
    created = api(lead).post(imports_url(project), {"file": upload()}, format="multipart").json()

    forbidden = api(annotator).post(imports_url(project), {"file": upload()}, format="multipart")
    assert forbidden.status_code == 403
    listing = api(annotator).get(imports_url(project))
    assert listing.status_code == 200 and [job["id"] for job in listing.json()["results"]] == [created["id"]]
    assert api(annotator).get(created["url"]).status_code == 200

    assert api(outsider).get(imports_url(project)).status_code == 404
    assert api(outsider).get(created["url"]).status_code == 404
    assert api(outsider).post(imports_url(project), {"file": upload()}, format="multipart").status_code == 404
    assert api().get(imports_url(project)).status_code in (401, 403)


def test_jobs_of_other_projects_are_not_found(project, lead, api, broker):
    other = project_services.create_project(actor=lead, name="Other")
    job = ImportJob.objects.create(project=other, created_by=lead, format="csv", source="uploads/x.csv")
    url = reverse("import-detail", kwargs={"project_pk": project.pk, "pk": job.pk})
    assert api(lead).get(url).status_code == 404
