"""Gold checks: an answer on a gold item against its known answer (`check_gold`).

Correct means the same set of labels as `item.gold_labels` (no partial
credit: a gold item is a test with one right answer). Each check updates the
annotator's `AnnotatorStats` counters in the submit transaction, so gold
accuracy is always current without scanning anyone's history.

- A wrong answer, with `rules.review_gold_failures`, opens a review task on
  that annotation (reason `gold_failure`): a reviewer confirms the gold
  answer (accept), corrects it (fix), or lets the annotator answer again
  (reject).
- Once an annotator has answered `MIN_GOLD_FOR_ACCURACY` gold items, an
  accuracy below `rules.min_gold_accuracy` marks them `below_since` and sends
  their recent work to review (reason `annotator_below_gold`): their live
  annotations since `last_passing_at` (all of them if they never passed) on
  items that already have a consensus no reviewer accepted or fixed. Items they
  complete while below are caught by `consensus.settle`. Getting back to the
  minimum clears the mark; work already sent stays in review.
"""

from __future__ import annotations

from datetime import datetime

from labelops.annotation.models import (
    Annotation,
    AnnotatorStats,
    ReviewReason,
)
from labelops.audit.services import record
from labelops.items.models import Item, ItemState, Split
from labelops.projects.models import Project, QualityRules
from labelops.quality.services.review import send_to_review

SETTLED_STATES = (ItemState.LABELLED, ItemState.APPROVED, ItemState.IN_REVIEW)


def check_gold(*, project: Project, item: Item, annotation: Annotation, rules: QualityRules,
               now: datetime) -> AnnotatorStats | None:
    """Score `annotation` (on gold `item`, row locked by the caller) and act
    on the result (module docstring). Returns the updated stats, or None for
    a gold item without a known answer. Locks the annotator's stats row
    after the item row."""
    if item.gold_labels is None:
        return None
    correct = sorted(annotation.labels) == sorted(item.gold_labels)
    AnnotatorStats.objects.get_or_create(project=project, annotator_id=annotation.annotator_id)
    stats = AnnotatorStats.objects.select_for_update().get(project=project, annotator_id=annotation.annotator_id)
    before = stats.to_dict()
    newly_below = stats.count_answer(correct, rules.min_gold_accuracy, now)
    stats.save()
    record(actor=annotation.annotator, verb="gold.check", obj=annotation, project=project,
           before=before, after={**stats.to_dict(), "correct": correct, "expected": item.gold_labels,
                                 "given": annotation.labels})
    if not correct and rules.review_gold_failures:
        send_to_review(item, ReviewReason.GOLD_FAILURE, annotation=annotation,
                       details={"annotator": annotation.annotator_id, "expected": item.gold_labels,
                                "given": annotation.labels})
    if newly_below:
        _review_recent_work(project, stats)
    return stats


def _review_recent_work(project: Project, stats: AnnotatorStats) -> int:
    """Send the annotator's work since they last passed to review."""
    recent = Annotation.objects.active().filter(
        annotator_id=stats.annotator_id, item__project=project, item__split__in=[Split.POOL, Split.HOLDOUT],
        item__state__in=SETTLED_STATES,
    ).exclude(item__consensus__review__isnull=False)
    if stats.last_passing_at is not None:
        recent = recent.filter(created_at__gt=stats.last_passing_at)
    item_ids = list(recent.values_list("item_id", flat=True))
    items = Item.objects.select_for_update(no_key=True).filter(pk__in=item_ids).order_by("pk")
    details = {"annotator": stats.annotator_id, "gold_accuracy": stats.gold_accuracy,
               "gold_seen": stats.gold_seen}
    for item in items:
        send_to_review(item, ReviewReason.ANNOTATOR_BELOW_GOLD, details=details)
    return len(item_ids)
