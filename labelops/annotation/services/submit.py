"""Submitting an annotation for a leased item: `submit`."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from labelops.annotation.models import Annotation, AnnotationSource, LeaseOutcome
from labelops.annotation.services import queue_sql
from labelops.annotation.services.context import QueueContext
from labelops.annotation.services.leases import close_lease, lock_live_lease
from labelops.annotation.signals import SubmittedAnswer, answer_submitted, send
from labelops.audit.services import record
from labelops.items.models import Item, ItemState, Split


@transaction.atomic
def submit(*, lease_id: int, annotator, labels: list[str], time_spent_ms: int | None = None,
           from_proposal: bool = False, context: QueueContext | None = None) -> Annotation:
    """Record the annotator's answer for a live lease and close it.

    `from_proposal` says the annotator started from the proposal shown with
    the item (accepted it with Enter, or edited it): the annotation's source
    is then `proposal_accepted` if the labels are the proposal's unchanged,
    else `proposal_edited`; otherwise `manual`. The audit event keeps which,
    and the time spent, to measure reliance on the model.

    Counters move together: `annotation_count + 1`, `active_lease_count - 1`.
    A pool or holdout item becomes `in_progress`, or `labelled` when it
    reaches `rules.overlap`; gold items keep their state. Then the quality
    rules take the answer, in this transaction (`signals.answer_submitted`,
    received by `labelops.quality.services.answers`): consensus when the
    item reached the overlap, the gold check of a gold item, and (once
    committed) the project's recomputations.

    `context` is the `QueueContext` of the lease's project if the caller has
    read it (the queue views): a lease of another project is then
    `Lease.DoesNotExist`. Without it, it is read here, under the locks.

    Raises `LeaseConflict` (closed, submitted before, expired),
    `Lease.DoesNotExist` (another user's lease) and `ValidationError` (bad
    labels); nothing is written then. Locks the lease row, then the item
    row (then what the quality rules lock: for gold items the annotator's
    stats row, for a sampled item of a bulk batch the batch row).
    """
    now = timezone.now()
    lease = lock_live_lease(lease_id, annotator, "submit", now, context)
    item = Item.objects.lock(lease.item_id)  # before the annotation's insert takes a KEY SHARE lock on it
    ctx = context if context is not None else queue_sql.queue_context(item.project_id)
    project, rules = ctx.project, ctx.rules
    item.project = project  # what consensus and review read as `item.project`: no second fetch
    version = project.check_answer(labels, ctx.taxonomy)
    proposal = lease.proposal
    if not from_proposal:
        source = AnnotationSource.MANUAL
    elif proposal is None:
        raise ValidationError({"from_proposal": "no proposal was shown with this item"})
    elif sorted(labels) == sorted(proposal.labels):
        source = AnnotationSource.PROPOSAL_ACCEPTED
    else:
        source = AnnotationSource.PROPOSAL_EDITED

    annotation = Annotation.objects.create(
        item_id=lease.item_id, annotator=annotator, labels=list(labels), source=source,
        proposal=proposal if from_proposal else None, taxonomy_version=version, time_spent_ms=time_spent_ms,
    )
    before_state, after_state, reached = item.state, None, False
    if item.split != Split.GOLD and item.state in (ItemState.UNLABELLED, ItemState.IN_PROGRESS):
        reached = item.annotation_count + 1 >= rules.overlap  # + 1: this annotation
        after_state = ItemState.LABELLED if reached else ItemState.IN_PROGRESS
    item = close_lease(lease, LeaseOutcome.SUBMITTED, now, annotated=True, item=item, state=after_state)
    record(
        actor=annotator, verb="annotation.submit", obj=annotation, project=project,
        after={
            **annotation.to_dict(), "lease": lease.pk,
            "proposal_shown": proposal.labels if proposal is not None else None,
            "item_state": {"before": before_state, "after": item.state},
        },
    )
    # The quality rules judge the answer in this transaction (`labelops.quality.services.answers`).
    send(answer_submitted, answer=SubmittedAnswer(annotation=annotation, item=item, lease=lease, context=ctx,
                                                  version=version, reached_overlap=reached, now=now))
    return annotation
