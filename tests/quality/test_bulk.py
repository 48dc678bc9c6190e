"""Bulk labelling: /projects/<id>/bulk-labels/ and the sampled verification.

Who may create and read batches, which items join one, how the sample is
drawn and served, and the verdict: the held items approved when the sample's
error rate is within the rule, back in the queue when it is not. Every bad
request is a 400 (or 403/404) naming the problem, with nothing written."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from labelops.annotation.models import (
    Annotation,
    BulkBatch,
    BulkBatchItem,
    BulkItemOutcome,
    Consensus,
    ConsensusMethod,
    ConsensusStatus,
    FinalLabel,
    Lease,
)
from labelops.annotation.services import next_item, release, skip, submit
from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.audit.models import AuditEvent
from labelops.items.models import Item, ItemState, Split
from labelops.learning.models import Cluster, Proposal
from labelops.projects import services as project_services
from labelops.quality import urls as quality_urls
from labelops.quality.services import bulk
from tests.annotation.conftest import activate_round, label_item, make_items, set_rules
from tests.conftest import require

pytestmark = pytest.mark.django_db


def list_url(project):
    return f"/api/v1/projects/{project.pk}/bulk-labels/"


def detail_url(project, batch_id):
    return f"/api/v1/projects/{project.pk}/bulk-labels/{batch_id}/"


def states(items) -> dict[int, str]:
    ids = [item if isinstance(item, int) else item.pk for item in items]
    return dict(Item.objects.filter(pk__in=ids).values_list("pk", "state"))


def sample_of(batch) -> list[int]:
    return sorted(batch.entries.filter(sampled=True).values_list("item_id", flat=True))


def held_of(batch) -> list[int]:
    return sorted(batch.entries.filter(sampled=False).values_list("item_id", flat=True))


def label_sample(project, annotator, answers: dict[int, list[str]]):
    """`annotator` works the queue until it is empty, answering each item from `answers`."""
    served = []
    while (claim := next_item(project=project, annotator=annotator)) is not None:
        served.append(claim.item.pk)
        submit(lease_id=claim.lease.pk, annotator=annotator, labels=answers[claim.item.pk])
    return served


@pytest.fixture
def bulk_project(project, lead):
    """Overlap 1, a fifth of a batch sampled, at most a tenth of the sample wrong."""
    set_rules(project, lead, overlap=1, bulk_verification_rate=0.2, bulk_max_error_rate=0.1)
    return project


def assert_nothing_written(items, before):
    assert not BulkBatch.objects.exists() and not BulkBatchItem.objects.exists()
    assert states(items) == before
    assert not AuditEvent.objects.filter(verb__startswith="bulk.").exists()


# --- The sample ---------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "n", "expected"), [
    (0.1, 30, 3),  # 0.1 * 30 is 3.0000000000000004 in floats: still 3
    (0.2, 10, 2), (0.25, 10, 3), (0.01, 5, 1), (1.0, 7, 7), (0.5, 1, 1),
])
def test_sample_size_is_the_ceiling_of_rate_times_n_and_at_least_one(rate, n, expected):
    assert bulk.sample_size(rate, n) == expected


def test_the_same_seed_draws_the_same_sample(bulk_project, lead):
    first = make_items(bulk_project, 10)
    second = make_items(bulk_project, 10)
    a = bulk.create_batch(project=bulk_project, actor=lead, labels=["bug"], item_ids=[i.pk for i in first], seed=7)
    b = bulk.create_batch(project=bulk_project, actor=lead, labels=["bug"], item_ids=[i.pk for i in second], seed=7)
    positions_a = [[i.pk for i in first].index(pk) for pk in sample_of(a)]
    positions_b = [[i.pk for i in second].index(pk) for pk in sample_of(b)]
    assert positions_a == positions_b and len(positions_a) == 2
    assert a.seed == 7


# --- Creating a batch ---------------------------------------------------------------


@pytest.mark.parametrize("persona", ["reviewer", "lead"])
def test_reviewers_and_leads_bulk_label_a_selection(bulk_project, api, request, persona):
    items = make_items(bulk_project, 10)
    user = request.getfixturevalue(persona)
    response = api(user).post(list_url(bulk_project), {"items": [i.pk for i in items], "labels": ["bug"]},
                              format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "verifying" and body["labels"] == ["bug"]
    assert body["item_count"] == 10 and body["sample_size"] == 2 and body["verified_count"] == 0
    assert body["sample_rate"] == 0.2 and body["max_error_rate"] == 0.1 and body["excluded"] == {}
    assert body["held"] == {"pending": 8, "approved": 0, "requeued": 0} and len(body["sample"]) == 2
    assert body["created_by"] == user.username

    batch = BulkBatch.objects.get()
    sampled = sample_of(batch)
    # The sample stays in the queue; the held items wait, labelled, with no consensus yet.
    assert {pk: state for pk, state in states(items).items() if pk in sampled} == dict.fromkeys(
        sampled, ItemState.UNLABELLED)
    assert set(states(items).values()) == {ItemState.UNLABELLED, ItemState.LABELLED}
    assert not Consensus.objects.exists() and not FinalLabel.objects.exists()
    event = AuditEvent.objects.get(verb="bulk.create")
    assert event.actor == user and event.object_id == str(batch.pk)
    assert event.after["sample"] == sampled and sorted(event.after["held"]) == held_of(batch)


def test_only_the_sample_is_served_while_the_batch_verifies(bulk_project, lead, annotator):
    set_rules(bulk_project, lead, overlap=2)  # one annotator's answers leave the sample unsettled
    items = make_items(bulk_project, 10)
    batch = bulk.create_batch(project=bulk_project, actor=lead, labels=["bug"], item_ids=[i.pk for i in items])
    served = label_sample(bulk_project, annotator, dict.fromkeys((i.pk for i in items), ["other"]))
    assert sorted(served) == sample_of(batch)
    batch.refresh_from_db()
    assert batch.state == "verifying" and batch.verified_count == 0


def test_annotators_cannot_create_or_read_batches(bulk_project, api, annotator, lead):
    items = make_items(bulk_project, 3)
    response = api(annotator).post(list_url(bulk_project), {"items": [items[0].pk], "labels": ["bug"]},
                                   format="json")
    assert response.status_code == 403 and "reviewer" in response.json()["detail"]
    batch = bulk.create_batch(project=bulk_project, actor=lead, labels=["bug"], item_ids=[items[1].pk])
    assert api(annotator).get(list_url(bulk_project)).status_code == 403
    assert api(annotator).get(detail_url(bulk_project, batch.pk)).status_code == 403
    assert BulkBatch.objects.count() == 1


def test_outsiders_get_404(bulk_project, api, outsider, lead):
    (item,) = make_items(bulk_project, 1)
    response = api(outsider).post(list_url(bulk_project), {"items": [item.pk], "labels": ["bug"]}, format="json")
    assert response.status_code == 404
    batch = bulk.create_batch(project=bulk_project, actor=lead, labels=["bug"], item_ids=[item.pk])
    assert api(outsider).get(detail_url(bulk_project, batch.pk)).status_code == 404
    assert api().get(list_url(bulk_project)).status_code in (401, 403)


def test_a_batch_of_another_project_is_404(bulk_project, api, lead):
    other = project_services.create_project(actor=lead, name="Other")
    create_taxonomy_version(actor=lead, project=other, labels=[{"key": "bug"}])
    (item,) = make_items(other, 1)
    batch = bulk.create_batch(project=other, actor=lead, labels=["bug"], item_ids=[item.pk])
    assert api(lead).get(detail_url(bulk_project, batch.pk)).status_code == 404


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"items": "ITEMS", "labels": ["nope"]}, "labels", "not in the active taxonomy"),
    ({"items": "ITEMS", "labels": ["bug", "other"]}, "labels", "single-label"),
    ({"items": "ITEMS", "labels": []}, "labels", ""),
    ({"labels": ["bug"]}, "non_field_errors", "exactly one of"),
    ({"items": "ITEMS", "cluster": 1, "labels": ["bug"]}, "non_field_errors", "exactly one of"),
    ({"items": "ITEMS", "labels": ["bug"], "sample_rate": 1}, "sample_rate", "unknown field"),
    ({"items": [], "labels": ["bug"]}, "items", ""),
    ({"items": ["x"], "labels": ["bug"]}, "items", ""),
    ({"items": "DUPLICATE", "labels": ["bug"]}, "items", "more than once"),
    ({"items": [999999], "labels": ["bug"]}, "items", "no such item(s) in this project: 999999"),
    ({"cluster": 999999, "labels": ["bug"]}, "cluster", "not a cluster of this project"),
])
def test_bad_requests_are_400_naming_the_problem(bulk_project, api, lead, body, field, words):
    items = make_items(bulk_project, 2)
    before = states(items)
    ids = [i.pk for i in items]
    if body.get("items") == "ITEMS":
        body = {**body, "items": ids}
    elif body.get("items") == "DUPLICATE":
        body = {**body, "items": [ids[0], ids[0]]}
    response = api(lead).post(list_url(bulk_project), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert words in str(response.json()[field])
    assert_nothing_written(items, before)


def test_an_item_of_another_project_is_400(bulk_project, api, lead):
    other = project_services.create_project(actor=lead, name="Other")
    (foreign,) = make_items(other, 1)
    (own,) = make_items(bulk_project, 1)
    response = api(lead).post(list_url(bulk_project), {"items": [own.pk, foreign.pk], "labels": ["bug"]},
                              format="json")
    assert response.status_code == 400
    assert f"no such item(s) in this project: {foreign.pk}" in response.json()["items"][0]
    assert_nothing_written([own, foreign], {own.pk: ItemState.UNLABELLED, foreign.pk: ItemState.UNLABELLED})


def test_a_selection_with_an_ineligible_item_is_400_naming_it_and_why(bulk_project, api, lead, annotator):
    fresh = make_items(bulk_project, 2)
    (holdout,) = make_items(bulk_project, 1, split=Split.HOLDOUT)
    (gold,) = make_items(bulk_project, 1, split=Split.GOLD, gold_labels=["bug"])
    (approved,) = make_items(bulk_project, 1, state=ItemState.APPROVED)
    chosen = [*fresh, holdout, gold, approved]
    before = states(chosen)
    response = api(lead).post(list_url(bulk_project), {"items": [i.pk for i in chosen], "labels": ["bug"]},
                              format="json")
    assert response.status_code == 400
    message = response.json()["items"][0]
    assert f"{holdout.pk}: a holdout item" in message
    assert f"{gold.pk}: a gold item" in message
    assert f"{approved.pk}: already approved" in message
    assert str(fresh[0].pk) not in message
    assert_nothing_written(chosen, before)


def test_an_item_in_an_open_batch_or_leased_cannot_join(bulk_project, api, lead, annotator, annotator2):
    items = make_items(bulk_project, 3)
    set_rules(bulk_project, lead, bulk_verification_rate=0.5)
    first = bulk.create_batch(project=bulk_project, actor=lead, labels=["bug"], item_ids=[i.pk for i in items[:2]])
    for item in items[:2]:  # the sampled one, and the held one
        response = api(lead).post(list_url(bulk_project), {"items": [item.pk], "labels": ["other"]}, format="json")
        assert response.status_code == 400 and "in another bulk batch" in response.json()["items"][0]

    next_item(project=bulk_project, annotator=annotator)  # the first batch's sample
    claim = next_item(project=bulk_project, annotator=annotator2)
    assert claim.item == items[2]
    response = api(lead).post(list_url(bulk_project), {"items": [items[2].pk], "labels": ["other"]},
                              format="json")
    assert response.status_code == 400 and "leased to an annotator" in response.json()["items"][0]
    # Released, it may join.
    release(lease_id=claim.lease.pk, annotator=annotator2)
    response = api(lead).post(list_url(bulk_project), {"items": [items[2].pk], "labels": ["other"]},
                              format="json")
    assert response.status_code == 201
    assert BulkBatch.objects.count() == 2 and BulkBatch.objects.first() == first


# --- Clusters -----------------------------------------------------------------------


def make_cluster(round_, items, index=0):
    cluster = Cluster.objects.create(round=round_, index=index, size=len(items), centroid=b"\0" * 8)
    for item in items:
        Proposal.objects.update_or_create(item=item, round=round_, defaults={"labels": ["bug"], "cluster": cluster})
    return cluster


def test_a_cluster_leaves_its_ineligible_items_out_and_counts_them(bulk_project, api, lead, annotator):
    fresh = make_items(bulk_project, 5)
    (holdout,) = make_items(bulk_project, 1, split=Split.HOLDOUT)
    (gold,) = make_items(bulk_project, 1, split=Split.GOLD, gold_labels=["bug"])
    (in_review,) = make_items(bulk_project, 1, state=ItemState.IN_REVIEW)
    (outside,) = make_items(bulk_project, 1)
    round_ = activate_round(bulk_project, [])
    cluster = make_cluster(round_, [*fresh, holdout, gold, in_review])
    make_cluster(round_, [outside], index=1)

    response = api(lead).post(list_url(bulk_project), {"cluster": cluster.pk, "labels": ["billing"]}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["cluster"] == cluster.pk and body["item_count"] == 5 and body["sample_size"] == 1
    assert body["excluded"] == {"holdout": 1, "gold": 1, "in_review": 1}
    batch = BulkBatch.objects.get()
    assert sorted(batch.entries.values_list("item_id", flat=True)) == [i.pk for i in fresh]
    # Holdout items are never bulk-labelled: still unlabelled, to be labelled blind.
    assert states([holdout, outside]) == {holdout.pk: ItemState.UNLABELLED, outside.pk: ItemState.UNLABELLED}
    event = AuditEvent.objects.get(verb="bulk.create")
    assert event.after["excluded_items"] == {"holdout": [holdout.pk], "gold": [gold.pk], "in_review": [in_review.pk]}


def test_a_cluster_of_an_older_round_or_with_nothing_eligible_is_400(bulk_project, api, lead):
    (item,) = make_items(bulk_project, 1)
    old = make_cluster(activate_round(bulk_project, []), [item])
    newer = activate_round(bulk_project, [])
    response = api(lead).post(list_url(bulk_project), {"cluster": old.pk, "labels": ["bug"]}, format="json")
    assert response.status_code == 400
    assert "not to the round of the active model" in response.json()["cluster"][0]

    (approved,) = make_items(bulk_project, 1, state=ItemState.APPROVED)
    full = make_cluster(newer, [approved])
    response = api(lead).post(list_url(bulk_project), {"cluster": full.pk, "labels": ["bug"]}, format="json")
    assert response.status_code == 400
    assert "no item of cluster" in response.json()["cluster"][0] and "1 approved" in response.json()["cluster"][0]
    assert_nothing_written([item, approved], {item.pk: ItemState.UNLABELLED, approved.pk: ItemState.APPROVED})


def test_a_cluster_of_another_project_is_400(bulk_project, api, lead):
    other = project_services.create_project(actor=lead, name="Other")
    (item,) = make_items(other, 1)
    foreign = make_cluster(activate_round(other, []), [item])
    response = api(lead).post(list_url(bulk_project), {"cluster": foreign.pk, "labels": ["bug"]}, format="json")
    assert response.status_code == 400 and "not a cluster of this project" in response.json()["cluster"][0]
    assert not BulkBatch.objects.exists()


# --- The verdict --------------------------------------------------------------------


def test_a_confirming_sample_approves_the_held_items(bulk_project, api, lead, annotator):
    items = make_items(bulk_project, 10)
    batch = bulk.create_batch(project=bulk_project, actor=lead, labels=["bug"], item_ids=[i.pk for i in items])
    sampled, held = sample_of(batch), held_of(batch)
    first, second = sampled

    label_item(bulk_project, annotator, ["bug"])
    body = api(lead).get(detail_url(bulk_project, batch.pk)).json()
    assert body["state"] == "verifying" and body["verified_count"] == 1 and body["error_count"] == 0
    assert {entry["item"]: entry["outcome"] for entry in body["sample"]} == {first: "confirmed", second: "pending"}

    label_item(bulk_project, annotator, ["bug"])
    body = api(lead).get(detail_url(bulk_project, batch.pk)).json()
    assert body["state"] == "accepted" and body["error_rate"] == 0.0 and body["resolved_at"]
    assert body["held"] == {"pending": 0, "approved": 8, "requeued": 0}

    assert states(items) == dict.fromkeys([i.pk for i in items], ItemState.APPROVED)
    bulk_consensus = Consensus.objects.filter(item_id__in=held)
    assert bulk_consensus.count() == 8
    assert set(bulk_consensus.values_list("method", "status", "agreement")) == {
        (ConsensusMethod.BULK, ConsensusStatus.APPROVED, None)}
    assert sorted(FinalLabel.objects.filter(key="bug").values_list("item_id", flat=True)) == sorted(
        [i.pk for i in items])
    # The sample keeps its annotators' consensus.
    assert set(Consensus.objects.filter(item_id__in=sampled).values_list("method", flat=True)) == {
        ConsensusMethod.MAJORITY}
    # Nobody is served anything more, and the batch no longer holds its items.
    assert next_item(project=bulk_project, annotator=annotator) is None
    assert not BulkBatchItem.objects.filter(open=True).exists()

    resolve = AuditEvent.objects.get(verb="bulk.resolve")
    assert resolve.after["state"] == "accepted" and resolve.after["held"]["items"] == held
    assert resolve.after["sample"] == {str(pk): "confirmed" for pk in sampled}
    events = AuditEvent.objects.filter(verb="consensus.settle", after__bulk_batch=batch.pk)
    assert sorted(event.after["item"] for event in events) == held
    assert {event.object_id for event in events} == {str(pk) for pk in bulk_consensus.values_list("pk", flat=True)}
    assert AuditEvent.objects.filter(verb="bulk.verify").count() == 2


def test_a_contradicting_sample_sends_the_batch_back_to_the_queue(bulk_project, api, lead, annotator):
    items = make_items(bulk_project, 10)
    batch = bulk.create_batch(project=bulk_project, actor=lead, labels=["bug"], item_ids=[i.pk for i in items])
    sampled, held = sample_of(batch), held_of(batch)
    label_item(bulk_project, annotator, ["bug"])
    label_item(bulk_project, annotator, ["other"])  # one of two wrong: 0.5 > 0.1

    batch.refresh_from_db()
    assert batch.state == "rejected" and batch.error_rate == 0.5 and batch.error_count == 1
    assert states(items) == {**dict.fromkeys(held, ItemState.UNLABELLED), **dict.fromkeys(sampled, ItemState.APPROVED)}
    assert not Consensus.objects.filter(item_id__in=held).exists()
    assert not FinalLabel.objects.filter(item_id__in=held).exists()
    assert set(batch.entries.filter(sampled=False).values_list("outcome", flat=True)) == {BulkItemOutcome.REQUEUED}
    assert sorted(batch.entries.filter(sampled=True).values_list("outcome", flat=True)) == [
        BulkItemOutcome.CONFIRMED, BulkItemOutcome.CONTRADICTED]
    # The held items are queued again, one by one.
    served = label_sample(bulk_project, annotator, dict.fromkeys(held, ["bug"]))
    assert sorted(served) == held
    assert AuditEvent.objects.get(verb="bulk.resolve").after["error_rate"] == 0.5

    body = api(lead).get(list_url(bulk_project)).json()
    assert [(row["id"], row["state"], row["error_rate"]) for row in body["results"]] == [(batch.pk, "rejected", 0.5)]


@pytest.mark.parametrize(("max_error_rate", "state"), [(0.5, "accepted"), (0.49, "rejected")])
def test_the_error_rate_may_reach_the_rule_but_not_pass_it(project, lead, annotator, max_error_rate, state):
    set_rules(project, lead, overlap=1, bulk_verification_rate=0.5, bulk_max_error_rate=max_error_rate)
    items = make_items(project, 4)
    batch = bulk.create_batch(project=project, actor=lead, labels=["bug"], item_ids=[i.pk for i in items])
    # The rules at creation judge the batch, whatever they say by the time the sample is in.
    set_rules(project, lead, bulk_max_error_rate=0.0)
    label_item(project, annotator, ["bug"])
    label_item(project, annotator, ["billing"])
    batch.refresh_from_db()
    assert batch.sample_size == 2 and batch.error_rate == 0.5 and batch.state == state


def test_a_tie_in_the_sample_counts_as_an_error(project, lead, annotator, annotator2):
    set_rules(project, lead, overlap=2, bulk_verification_rate=0.5, bulk_max_error_rate=0.5)
    items = make_items(project, 2)
    batch = bulk.create_batch(project=project, actor=lead, labels=["bug"], item_ids=[i.pk for i in items])
    (sampled,) = sample_of(batch)
    label_item(project, annotator, ["bug"])
    label_item(project, annotator2, ["billing"])
    batch.refresh_from_db()
    entry = batch.entries.get(item_id=sampled)
    assert entry.outcome == BulkItemOutcome.CONTRADICTED and entry.verified_labels == []
    assert batch.state == "rejected" and batch.error_rate == 1.0
    assert states(items) == {sampled: ItemState.IN_REVIEW, held_of(batch)[0]: ItemState.UNLABELLED}


def test_a_taxonomy_change_during_verification_rejects_the_batch(bulk_project, lead, annotator):
    items = make_items(bulk_project, 5)
    batch = bulk.create_batch(project=bulk_project, actor=lead, labels=["bug"], item_ids=[i.pk for i in items])
    create_taxonomy_version(actor=lead, project=bulk_project, labels=[
        {"key": "billing"}, {"key": "bug"}, {"key": "other"}, {"key": "refund"}])
    label_item(bulk_project, annotator, ["bug"])
    batch.refresh_from_db()
    assert batch.state == "rejected" and batch.error_rate == 0.0
    assert AuditEvent.objects.get(verb="bulk.resolve").after["taxonomy_changed"] is True
    assert set(states(held_of(batch)).values()) == {ItemState.UNLABELLED}


def test_a_second_consensus_on_a_sampled_item_changes_nothing(bulk_project, lead, annotator):
    from labelops.quality.services.consensus import settle

    items = make_items(bulk_project, 10)
    batch = bulk.create_batch(project=bulk_project, actor=lead, labels=["bug"], item_ids=[i.pk for i in items])
    first, _ = sample_of(batch)
    label_item(bulk_project, annotator, ["bug"])
    item = Item.objects.get(pk=first)
    settle(item, bulk_project, bulk_project.active_taxonomy(), [(annotator.pk, ["bug"])], ["other"], "majority")
    batch.refresh_from_db()
    assert batch.verified_count == 1 and batch.error_count == 0 and batch.state == "verifying"


def test_listing_batches_costs_the_same_queries_for_one_or_many(bulk_project, api, lead):
    def list_queries(expected_rows):
        with CaptureQueriesContext(connection) as queries:
            response = api(lead).get(list_url(bulk_project))
        assert response.status_code == 200 and len(response.json()["results"]) == expected_rows
        return len(queries)

    items = make_items(bulk_project, 12)
    bulk.create_batch(project=bulk_project, actor=lead, labels=["bug"], item_ids=[i.pk for i in items[:4]])
    one = list_queries(1)
    for start in (4, 8):
        bulk.create_batch(project=bulk_project, actor=lead, labels=["bug"],
                          item_ids=[i.pk for i in items[start:start + 4]])
    assert list_queries(3) == one


# --- Cancelling ---------------------------------------------------------------------


def cancel_url(project, batch):
    return f"/api/v1/projects/{project.pk}/bulk-labels/{batch.pk}/cancel/"


def test_cancelling_returns_the_held_items_to_the_queue(bulk_project, api, lead, reviewer, annotator):
    items = make_items(bulk_project, 10)
    batch = bulk.create_batch(project=bulk_project, actor=lead, labels=["bug"], item_ids=[i.pk for i in items])
    first, second = sample_of(batch)
    label_item(bulk_project, annotator, ["bug"])

    response = api(reviewer).post(cancel_url(bulk_project, batch))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "cancelled" and body["held"] == {"pending": 0, "approved": 0, "requeued": 8} and body["error_rate"] is None
    assert {entry["item"]: entry["outcome"] for entry in body["sample"]} == {first: "confirmed", second: "pending"}
    assert states(held_of(batch)) == dict.fromkeys(held_of(batch), ItemState.UNLABELLED)
    assert AuditEvent.objects.get(verb="bulk.cancel").actor == reviewer

    # The rest of the sample is an ordinary item now: its consensus resolves nothing.
    label_item(bulk_project, annotator, ["other"])
    batch.refresh_from_db()
    assert batch.state == "cancelled" and batch.verified_count == 1
    assert not AuditEvent.objects.filter(verb="bulk.resolve").exists()

    response = api(lead).post(cancel_url(bulk_project, batch))
    assert response.status_code == 409 and response.json()["code"] == "batch_closed"
    assert "already cancelled" in response.json()["detail"]


def test_a_batch_whose_sampled_item_was_dropped_can_be_cancelled(bulk_project, api, lead, annotator):
    bulk_project.settings = {**bulk_project.settings, "skip_policy": "drop"}
    bulk_project.save(update_fields=["settings"])
    set_rules(bulk_project, lead, bulk_verification_rate=0.5)
    items = make_items(bulk_project, 2)
    batch = bulk.create_batch(project=bulk_project, actor=lead, labels=["bug"], item_ids=[i.pk for i in items])
    claim = next_item(project=bulk_project, annotator=annotator)
    skip(lease_id=claim.lease.pk, annotator=annotator, reason="unreadable")  # the sample goes to review
    assert states(sample_of(batch)) == dict.fromkeys(sample_of(batch), ItemState.IN_REVIEW)

    assert api(lead).post(cancel_url(bulk_project, batch)).status_code == 200
    assert states(held_of(batch)) == dict.fromkeys(held_of(batch), ItemState.UNLABELLED)
    assert next_item(project=bulk_project, annotator=annotator).item.pk == held_of(batch)[0]


def test_annotators_cannot_cancel(bulk_project, api, lead, annotator, outsider):
    (item,) = make_items(bulk_project, 1)
    batch = bulk.create_batch(project=bulk_project, actor=lead, labels=["bug"], item_ids=[item.pk])
    assert api(annotator).post(cancel_url(bulk_project, batch)).status_code == 403
    assert api(outsider).post(cancel_url(bulk_project, batch)).status_code == 404
    batch.refresh_from_db()
    assert batch.state == "verifying" and not AuditEvent.objects.filter(verb="bulk.cancel").exists()


# --- The schema ---------------------------------------------------------------------

# These endpoints alone, so they are checked on their own while other views change.
urlpatterns = [path("api/v1/", include([
    pattern for pattern in quality_urls.urlpatterns if pattern.name.startswith("bulk-batch")]))]


def test_bulk_endpoints_document_without_warnings():
    GENERATOR_STATS.reset()
    schema = SchemaGenerator(urlconf=__name__).get_schema(request=None, public=True)
    validate_schema(schema)
    assert set(schema["paths"]) == {
        "/api/v1/projects/{project_pk}/bulk-labels/", "/api/v1/projects/{project_pk}/bulk-labels/{id}/",
        "/api/v1/projects/{project_pk}/bulk-labels/{id}/cancel/"}
    assert not GENERATOR_STATS, dict(GENERATOR_STATS._warn_cache)


# --- Concurrency (PostgreSQL) ---------------------------------------------------------


def run_at_once(*jobs):
    """Run each job in its own thread (its own database connection), all
    started together; returns the exceptions they raised."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job):
        try:
            barrier.wait(timeout=30)
            job()
        except BaseException as exc:  # collected and asserted on by the caller
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def racing_project(lead, make_user, annotators: int, **rules):
    project = project_services.create_project(actor=lead, name="Race")
    create_taxonomy_version(actor=lead, project=project, labels=[{"key": "a"}, {"key": "b"}])
    set_rules(project, lead, overlap=1, **rules)
    users = [make_user(f"racer{n}") for n in range(annotators)]
    for user in users:
        project_services.add_member(actor=lead, project=project, user=user, role="annotator")
    return project, users


def worker(project, user, served: list):
    """Label "a" on everything served; stop after a second of empty answers in a
    row (an item locked by a batch being created is skipped, not waited for)."""
    def work():
        empty = 0
        while empty < 20:
            claim = next_item(project=project, annotator=user)
            if claim is None:
                empty += 1
                time.sleep(0.05)
                continue
            empty = 0
            served.append(claim.item.pk)
            submit(lease_id=claim.lease.pk, annotator=user, labels=["a"])
    return work


@pytest.mark.postgres
def test_the_last_sampled_items_settled_at_once_resolve_the_batch_once(transactional_db, lead, make_user):
    require(connection.vendor == "postgresql", "DATABASE_URL is not PostgreSQL")
    project, users = racing_project(lead, make_user, 6, bulk_verification_rate=0.5)
    items = make_items(project, 12)
    batch = bulk.create_batch(project=project, actor=lead, labels=["a"], item_ids=[i.pk for i in items])
    served: list[int] = []
    assert run_at_once(*(worker(project, user, served) for user in users)) == []

    assert sorted(served) == sample_of(batch)  # each sampled item once, never a held one
    batch.refresh_from_db()
    assert batch.state == "accepted" and batch.verified_count == 6 and batch.error_count == 0
    assert AuditEvent.objects.filter(verb="bulk.resolve").count() == 1
    assert states(items) == dict.fromkeys([i.pk for i in items], ItemState.APPROVED)
    assert Consensus.objects.filter(method=ConsensusMethod.BULK).count() == 6


@pytest.mark.postgres
def test_a_batch_created_while_annotators_work_never_holds_an_annotated_item(transactional_db, lead, make_user):
    require(connection.vendor == "postgresql", "DATABASE_URL is not PostgreSQL")
    project, users = racing_project(lead, make_user, 4, bulk_verification_rate=0.1)
    items = make_items(project, 40)
    cluster = make_cluster(activate_round(project, []), items)
    served: list[int] = []
    outcome = {}

    def create():
        try:
            outcome["batch"] = bulk.create_batch(project=project, actor=lead, labels=["b"], cluster_id=cluster.pk)
        except ValidationError as exc:  # every item got taken first: allowed, and nothing written
            outcome["error"] = exc

    assert run_at_once(create, *(worker(project, user, served) for user in users)) == []

    assert len(served) == len(set(served))  # overlap 1: nobody got an item twice
    if "error" in outcome:
        assert "no item of cluster" in str(outcome["error"]) and not BulkBatch.objects.exists()
        return
    batch = outcome["batch"]
    batch.refresh_from_db()
    assert batch.item_count + sum(batch.excluded.values()) == 40
    held = list(BulkBatchItem.objects.filter(sampled=False).values_list("item_id", flat=True))
    assert len(held) == batch.item_count - batch.sample_size
    # Nobody labelled a held item while the batch held it. The sample says
    # "a", the batch "b": it is rejected, and only then are its items queued again.
    assert batch.state == "rejected"
    assert not Annotation.objects.filter(item_id__in=held, created_at__lt=batch.resolved_at).exists()
    assert not Lease.objects.filter(item_id__in=held, created_at__lt=batch.resolved_at).exists()


def test_the_sample_counts_when_labelled_through_the_queue_api(bulk_project, lead, annotator, api):
    """The queue views read the project (with whether a batch is verifying)
    before the submit; a settled sampled item must still count toward its
    batch, and an item leased before any batch existed needs no check."""
    [early] = make_items(bulk_project, 1)
    client = api(annotator)
    early_lease = client.post(f"/api/v1/projects/{bulk_project.pk}/queue/next/").json()
    assert early_lease["item"]["id"] == early.pk
    items = make_items(bulk_project, 5)
    batch = bulk.create_batch(project=bulk_project, actor=lead, labels=["bug"], item_ids=[i.pk for i in items])
    # The early item was leased before the batch: it was left out, and settling it touches no batch.
    assert early.pk not in sample_of(batch) + held_of(batch)
    response = client.post(f"/api/v1/projects/{bulk_project.pk}/queue/leases/{early_lease['lease']}/submit/",
                           {"labels": ["bug"]}, format="json")
    assert response.status_code == 201
    [sampled] = sample_of(batch)
    served = client.post(f"/api/v1/projects/{bulk_project.pk}/queue/next/").json()
    assert served["item"]["id"] == sampled
    response = client.post(f"/api/v1/projects/{bulk_project.pk}/queue/leases/{served['lease']}/submit/",
                           {"labels": ["bug"]}, format="json")
    assert response.status_code == 201
    batch.refresh_from_db()
    assert batch.verified_count == 1
    assert BulkBatchItem.objects.get(batch=batch, item_id=sampled).outcome == BulkItemOutcome.CONFIRMED
