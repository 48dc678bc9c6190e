"""Bulk labelling: one set of labels for a cluster or a selection of items,
approved only if a sample labelled by annotators confirms it.

`create_batch` (a reviewer or lead) applies `labels` to the eligible items
of a cluster of the active round, or to a list of items:

- eligible: pool items still `unlabelled`, with no annotation, no open lease
  and in no other open batch. Holdout items are labelled blind and only ever
  evaluate, gold items have known answers, and everything else already has
  (or is getting) labels from people: see `EXCLUSION_REASONS`. A cluster's
  ineligible items are left out and counted by reason in `excluded`; a
  selection names its items, so an ineligible one is a 400 naming it and
  the reason (the caller asked for something that cannot be done).
- a sample of `ceil(rules.bulk_verification_rate * n)` items (at least one),
  drawn with a stored seed, stays in the queue and is labelled like any item,
  by `rules.overlap` annotators, without the batch labels being shown: the
  check is whether people arrive at the same labels on their own. (An
  annotator shown the batch labels as a proposal would be anchored on them,
  and the measured error rate would flatter the batch; sampled items still
  show the model's proposal as usual.)
- the other items are held: `labelled`, which the queue never serves, with
  no consensus until the verdict.

`on_settled` is called by `consensus.settle` for every consensus it writes.
For a sampled item of a verifying batch, the first consensus settles its
outcome: `confirmed` if its labels are the batch labels, else
`contradicted` (a tie, with no labels, contradicts). When the whole sample
is in, `error rate = contradicted / sample size`:

- at most `max_error_rate` (copied from the rules at creation): the batch is
  `accepted`, every held item gets an approved consensus with the batch
  labels (method `bulk`, agreement null: nobody labelled it) and turns
  `approved`;
- above it, or when the active taxonomy changed meanwhile (the batch labels
  belong to the old version): `rejected`, the held items go back to the
  queue (`unlabelled`) to be labelled one by one.

Sampled items keep the consensus their annotators gave them either way.
`cancel_batch` withdraws a verifying batch: its held items go back to the
queue as on a rejection.

Locking: `create_batch` locks the candidate item rows (in id order, `FOR NO
KEY UPDATE`, as `Item.objects.lock` does) and re-checks eligibility on them, so a
`next_item` claiming one of them meanwhile either finishes first (the item
has a lease and is left out) or skips it (`SKIP LOCKED`). The partial unique
constraint `one_open_bulk_batch_per_item` backs the "one open batch" rule.
`on_settled` runs in the caller's transaction, which holds the sampled
item's row lock, and then locks the batch row: two annotators finishing the
last two sampled items resolve the batch exactly once. Held items are only
changed by conditional updates (`state = labelled`), so an item something
else moved meanwhile is left alone.
"""

from __future__ import annotations

import math
import random
import secrets
from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from labelops.annotation.models import (
    BulkBatch,
    BulkBatchItem,
    BulkBatchState,
    BulkItemOutcome,
    Consensus,
    ConsensusMethod,
    ConsensusStatus,
    Lease,
)
from labelops.annotation.services.context import QueueContext
from labelops.audit.models import AuditEvent
from labelops.audit.services import record
from labelops.errors import Conflict
from labelops.items.models import Item, ItemState, Split
from labelops.learning.models import Cluster, ModelVersion, Proposal
from labelops.projects.models import Project, QualityRules

# Items one batch may hold: creating or resolving it writes a row per item
# in one transaction (within a request), so it stays short.
MAX_BATCH_ITEMS = 5000

# Why an item cannot join a batch, checked in this order.
EXCLUSION_REASONS = {
    "gold": "a gold item (its known answer checks annotators)",
    "holdout": "a holdout item (labelled blind, only evaluates)",
    "in_open_batch": "in another bulk batch still verifying",
    "approved": "already approved",
    "in_review": "in review",
    "labelled": "already labelled, its consensus pending or disputed",
    "in_progress": "already being labelled (has annotations)",
    "leased": "leased to an annotator right now",
}

# Rows written per statement when a batch is created or resolved.
CHUNK = 500


class BatchClosed(Conflict):
    """An action on a batch that is no longer verifying (accepted, rejected
    or cancelled): a 409."""

    default_code = "batch_closed"


def sample_size(rate: float, n: int) -> int:
    """`ceil(rate * n)`, at least 1 and at most n. Rounded first so that
    float noise (0.1 * 30 = 3.0000000000000004) does not add an item."""
    return min(n, max(1, math.ceil(round(rate * n, 9))))


def exclusion_reason(item: Item, open_batch_items: set[int]) -> str | None:
    """Why `item` cannot join a batch (a key of `EXCLUSION_REASONS`), or None."""
    if item.split != Split.POOL:
        return item.split  # gold or holdout
    if item.pk in open_batch_items:  # held ones look `labelled`: say why
        return "in_open_batch"
    if item.state != ItemState.UNLABELLED:
        return item.state
    if item.annotation_count:
        return "in_progress"
    if item.active_lease_count:
        return "leased"
    return None


def cluster_items(project: Project, cluster_id) -> tuple[Cluster, list[int]]:
    """The cluster (of the active model's round) and its item ids. Raises
    `ValidationError` for a cluster of another project or of an older round
    (its membership no longer describes the corpus as the model sees it)."""
    active_round = ModelVersion.objects.active_round_id(project.pk)
    cluster = Cluster.objects.filter(pk=cluster_id, round__project=project).select_related("round").first()
    if cluster is None:
        raise ValidationError({"cluster": f"cluster {cluster_id} is not a cluster of this project"})
    if cluster.round_id != active_round:
        raise ValidationError({"cluster": f"cluster {cluster_id} belongs to round {cluster.round.number}, "
                                          "not to the round of the active model: pick a current cluster"})
    ids = list(Proposal.objects.filter(round_id=active_round, cluster=cluster)
               .order_by("item_id").values_list("item_id", flat=True))
    return cluster, ids


def _selected_items(project: Project, item_ids: list[int]) -> list[int]:
    """Check a selection: distinct ids of items of this project."""
    duplicates = sorted({pk for pk in item_ids if item_ids.count(pk) > 1})
    if duplicates:
        raise ValidationError({"items": f"item(s) given more than once: {_id_list(duplicates)}"})
    found = set(Item.objects.for_project(project).filter(pk__in=item_ids).values_list("pk", flat=True))
    missing = sorted(set(item_ids) - found)
    if missing:
        raise ValidationError({"items": f"no such item(s) in this project: {_id_list(missing)}"})
    return sorted(item_ids)


def _id_list(ids: list[int], limit: int = 20) -> str:
    shown = ", ".join(str(pk) for pk in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


@transaction.atomic
def create_batch(*, project: Project, actor, labels: list[str], cluster_id: int | None = None,
                 item_ids: list[int] | None = None, seed: int | None = None) -> BulkBatch:
    """Apply `labels` to a cluster (`cluster_id`) or a selection
    (`item_ids`), exactly one of them; see the module docstring.

    `seed` draws the sample (a random one is drawn and stored otherwise).
    Raises `ValidationError` naming the problem (bad labels, a cluster or
    item not of this project, an ineligible selected item, nothing eligible,
    too many items); nothing is written then. Locks the candidate item rows
    in id order."""
    if (cluster_id is None) == (item_ids is None):
        raise ValidationError({"detail": "give exactly one of `cluster` or `items`"})
    version = project.check_answer(labels)
    cluster = None
    if item_ids is not None:
        candidates = _selected_items(project, item_ids)
    else:
        cluster, candidates = cluster_items(project, cluster_id)
    if len(candidates) > MAX_BATCH_ITEMS:
        raise ValidationError({"cluster" if cluster else "items": f"{len(candidates)} items, more than the "
                               f"{MAX_BATCH_ITEMS} one batch may hold: split the selection"})

    items = list(Item.objects.filter(pk__in=candidates).order_by("id").select_for_update(no_key=True))
    open_batch_items = set(BulkBatchItem.objects.filter(item_id__in=candidates, open=True)
                           .values_list("item_id", flat=True))
    excluded: dict[str, list[int]] = defaultdict(list)
    eligible = []
    for item in items:
        reason = exclusion_reason(item, open_batch_items)
        if reason is None:
            eligible.append(item.pk)
        else:
            excluded[reason].append(item.pk)
    if excluded and cluster is None:
        raise ValidationError({"items": "; ".join(
            f"{_id_list(ids)}: {EXCLUSION_REASONS[reason]}" for reason, ids in excluded.items())})
    if not eligible:
        counts = ", ".join(f"{len(ids)} {reason}" for reason, ids in excluded.items()) or "it has no items"
        raise ValidationError({"cluster": f"no item of cluster {cluster_id} can be bulk-labelled ({counts})"})

    rules = QualityRules.objects.get(project=project)
    seed = secrets.randbits(63) if seed is None else seed
    sampled = set(random.Random(seed).sample(eligible, sample_size(rules.bulk_verification_rate, len(eligible))))
    batch = BulkBatch.objects.create(
        project=project, labels=list(labels), taxonomy_version=version, cluster=cluster, created_by=actor,
        sample_rate=rules.bulk_verification_rate, max_error_rate=rules.bulk_max_error_rate, seed=seed,
        item_count=len(eligible), sample_size=len(sampled),
        excluded={reason: len(ids) for reason, ids in excluded.items()},
    )
    BulkBatchItem.objects.bulk_create(
        [BulkBatchItem(batch=batch, item_id=pk, sampled=pk in sampled) for pk in eligible], batch_size=CHUNK)
    held = [pk for pk in eligible if pk not in sampled]
    for start in range(0, len(held), CHUNK):
        Item.objects.filter(pk__in=held[start:start + CHUNK]).update(state=ItemState.LABELLED)
    record(actor=actor, verb="bulk.create", obj=batch, project=project,
           after={**batch.to_dict(), "sample": sorted(sampled), "held": held,
                  "excluded_items": {reason: ids for reason, ids in excluded.items()}})
    return batch


def may_hold(context: QueueContext, lease: Lease) -> bool:
    """Whether a verifying batch could hold the item a submit answered on
    `lease` (so its consensus must be counted toward the batch's sample).
    Not if none was verifying when the queue's context was read and the
    lease has been open since before that read: a batch made since leaves
    out items with a lease (`exclusion_reason`). `heartbeat_at`, not
    `created_at`, dates the lease: a reopened row keeps its creation time,
    but opening and reopening set `heartbeat_at` (and heartbeats only move
    it later, which can only make this answer yes)."""
    return context.bulk_verifying or lease.heartbeat_at >= context.read_at


def on_settled(item: Item, consensus: Consensus, *, actor=None) -> None:
    """Called by `consensus.settle` after it wrote `consensus` for `item`
    (row locked, in its transaction). Counts the item's first consensus
    toward its batch's sample, and resolves the batch when the sample is
    complete (module docstring). Does nothing for any other item."""
    entry = BulkBatchItem.objects.filter(item=item, open=True, sampled=True, outcome=BulkItemOutcome.PENDING).first()
    if entry is None:
        return
    batch = BulkBatch.objects.select_for_update().get(pk=entry.batch_id)
    if batch.state != BulkBatchState.VERIFYING:
        return
    confirmed = sorted(consensus.labels) == sorted(batch.labels)
    entry.outcome = BulkItemOutcome.CONFIRMED if confirmed else BulkItemOutcome.CONTRADICTED
    entry.verified_labels = list(consensus.labels)
    entry.save(update_fields=["outcome", "verified_labels"])
    batch.verified_count += 1
    batch.error_count += 0 if confirmed else 1
    batch.save(update_fields=["verified_count", "error_count"])
    record(actor=actor, verb="bulk.verify", obj=batch, project=item.project,
           after={**entry.to_dict(), "batch_labels": batch.labels, "verified": batch.verified_count,
                  "errors": batch.error_count, "sample_size": batch.sample_size})
    if batch.verified_count >= batch.sample_size:
        _resolve(batch, actor)


@transaction.atomic
def cancel_batch(*, batch: BulkBatch, actor) -> BulkBatch:
    """Withdraw a verifying batch: its held items go back to the queue, its
    sampled items carry on as ordinary items (their consensus, if any,
    stands). The way out for a batch whose sample cannot complete (a sampled
    item dropped to review), or whose labels were a mistake.

    Raises `BatchClosed` if the batch is already resolved. Locks the batch row."""
    batch = BulkBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.state != BulkBatchState.VERIFYING:
        raise BatchClosed(f"bulk batch {batch.pk} is already {batch.state}: there is nothing to cancel")
    held = list(batch.entries.filter(sampled=False).order_by("item_id").values_list("item_id", flat=True))
    moved = _requeue_held(batch, held)
    batch.entries.update(open=False)
    batch.state = BulkBatchState.CANCELLED
    batch.resolved_at = timezone.now()
    batch.save(update_fields=["state", "resolved_at"])
    record(actor=actor, verb="bulk.cancel", obj=batch, project=batch.project,
           after={**batch.to_dict(), "held": {"outcome": BulkItemOutcome.REQUEUED, "items": moved,
                                              "left_alone": sorted(set(held) - set(moved))}})
    return batch


def _requeue_held(batch: BulkBatch, held: list[int]) -> list[int]:
    """Put the held items still waiting (`labelled`) back in the queue; returns their ids."""
    moved = []
    for start in range(0, len(held), CHUNK):
        chunk = list(Item.objects.filter(pk__in=held[start:start + CHUNK], state=ItemState.LABELLED,
                                         consensus__isnull=True).values_list("pk", flat=True))
        Item.objects.filter(pk__in=chunk).update(state=ItemState.UNLABELLED)
        batch.entries.filter(item_id__in=chunk).update(outcome=BulkItemOutcome.REQUEUED)
        moved += chunk
    return moved


def _resolve(batch: BulkBatch, actor) -> None:
    """Accept or reject a batch whose sample is complete. The caller holds the batch row lock."""
    project = batch.project
    batch.error_rate = round(batch.error_count / batch.sample_size, 6)
    active = project.active_taxonomy()
    taxonomy_changed = active is None or active.pk != batch.taxonomy_version_id
    accepted = not taxonomy_changed and batch.error_rate <= batch.max_error_rate
    held = list(batch.entries.filter(sampled=False).order_by("item_id").values_list("item_id", flat=True))
    if accepted:
        moved, outcome = _approve_held(batch, held, actor), BulkItemOutcome.APPROVED
    else:
        moved, outcome = _requeue_held(batch, held), BulkItemOutcome.REQUEUED
    batch.entries.update(open=False)
    batch.state = BulkBatchState.ACCEPTED if accepted else BulkBatchState.REJECTED
    batch.resolved_at = timezone.now()
    batch.save(update_fields=["state", "error_rate", "resolved_at"])
    sample = dict(batch.entries.filter(sampled=True).values_list("item_id", "outcome"))
    record(actor=actor, verb="bulk.resolve", obj=batch, project=project,
           after={**batch.to_dict(), "taxonomy_changed": taxonomy_changed, "sample": sample,
                  "held": {"outcome": outcome, "items": moved, "left_alone": sorted(set(held) - set(moved))}})


def _approve_held(batch: BulkBatch, held: list[int], actor) -> list[int]:
    """Approve the batch labels on the held items still waiting for them
    (`labelled`, no consensus); returns their ids. One audit event per
    consensus, as `settle` writes, pointing at the batch."""
    approved = []
    actor = actor if actor is not None and actor.is_authenticated else None
    for start in range(0, len(held), CHUNK):
        chunk = list(Item.objects.filter(pk__in=held[start:start + CHUNK], state=ItemState.LABELLED,
                                         consensus__isnull=True).values_list("pk", flat=True))
        if not chunk:
            continue
        Item.objects.filter(pk__in=chunk).update(state=ItemState.APPROVED)
        batch.entries.filter(item_id__in=chunk).update(outcome=BulkItemOutcome.APPROVED)
        rows = Consensus.objects.put_new([
            Consensus(item_id=pk, labels=list(batch.labels), method=ConsensusMethod.BULK, agreement=None,
                      status=ConsensusStatus.APPROVED, taxonomy_version_id=batch.taxonomy_version_id)
            for pk in chunk
        ])
        # `record` once per row would be a round trip per item: the same
        # events in one insert (every supported database returns the new
        # primary keys from a bulk insert).
        AuditEvent.objects.bulk_create([
            AuditEvent(actor=actor, project_id=batch.project_id, verb="consensus.settle",
                       object_type=Consensus._meta.label_lower, object_id=str(row.pk), before=None,
                       after={**row.to_dict(), "item": row.item_id, "bulk_batch": batch.pk})
            for row in rows
        ])
        approved += chunk
    return approved
