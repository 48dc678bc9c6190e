"""Ending and extending leases: heartbeat, release, skip, and the expiry sweep.

Every lease that closes gives its slot back to the item
(`Item.active_lease_count - 1`) in the transaction that closes it.

Locking, shared with `submit`: a service that changes one lease locks the
lease row first (`SELECT ... FOR UPDATE`), then its item row (`FOR NO KEY
UPDATE`, see `Item.objects.lock`), so two actions on one lease serialise and the
second sees the first's outcome. The expiry
sweep takes expired leases with `SKIP LOCKED` (a lease being submitted right
now is left alone) and closes each with a conditional update, so two sweeps,
or a sweep and a `next_item`, never close a lease twice. On SQLite, which has
no row locks, the settings open every transaction with BEGIN IMMEDIATE, so
writers run one at a time and the same reasoning holds.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from labelops.annotation.models import Lease, LeaseOutcome
from labelops.annotation.services import queue_sql
from labelops.annotation.services.context import QueueContext
from labelops.annotation.signals import DroppedItem, item_dropped, send
from labelops.audit.services import record
from labelops.errors import Conflict
from labelops.items.models import Item, ItemState, Split
from labelops.projects.models import Project

# What `skip` does under each `ProjectSettings.skip_policy`.
SKIP_OUTCOMES = {
    # The item goes back to the queue for others; never again to this annotator.
    "requeue_others": LeaseOutcome.SKIPPED,
    # The item goes back to the queue for others and, after
    # `REQUEUE_LATER_AFTER`, to this annotator again (the lease row is reopened).
    "requeue_later": LeaseOutcome.SKIPPED_LATER,
    # The item leaves the queue for everyone: it goes to review (reason
    # `dropped`, by the quality rules, which receive `signals.item_dropped`),
    # so a reviewer decides what it is (fix) or sends it back (reject). Gold
    # items stay as they are (they must not behave differently from other items).
    "drop": LeaseOutcome.DROPPED,
}


class LeaseConflict(Conflict):
    """The lease is closed (submitted, skipped, released, expired by the
    sweeper) or past its expiry, so it cannot be submitted, skipped,
    heartbeated or released (a 409 with `message` and `code`)."""


# Leases closed per transaction by the sweep.
EXPIRE_BATCH = 500


def lock_live_lease(lease_id: int, annotator, action: str, now: datetime,
                    context: QueueContext | None = None) -> Lease:
    """Lock the annotator's lease row and check that it may still `action`:
    a closed lease or one past its expiry raises `LeaseConflict`. Another
    user's lease, or with `context` a lease on another project's item, does
    not exist for them (`Lease.DoesNotExist`, a 404). Call inside a
    transaction."""
    # The proposal shown comes along (submit compares with it); only the lease row is locked.
    lease = queue_sql.lock_lease(lease_id, annotator.pk, context.project.pk if context is not None else None)
    if lease.closed_at is not None:
        if lease.outcome == LeaseOutcome.SUBMITTED:
            raise LeaseConflict(f"lease {lease.pk} was already submitted", code="already_submitted")
        raise LeaseConflict(
            f"cannot {action} lease {lease.pk}: it is closed ({lease.outcome}); ask for the next item",
            code="lease_closed",
        )
    if lease.expires_at <= now:
        raise LeaseConflict(
            f"cannot {action} lease {lease.pk}: it expired at {lease.expires_at.isoformat()}; ask for the next item",
            code="lease_expired",
        )
    return lease


def close_lease(lease: Lease, outcome: str, now: datetime, *, annotated: bool = False, item: Item | None = None,
                state: str | None = None) -> Item:
    """Close a lease the caller has locked and give its slot back; with
    `annotated`, count the annotation that came with it; with `state`, move
    the item to it in the same update. `item` is the lease's item if the
    caller has locked it already (`Item.objects.lock`). Returns the locked, updated
    item."""
    lease.closed_at, lease.outcome = now, outcome
    lease.save(update_fields=["closed_at", "outcome"])
    if item is None:
        item = Item.objects.lock(lease.item_id)
    item.active_lease_count -= 1
    fields = ["active_lease_count"]
    if annotated:
        item.annotation_count += 1
        fields.append("annotation_count")
    if state is not None:
        item.state = state
        fields.append("state")
    item.save(update_fields=fields)
    return item


def _project_of(lease: Lease, context: QueueContext | None) -> Project:
    return context.project if context is not None else Project.objects.get(items__leases=lease)


@transaction.atomic
def heartbeat(*, lease_id: int, annotator, context: QueueContext | None = None) -> Lease:
    """Extend a live lease by the project's `lease_minutes` from now. Not
    audited (the browser sends one every minute or so). Locks the lease row.
    `context`: the lease's project's, if the caller has read it (see
    `lock_live_lease`)."""
    now = timezone.now()
    lease = lock_live_lease(lease_id, annotator, "heartbeat", now, context)
    project = _project_of(lease, context)
    lease.heartbeat_at, lease.expires_at = now, project.config.lease_expiry(now)
    lease.save(update_fields=["heartbeat_at", "expires_at"])
    return lease


@transaction.atomic
def release(*, lease_id: int, annotator, context: QueueContext | None = None) -> Lease:
    """Give the item back without judging it: it returns to the queue for
    everyone, this annotator included (the row is reopened if they are served
    it again). Locks the lease row, then the item row. `context`: the
    lease's project's, if the caller has read it (see `lock_live_lease`)."""
    now = timezone.now()
    lease = lock_live_lease(lease_id, annotator, "release", now, context)
    item = close_lease(lease, LeaseOutcome.RELEASED, now)
    project = context.project if context is not None else item.project
    record(actor=annotator, verb="lease.release", obj=lease, project=project, after=lease.to_dict())
    return lease


@transaction.atomic
def skip(*, lease_id: int, annotator, context: QueueContext | None = None, policy: str | None = None,
         reason: str = "") -> Lease:
    """Skip the item under `policy` (the project's `skip_policy` unless
    given): see `SKIP_OUTCOMES`. Locks the lease row, then the item row.
    `context`: the lease's project's, if the caller has read it (see
    `lock_live_lease`)."""
    now = timezone.now()
    lease = lock_live_lease(lease_id, annotator, "skip", now, context)
    project = _project_of(lease, context)
    policy = policy or project.config.skip_policy
    if policy not in SKIP_OUTCOMES:
        raise ValueError(f"unknown skip policy {policy!r}")
    item = close_lease(lease, SKIP_OUTCOMES[policy], now)
    before_state = item.state
    if policy == "drop" and item.split != Split.GOLD and item.state in (ItemState.UNLABELLED, ItemState.IN_PROGRESS):
        send(item_dropped, drop=DroppedItem(item=item, annotator=annotator, reason=reason))
    record(actor=annotator, verb="lease.skip", obj=lease, project=project,
           after={**lease.to_dict(), "policy": policy, "reason": reason,
                  "item_state": {"before": before_state, "after": item.state}})
    return lease


def expire_leases(*, project: Project | None = None, limit: int | None = None) -> int:
    """Close open leases past their expiry (of one project, or all), giving
    their items back; returns how many were closed. Safe to run any number of
    times, concurrently with itself and with every queue action: each batch
    takes its leases `FOR UPDATE SKIP LOCKED` and closes each one with a
    conditional update (still open, still expired), then decrements the item
    counters in item id order, so concurrent sweeps never deadlock. Stops
    after `limit` leases if given (the lazy sweep of `next_item`)."""
    pending = Lease.objects.expired(timezone.now())
    if project is not None:
        pending = pending.for_project(project)
    if not pending.exists():  # the common case: no write transaction at all
        return 0
    closed = 0
    while limit is None or closed < limit:
        batch = EXPIRE_BATCH if limit is None else min(EXPIRE_BATCH, limit - closed)
        done = _expire_batch(project, batch)
        closed += done
        if done < batch:
            break
    return closed


@transaction.atomic
def _expire_batch(project: Project | None, size: int) -> int:
    now = timezone.now()
    expired = Lease.objects.expired(now)
    if project is not None:
        expired = expired.for_project(project)
    leases = list(
        expired.select_related("item__project")
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("item_id", "id")[:size]
    )
    if not leases:
        return 0
    closing = [lease for lease in leases
               if Lease.objects.expired(now).filter(pk=lease.pk).update(closed_at=now, outcome=LeaseOutcome.EXPIRED)]
    for lease in closing:  # item id order, see the docstring
        Item.objects.filter(pk=lease.item_id).update(active_lease_count=F("active_lease_count") - 1)
        lease.closed_at, lease.outcome = now, LeaseOutcome.EXPIRED
        record(actor=None, verb="lease.expire", obj=lease, project=lease.item.project, after=lease.to_dict())
    return len(closing)
