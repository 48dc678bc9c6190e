"""Submitting an annotation for a leased item: `submit`."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from labelops.annotation.models import Annotation, AnnotationSource, LeaseOutcome
from labelops.annotation.services.leases import close_lease, lock_live_lease
from labelops.annotation.signals import SubmittedAnswer, answer_submitted, send
from labelops.audit.services import record
from labelops.items.models import Item, ItemState, Split
from labelops.projects.models import Project


def _may_be_in_bulk_batch(project: Project, lease) -> bool:
    """Whether a verifying bulk batch could hold the lease's item (so its
    consensus must be counted toward the batch's sample). Not if none was
    verifying when the queue view read the project (`queue_sql.
    project_for_queue`) and the lease has been open since before that read:
    a batch made since leaves out items with a lease
    (`bulk.exclusion_reason`). `heartbeat_at`, not `created_at`, dates the
    lease: a reopened row keeps its creation time, but opening and reopening
    set `heartbeat_at` (and heartbeats only move it later, which can only
    make this answer yes). Otherwise (a project read another way, or any
    doubt) it may."""
    read_at = getattr(project, "queue_read_at", None)
    return not (read_at is not None and project.queue_bulk_verifying is False and lease.heartbeat_at < read_at)


@transaction.atomic
def submit(*, lease_id: int, annotator, labels: list[str], time_spent_ms: int | None = None,
           from_proposal: bool = False, project: Project | None = None) -> Annotation:
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

    `project` is the lease's project if the caller has read it already (the
    queue views, with its rules joined): a lease of another project is then
    `Lease.DoesNotExist`.

    Raises `LeaseConflict` (closed, submitted before, expired),
    `Lease.DoesNotExist` (another user's lease) and `ValidationError` (bad
    labels); nothing is written then. Locks the lease row, then the item
    row (then what the quality rules lock: for gold items the annotator's
    stats row, for a sampled item of a bulk batch the batch row).
    """
    now = timezone.now()
    lease = lock_live_lease(lease_id, annotator, "submit", now, project)
    item = Item.objects.lock(lease.item_id)  # before the annotation's insert takes a KEY SHARE lock on it
    if project is None:
        project = Project.objects.select_related("rules").get(pk=item.project_id)
    item.project = project  # what consensus and review read as `item.project`: no second fetch
    rules = project.rules
    # The queue views read the active version with the project's row (`queue_sql.project_for_queue`).
    version = project.check_answer(labels, getattr(project, "queue_taxonomy", None))
    proposal = lease.proposal
    if from_proposal and proposal is None:
        raise ValidationError({"from_proposal": "no proposal was shown with this item"})
    if not from_proposal:
        source = AnnotationSource.MANUAL
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
    send(answer_submitted, answer=SubmittedAnswer(
        annotation=annotation, item=item, project=project, version=version, reached_overlap=reached,
        may_be_in_bulk_batch=_may_be_in_bulk_batch(project, lease), now=now))
    return annotation
