"""The rounds API: members read rounds and their learning curve; leads start and cancel them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.audit.models import AuditEvent
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


# --- starting a round (lead only) -------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24  # the signature is all a client checks


def test_a_lead_starts_a_round_with_overrides(project, lead, api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api(lead).post(url(project), {"strategy": "margin", "pretraining": False}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == 1 and body["state"] == "queued" and body["is_finished"] is False
    assert body["config"]["strategy"] == "margin" and body["config"]["pretraining"] is False
    # The rest comes from the project's settings, frozen with the round.
    assert body["config"]["batch_size"] == 100 and body["config"]["fine_tune"] == "head"
    assert body["progress"]["percent"] == 0.0 and body["artifacts"] == [] and body["created_by"] == "lead"
    training_round = TrainingRound.objects.get(project=project)
    assert training_round.config == body["config"]
    event = AuditEvent.objects.get(verb="round.start", object_id=str(training_round.pk))
    assert event.actor == lead and event.after["trigger"] == "manual"
    assert len(callbacks) == 1  # the first step is sent once the round is committed


def test_a_round_without_overrides_uses_the_project_settings(project, lead, api):
    project_services.update_project(actor=lead, project=project, settings={"strategy": "entropy", "batch_size": 7})
    body = api(lead).post(url(project)).json()
    assert body["config"]["strategy"] == "entropy" and body["config"]["batch_size"] == 7


def test_a_form_post_overrides_only_what_it_sends(project, lead, api):
    project_services.update_project(actor=lead, project=project, settings={"pretraining": True})
    response = api(lead).post(url(project), {"strategy": "margin", "batch_size": "25"}, format="multipart")
    assert response.status_code == 201, response.content
    config = response.json()["config"]
    assert config["strategy"] == "margin" and config["batch_size"] == 25
    assert config["pretraining"] is True  # the project's setting: an absent field is not "false"


def test_pretraining_by_default_is_on_for_images_and_off_for_text(project, lead, api):
    assert api(lead).post(url(project), {}, format="json").json()["config"]["pretraining"] is False
    images = project_services.create_project(actor=lead, name="Photos", modality="image")
    create_taxonomy_version(actor=lead, project=images, labels=[{"key": "cat"}, {"key": "dog"}])
    assert api(lead).post(url(images), {}, format="json").json()["config"]["pretraining"] is True


def test_a_second_round_while_one_runs_is_409(project, lead, api):
    assert api(lead).post(url(project), {}, format="json").status_code == 201
    response = api(lead).post(url(project), {"strategy": "margin"}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "round 1 of this project is still queued; wait for it to finish or cancel it before starting another",
        "code": "round_running",
    }
    assert TrainingRound.objects.filter(project=project).count() == 1


def test_a_finished_round_does_not_block_the_next(project, lead, api, rounds):
    TrainingRound.objects.filter(number=3).update(state="cancelled")
    response = api(lead).post(url(project), {}, format="json")
    assert response.status_code == 201 and response.json()["number"] == 4


@pytest.mark.parametrize("overrides,named", [
    ({"stratgy": "margin"}, "stratgy"),
    ({"batch_size": 0}, "batch_size must be between 1 and 100000"),
    ({"strategy": "best"}, "strategy"),
    ({"pretraining": "maybe"}, "pretraining"),
    ({"n_clusters": 1}, "n_clusters must be between 2"),
    ({"pretraining_minutes": -5}, "pretraining_minutes must be in (0, 1440]"),
    ({"holdout_fraction": 0.5}, "holdout_fraction"),  # a project setting, but not one a round may change
])
def test_bad_overrides_are_400_naming_the_setting(project, lead, api, overrides, named):
    response = api(lead).post(url(project), overrides, format="json")
    assert response.status_code == 400
    assert named in response.content.decode()
    assert not TrainingRound.objects.exists() and not AuditEvent.objects.filter(verb="round.start").exists()


def test_a_body_that_is_not_an_object_is_400(project, lead, api):
    response = api(lead).post(url(project), ["margin"], format="json")
    assert response.status_code == 400 and not TrainingRound.objects.exists()


def test_a_project_without_taxonomy_cannot_start_a_round(lead, api):
    bare = project_services.create_project(actor=lead, name="No labels yet")
    response = api(lead).post(url(bare), {}, format="json")
    assert response.status_code == 400 and "taxonomy" in response.json()
    assert not TrainingRound.objects.exists()


@pytest.mark.parametrize("persona,expected", [("reviewer", 403), ("annotator", 403), ("outsider", 404)])
def test_only_leads_start_rounds(project, api, request, persona, expected):
    response = api(request.getfixturevalue(persona)).post(url(project), {}, format="json")
    assert response.status_code == expected
    assert not TrainingRound.objects.exists()


def test_the_start_form_accepts_exactly_the_round_settings():
    from labelops.learning.api.rounds import StartRoundSerializer
    from labelops.learning.services.rounds import ROUND_SETTINGS

    assert set(StartRoundSerializer().fields) == set(ROUND_SETTINGS)


# --- cancelling -------------------------------------------------------------------------


def cancel_url(project, number):
    return f"{url(project, number)}cancel/"


def test_a_lead_cancels_a_running_round(project, lead, api, rounds):
    response = api(lead).post(cancel_url(project, 3))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "cancelled" and body["is_finished"] is True and body["finished_at"]
    assert TrainingRound.objects.get(project=project, number=3).state == "cancelled"
    assert AuditEvent.objects.filter(verb="round.cancel", actor=lead).count() == 1


def test_cancelling_a_finished_round_is_409(project, lead, api, rounds):
    response = api(lead).post(cancel_url(project, 1))
    assert response.status_code == 409
    assert response.json() == {"detail": "round 1 is already done", "code": "round_finished"}
    assert TrainingRound.objects.get(project=project, number=1).state == "done"
    assert not AuditEvent.objects.filter(verb="round.cancel").exists()


@pytest.mark.parametrize("persona,expected", [("reviewer", 403), ("annotator", 403), ("outsider", 404)])
def test_only_leads_cancel(project, api, request, rounds, persona, expected):
    assert api(request.getfixturevalue(persona)).post(cancel_url(project, 3)).status_code == expected
    assert TrainingRound.objects.get(project=project, number=3).state == "embedding"


def test_cancelling_an_unknown_round_is_404(project, lead, api, rounds):
    assert api(lead).post(cancel_url(project, 99)).status_code == 404


# --- the learning curve -----------------------------------------------------------------


def curve_url(project, number):
    return f"{url(project, number)}learning-curve.png"


@pytest.fixture
def curve(project, rounds, artifact_root):
    """Round 1's learning curve on disk, referenced as a step would."""
    folder = artifact_root / str(project.pk) / "1"
    folder.mkdir(parents=True)
    (folder / "learning_curve.png").write_bytes(PNG)
    TrainingRound.objects.filter(pk=rounds[0].pk).update(artifacts={"learning_curve": f"{project.pk}/1/learning_curve.png"})
    return folder / "learning_curve.png"


@pytest.mark.parametrize("persona", ["lead", "reviewer", "annotator"])
def test_members_fetch_the_learning_curve(project, api, request, curve, persona):
    response = api(request.getfixturevalue(persona)).get(curve_url(project, 1), HTTP_ACCEPT="image/png")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PNG


def test_the_round_lists_its_artifacts_by_name(project, annotator, api, curve):
    assert api(annotator).get(url(project, 1)).json()["artifacts"] == ["learning_curve"]


def test_outsiders_and_anonymous_get_no_curve(project, outsider, api, curve):
    assert api(outsider).get(curve_url(project, 1)).status_code == 404
    assert api().get(curve_url(project, 1)).status_code == 401


def test_a_round_without_a_curve_is_404_in_json(project, lead, api, curve):
    response = api(lead).get(curve_url(project, 2), HTTP_ACCEPT="image/png")
    assert response.status_code == 404
    assert response.json() == {"detail": "round 2 has no learning curve", "code": "not_found"}
    assert api(lead).get(curve_url(project, 99)).status_code == 404


def test_a_curve_removed_from_disk_is_404(project, lead, api, curve):
    curve.unlink()
    assert api(lead).get(curve_url(project, 1)).status_code == 404


# --- end to end: started over the API, run by the steps, curve served ---------------------


@pytest.mark.django_db(transaction=True)
def test_a_round_started_over_the_api_runs_and_draws_its_curve(round_project, lead, annotator, api, artifact_root,
                                                               monkeypatch):
    from labelops.learning.services import rounds as round_services
    from tests.learning.test_round_pipeline import drive

    sent = []
    monkeypatch.setattr(round_services, "send_step", lambda *args: sent.append(args))
    response = api(lead).post(url(round_project), {"strategy": "margin"}, format="json")
    assert response.status_code == 201, response.content
    done = drive(TrainingRound.objects.get(project=round_project, number=response.json()["number"]), sent)
    assert done.state == "done", done.error

    body = api(annotator).get(url(round_project, done.number)).json()
    assert body["state"] == "done" and body["progress"]["percent"] == 100.0
    assert body["metrics"]["holdout"]["evaluated"] is True
    assert {"learning_curve", "model", "metrics"} <= set(body["artifacts"])
    assert body["model_version"]["is_active"] is True
    curve = api(annotator).get(curve_url(round_project, done.number))
    assert curve.status_code == 200 and curve["Content-Type"] == "image/png"
    assert b"".join(curve.streaming_content).startswith(b"\x89PNG\r\n\x1a\n")
    assert api(lead).post(cancel_url(round_project, done.number)).status_code == 409
