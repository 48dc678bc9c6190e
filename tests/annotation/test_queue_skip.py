"""skip under each skip policy, heartbeat and release."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labelops.annotation.models import REQUEUE_LATER_AFTER, Lease, LeaseOutcome
from labelops.annotation.services import LeaseConflict, heartbeat, next_item, release, skip, submit
from labelops.audit.models import AuditEvent
from labelops.items.models import ItemState, Split
from labelops.projects import services as project_services
from tests.annotation.conftest import Always, make_items, set_rules

pytestmark = pytest.mark.django_db


def with_policy(project, lead, policy):
    project_services.update_project(actor=lead, project=project, settings={"skip_policy": policy})
    project.refresh_from_db()
    return project


def served(project, user):
    claim = next_item(project=project, annotator=user)
    return None if claim is None else claim.item


def test_requeue_others_gives_the_item_to_others_never_back_to_me(queue_project, lead, annotator, annotator2):
    project = with_policy(queue_project, lead, "requeue_others")
    first, second = make_items(project, 2)
    claim = next_item(project=project, annotator=annotator)
    lease = skip(lease_id=claim.lease.pk, annotator=annotator, reason="unreadable")
    assert lease.outcome == LeaseOutcome.SKIPPED and lease.closed_at is not None
    first.refresh_from_db()
    assert (first.state, first.active_lease_count) == (ItemState.UNLABELLED, 0)
    assert served(project, annotator) == second
    assert served(project, annotator2) == first
    event = AuditEvent.objects.get(verb="lease.skip")
    assert (event.after["policy"], event.after["reason"]) == ("requeue_others", "unreadable")


def test_requeue_later_brings_the_item_back_to_me_after_a_while(queue_project, lead, annotator):
    project = with_policy(queue_project, lead, "requeue_later")
    first, second = make_items(project, 2)
    claim = next_item(project=project, annotator=annotator)
    skip(lease_id=claim.lease.pk, annotator=annotator)
    later = next_item(project=project, annotator=annotator)
    assert later.item == second
    submit(lease_id=later.lease.pk, annotator=annotator, labels=["bug"])
    assert served(project, annotator) is None  # not yet
    Lease.objects.filter(pk=claim.lease.pk).update(closed_at=timezone.now() - REQUEUE_LATER_AFTER)
    again = next_item(project=project, annotator=annotator)
    assert again.item == first and again.lease.pk == claim.lease.pk  # the same row, reopened
    assert Lease.objects.count() == 2


def test_requeue_later_lets_others_take_it_meanwhile(queue_project, lead, annotator, annotator2):
    project = with_policy(queue_project, lead, "requeue_later")
    (item,) = make_items(project, 1)
    claim = next_item(project=project, annotator=annotator)
    skip(lease_id=claim.lease.pk, annotator=annotator)
    assert served(project, annotator2) == item


def test_drop_takes_the_item_out_of_the_queue_for_review(queue_project, lead, annotator, annotator2):
    project = with_policy(queue_project, lead, "drop")
    (item,) = make_items(project, 1)
    claim = next_item(project=project, annotator=annotator)
    lease = skip(lease_id=claim.lease.pk, annotator=annotator)
    assert lease.outcome == LeaseOutcome.DROPPED
    item.refresh_from_db()
    assert (item.state, item.active_lease_count) == (ItemState.IN_REVIEW, 0)
    assert served(project, annotator2) is None
    assert AuditEvent.objects.get(verb="lease.skip").after["item_state"] == {
        "before": "unlabelled", "after": "in_review"}


def test_dropping_a_gold_item_leaves_it_as_it_is(queue_project, lead, annotator):
    project = with_policy(queue_project, lead, "drop")
    set_rules(project, lead, overlap=1, gold_ratio=0.5)
    (gold,) = make_items(project, 1, split=Split.GOLD, gold_labels=["bug"])
    claim = next_item(project=project, annotator=annotator, rng=Always(0.0))
    assert claim.item == gold
    skip(lease_id=claim.lease.pk, annotator=annotator)
    gold.refresh_from_db()
    assert (gold.state, gold.active_lease_count) == (ItemState.APPROVED, 0)


def test_a_closed_lease_cannot_be_skipped_released_or_heartbeated(queue_project, annotator):
    make_items(queue_project, 2)
    claim = next_item(project=queue_project, annotator=annotator)
    skip(lease_id=claim.lease.pk, annotator=annotator)
    for action in (skip, release, heartbeat):
        with pytest.raises(LeaseConflict, match="closed") as caught:
            action(lease_id=claim.lease.pk, annotator=annotator)
        assert caught.value.code == "lease_closed"
    with pytest.raises(LeaseConflict):
        submit(lease_id=claim.lease.pk, annotator=annotator, labels=["bug"])


def test_heartbeat_extends_the_lease(queue_project, annotator):
    make_items(queue_project, 1)
    claim = next_item(project=queue_project, annotator=annotator)
    Lease.objects.filter(pk=claim.lease.pk).update(expires_at=timezone.now() + timedelta(seconds=5))
    before = timezone.now()
    lease = heartbeat(lease_id=claim.lease.pk, annotator=annotator)
    assert lease.expires_at >= before + timedelta(minutes=queue_project.config.lease_minutes)
    assert lease.heartbeat_at >= before
    assert Lease.objects.get(pk=lease.pk).expires_at == lease.expires_at


def test_release_gives_the_item_back(queue_project, annotator, annotator2):
    (item,) = make_items(queue_project, 1)
    claim = next_item(project=queue_project, annotator=annotator)
    lease = release(lease_id=claim.lease.pk, annotator=annotator)
    assert lease.outcome == LeaseOutcome.RELEASED
    item.refresh_from_db()
    assert item.active_lease_count == 0
    assert served(queue_project, annotator2) == item
    assert AuditEvent.objects.filter(verb="lease.release").count() == 1
