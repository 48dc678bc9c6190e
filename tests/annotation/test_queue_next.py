"""next_item: what an annotator is served, in which order, and never twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from labelops.annotation.models import Annotation, Lease
from labelops.annotation.services import next_item, release, submit
from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.audit.models import AuditEvent
from labelops.items.models import Item, ItemState, Split
from labelops.projects import services as project_services
from tests.annotation.conftest import Always, activate_round, import_proposal, make_items, set_rules

pytestmark = pytest.mark.django_db


def served(project, user, **kwargs):
    claim = next_item(project=project, annotator=user, **kwargs)
    return None if claim is None else claim.item


def test_serves_pool_order_with_a_lease_and_counts_it(queue_project, annotator):
    first, second = make_items(queue_project, 2)
    before = timezone.now()
    claim = next_item(project=queue_project, annotator=annotator)
    assert claim.item == first and not claim.resumed and claim.proposal is None
    lease = Lease.objects.get(pk=claim.lease.pk)
    minutes = queue_project.config.lease_minutes
    assert before + timedelta(minutes=minutes) <= lease.expires_at <= timezone.now() + timedelta(minutes=minutes)
    assert lease.closed_at is None and lease.outcome == ""
    first.refresh_from_db()
    assert (first.active_lease_count, first.annotation_count, first.state) == (1, 0, ItemState.UNLABELLED)
    event = AuditEvent.objects.get(verb="lease.claim")
    assert event.actor == annotator and event.after["order"] == "pool" and event.after["reopened"] is False


def test_next_is_idempotent_while_the_lease_lives(queue_project, annotator):
    make_items(queue_project, 3)
    first = next_item(project=queue_project, annotator=annotator)
    again = next_item(project=queue_project, annotator=annotator)
    assert again.lease.pk == first.lease.pk and again.resumed
    assert Lease.objects.count() == 1
    assert Item.objects.get(pk=first.item.pk).active_lease_count == 1


def test_never_the_same_item_twice(queue_project, lead, annotator):
    set_rules(queue_project, lead, overlap=3)
    items = make_items(queue_project, 3)
    seen = []
    while (claim := next_item(project=queue_project, annotator=annotator)) is not None:
        seen.append(claim.item.pk)
        submit(lease_id=claim.lease.pk, annotator=annotator, labels=["bug"])
    assert seen == [i.pk for i in items]


def test_overlap_counts_annotations_and_live_leases(project, lead, annotator, annotator2, reviewer):
    set_rules(project, lead, overlap=2)
    (item,) = make_items(project, 1)
    claim = next_item(project=project, annotator=annotator)
    submit(lease_id=claim.lease.pk, annotator=annotator, labels=["bug"])
    assert served(project, annotator2) == item  # one annotation + one lease = 2
    assert served(project, reviewer) is None
    item.refresh_from_db()
    assert (item.annotation_count, item.active_lease_count) == (1, 1)


def test_ranked_order_of_the_active_round_then_pool_order(queue_project, lead, annotator):
    set_rules(queue_project, lead, overlap=1)
    a, b, c, d = make_items(queue_project, 4)
    activate_round(queue_project, ranked=[c, a], others=[b])
    order, proposals = [], []
    while (claim := next_item(project=queue_project, annotator=annotator)) is not None:
        order.append(claim.item)
        proposals.append(claim.proposal)
        submit(lease_id=claim.lease.pk, annotator=annotator, labels=["bug"])
    assert order == [c, a, b, d]
    assert [p.labels if p else None for p in proposals] == [["bug"], ["bug"], ["bug"], None]
    assert proposals[0].confidence == 0.5


def test_a_newer_active_round_replaces_the_order(queue_project, annotator):
    a, b, c = make_items(queue_project, 3)
    activate_round(queue_project, ranked=[a, b, c])
    activate_round(queue_project, ranked=[c, b, a], labels=("other",))
    claim = next_item(project=queue_project, annotator=annotator)
    assert claim.item == c and claim.proposal.labels == ["other"]


def test_cold_start_is_pool_order_with_imported_predictions(queue_project, annotator):
    a, b = make_items(queue_project, 2)
    import_proposal(a, ["billing"], 0.4)
    newest = import_proposal(a, ["other"], 0.7)
    claim = next_item(project=queue_project, annotator=annotator)
    assert claim.item == a and claim.proposal == newest


def test_holdout_items_are_served_blind(queue_project, annotator):
    (held_out,) = make_items(queue_project, 1, split=Split.HOLDOUT)
    activate_round(queue_project, ranked=[], others=[held_out])
    import_proposal(held_out, ["bug"])
    claim = next_item(project=queue_project, annotator=annotator)
    assert claim.item == held_out and claim.proposal is None and claim.lease.proposal is None


def test_items_past_the_queue_are_not_served(queue_project, annotator):
    for state in (ItemState.LABELLED, ItemState.IN_REVIEW, ItemState.APPROVED):
        make_items(queue_project, 1, state=state)
    assert served(queue_project, annotator) is None


def test_an_item_the_annotator_already_annotated_is_not_served(queue_project, lead, annotator, annotator2):
    set_rules(queue_project, lead, overlap=2)
    (item,) = make_items(queue_project, 1, annotation_count=1, state=ItemState.IN_PROGRESS)
    Annotation.objects.create(item=item, annotator=annotator, labels=["bug"],
                              taxonomy_version=queue_project.active_taxonomy(), source="imported")
    assert served(queue_project, annotator) is None
    assert served(queue_project, annotator2) == item


def test_a_released_item_comes_back_to_the_same_annotator_on_the_same_row(queue_project, annotator):
    first, _ = make_items(queue_project, 2)
    claim = next_item(project=queue_project, annotator=annotator)
    release(lease_id=claim.lease.pk, annotator=annotator)
    again = next_item(project=queue_project, annotator=annotator)
    assert again.item == first and again.lease.pk == claim.lease.pk and not again.resumed
    assert Lease.objects.count() == 1
    first.refresh_from_db()
    assert first.active_lease_count == 1
    assert AuditEvent.objects.filter(verb="lease.claim").last().after["reopened"] is True


def test_no_taxonomy_no_queue(db, lead, annotator):
    project = project_services.create_project(actor=lead, name="Empty")
    project_services.add_member(actor=lead, project=project, user=annotator, role="annotator")
    make_items(project, 1)
    with pytest.raises(ValidationError, match="no taxonomy"):
        next_item(project=project, annotator=annotator)
    assert not Lease.objects.exists()


# --- Gold ---------------------------------------------------------------------------


def test_gold_is_mixed_in_at_the_ratio(queue_project, lead, annotator):
    set_rules(queue_project, lead, overlap=1, gold_ratio=0.25)
    pool = make_items(queue_project, 9)
    gold = make_items(queue_project, 3, split=Split.GOLD, gold_labels=["bug"])
    # With the draw always at its top, gold comes exactly when the quota reaches a whole item.
    kinds = []
    while (claim := next_item(project=queue_project, annotator=annotator, rng=Always(0.999))) is not None:
        kinds.append("gold" if claim.item.split == Split.GOLD else "pool")
        submit(lease_id=claim.lease.pk, annotator=annotator, labels=["bug"])
    assert kinds == ["pool", "pool", "pool", "gold"] * 3
    assert Lease.objects.filter(item__in=gold).count() == 3 and Lease.objects.filter(item__in=pool).count() == 9


def test_random_gold_positions_keep_the_share_near_the_ratio(queue_project, lead, annotator):
    import random

    set_rules(queue_project, lead, overlap=1, gold_ratio=0.2)
    make_items(queue_project, 40)
    make_items(queue_project, 20, split=Split.GOLD, gold_labels=["bug"])
    rng, gold, served_count = random.Random(7), 0, 0
    for _ in range(40):
        claim = next_item(project=queue_project, annotator=annotator, rng=rng)
        served_count += 1
        gold += claim.item.split == Split.GOLD
        assert abs(gold - 0.2 * served_count) <= 1
        submit(lease_id=claim.lease.pk, annotator=annotator, labels=["bug"])


def test_gold_items_are_served_to_every_annotator_once_and_keep_their_state(
    queue_project, lead, annotator, annotator2,
):
    set_rules(queue_project, lead, overlap=1, gold_ratio=0.5)
    (gold,) = make_items(queue_project, 1, split=Split.GOLD, gold_labels=["bug"])
    for user in (annotator, annotator2):
        claim = next_item(project=queue_project, annotator=user, rng=Always(0.0))
        assert claim.item == gold and claim.proposal is None
        submit(lease_id=claim.lease.pk, annotator=user, labels=["other"])
        assert served(queue_project, user, rng=Always(0.0)) is None
    gold.refresh_from_db()
    assert (gold.state, gold.annotation_count, gold.active_lease_count) == (ItemState.APPROVED, 2, 0)


def test_gold_gets_a_proposal_only_as_a_pool_item_would(queue_project, lead, annotator):
    set_rules(queue_project, lead, overlap=1, gold_ratio=0.5)
    (gold,) = make_items(queue_project, 1, split=Split.GOLD, gold_labels=["billing"])
    activate_round(queue_project, ranked=[], others=[gold], labels=("bug",))
    claim = next_item(project=queue_project, annotator=annotator, rng=Always(0.0))
    assert claim.item == gold and claim.proposal.labels == ["bug"]  # the model's, never the answer


def test_zero_gold_ratio_never_serves_gold(queue_project, annotator):
    make_items(queue_project, 1, split=Split.GOLD, gold_labels=["bug"])
    assert served(queue_project, annotator, rng=Always(0.0)) is None


# --- Look-ahead (prefetch) ------------------------------------------------------------


def test_prefetch_leases_a_second_item_and_no_more(queue_project, annotator):
    a, b, c = make_items(queue_project, 3)
    first = next_item(project=queue_project, annotator=annotator)
    ahead = next_item(project=queue_project, annotator=annotator, prefetch=True)
    assert (first.item, ahead.item) == (a, b) and not ahead.resumed
    # Two live leases: prefetch returns the newer one again, plain next the older one.
    again = next_item(project=queue_project, annotator=annotator, prefetch=True)
    assert again.lease.pk == ahead.lease.pk and again.resumed
    plain = next_item(project=queue_project, annotator=annotator)
    assert plain.lease.pk == first.lease.pk and plain.resumed
    assert Lease.objects.filter(annotator=annotator).count() == 2
    assert [i.active_lease_count for i in Item.objects.filter(pk__in=[a.pk, b.pk, c.pk]).order_by("pk")] == [1, 1, 0]
    claims = AuditEvent.objects.filter(verb="lease.claim").order_by("id")
    assert [e.after["prefetch"] for e in claims] == [False, True]


def test_prefetch_without_a_lease_claims_just_one(queue_project, annotator):
    a, _ = make_items(queue_project, 2)
    claim = next_item(project=queue_project, annotator=annotator, prefetch=True)
    assert claim.item == a and Lease.objects.count() == 1


def test_after_a_submit_the_look_ahead_is_the_current_item_and_a_new_one_is_prefetched(queue_project, annotator):
    a, b, c = make_items(queue_project, 3)
    first = next_item(project=queue_project, annotator=annotator)
    next_item(project=queue_project, annotator=annotator, prefetch=True)
    submit(lease_id=first.lease.pk, annotator=annotator, labels=["bug"])
    assert served(queue_project, annotator) == b
    assert served(queue_project, annotator, prefetch=True) == c
    assert served(queue_project, annotator, prefetch=True) == c  # two live: the newer, again


def test_an_expired_look_ahead_frees_its_slot(queue_project, annotator):
    a, b, c = make_items(queue_project, 3)
    next_item(project=queue_project, annotator=annotator)
    ahead = next_item(project=queue_project, annotator=annotator, prefetch=True)
    Lease.objects.filter(pk=ahead.lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    # The expired look-ahead is swept and b comes back first (a reopened row), never a third live lease.
    again = next_item(project=queue_project, annotator=annotator, prefetch=True)
    assert again.item == b and again.lease.pk == ahead.lease.pk and not again.resumed
    assert Lease.objects.live(timezone.now()).filter(annotator=annotator).count() == 2


def test_the_look_ahead_counts_toward_overlap(project, lead, annotator, annotator2, reviewer):
    set_rules(project, lead, overlap=2)
    a, b = make_items(project, 2)
    assert served(project, annotator) == a
    assert served(project, annotator, prefetch=True) == b
    assert served(project, annotator2) == a
    assert served(project, annotator2, prefetch=True) == b
    assert served(project, reviewer) is None  # a and b each hold two leases: overlap reached
    assert served(project, reviewer, prefetch=True) is None
    assert [i.active_lease_count for i in Item.objects.filter(pk__in=[a.pk, b.pk]).order_by("pk")] == [2, 2]


def test_prefetching_through_the_queue_never_serves_an_item_twice(queue_project, lead, annotator):
    set_rules(queue_project, lead, overlap=3)
    items = make_items(queue_project, 4)
    seen = [next_item(project=queue_project, annotator=annotator).item.pk]
    current = Lease.objects.get(item_id=seen[0])
    while True:
        ahead = next_item(project=queue_project, annotator=annotator, prefetch=True)
        submit(lease_id=current.pk, annotator=annotator, labels=["bug"])
        if ahead is None:  # nothing beyond the lease held: 204, the held lease is not returned
            break
        seen.append(ahead.item.pk)
        current = ahead.lease
    assert seen == [i.pk for i in items]
    assert next_item(project=queue_project, annotator=annotator) is None


def test_gold_ratio_holds_with_prefetch(queue_project, lead, annotator):
    set_rules(queue_project, lead, overlap=1, gold_ratio=0.25)
    make_items(queue_project, 9)
    make_items(queue_project, 3, split=Split.GOLD, gold_labels=["bug"])
    kinds = []
    current = next_item(project=queue_project, annotator=annotator, rng=Always(0.999))
    kinds.append(current.item.split)
    while current is not None:
        ahead = next_item(project=queue_project, annotator=annotator, rng=Always(0.999), prefetch=True)
        submit(lease_id=current.lease.pk, annotator=annotator, labels=["bug"])
        if ahead is not None:
            kinds.append(ahead.item.split)
        current = ahead
    assert ["gold" if k == Split.GOLD else "pool" for k in kinds] == ["pool", "pool", "pool", "gold"] * 3


def test_next_over_http_takes_prefetch_and_refuses_a_bad_value(queue_project, api, annotator):
    a, b = make_items(queue_project, 2)
    client = api(annotator)
    url = f"/api/v1/projects/{queue_project.pk}/queue/next/"
    first = client.post(url).json()
    ahead = client.post(url + "?prefetch=1").json()
    assert (first["item"]["id"], ahead["item"]["id"], ahead["resumed"]) == (a.pk, b.pk, False)
    assert client.post(url + "?prefetch=true").json()["lease"] == ahead["lease"]
    assert client.post(url + "?prefetch=0").json()["lease"] == first["lease"]
    bad = client.post(url + "?prefetch=maybe")
    assert bad.status_code == 400 and "prefetch" in bad.json()
    assert Lease.objects.count() == 2


def test_the_schema_documents_prefetch(api, lead):
    schema = api(lead).get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/projects/{project_pk}/queue/next/"]["post"]
    assert [(p["name"], p["in"]) for p in operation["parameters"] if p["name"] == "prefetch"] == [("prefetch", "query")]


@pytest.mark.postgres
def test_concurrent_prefetches_of_one_annotator_hold_the_cap(transactional_db, lead, make_user):
    """Many `next?prefetch=1` calls of one annotator at once (a browser
    retrying, several tabs): two live leases, never more, each item once."""
    import threading

    from django.db import connection, connections

    from tests.conftest import require

    require(connection.vendor == "postgresql", "DATABASE_URL is not PostgreSQL")
    project = project_services.create_project(actor=lead, name="Tabs")
    create_taxonomy_version(actor=lead, project=project, labels=[{"key": "a"}])
    set_rules(project, lead, overlap=1)
    make_items(project, 10)
    user = make_user("tabs")
    project_services.add_member(actor=lead, project=project, user=user, role="annotator")
    barrier = threading.Barrier(8)
    leases, errors = [], []

    def work():
        try:
            barrier.wait(timeout=30)
            leases.append(next_item(project=project, annotator=user, prefetch=True).lease.pk)
        except BaseException as exc:  # asserted on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(set(leases)) == 2 and Lease.objects.filter(annotator=user).count() == 2
    assert sorted(Item.objects.for_project(project).values_list("active_lease_count", flat=True)) == [0] * 8 + [1, 1]
