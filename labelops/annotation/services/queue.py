"""Serving the next item to an annotator: `next_item`.

What comes next, in this order:

1. The annotator's own live lease in this project, returned again (so a
   repeated or retried `next` is idempotent and never piles up leases): the
   oldest one (lowest id; a reopened lease keeps its row's id). With `prefetch` (the look-ahead lease) the annotator may hold
   up to `MAX_LIVE_LEASES` (two) live leases, so the browser can show the
   next item the instant the current one is submitted: holding fewer, a new
   item is claimed by the rules below; holding two, the newer one is
   returned again (so a retried prefetch is idempotent too); holding one
   with nothing left to claim, None (the held lease is not "the next").
   The look-ahead lease is an ordinary lease: it counts in
   `active_lease_count` (so toward the overlap target), in the gold quota
   and in "never twice".
2. A gold item, when one is due: gold items are mixed in at `rules.gold_ratio`
   of the items served to each annotator, at random positions (randomised
   rounding of the running quota: after n items an annotator has had within
   one of ratio * n gold items). A gold item is served exactly like any other
   item (same fields, a proposal only when the item has one the way a pool
   item would); its known answer never leaves the server. Gold items have no
   overlap cap: each annotator may be checked on each of them once.
3. Sampled items of open bulk batches (their verification decides the
   batch), never to the batch's creator.
4. Pool and holdout items in the active-learning order of the latest
   finished round: `Proposal.rank` in the round of the project's active
   `ModelVersion`.
5. Then every other pool and holdout item in pool order (by id). Before any
   round has finished this is the whole queue. A cold-start round (no model
   yet) stores its selection (typical cluster representatives, from
   `ssl_engine`) as ranked rows without labels, which step 4 serves; this
   module never decides what is informative.

Holdout items are served with no proposal (labelled blind); others with the
proposal of the active model's round, or failing that the newest imported
prediction.

An item is eligible for an annotator if it is a pool or holdout item still
`unlabelled` or `in_progress`, with `annotation_count + active_lease_count`
below `rules.overlap`, that this annotator has no lease on (other than one
they gave back without judging it, see `models.reopenable`) and no live
annotation of (imported annotations count).

Locking. Claiming takes, in one transaction: the annotator's user row
(`FOR NO KEY UPDATE`, so one annotator's concurrent `next` calls serialise:
they count the live leases one after the other and cannot take more items
than the cap, nor one more than asked); then the first eligible item with
`FOR NO KEY UPDATE SKIP LOCKED` (concurrent annotators each get a different
row without waiting, and PostgreSQL re-checks the counters on the locked row);
then inserts or reopens the lease and increments `active_lease_count`. No
item can pass its overlap target because its counters only change under that
row lock. On SQLite (no row locks) every transaction starts with BEGIN
IMMEDIATE (see settings), so claims run one at a time.

Expired leases are swept lazily first (`expire_leases` on this project, in
its own short transaction) and periodically by the Celery task
`labelops.annotation.tasks.expire_leases`.
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
