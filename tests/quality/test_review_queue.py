"""The review queue: /projects/<id>/review/next/ and /review/<item>/decide/.

Who may review, each decision's effect, and a clear 4xx with nothing written
for every bad request."""

from __future__ import annotations

import pytest

from labelops.annotation.models import (
    Annotation,
    Consensus,
    FinalLabel,
    Lease,
    LeaseOutcome,
    Review,
    ReviewTask,
)
from labelops.annotation.services import next_item, skip
from labelops.audit.models import AuditEvent
from labelops.items.models import ItemState, Split
from labelops.projects import services as project_services
from tests.annotation.conftest import Always, label_item, make_items, set_rules

pytestmark = pytest.mark.django_db


def next_url(project):
    return f"/api/v1/projects/{project.pk}/review/next/"


def decide_url(project, item):
    return f"/api/v1/projects/{project.pk}/review/{item.pk}/decide/"


@pytest.fixture
def tied(project, lead, annotator, annotator2):
    """An item the two annotators disagree on: a tie, in review."""
    set_rules(project, lead, overlap=2)
    (item,) = make_items(project, 1)
    label_item(project, annotator, ["bug"])
    label_item(project, annotator2, ["billing"])
    item.refresh_from_db()
    assert item.state == ItemState.IN_REVIEW
    return item


@pytest.fixture
def low_agreement(project, lead, annotators):
    """An item labelled bug, bug, other: a majority, but 2/3 is below a 0.7 threshold."""
    set_rules(project, lead, overlap=3, agreement_threshold=0.7)
    (item,) = make_items(project, 1)
    for user, label in zip(annotators, ["bug", "bug", "other"]):
        label_item(project, user, [label])
    return item


def state_of(item):
    item.refresh_from_db()
    return item.state, item.annotation_count


def assert_nothing_decided(item):
    item.refresh_from_db()
    assert item.state == ItemState.IN_REVIEW
    assert not Review.objects.exists()
    assert ReviewTask.objects.open().filter(item=item).exists()
    assert not AuditEvent.objects.filter(verb="review.decide").exists()


# --- next -------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["reviewer", "lead"])
def test_reviewers_and_leads_get_the_oldest_task(project, tied, api, request, persona, annotator):
    response = api(request.getfixturevalue(persona)).get(next_url(project))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["item"]["id"] == tied.pk and body["reasons"] == ["disputed"]
    assert body["consensus"]["status"] == "disputed" and body["consensus"]["labels"] == []
    assert sorted(a["labels"][0] for a in body["annotations"]) == ["billing", "bug"]
    assert body["gold_labels"] is None


def test_an_empty_review_queue_is_204(project, api, reviewer):
    assert api(reviewer).get(next_url(project)).status_code == 204


def test_annotators_get_403_and_outsiders_404(project, tied, api, annotator, outsider):
    assert api(annotator).get(next_url(project)).status_code == 403
    assert api(outsider).get(next_url(project)).status_code == 404
    response = api(annotator).post(decide_url(project, tied), {"decision": "fix", "labels": ["bug"]}, format="json")
    assert response.status_code == 403 and "reviewer role" in response.json()["detail"]
    assert api(outsider).post(decide_url(project, tied), {"decision": "fix", "labels": ["bug"]},
                              format="json").status_code == 404
    assert_nothing_decided(tied)


# --- decisions ----------------------------------------------------------------------


def test_accept_approves_the_consensus(project, low_agreement, api, reviewer):
    response = api(reviewer).post(decide_url(project, low_agreement), {"decision": "accept"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["reason"] == "low_agreement"
    consensus = Consensus.objects.get(item=low_agreement)
    assert (consensus.status, consensus.labels) == ("approved", ["bug"])
    assert state_of(low_agreement) == (ItemState.APPROVED, 3)
    task = ReviewTask.objects.get(item=low_agreement)
    assert task.closed_at is not None and task.review.reviewer == reviewer
    event = AuditEvent.objects.get(verb="review.decide")
    assert event.actor == reviewer and event.before["consensus"]["status"] == "disputed"
    assert event.after["consensus"]["status"] == "approved"
    assert api(reviewer).get(next_url(project)).status_code == 204


def test_fix_makes_the_reviewers_labels_final(project, tied, api, reviewer):
    response = api(reviewer).post(decide_url(project, tied), {"decision": "fix", "labels": ["bug"]}, format="json")
    assert response.status_code == 201, response.content
    consensus = Consensus.objects.get(item=tied)
    assert (consensus.labels, consensus.method, consensus.status, consensus.agreement) == (
        ["bug"], "review", "approved", 0.5)
    assert list(FinalLabel.objects.filter(item=tied).values_list("key", flat=True)) == ["bug"]
    assert state_of(tied) == (ItemState.APPROVED, 2)


def test_reject_sends_the_item_back_to_the_same_annotators(project, tied, api, reviewer, annotator, annotator2):
    response = api(reviewer).post(decide_url(project, tied),
                                  {"decision": "reject", "comment": "read the guideline on refunds"}, format="json")
    assert response.status_code == 201, response.content
    assert state_of(tied) == (ItemState.UNLABELLED, 0)
    assert not Consensus.objects.filter(item=tied).exists() and not FinalLabel.objects.exists()
    assert set(Lease.objects.filter(item=tied).values_list("outcome", flat=True)) == {LeaseOutcome.REJECTED}
    review = Review.objects.get()
    assert list(Annotation.objects.filter(discarded=True, rejected_by=review).order_by("id").values_list(
        "annotator", flat=True)) == [annotator.pk, annotator2.pk]

    # The annotator sees why, and gets the item again.
    mine = api(annotator).get(f"/api/v1/projects/{project.pk}/annotations/").json()["results"]
    assert [(a["discarded"], a["rejection"]["comment"]) for a in mine] == [(True, "read the guideline on refunds")]
    claim = next_item(project=project, annotator=annotator)
    assert claim.item == tied and Lease.objects.filter(item=tied, annotator=annotator).count() == 1
    label_item(project, annotator2, ["bug"])
    assert state_of(tied) == (ItemState.IN_PROGRESS, 1)


def test_a_dropped_item_is_fixed_or_rejected(project, lead, api, reviewer, annotator):
    project_services.update_project(actor=lead, project=project, settings={"skip_policy": "drop"})
    set_rules(project, lead, overlap=1)
    (item,) = make_items(project, 1)
    skip(lease_id=next_item(project=project, annotator=annotator).lease.pk, annotator=annotator, reason="unreadable")
    task = ReviewTask.objects.open().get(item=item)
    assert task.reasons == ["dropped"] and task.details["dropped"]["reason"] == "unreadable"
    response = api(reviewer).post(decide_url(project, item), {"decision": "accept"}, format="json")
    assert response.status_code == 400 and "no consensus to accept" in str(response.json())
    response = api(reviewer).post(decide_url(project, item), {"decision": "fix", "labels": ["other"]}, format="json")
    assert response.status_code == 201
    consensus = Consensus.objects.get(item=item)
    assert (consensus.labels, consensus.agreement, consensus.status) == (["other"], None, "approved")


# --- gold failures -------------------------------------------------------------------


@pytest.fixture
def failed_gold(project, lead, annotator):
    set_rules(project, lead, overlap=1, gold_ratio=0.5)
    (gold,) = make_items(project, 1, split=Split.GOLD, gold_labels=["bug"])
    label_item(project, annotator, ["billing"], rng=Always(-100.0))
    return gold


def test_a_gold_failure_shows_the_answer_and_the_known_one(project, failed_gold, api, reviewer):
    body = api(reviewer).get(next_url(project)).json()
    assert (body["reasons"], body["gold_labels"]) == (["gold_failure"], ["bug"])
    assert [a["labels"] for a in body["annotations"]] == [["billing"]]


def test_fixing_a_gold_failure_corrects_the_gold_answer(project, failed_gold, api, reviewer):
    response = api(reviewer).post(decide_url(project, failed_gold), {"decision": "fix", "labels": ["billing"]},
                                  format="json")
    assert response.status_code == 201
    failed_gold.refresh_from_db()
    assert (failed_gold.gold_labels, failed_gold.state) == (["billing"], ItemState.APPROVED)
    assert not Consensus.objects.exists()


def test_rejecting_a_gold_failure_lets_the_annotator_answer_again(project, failed_gold, api, reviewer, annotator):
    response = api(reviewer).post(decide_url(project, failed_gold), {"decision": "reject", "comment": "look again"},
                                  format="json")
    assert response.status_code == 201
    assert state_of(failed_gold) == (ItemState.APPROVED, 0)
    assert next_item(project=project, annotator=annotator, rng=Always(-100.0)).item == failed_gold


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("body, status, message", [
    ({"decision": "fix", "labels": ["refund"]}, 400, "not in the active taxonomy (v1): refund"),
    ({"decision": "fix"}, 400, "a fix needs your labels"),
    ({"decision": "reject"}, 400, "say why you reject"),
    ({"decision": "reject", "comment": "  "}, 400, "say why you reject"),
    ({"decision": "accept"}, 400, "no consensus to accept"),
    ({"decision": "accept", "labels": ["bug"]}, 400, "only given with a fix"),
    ({"decision": "approve"}, 400, "is not a valid choice"),
    ({"decision": "fix", "labels": ["bug"], "colour": "red"}, 400, "unknown field"),
])
def test_bad_decisions_are_refused_and_nothing_is_written(project, tied, api, reviewer, body, status, message):
    response = api(reviewer).post(decide_url(project, tied), body, format="json")
    assert response.status_code == status, response.content
    assert message in str(response.json())
    assert_nothing_decided(tied)


def test_an_item_not_in_review_is_a_conflict(queue_project, api, reviewer):
    (item,) = make_items(queue_project, 1)
    response = api(reviewer).post(decide_url(queue_project, item), {"decision": "accept"}, format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": f"item {item.pk} is not in review", "code": "not_in_review"}
    assert not Review.objects.exists()


def test_a_second_decision_is_a_conflict(project, tied, api, reviewer, lead):
    assert api(reviewer).post(decide_url(project, tied), {"decision": "fix", "labels": ["bug"]},
                              format="json").status_code == 201
    assert api(lead).post(decide_url(project, tied), {"decision": "fix", "labels": ["other"]},
                          format="json").status_code == 409
    assert Review.objects.count() == 1 and Consensus.objects.get(item=tied).labels == ["bug"]


def test_an_item_of_another_project_is_404(project, tied, api, lead, reviewer):
    other = project_services.create_project(actor=lead, name="Other")
    project_services.add_member(actor=lead, project=other, user=reviewer, role="reviewer")
    assert api(reviewer).post(decide_url(other, tied), {"decision": "fix", "labels": ["bug"]},
                              format="json").status_code == 404
    assert_nothing_decided(tied)
