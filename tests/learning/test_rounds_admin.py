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


# --- which proposer serves, and the holdout figure ------------------------------------------


def holdout(items, *, accuracy=0.782, ci=(0.74, 0.821)):
    return {"evaluated": True, "items": items, "train_labels": 300, "accuracy": accuracy, "accuracy_ci": list(ci),
            "macro_f1": 0.7, "macro_f1_ci": [0.65, 0.75], "meaningful": items >= 30, "min_items": 30,
            "confidence": 0.95}


PROPOSER = {"chosen": "spreading", "reason": "best cross-validated accuracy", "labels": 300, "candidates": {
    "head": {"accuracy": 0.74, "log_loss": 0.812, "rows": 300},
    "spreading": {"accuracy": 0.781, "log_loss": 0.7, "rows": 300},
    "<script>alert(1)</script>": {"accuracy": None, "log_loss": None, "rows": 0},
}}


@pytest.fixture
def evaluated_rounds(project):
    old = TrainingRound.objects.create(project=project, number=1, state="done", metrics={"holdout": {
        "evaluated": True, "items": 12, "accuracy": 0.5, "macro_f1": 0.4, "train_labels": 9}})
    few = TrainingRound.objects.create(project=project, number=2, state="done",
                                       metrics={"holdout": holdout(12, accuracy=0.583, ci=(0.333, 0.833)),
                                                "proposer": {**PROPOSER, "chosen": "head"}})
    many = TrainingRound.objects.create(project=project, number=3, state="done",
                                        metrics={"holdout": holdout(412), "proposer": PROPOSER})
    bare = TrainingRound.objects.create(project=project, number=4, state="done", metrics={
        "holdout": {"evaluated": False, "reason": "no approved holdout labels yet", "items": 0},
        "proposer": {"chosen": None, "reason": "1 approved label(s) in 1 class(es)", "candidates": {}}})
    return old, few, many, bare


def cell(page, field, number):
    """The text of `field`'s cell in round `number`'s row of the list."""
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)
    [row] = [r for r in rows if re.search(rf'<td class="field-number">{number}</td>', r)]
    return re.search(rf'<td class="field-{field}">(.*?)</td>', row, re.S).group(1)


def test_the_round_list_shows_the_proposer_and_the_holdout_figure(evaluated_rounds, staff_lead):
    page = admin_client(staff_lead).get(ROUNDS).content.decode()
    assert cell(page, "proposer", 3) == "spreading"
    assert cell(page, "holdout", 3) == "78.2% (95% CI 74.0–82.1%) on 412 holdout items"
    assert cell(page, "proposer", 2) == "head"
    assert cell(page, "holdout", 2) == "not yet meaningful: 12 holdout items (needs 30)"
    # A round from before proposers and intervals were kept: no proposer, the figure and its count only.
    assert (cell(page, "proposer", 1), cell(page, "holdout", 1)) == ("—", "50.0% on 12 holdout items")
    assert (cell(page, "proposer", 4), cell(page, "holdout", 4)) == (
        "none", "not evaluated: no approved holdout labels yet")


def test_a_round_page_reads_its_proposer_and_candidates_and_keeps_the_raw_metrics(evaluated_rounds, staff_lead):
    _, few, many, _ = evaluated_rounds
    page = admin_client(staff_lead).get(f"{ROUNDS}{many.pk}/change/").content.decode()
    assert "best cross-validated accuracy" in page
    table = re.search(r'<table class="candidate-scores">.*?</table>', page, re.S).group(0)
    rows = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr><td>.*?</tr>", table)]
    assert rows == [["spreading (serving)", "78.1%", "0.700", "300"], ["head", "74.0%", "0.812", "300"],
                    ["&lt;script&gt;alert(1)&lt;/script&gt;", "n/a", "n/a", "0"]]
    assert "<script>alert(1)</script>" not in page  # a candidate's name is text, never markup
    assert "78.2% (95% CI 74.0–82.1%) on 412 holdout items" in page
    assert "&quot;accuracy_ci&quot;" in page or '"accuracy_ci"' in page  # the raw metrics are still there

    page = admin_client(staff_lead).get(f"{ROUNDS}{few.pk}/change/").content.decode()
    assert "not yet meaningful: 12 holdout items (needs 30)" in page
    assert "58.3% (95% CI 33.3–83.3%) on 12 holdout items" in page  # what was measured, said as such
