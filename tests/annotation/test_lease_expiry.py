"""Expired leases give their items back: lazily in next_item and by the periodic task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labelops.annotation import tasks
from labelops.annotation.models import Lease, LeaseOutcome
from labelops.annotation.services import LeaseConflict, expire_leases, heartbeat, next_item, submit
from labelops.audit.models import AuditEvent
from labelops.items.models import Item
from tests.annotation.conftest import make_items

pytestmark = pytest.mark.django_db


def expire(claim):
    Lease.objects.filter(pk=claim.lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def test_the_sweep_closes_expired_leases_only_once(queue_project, annotator, annotator2):
    old, fresh = make_items(queue_project, 2)
    stale = next_item(project=queue_project, annotator=annotator)
    live = next_item(project=queue_project, annotator=annotator2)
    expire(stale)
    assert expire_leases() == 1
    assert expire_leases() == 0
    lease = Lease.objects.get(pk=stale.lease.pk)
    assert lease.outcome == LeaseOutcome.EXPIRED and lease.closed_at is not None
    assert Lease.objects.get(pk=live.lease.pk).closed_at is None
    counts = dict(Item.objects.values_list("pk", "active_lease_count"))
    assert counts == {old.pk: 0, fresh.pk: 1}
    event = AuditEvent.objects.get(verb="lease.expire")
    assert event.actor is None and event.project_id == queue_project.pk


def test_the_task_takes_no_arguments_and_is_idempotent(queue_project, annotator):
    make_items(queue_project, 1)
    expire(next_item(project=queue_project, annotator=annotator))
    assert tasks.expire_leases.apply().get() == 1
    assert tasks.expire_leases.apply().get() == 0


def test_the_sweep_works_in_batches(queue_project, lead, annotator, annotator2, reviewer, monkeypatch):
    from labelops.annotation.services import leases

    monkeypatch.setattr(leases, "EXPIRE_BATCH", 2)
    make_items(queue_project, 3)
    claims = [next_item(project=queue_project, annotator=user) for user in (annotator, annotator2, reviewer)]
    for claim in claims:
        expire(claim)
    assert expire_leases() == 3
    assert not Lease.objects.open().exists()


def test_next_recycles_an_expired_lease_for_others(queue_project, annotator, annotator2):
    (item,) = make_items(queue_project, 1)
    expire(next_item(project=queue_project, annotator=annotator))
    claim = next_item(project=queue_project, annotator=annotator2)
    assert claim.item == item
    item.refresh_from_db()
    assert item.active_lease_count == 1


def test_my_expired_lease_is_reopened_when_the_item_comes_back_to_me(queue_project, annotator):
    (item,) = make_items(queue_project, 1)
    first = next_item(project=queue_project, annotator=annotator)
    expire(first)
    again = next_item(project=queue_project, annotator=annotator)
    assert again.item == item and again.lease.pk == first.lease.pk and not again.resumed
    assert again.lease.expires_at > timezone.now()
    item.refresh_from_db()
    assert item.active_lease_count == 1


def test_an_expired_lease_cannot_be_heartbeated_or_submitted(queue_project, annotator):
    make_items(queue_project, 1)
    claim = next_item(project=queue_project, annotator=annotator)
    expire(claim)
    for call in (lambda: heartbeat(lease_id=claim.lease.pk, annotator=annotator),
                 lambda: submit(lease_id=claim.lease.pk, annotator=annotator, labels=["bug"])):
        with pytest.raises(LeaseConflict, match="expired"):
            call()
    expire_leases()
    with pytest.raises(LeaseConflict, match=r"closed \(expired\)"):
        submit(lease_id=claim.lease.pk, annotator=annotator, labels=["bug"])
