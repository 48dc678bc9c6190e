"""Taking back a submitted answer while its lease allows: `undo`.

An annotator who pressed the wrong key gets the item back with their
answer, to change it. It is allowed on their own live annotation while:

- the lease it was submitted on would still be live (its `expires_at` has
  not passed: a submit closes the lease but leaves its expiry as it was);
- the item's consensus has not been computed (a pool or holdout item still
  `unlabelled` or `in_progress`, with no consensus row): once the answer has
  been counted into final labels, taking it back would change a decision
  others may already rely on, and that is what review is for;
- the item is not in review;
- the annotator holds fewer than `queue.MAX_LIVE_LEASES` live leases in the
  project (undo reopens one: release the look-ahead item first).

Otherwise `UndoConflict` (a 409 whose code names why: `already_undone`,
`not_from_queue`, `undo_expired`, `consensus_computed`, `in_review`,
`too_many_leases`); nothing is written then.

What it does mirrors a reviewer's reject of one annotation
(`review._reject`): the annotation is kept, `discarded` (it never counts
again), and the item's `annotation_count` goes down by one; a pool or
holdout item goes back to `in_progress`, or `unlabelled` if that was its
only answer. Then the same lease row is reopened with a fresh expiry
(`active_lease_count + 1`, so `annotation_count + active_lease_count` is
unchanged and the overlap target can never be passed), and the audit event
`annotation.undo` records the answer taken back.

Gold items. A gold answer was scored when it was submitted
(`gold.check_gold`: `gold_seen + 1`, `gold_correct + 1` if right, and
possibly a `gold_failure` review task on that annotation). Unlike a reject,
where a reviewer judged the answer and it stays in the record, an undo
withdraws the answer before anyone judged it, so its score is withdrawn
too: `gold_seen - 1`, `gold_correct - 1` if it was right, and `below_since`
cleared if the annotator is no longer below `rules.min_gold_accuracy`
(their work already sent to review stays there, as when they pass again);
their new answer is scored as usual. An open `gold_failure` task on the
undone annotation is closed (it is about an answer that no longer exists).
Undo must not tell an annotator which items are checks, nor whether their
answer was right: so it answers on a gold item exactly as it would on a
pool item whose consensus is still open, whatever the answer was, except
that with `rules.overlap == 1` (where every pool answer settles its item at
once, so undo is never possible on a pool item) it is refused the same way
(`consensus_computed`).

Locking: the annotator's user row first (`queue_sql.lock_annotator`, which
serialises everything that adds to their live leases, so the cap holds
against a concurrent `next`), then the lease row, then the item row, then
the stats row: the order of `leases.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from labelops.annotation.models import (
    Annotation,
    AnnotatorStats,
    Consensus,
    Lease,
    LeaseOutcome,
    ReviewTask,
)
from labelops.annotation.services import queue_sql
from labelops.annotation.services.leases import LeaseConflict
from labelops.annotation.services.queue import MAX_LIVE_LEASES
from labelops.audit.services import record
from labelops.items.models import Item, ItemState, Split
from labelops.learning.models import Proposal
from labelops.projects.models import Project, QualityRules


class UndoConflict(LeaseConflict):
    """The annotation can no longer be undone (module docstring); a 409."""


@dataclass(frozen=True)
class Undone:
    """The item back on its reopened lease, shaped like `queue.Claim` (the
    API answers it as `next` does), and the labels that were taken back (to
    preselect them)."""

    lease: Lease
    item: Item
    proposal: Proposal | None
    labels: list[str]
    resumed: bool = False


@transaction.atomic
def undo(*, annotation: Annotation, annotator) -> Undone:
    """Take back `annotator`'s `annotation` and give them its item again on
    the same lease (module docstring). Raises `Annotation.DoesNotExist` for
    someone else's annotation, `UndoConflict` when it may not be undone."""
    now = timezone.now()
    queue_sql.lock_annotator(annotator.pk)
    annotation = Annotation.objects.select_related("item").get(pk=annotation.pk, annotator=annotator)
    item = annotation.item
    project = Project.objects.get(pk=item.project_id)
    if annotation.discarded:
        raise UndoConflict(f"annotation {annotation.pk} was already taken back (undone or rejected in review)",
                           code="already_undone")
    lease = (Lease.objects.select_for_update()
             .filter(item_id=item.pk, annotator=annotator, outcome=LeaseOutcome.SUBMITTED).first())
    if lease is None:
        raise UndoConflict(f"annotation {annotation.pk} was not submitted from the queue: only those can be undone",
                           code="not_from_queue")
    if lease.expires_at <= now:
        raise UndoConflict(
            f"too late to undo annotation {annotation.pk}: its lease ended at {lease.expires_at.isoformat()}",
            code="undo_expired")
    item = Item.objects.lock(item.pk)
    rules = QualityRules.objects.get(project=project)
    gold = item.split == Split.GOLD
    _check_open(item, annotation, rules, gold)
    held = queue_sql.lock_annotator_leases(annotator.pk, project.pk, now)  # locked already: a no-op lock
    if len(held) >= MAX_LIVE_LEASES:
        raise UndoConflict(
            f"you hold {len(held)} live leases in this project ({', '.join(map(str, held))}): "
            f"release the look-ahead one ({held[-1]}) before undoing", code="too_many_leases")

    before = {"annotation": annotation.to_dict(), "lease": lease.to_dict(), "state": item.state,
              "annotation_count": item.annotation_count}
    Annotation.objects.filter(pk=annotation.pk).update(discarded=True)
    annotation.discarded = True
    lease.closed_at, lease.outcome = None, ""
    lease.expires_at, lease.heartbeat_at = project.config.lease_expiry(now), now
    lease.save(update_fields=["closed_at", "outcome", "expires_at", "heartbeat_at"])
    item.annotation_count = max(item.annotation_count - 1, 0)
    item.active_lease_count += 1
    fields = ["annotation_count", "active_lease_count"]
    if not gold:
        item.state = ItemState.IN_PROGRESS if item.annotation_count else ItemState.UNLABELLED
        fields.append("state")
    item.save(update_fields=fields)
    stats = _withdraw_gold_score(project, item, annotation, rules) if gold else None
    record(actor=annotator, verb="annotation.undo", obj=annotation, project=project, before=before,
           after={"annotation": annotation.to_dict(), "lease": lease.to_dict(), "state": item.state,
                  "annotation_count": item.annotation_count, "gold_stats": stats})
    return Undone(lease=lease, item=item, proposal=lease.proposal, labels=list(annotation.labels))


def _check_open(item: Item, annotation: Annotation, rules: QualityRules, gold: bool) -> None:
    """Refuse when the answer is settled or in review (module docstring:
    a gold item answers as a pool item would)."""
    counted = UndoConflict(
        f"too late to undo annotation {annotation.pk}: item {item.pk} already has its consensus",
        code="consensus_computed")
    if gold:
        if rules.overlap <= 1:
            raise counted
        return
    if item.state == ItemState.IN_REVIEW:
        raise UndoConflict(f"cannot undo annotation {annotation.pk}: item {item.pk} is in review",
                           code="in_review")
    if item.state not in (ItemState.UNLABELLED, ItemState.IN_PROGRESS) or Consensus.objects.filter(item=item).exists():
        raise counted


def _withdraw_gold_score(project: Project, item: Item, annotation: Annotation, rules: QualityRules) -> dict | None:
    """Take the undone gold answer out of the annotator's record, and close
    the review task it opened if it failed (module docstring)."""
    if item.gold_labels is None:  # a gold item without a known answer is never scored
        return None
    failures = ReviewTask.objects.open().filter(item=item, annotation=annotation)
    closed = list(failures.values_list("pk", flat=True))
    failures.update(closed_at=timezone.now())
    correct = sorted(annotation.labels) == sorted(item.gold_labels)
    stats = AnnotatorStats.objects.select_for_update().get(project=project, annotator_id=annotation.annotator_id)
    stats.withdraw_answer(correct, rules.min_gold_accuracy)
    stats.save(update_fields=["gold_seen", "gold_correct", "below_since", "updated_at"])
    return {**stats.to_dict(), "withdrawn_correct": correct, "review_tasks_closed": closed}
