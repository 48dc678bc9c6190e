"""Serving the next item to an annotator: `next_item`.

The queue's rules (the order of sources: own live lease, gold when due,
bulk samples, the active round's ranking, pool order; who is eligible;
what is shown; the lock order) are stated once in docs/ARCHITECTURE.md,
"The queue". This module applies them:

- `next_item` reads the project's `QueueContext` unless the caller did,
  sweeps expired leases lazily (`expire_leases` on this project, in its
  own short transaction, only when the context says one has expired; the
  Celery task `labelops.annotation.tasks.expire_leases` sweeps the rest);
- `_claim`, in one transaction: the annotator's user row and live leases
  (`queue_sql.lock_annotator_leases`), then the first item of the first
  source that has one (`queue_sql.lock_first`, `FOR NO KEY UPDATE SKIP
  LOCKED`), then the lease, inserted or reopened, and
  `active_lease_count + 1` under the item's lock;
- `_gold_due`: whether the next item is gold (randomised rounding of the
  annotator's running quota).

This module never decides what is informative: the ranking is the round's
(`ssl_engine`), stored as `Proposal.rank`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from labelops.annotation.models import Lease, reopenable
from labelops.annotation.services import queue_sql
from labelops.annotation.services.context import QueueContext
from labelops.annotation.services.leases import expire_leases
from labelops.audit.services import record
from labelops.items.models import Item, Split
from labelops.learning.models import Proposal
from labelops.projects.models import Project

# Expired leases of the project closed by each `next_item` before it claims.
LAZY_EXPIRE_LIMIT = 100

# Live leases an annotator may hold in one project: the item on screen and
# the look-ahead one (`next_item(prefetch=True)`).
MAX_LIVE_LEASES = 2


@dataclass(frozen=True)
class Claim:
    """An item leased to an annotator, and the proposal shown with it."""

    lease: Lease
    item: Item
    proposal: Proposal | None
    # True when `next_item` returned a lease the annotator already held.
    resumed: bool = False


def next_item(*, annotator, context: QueueContext | None = None, project: Project | None = None,
              rng: random.Random | None = None, prefetch: bool = False) -> Claim | None:
    """Lease the next item to `annotator` (see the module docstring for the
    order and the locking), or None when nothing is left for them.

    `context` is the project's `QueueContext` as the queue views read it;
    without it, give `project` and it is read here (one statement). Either
    way it is read outside the claim's transaction: nothing locks the
    rules, so inside it would be no fresher.

    Without `prefetch`, a live lease the annotator holds is returned again
    (the oldest). With it, a second item is claimed while they hold one,
    and the newer of two is returned again (`MAX_LIVE_LEASES`).

    `rng` draws the gold positions (tests pass a seeded or stub generator).
    Raises `ValidationError` if the project has no taxonomy yet."""
    if context is None:
        if project is None:
            raise TypeError("next_item needs the project's context, or the project")
        context = queue_sql.queue_context(project.pk)
    if context.has_expired_leases:
        expire_leases(project=context.project, limit=LAZY_EXPIRE_LIMIT)
    return _claim(context, annotator, rng or random, prefetch)


@transaction.atomic
def _claim(ctx: QueueContext, annotator, rng, prefetch: bool) -> Claim | None:
    project = ctx.project
    now = timezone.now()
    held = queue_sql.lock_annotator_leases(annotator.pk, project.pk, now)
    if held and (not prefetch or len(held) >= MAX_LIVE_LEASES):
        lease = Lease.objects.select_related("item", "proposal").get(pk=held[-1] if prefetch else held[0])
        return Claim(lease=lease, item=lease.item, proposal=lease.proposal, resumed=True)

    if ctx.taxonomy is None:
        raise ValidationError("this project has no taxonomy yet: a lead must create one before labelling starts")
    lock_first = partial(queue_sql.lock_first, project_id=project.pk, annotator_id=annotator.pk, now=now,
                         overlap=ctx.rules.overlap, active_round=ctx.active_round)
    # The sources in order (module docstring): the first that has an item for the annotator.
    sources = [queue_sql.GOLD] if _gold_due(project, annotator, ctx.rules.gold_ratio, rng) else []
    if ctx.bulk_verifying:
        # A bulk batch waits on its sample: verify it before the model's order.
        sources.append(queue_sql.BULK_SAMPLE)
    if ctx.active_round is not None:
        sources.append(queue_sql.RANKED)
    sources.append(queue_sql.POOL)
    for order in sources:
        first = lock_first(order)
        if first is not None:
            break
    else:
        return None

    item = first.item
    # The claim query read which proposal to show (`queue_sql`): fetch it only if there is one.
    proposal = Proposal.objects.get(pk=first.shown_proposal_id) if first.shown_proposal_id is not None else None
    lease, reopened = _open_lease(first, annotator, proposal, project.config.lease_expiry(now), now)
    Item.objects.filter(pk=item.pk).update(active_lease_count=F("active_lease_count") + 1)
    item.active_lease_count += 1
    record(actor=annotator, verb="lease.claim", obj=lease, project=project,
           after={**lease.to_dict(), "reopened": reopened, "order": order, "prefetch": bool(held)})
    return Claim(lease=lease, item=item, proposal=proposal)


def _gold_due(project: Project, annotator, ratio: float, rng) -> bool:
    """Whether the annotator's next item should be gold: randomised rounding
    of `ratio * served`, so gold positions cannot be predicted but the share
    stays within one item of the ratio."""
    if ratio <= 0:
        return False
    counts = Lease.objects.filter(annotator=annotator, item__project=project).aggregate(
        served=Count("id"), gold=Count("id", filter=Q(item__split=Split.GOLD))
    )
    return counts["gold"] + rng.random() < ratio * (counts["served"] + 1)


def _open_lease(first: queue_sql.Claimable, annotator, proposal: Proposal | None, expires_at: datetime,
                now: datetime) -> tuple[Lease, bool]:
    """Reopen the annotator's reopenable lease row on the claimed item (as
    `queue_sql.lock_first` found it), or create one."""
    item = first.item
    if first.reopenable:
        fields = {"closed_at": None, "outcome": "", "expires_at": expires_at, "heartbeat_at": now,
                  "proposal": proposal}
        existing = Lease.objects.filter(item=item, annotator=annotator)
        if existing.filter(reopenable(now)).update(**fields):  # the annotator's row lock keeps it reopenable
            return existing.get(), True
    return Lease.objects.create(item=item, annotator=annotator, expires_at=expires_at, proposal=proposal), False
