"""The review queue: what sends an item to review (`send_to_review`).

Reasons (`ReviewReason`): a tie between annotators (`disputed`), agreement
below `rules.agreement_threshold` (`low_agreement`), a failed gold check
(`gold_failure`), an annotator whose gold accuracy fell below
`rules.min_gold_accuracy` (`annotator_below_gold`), a confident model that
disagrees with the consensus (`model_disagreement`), a suspected label error
found by a round (`suspected_error`), an annotator's drop (`dropped`).

A pool or holdout item in review is `in_review` with one open `ReviewTask`;
its consensus, if any, is never `approved` meanwhile. A gold item keeps its
state; each failing annotation of it gets its own task.

Reviewers take the oldest open task (`next_review`) and decide it (`decide`):

- accept: the consensus stands and is approved (for a gold failure: the
  gold answer stands, the failure counts);
- fix: the reviewer's labels become final (method `review`, approved; for a
  gold failure: they become the item's new gold answer);
- reject (a comment is required): the item's live annotations are discarded
  (for a gold failure: only the failing one), its consensus and final labels
  removed, its annotation counter reduced accordingly and the item goes back
  to the queue (`unlabelled`); the discarded annotations' leases turn
  `rejected`, which makes them reopenable, so the same annotators may label
  it again (a gold answer rejected this way still counts in the
  annotator's gold record; the new answer is checked again). Each discarded
  annotation points at the `Review`
  (`Annotation.rejected_by`), so an annotator sees the reviewer's comment on
  their own annotations (the annotations API's `rejection`).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from labelops.annotation.models import (
    Annotation,
    Consensus,
    ConsensusMethod,
    ConsensusStatus,
    FinalLabel,
    Lease,
    LeaseOutcome,
    Review,
    ReviewDecision,
    ReviewTask,
)
from labelops.annotation.services.agreement import item_agreement, taxonomy_parents
from labelops.annotation.services.errors import ReviewConflict
from labelops.annotation.services import leases  # a module: leases imports this one too
from labelops.audit.services import record
from labelops.items.models import Item, ItemState, Split
from labelops.projects.models import Project, TaskType


def send_to_review(item: Item, reason: str, *, details: dict | None = None,
                   annotation: Annotation | None = None, actor=None) -> ReviewTask:
    """Open (or add `reason` to) the item's review task. The caller holds the
    item row lock (`leases.lock_item`) and saves nothing else about it: this
    sets `in_review` on pool and holdout items and takes back an `approved`
    consensus (it is `agreed` again until a reviewer accepts it)."""
    tasks = ReviewTask.objects.open().filter(item=item)
    if item.split == Split.GOLD:
        task = tasks.filter(annotation=annotation).first() if annotation is not None else None
    else:
        task = tasks.filter(annotation__isnull=True).first()
    if task is None:
        task = ReviewTask.objects.create(item=item, reasons=[reason], annotation=annotation,
                                         details={reason: details or {}})
    elif reason not in task.reasons:
        task.reasons.append(reason)
        task.details[reason] = details or {}
        task.save(update_fields=["reasons", "details"])
    if item.split != Split.GOLD and item.state != ItemState.IN_REVIEW:
        item.state = ItemState.IN_REVIEW
        item.save(update_fields=["state"])
        Consensus.objects.filter(item=item, status=ConsensusStatus.APPROVED).update(
            status=ConsensusStatus.AGREED, updated_at=timezone.now())
    record(actor=actor, verb="review.open", obj=task, project=item.project, after={**task.to_dict(), "reason": reason})
    return task


def next_review(project: Project) -> ReviewTask | None:
    """The project's oldest open review task, or None. Reading only: two
    reviewers may be shown the same task, and the second decision is a
    conflict (`decide` re-checks under the item lock)."""
    return (ReviewTask.objects.open().for_project(project)
            .select_related("item", "annotation").order_by("id").first())


@transaction.atomic
def decide(*, project: Project, item: Item, reviewer, decision: str, labels: list[str] | None = None,
           comment: str = "") -> Review:
    """Decide the item's oldest open review task (see the module docstring).

    Raises `ReviewConflict` when the item has no open task, and
    `ValidationError` for a bad decision: fix without valid labels of the
    active taxonomy, reject without a comment, accept with no consensus to
    accept (a tie, or a dropped item: fix or reject instead). Nothing is
    written then. Locks the item row, then the task's rows."""
    from labelops.annotation.services.submit import check_labels

    item = leases.lock_item(item.pk)
    task = ReviewTask.objects.open().filter(item=item).select_related("annotation").order_by("id").first()
    if task is None:
        raise ReviewConflict(f"item {item.pk} is not in review")
    if decision not in ReviewDecision.values:
        raise ValidationError({"decision": f"decision must be one of {', '.join(ReviewDecision.values)}"})
    if decision == ReviewDecision.FIX:
        if not labels:
            raise ValidationError({"labels": "a fix needs your labels"})
        version = check_labels(project, labels)
    elif labels:
        raise ValidationError({"labels": "labels are only given with a fix"})
    if decision == ReviewDecision.REJECT and not comment.strip():
        raise ValidationError({"comment": "say why you reject: the annotators will see it"})
    gold = item.split == Split.GOLD
    consensus = Consensus.objects.filter(item=item).first()
    if decision == ReviewDecision.ACCEPT and not gold and (consensus is None or not consensus.labels):
        raise ValidationError({"decision": "there is no consensus to accept (a tie or a dropped item): "
                                           "fix it with your labels, or reject it"})

    before = {"task": task.to_dict(), "consensus": consensus.to_dict() if consensus else None,
              "state": item.state, "gold_labels": item.gold_labels if gold else None}
    review = Review.objects.create(item=item, reviewer=reviewer, decision=decision, labels=list(labels or []),
                                   comment=comment, reason=task.reason)
    if decision == ReviewDecision.ACCEPT:
        if not gold:
            consensus.status, consensus.review = ConsensusStatus.APPROVED, review
            consensus.save(update_fields=["status", "review", "updated_at"])
            _set_state(item, ItemState.APPROVED)
    elif decision == ReviewDecision.FIX:
        if gold:
            item.gold_labels = list(labels)
            item.save(update_fields=["gold_labels"])
        else:
            consensus = _fix(item, project, version, list(labels), review)
    else:
        consensus = _reject(item, review, task.annotation if gold else None)

    task.closed_at, task.review = timezone.now(), review
    task.save(update_fields=["closed_at", "review"])
    if not gold:  # one decision settles the item: close what else is open on it
        ReviewTask.objects.open().filter(item=item).update(closed_at=task.closed_at, review=review)
    consensus = Consensus.objects.filter(item=item).first()
    record(actor=reviewer, verb="review.decide", obj=review, project=project, before=before,
           after={**review.to_dict(), "consensus": consensus.to_dict() if consensus else None, "state": item.state,
                  "gold_labels": item.gold_labels if gold else None})
    return review


def _set_state(item: Item, state: str) -> None:
    item.state = state
    item.save(update_fields=["state"])


def _fix(item: Item, project: Project, version, labels: list[str], review: Review) -> Consensus:
    answers = list(Annotation.objects.active().filter(item=item).values_list("labels", flat=True))
    agreement = None
    if answers:
        agreement = round(item_agreement(answers, labels, taxonomy_parents(version),
                                         multi=project.task == TaskType.MULTI_LABEL), 6)
    consensus, _ = Consensus.objects.update_or_create(
        item=item, defaults={"labels": labels, "method": ConsensusMethod.REVIEW, "agreement": agreement,
                             "status": ConsensusStatus.APPROVED, "taxonomy_version": version, "review": review})
    FinalLabel.objects.filter(item=item).delete()
    FinalLabel.objects.bulk_create([FinalLabel(item=item, key=key) for key in labels])
    _set_state(item, ItemState.APPROVED)
    return consensus


def _reject(item: Item, review: Review, only: Annotation | None) -> None:
    """Discard the item's live annotations (or `only` that one), reopen their
    annotators' leases and put the item back in the queue."""
    discarded = Annotation.objects.active().filter(item=item)
    if only is not None:
        discarded = discarded.filter(pk=only.pk)
    annotators = list(discarded.values_list("annotator_id", flat=True))
    count = discarded.update(discarded=True, rejected_by=review)
    Lease.objects.filter(item=item, annotator_id__in=annotators, outcome=LeaseOutcome.SUBMITTED).update(
        outcome=LeaseOutcome.REJECTED)
    item.annotation_count = max(item.annotation_count - count, 0)
    fields = ["annotation_count"]
    if item.split != Split.GOLD:
        Consensus.objects.filter(item=item).delete()
        FinalLabel.objects.filter(item=item).delete()
        item.state = ItemState.IN_PROGRESS if item.annotation_count else ItemState.UNLABELLED
        fields.append("state")
    item.save(update_fields=fields)
