"""Undo: POST /projects/<id>/queue/annotations/<id>/undo/ takes back one's
own answer while its lease allows, and gives the item back on that lease."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labelops.annotation.models import Annotation, AnnotatorStats, Consensus, Lease, ReviewTask
from labelops.annotation.services import next_item, submit
from labelops.audit.models import AuditEvent
from labelops.items.models import Item, ItemState, Split
from tests.annotation.conftest import Always, label_item, make_items, set_rules

pytestmark = pytest.mark.django_db

GOLD_NOW = Always(-100.0)  # a gold item is always due


def undo_url(project, annotation_id):
    return f"/api/v1/projects/{project.pk}/queue/annotations/{annotation_id}/undo/"


def snapshot(project):
    """Everything undo may write, to show that a refused one wrote nothing."""
    return (
        list(Annotation.objects.order_by("pk").values_list("pk", "discarded")),
        list(Lease.objects.order_by("pk").values_list("pk", "closed_at", "outcome", "expires_at")),
        list(Item.objects.for_project(project).order_by("pk").values_list(
            "pk", "state", "annotation_count", "active_lease_count")),
        list(AnnotatorStats.objects.order_by("pk").values_list("pk", "gold_seen", "gold_correct", "below_since")),
        list(ReviewTask.objects.order_by("pk").values_list("pk", "closed_at")),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def overlap2(project, lead):
    set_rules(project, lead, overlap=2)
    return project


def test_undo_gives_the_item_back_on_the_same_lease_with_the_labels(overlap2, api, annotator):
    item, _ = make_items(overlap2, 2)
    annotation = label_item(overlap2, annotator, ["billing"])
    lease = Lease.objects.get(item=item, annotator=annotator)
    before = timezone.now()
    response = api(annotator).post(undo_url(overlap2, annotation.pk))
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["lease"], body["item"]["id"], body["labels"], body["resumed"]) == (lease.pk, item.pk, ["billing"], False)
    assert "neighbours" in body and "proposal" in body
    lease.refresh_from_db()
    minutes = overlap2.config.lease_minutes
    assert lease.closed_at is None and lease.outcome == "" and lease.expires_at >= before + timedelta(minutes=minutes)
    annotation.refresh_from_db()
    assert annotation.discarded
    item.refresh_from_db()
    assert (item.state, item.annotation_count, item.active_lease_count) == (ItemState.UNLABELLED, 0, 1)
    event = AuditEvent.objects.get(verb="annotation.undo")
    assert event.actor == annotator and event.object_id == str(annotation.pk)
    assert event.before["annotation"]["labels"] == ["billing"] and event.after["state"] == ItemState.UNLABELLED
    # The item is theirs again: `next` returns it, and a new answer counts as usual.
    assert next_item(project=overlap2, annotator=annotator).lease.pk == lease.pk
    again = submit(lease_id=lease.pk, annotator=annotator, labels=["bug"])
    item.refresh_from_db()
    assert (item.state, item.annotation_count, item.active_lease_count) == (ItemState.IN_PROGRESS, 1, 0)
    assert list(Annotation.objects.active().filter(item=item)) == [again]


def test_undo_keeps_the_other_answers_and_the_state(project, lead, api, annotator, annotator2):
    set_rules(project, lead, overlap=3)
    (item,) = make_items(project, 1)
    label_item(project, annotator2, ["bug"])
    mine = label_item(project, annotator, ["billing"])
    assert api(annotator).post(undo_url(project, mine.pk)).status_code == 200
    item.refresh_from_db()
    assert (item.state, item.annotation_count, item.active_lease_count) == (ItemState.IN_PROGRESS, 1, 1)
    assert list(Annotation.objects.active().filter(item=item).values_list("annotator", flat=True)) == [annotator2.pk]


def test_only_ones_own_annotation_others_get_404(overlap2, api, annotator, annotator2, lead, outsider):
    make_items(overlap2, 1)
    annotation = label_item(overlap2, annotator, ["bug"])
    before = snapshot(overlap2)
    for user in (annotator2, lead, outsider):
        assert api(user).post(undo_url(overlap2, annotation.pk)).status_code == 404
    assert api().post(undo_url(overlap2, annotation.pk)).status_code in (401, 403)
    assert api(annotator).post(undo_url(overlap2, annotation.pk + 999)).status_code == 404
    assert snapshot(overlap2) == before


def test_through_another_projects_url_is_404(overlap2, tree_project, api, annotator):
    make_items(overlap2, 1)
    annotation = label_item(overlap2, annotator, ["bug"])
    before = snapshot(overlap2)
    assert api(annotator).post(undo_url(tree_project, annotation.pk)).status_code == 404
    assert snapshot(overlap2) == before


def refused(api, user, project, annotation, code):
    before = snapshot(project)
    response = api(user).post(undo_url(project, annotation.pk))
    assert response.status_code == 409, response.content
    assert response.json()["code"] == code, response.json()
    assert response.json()["detail"]
    assert snapshot(project) == before, "a refused undo wrote something"
    return response.json()["detail"]


def test_after_the_lease_would_have_expired_409(overlap2, api, annotator):
    make_items(overlap2, 1)
    annotation = label_item(overlap2, annotator, ["bug"])
    Lease.objects.filter(annotator=annotator).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert "too late" in refused(api, annotator, overlap2, annotation, "undo_expired")


def test_after_consensus_409(queue_project, api, annotator):
    make_items(queue_project, 1)  # overlap 1: the submit computes the consensus
    annotation = label_item(queue_project, annotator, ["bug"])
    assert Consensus.objects.filter(item=annotation.item).exists()
    assert "consensus" in refused(api, annotator, queue_project, annotation, "consensus_computed")


def test_in_review_409(overlap2, api, annotator, annotator2):
    make_items(overlap2, 1)
    mine = label_item(overlap2, annotator, ["bug"])
    label_item(overlap2, annotator2, ["billing"])  # a tie: disputed, in review
    assert Item.objects.get(pk=mine.item_id).state == ItemState.IN_REVIEW
    assert "in review" in refused(api, annotator, overlap2, mine, "in_review")


def test_double_undo_409(overlap2, api, annotator):
    make_items(overlap2, 1)
    annotation = label_item(overlap2, annotator, ["bug"])
    assert api(annotator).post(undo_url(overlap2, annotation.pk)).status_code == 200
    refused(api, annotator, overlap2, annotation, "already_undone")


def test_an_imported_annotation_is_not_undone(overlap2, api, annotator):
    (item,) = make_items(overlap2, 1, annotation_count=1, state=ItemState.IN_PROGRESS)
    imported = Annotation.objects.create(item=item, annotator=annotator, labels=["bug"], source="imported",
                                         taxonomy_version=overlap2.active_taxonomy())
    refused(api, annotator, overlap2, imported, "not_from_queue")


def test_with_two_live_leases_release_the_look_ahead_first(overlap2, api, annotator):
    make_items(overlap2, 3)
    annotation = label_item(overlap2, annotator, ["bug"])
    current = next_item(project=overlap2, annotator=annotator)
    ahead = next_item(project=overlap2, annotator=annotator, prefetch=True)
    assert ahead.lease.pk != current.lease.pk
    detail = refused(api, annotator, overlap2, annotation, "too_many_leases")
    assert str(ahead.lease.pk) in detail
    client = api(annotator)
    assert client.post(f"/api/v1/projects/{overlap2.pk}/queue/leases/{ahead.lease.pk}/release/").status_code == 200
    assert client.post(undo_url(overlap2, annotation.pk)).status_code == 200
    assert Lease.objects.live(timezone.now()).filter(annotator=annotator).count() == 2
    # The undone item's lease is the oldest: plain `next` shows it, prefetch the other.
    assert next_item(project=overlap2, annotator=annotator).item == annotation.item
    assert next_item(project=overlap2, annotator=annotator, prefetch=True).lease.pk == current.lease.pk


# --- Gold -------------------------------------------------------------------------


def stats_of(project, user):
    stats = AnnotatorStats.objects.get(project=project, annotator=user)
    return stats.gold_seen, stats.gold_correct, stats.below_since is not None


@pytest.mark.parametrize("given, correct", [(["bug"], 1), (["billing"], 0)])
def test_undoing_a_gold_answer_withdraws_its_score_whatever_it_was(overlap2, lead, api, annotator, given, correct):
    set_rules(overlap2, lead, overlap=2, gold_ratio=0.5)
    (gold,) = make_items(overlap2, 1, split=Split.GOLD, gold_labels=["bug"])
    answer = label_item(overlap2, annotator, given, rng=GOLD_NOW)
    assert stats_of(overlap2, annotator) == (1, correct, False)
    failures = ReviewTask.objects.open().filter(annotation=answer)
    assert failures.count() == 1 - correct  # a wrong answer opened a gold_failure review
    response = api(annotator).post(undo_url(overlap2, answer.pk))
    assert response.status_code == 200, response.content
    assert response.json()["labels"] == given and "gold_labels" not in response.json()["item"]
    assert stats_of(overlap2, annotator) == (0, 0, False)
    assert not ReviewTask.objects.open().exists()
    gold.refresh_from_db()
    assert (gold.state, gold.annotation_count, gold.active_lease_count) == (ItemState.APPROVED, 0, 1)
    event = AuditEvent.objects.get(verb="annotation.undo")
    assert event.after["gold_stats"]["withdrawn_correct"] is bool(correct)
    # The new answer is scored as usual.
    submit(lease_id=Lease.objects.get(item=gold, annotator=annotator).pk, annotator=annotator, labels=["bug"])
    assert stats_of(overlap2, annotator) == (1, 1, False)


def test_withdrawing_a_gold_failure_can_lift_the_below_mark(overlap2, lead, annotator):
    from labelops.annotation.services.undo import undo

    set_rules(overlap2, lead, overlap=2, gold_ratio=0.5, min_gold_accuracy=0.7, review_gold_failures=False)
    make_items(overlap2, 5, split=Split.GOLD, gold_labels=["bug"])
    answers = [label_item(overlap2, annotator, labels, rng=GOLD_NOW)
               for labels in (["bug"], ["bug"], ["bug"], ["billing"], ["billing"])]
    assert stats_of(overlap2, annotator) == (5, 3, True)  # 60% after five
    undo(annotation=answers[-1], annotator=annotator)
    assert stats_of(overlap2, annotator) == (4, 3, False)  # four answers are no verdict yet


def test_a_gold_item_is_refused_as_a_pool_item_would_be_with_overlap_one(queue_project, lead, api, annotator):
    set_rules(queue_project, lead, overlap=1, gold_ratio=0.5)
    make_items(queue_project, 1, split=Split.GOLD, gold_labels=["bug"])
    answer = label_item(queue_project, annotator, ["bug"], rng=GOLD_NOW)
    # Same code and wording as a pool item's: undo must not tell a check from a pool item.
    detail = refused(api, annotator, queue_project, answer, "consensus_computed")
    assert detail == f"too late to undo annotation {answer.pk}: item {answer.item_id} already has its consensus"


def test_the_schema_lists_undo(api, lead):
    paths = api(lead).get("/api/schema/?format=json").json()["paths"]
    assert "/api/v1/projects/{project_pk}/queue/annotations/{id}/undo/" in paths
