"""Starting, watching and cancelling training rounds in the Django admin, as a
lead (staff, in the Leads group) of the projects they lead only."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.audit.models import AuditEvent
from labelops.learning.models import TrainingRound
from labelops.projects import services as project_services

pytestmark = pytest.mark.django_db

PROJECTS = "/admin/projects/project/"
ROUNDS = "/admin/learning/traininground/"


def admin_client(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def staff_lead(project, lead):
    return project_services.grant_lead_admin(actor=None, user=lead)


@pytest.fixture
def other_project(make_user):
    other_lead = make_user("other_lead")
    other = project_services.create_project(actor=other_lead, name="Someone else's")
    create_taxonomy_version(actor=other_lead, project=other, labels=[{"key": "secret"}])
    return other


# --- the action on the project list -----------------------------------------------------------


def test_the_action_starts_a_round_of_each_selected_project(project, staff_lead):
    response = admin_client(staff_lead).post(
        PROJECTS, {"action": "start_training_round", "_selected_action": [project.pk]}
    )
    assert response.status_code == 302
    training_round = TrainingRound.objects.get(project=project)
    assert training_round.number == 1 and training_round.state == "queued"
    assert training_round.created_by == staff_lead and training_round.config["strategy"] == "auto"
    assert AuditEvent.objects.filter(verb="round.start", actor=staff_lead).count() == 1
    [message] = messages_of(response)
    assert "round 1</a> is queued" in message and f"/admin/learning/traininground/{training_round.pk}/change/" in message


def test_the_action_reports_a_round_in_flight(project, staff_lead):
    TrainingRound.objects.create(project=project, number=1, state="training")
    response = admin_client(staff_lead).post(
        PROJECTS, {"action": "start_training_round", "_selected_action": [project.pk]}
    )
    assert messages_of(response) == [
        "Tickets: round 1 of this project is still training; wait for it to finish or cancel it before starting another"
    ]
    assert TrainingRound.objects.filter(project=project).count() == 1


def test_the_action_reports_a_project_without_taxonomy(staff_lead):
    bare = project_services.create_project(actor=staff_lead, name="Bare")
    response = admin_client(staff_lead).post(PROJECTS, {"action": "start_training_round", "_selected_action": [bare.pk]})
    [message] = messages_of(response)
    assert message.startswith("Bare: the project has no active taxonomy version")
    assert not TrainingRound.objects.exists()


def test_the_action_cannot_reach_another_leads_project(project, other_project, staff_lead):
    admin_client(staff_lead).post(PROJECTS, {"action": "start_training_round", "_selected_action": [other_project.pk]})
    assert not TrainingRound.objects.exists()


def test_the_action_is_offered_on_the_project_list(project, staff_lead):
    response = admin_client(staff_lead).get(PROJECTS)
    assert "start_training_round" in dict(response.context["action_form"].fields["action"].choices)


# --- the button on a project's page -----------------------------------------------------------


def start_url(project):
    return f"{PROJECTS}{project.pk}/start-round/"


def test_the_project_page_has_a_start_button_posting_with_csrf(project, staff_lead):
    client = admin_client(staff_lead, enforce_csrf_checks=True)
    page = client.get(f"{PROJECTS}{project.pk}/change/").content.decode()
    form = re.search(r'<form method="post" action="([^"]+)">\s*<input type="hidden" name="csrfmiddlewaretoken" '
                     r'value="([^"]+)">\s*<input type="submit" class="button" value="Start a training round">', page)
    assert form is not None and form.group(1) == start_url(project)
    # Without the token the POST is refused; with it, the round starts.
    assert client.post(start_url(project)).status_code == 403
    assert not TrainingRound.objects.exists()
    response = client.post(start_url(project), {"csrfmiddlewaretoken": form.group(2)})
    training_round = TrainingRound.objects.get(project=project)
    assert response.status_code == 302
    assert response["Location"] == f"{ROUNDS}{training_round.pk}/change/"


def test_the_button_reports_a_round_in_flight_on_the_project_page(project, staff_lead):
    TrainingRound.objects.create(project=project, number=1, state="embedding")
    response = admin_client(staff_lead).post(start_url(project))
    assert response.status_code == 302 and response["Location"] == f"{PROJECTS}{project.pk}/change/"
    assert "round 1 of this project is still embedding" in messages_of(response)[0]
    assert TrainingRound.objects.filter(project=project).count() == 1


def test_starting_needs_a_post(project, staff_lead):
    assert admin_client(staff_lead).get(start_url(project)).status_code == 405
    assert not TrainingRound.objects.exists()


def test_another_leads_project_cannot_be_started(project, other_project, staff_lead):
    assert admin_client(staff_lead).post(start_url(other_project)).status_code == 404
    assert not TrainingRound.objects.exists()


def test_a_staff_reviewer_cannot_start_rounds(project, reviewer):
    project_services.grant_lead_admin(actor=None, user=reviewer)  # staff, but only a reviewer of `project`
    assert admin_client(reviewer).post(start_url(project)).status_code == 404
    assert not TrainingRound.objects.exists()


# --- watching and cancelling rounds ---------------------------------------------------------


@pytest.fixture
def two_rounds(project):
    failed = TrainingRound.objects.create(
        project=project, number=1, state="failed", progress={"step": "embed", "percent": 30.0},
        error="embed failed: OSError('no such encoder')\n\nTraceback ...",
    )
    running = TrainingRound.objects.create(
        project=project, number=2, state="embedding", step="embed", attempt=3,
        progress={"step": "embed", "percent": 40.0, "eta_seconds": 125, "message": "embedding 500 items"},
    )
    return failed, running


def test_the_round_list_shows_state_step_progress_eta_and_error(two_rounds, staff_lead):
    page = admin_client(staff_lead).get(ROUNDS).content.decode()
    assert '<td class="field-percent_done">40%</td>' in page
    assert '<td class="field-time_left">2 min 5 s</td>' in page
    assert '<td class="field-step">embed</td>' in page
    assert "embed failed: OSError(&#x27;no such encoder&#x27;)" in page and "Traceback" not in page
    # A finished round has no time left, whatever its last progress said.
    assert '<td class="field-time_left">—</td>' in page


def test_a_round_page_shows_its_progress(two_rounds, staff_lead):
    _, running = two_rounds
    response = admin_client(staff_lead).get(f"{ROUNDS}{running.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    for text in ("40%", "2 min 5 s", "embedding 500 items"):
        assert text in page


def test_the_cancel_action_stops_rounds_in_flight_only(two_rounds, staff_lead):
    failed, running = two_rounds
    response = admin_client(staff_lead).post(
        ROUNDS, {"action": "cancel_rounds", "_selected_action": [failed.pk, running.pk]}
    )
    assert response.status_code == 302
    running.refresh_from_db()
    failed.refresh_from_db()
    assert running.state == "cancelled" and running.finished_at is not None
    assert failed.state == "failed"
    assert messages_of(response) == ["Cancelled: Tickets round 2 (cancelled).",
                                     "Already finished, left as they were: Tickets round 1 (failed)."]
    assert AuditEvent.objects.filter(verb="round.cancel", actor=staff_lead, object_id=str(running.pk)).count() == 1


def test_another_leads_rounds_cannot_be_cancelled(project, other_project, staff_lead):
    theirs = TrainingRound.objects.create(project=other_project, number=1, state="training")
    admin_client(staff_lead).post(ROUNDS, {"action": "cancel_rounds", "_selected_action": [theirs.pk]})
    theirs.refresh_from_db()
    assert theirs.state == "training"


def test_rounds_stay_read_only(two_rounds, staff_lead):
    _, running = two_rounds
    client = admin_client(staff_lead)
    assert client.post(f"{ROUNDS}{running.pk}/change/", {"state": "done"}).status_code == 403
    assert client.get(f"{ROUNDS}add/").status_code == 403
    running.refresh_from_db()
    assert running.state == "embedding"
