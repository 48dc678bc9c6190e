"""GET /projects/<id>/rounds/ and /rounds/<number>/: members read rounds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labelops.learning.models import ModelVersion, TrainingRound
from labelops.projects import services as project_services

pytestmark = pytest.mark.django_db


def url(project, number=None):
    base = f"/api/v1/projects/{project.pk}/rounds/"
    return base if number is None else f"{base}{number}/"


@pytest.fixture
def rounds(project, lead):
    now = timezone.now()
    version = project.active_taxonomy()
    first = TrainingRound.objects.create(
        project=project, number=1, state="done", config={"strategy": "margin"}, taxonomy_version=version,
        labels_hash="abc", labels_count=120, metrics={"accuracy": 0.81, "macro_f1": 0.77},
        progress={"step": "done", "percent": 100}, created_by=lead,
        started_at=now - timedelta(hours=2), finished_at=now - timedelta(hours=1),
    )
    ModelVersion.objects.create(project=project, round=first, is_active=True, metrics={"accuracy": 0.81})
    second = TrainingRound.objects.create(
        project=project, number=2, state="failed", error="CUDA out of memory", taxonomy_version=version,
        progress={"step": "training", "percent": 40}, created_by=lead, started_at=now, finished_at=now,
    )
    third = TrainingRound.objects.create(
        project=project, number=3, state="embedding", progress={"step": "embedding", "percent": 12, "eta_seconds": 90},
    )
    return first, second, third


@pytest.mark.parametrize("persona", ["lead", "reviewer", "annotator"])
def test_members_list_rounds_newest_first(project, api, request, rounds, persona):
    response = api(request.getfixturevalue(persona)).get(url(project))
    assert response.status_code == 200
    assert [r["number"] for r in response.json()["results"]] == [3, 2, 1]


def test_detail_by_number(project, annotator, api, rounds):
    body = api(annotator).get(url(project, 1)).json()
    assert body["state"] == "done" and body["is_finished"] is True
    assert body["config"] == {"strategy": "margin"}
    assert body["metrics"] == {"accuracy": 0.81, "macro_f1": 0.77}
    assert body["progress"] == {"step": "done", "percent": 100}
    assert body["taxonomy_version"] == 1 and body["labels_count"] == 120 and body["labels_hash"] == "abc"
    assert body["created_by"] == "lead"
    assert body["model_version"]["is_active"] is True
    assert body["model_version"]["metrics"] == {"accuracy": 0.81}
    assert body["started_at"] and body["finished_at"]


def test_failed_and_running_rounds(project, lead, api, rounds):
    failed = api(lead).get(url(project, 2)).json()
    assert failed["state"] == "failed" and failed["error"] == "CUDA out of memory"
    assert failed["model_version"] is None
    running = api(lead).get(url(project, 3)).json()
    assert running["is_finished"] is False and running["progress"]["eta_seconds"] == 90
    assert running["created_by"] is None and running["taxonomy_version"] is None


def test_unknown_round_is_404(project, lead, api, rounds):
    assert api(lead).get(url(project, 99)).status_code == 404


def test_rounds_of_another_project_are_not_visible(project, lead, api, rounds):
    other = project_services.create_project(actor=lead, name="Other")
    assert api(lead).get(url(other)).json()["results"] == []
    assert api(lead).get(url(other, 1)).status_code == 404


def test_outsider_gets_404(project, outsider, api, rounds):
    assert api(outsider).get(url(project)).status_code == 404
    assert api(outsider).get(url(project, 1)).status_code == 404


def test_pages_newest_first(project, lead, api, rounds):
    body = api(lead).get(url(project) + "?page_size=2").json()
    assert [r["number"] for r in body["results"]] == [3, 2]
    assert [r["number"] for r in api(lead).get(body["next"]).json()["results"]] == [1]
