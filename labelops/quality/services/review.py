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

Reviewers are served tasks by `next_review`, which leases each one to a
single reviewer (`ReviewTask.leased_to`) until `lease_expires_at`, the
project's `lease_minutes` from the claim:

- a reviewer who asks again while their lease is live gets the same task
  back (a retried `next` never takes a second task);
- otherwise they get the oldest open task that is free (never leased, or
  its lease has expired) and that they may review;
- an expired lease needs no sweep: it is simply ignored, and the next claim
  overwrites it;
- claiming takes the reviewer's user row (`FOR NO KEY UPDATE`, so one
  reviewer's concurrent calls serialise) and then the first free task row
  `FOR NO KEY UPDATE SKIP LOCKED`, as `queue.next_item` does for items, so
  concurrent reviewers each get a different task without waiting; the lease
  is then written by a conditional update (still open, still free).

Nobody reviews their own work: a reviewer is never served a task on an item
they annotated (a live or a discarded annotation), and `decide` on such an
item is refused (`ReviewForbidden`, a 403). This holds for leads too. A task
whose every reviewer and lead annotated the item stays open until someone
else joins the project as a reviewer.

`decide` takes the reviewer's own live lease on the item if they hold one;
it is refused (`ReviewConflict`, code `review_leased`, a 409) while another
reviewer's lease on the item is live. A decision without a lease (the API
called directly) is allowed on a free task. Decisions:

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

from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from labelops.annotation.models import (
    Annotation,
    Consensus,
    ConsensusMethod,
    ConsensusStatus,
    Lease,
    LeaseOutcome,
    Review,
    ReviewDecision,
    ReviewTask,
)
from labelops.audit.services import record
from labelops.errors import Conflict, Forbidden
from labelops.items.models import Item, ItemState, Split
from labelops.projects.models import Project, TaskType
from labelops.quality.services import bulk
from labelops.quality.services.agreement import item_agreement, taxonomy_parents


def send_to_review(item: Item, reason: str, *, details: dict | None = None,
                   annotation: Annotation | None = None, actor=None,
                   consensus: Consensus | None = None) -> ReviewTask:
    """Open (or add `reason` to) the item's review task. The caller holds the
    item row lock (`Item.objects.lock`) and saves nothing else about it: this
    sets `in_review` on pool and holdout items and takes back an `approved`
    consensus (it is `agreed` again until a reviewer accepts it). A caller
    that has just written the item's `consensus` passes it, and it is
    checked in hand rather than by a query."""
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
        if consensus is None:
            Consensus.objects.filter(item=item, status=ConsensusStatus.APPROVED).update(
                status=ConsensusStatus.AGREED, updated_at=timezone.now())
        elif consensus.status == ConsensusStatus.APPROVED:
            consensus.status = ConsensusStatus.AGREED
            consensus.save(update_fields=["status", "updated_at"])
    record(actor=actor, verb="review.open", obj=task, project=item.project, after={**task.to_dict(), "reason": reason})
    return task


class ReviewConflict(Conflict):
    """A review decision on an item that is not waiting for one (no open
    review task, `not_in_review`) or that another reviewer holds
    (`review_leased`): a 409."""

    default_code = "not_in_review"


class ReviewForbidden(Forbidden):
    """A reviewer may not decide this item (they annotated it): a 403;
    nothing is written."""


def _free(now: datetime) -> Q:
    """Tasks nobody holds a live lease on."""
    return Q(leased_to__isnull=True) | Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now)


def _not_annotated_by(reviewer) -> Q:
    """Tasks on items `reviewer` never annotated (discarded annotations count:
    a rejected answer is still their own work)."""
    return ~Q(Exists(Annotation.objects.filter(item=OuterRef("item"), annotator=reviewer)))


@transaction.atomic
def next_review(project: Project, reviewer) -> ReviewTask | None:
    """Lease the next review task to `reviewer`, or None when there is none
    they may take: their own live lease first, else the oldest free task on
    an item they did not annotate (module docstring, for the locking)."""
    now = timezone.now()
    list(get_user_model().objects.select_for_update(no_key=True).filter(pk=reviewer.pk).values_list("pk"))
    mine = ReviewTask.objects.open().for_project(project).filter(_not_annotated_by(reviewer))
    held = (mine.filter(leased_to=reviewer, lease_expires_at__gt=now)
            .select_related("item", "annotation").order_by("id").first())
    if held is not None:
        return held

    task = (mine.filter(_free(now)).select_related("item", "annotation").order_by("id")
            .select_for_update(skip_locked=True, no_key=True, of=("self",)).first())
    if task is None:
        return None
    expires_at = project.config.lease_expiry(now)
    # Belt and braces: the row is locked, so this only fails if the lock did not hold (it always does on
    # PostgreSQL, and SQLite runs one writer at a time); then the caller asks again.
    if not ReviewTask.objects.open().filter(_free(now), pk=task.pk).update(leased_to=reviewer,
                                                                           lease_expires_at=expires_at):
        return None
    previous = task.leased_to_id
    task.leased_to, task.lease_expires_at = reviewer, expires_at
    record(actor=reviewer, verb="review.claim", obj=task, project=project,
           after={**task.to_dict(), "leased_to": reviewer.pk, "lease_expires_at": expires_at.isoformat(),
                  "previous_lease": previous})
    return task


def _task_to_decide(item: Item, reviewer, now: datetime) -> ReviewTask:
    """The open task `reviewer` decides on the item (the caller holds the
    item lock; this locks the item's open task rows): their own live lease,
    else the oldest task that is free. For a pool or holdout item one
    decision closes every open task on it, so none may be leased to another
    reviewer; a gold item's tasks (one per failing annotation) are decided
    one at a time."""
    # Not `select_related("leased_to")`: after waiting for a task row's lock,
    # PostgreSQL re-reads that row but not the joined user row, so a lease
    # written meanwhile would come back with `leased_to_id` set and no user.
    tasks = list(ReviewTask.objects.open().filter(item=item).select_related("annotation")
                 .select_for_update(no_key=True, of=("self",)).order_by("id"))
    if not tasks:
        raise ReviewConflict(f"item {item.pk} is not in review")
    if Annotation.objects.filter(item=item, annotator=reviewer).exists():
        raise ReviewForbidden(f"you annotated item {item.pk}: someone else must review it", code="own_annotation")

    def live(task):
        return task.leased_to_id is not None and task.lease_expires_at is not None and task.lease_expires_at > now

    others = [task for task in tasks if live(task) and task.leased_to_id != reviewer.pk]
    if others and (item.split != Split.GOLD or len(others) == len(tasks)):
        holder = others[0]
        name = get_user_model().objects.filter(pk=holder.leased_to_id).values_list("username", flat=True).first()
        raise ReviewConflict(
            f"item {item.pk} is being reviewed by {name} until "
            f"{holder.lease_expires_at.isoformat()}: ask for the next review",
            code="review_leased",
        )
    own = [task for task in tasks if live(task) and task.leased_to_id == reviewer.pk]
    return own[0] if own else next(task for task in tasks if task not in others)


@transaction.atomic
def decide(*, project: Project, item: Item, reviewer, decision: str, labels: list[str] | None = None,
           comment: str = "") -> Review:
    """Decide one open review task of the item: the reviewer's own leased
    one, else the oldest free one (see the module docstring).

    Raises `ReviewConflict` when the item has no open task (code
    `not_in_review`) or another reviewer's lease on it is live
    (`review_leased`), `ReviewForbidden` when the reviewer annotated the item
    (`own_annotation`), and `ValidationError` for a bad decision: fix without
    valid labels of the active taxonomy, reject without a comment, accept
    with no consensus to accept (a tie, or a dropped item: fix or reject
    instead). Nothing is written then. Locks the item row, then the item's
    open task rows."""
    item = Item.objects.lock(item.pk)
    task = _task_to_decide(item, reviewer, timezone.now())
    if decision not in ReviewDecision.values:
        raise ValidationError({"decision": f"decision must be one of {', '.join(ReviewDecision.values)}"})
    if decision == ReviewDecision.FIX:
        if not labels:
            raise ValidationError({"labels": "a fix needs your labels"})
        version = project.check_answer(labels)
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
        if consensus is not None and not gold:  # a consensus to accept: checked above
            consensus.status, consensus.review = ConsensusStatus.APPROVED, review
            consensus.save(update_fields=["status", "review", "updated_at"])
            _set_state(item, ItemState.APPROVED)
    elif decision == ReviewDecision.FIX:
        fixed = list(labels or [])  # given: checked above
        if gold:
            item.gold_labels = fixed
            item.save(update_fields=["gold_labels"])
        else:
            _fix(item, project, version, fixed, review)
    else:
        _reject(item, review, task.annotation if gold else None)

    task.closed_at, task.review = timezone.now(), review
    task.save(update_fields=["closed_at", "review"])
    if not gold:  # one decision settles the item: close what else is open on it
        ReviewTask.objects.open().filter(item=item).update(closed_at=task.closed_at, review=review)
    consensus = Consensus.objects.filter(item=item).first()
    record(actor=reviewer, verb="review.decide", obj=review, project=project, before=before,
           after={**review.to_dict(), "consensus": consensus.to_dict() if consensus else None, "state": item.state,
                  "gold_labels": item.gold_labels if gold else None})
    if not gold and consensus is not None and decision != ReviewDecision.REJECT:
        # A bulk batch's sampled item settled by a reviewer counts toward its verdict.
        bulk.on_settled(item, consensus, actor=reviewer)
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
    consensus, _ = Consensus.objects.put(item.pk, labels=labels, method=ConsensusMethod.REVIEW, agreement=agreement,
                                         status=ConsensusStatus.APPROVED, taxonomy_version=version, review=review)
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
        Consensus.objects.clear(item.pk)
        item.state = ItemState.IN_PROGRESS if item.annotation_count else ItemState.UNLABELLED
        fields.append("state")
    item.save(update_fields=fields)
