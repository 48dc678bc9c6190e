"""Leases, annotations, reviews and the consensus that makes a label final."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models


class LeaseOutcome(models.TextChoices):
    """How a lease ended. See `labelops.annotation.services` for what each means."""

    SUBMITTED = "submitted", "Submitted"
    SKIPPED = "skipped", "Skipped (requeued for others)"
    SKIPPED_LATER = "skipped_later", "Skipped (requeued for me later)"
    DROPPED = "dropped", "Skipped (dropped from the queue)"
    RELEASED = "released", "Released"
    EXPIRED = "expired", "Expired"
    # The annotation it brought was discarded by a reviewer's reject: the
    # annotator may be served the item again.
    REJECTED = "rejected", "Annotation rejected in review"


# A skipped-for-later item comes back to the same annotator after this long.
REQUEUE_LATER_AFTER = timedelta(minutes=15)


def reopenable(now) -> models.Q:
    """Closed leases whose annotator may be served the item again, by
    reopening the same row: released or expired (the annotator gave the item
    back without judging it), rejected (a reviewer discarded their answer and
    sent the item back) and skipped-for-later once `REQUEUE_LATER_AFTER`
    has passed. Every other lease, open or closed, keeps the item out of its
    annotator's queue for good."""
    return models.Q(closed_at__isnull=False) & (
        models.Q(outcome__in=[LeaseOutcome.RELEASED, LeaseOutcome.EXPIRED, LeaseOutcome.REJECTED])
        | models.Q(outcome=LeaseOutcome.SKIPPED_LATER, closed_at__lte=now - REQUEUE_LATER_AFTER)
    )


class LeaseQuerySet(models.QuerySet):
    def for_project(self, project):
        return self.filter(item__project=project)

    def open(self):
        """Not closed: counted in `Item.active_lease_count`, expired or not."""
        return self.filter(closed_at__isnull=True)

    def live(self, now):
        return self.open().filter(expires_at__gt=now)

    def expired(self, now):
        """Open but past their expiry: waiting for `expire_leases` to close them."""
        return self.open().filter(expires_at__lte=now)


class Lease(models.Model):
    """An item handed to one annotator until `expires_at`; heartbeats extend it.

    One row per (item, annotator) ever: it is what guarantees that nobody is
    served the same item twice. A lease that was released, expired or skipped
    for later is reopened (the same row), never duplicated; see `reopenable`.
    """

    item = models.ForeignKey("items.Item", on_delete=models.CASCADE, related_name="leases")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leases")
    created_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    # Set when the lease ends (submitted, skipped, released or expired).
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, blank=True, choices=LeaseOutcome.choices)
    # The proposal shown with the item (none for holdout items), so a submit
    # knows what "accepted" and "edited" refer to even if a new model is
    # activated meanwhile.
    proposal = models.ForeignKey("learning.Proposal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = LeaseQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["item", "annotator"], name="one_lease_per_item_annotator")]
        indexes = [
            models.Index(fields=["expires_at"], condition=models.Q(closed_at__isnull=True), name="open_lease_expiry_idx"),
            models.Index(fields=["annotator", "closed_at"], name="lease_annotator_idx"),
        ]

    def __str__(self):
        return f"lease of item {self.item_id} to {self.annotator_id}"

    def to_dict(self) -> dict:
        return {
            "item": self.item_id,
            "annotator": self.annotator_id,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "outcome": self.outcome,
            "proposal": self.proposal_id,
        }


class AnnotationSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    PROPOSAL_ACCEPTED = "proposal_accepted", "Proposal accepted"
    PROPOSAL_EDITED = "proposal_edited", "Proposal edited"
    CLUSTER_BULK = "cluster_bulk", "Cluster bulk"
    IMPORTED = "imported", "Imported"


class AnnotationQuerySet(models.QuerySet):
    def for_project(self, project):
        return self.filter(item__project=project)

    def active(self):
        return self.filter(discarded=False)

    def answers(self, item) -> list[tuple[int, list[str]]]:
        """(annotator id, labels) of the item's live annotations, oldest
        first: what consensus is computed from."""
        return [(annotator, labels) for annotator, labels in
                self.active().filter(item=item).values_list("annotator_id", "labels").order_by("id")]


class Annotation(models.Model):
    item = models.ForeignKey("items.Item", on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations")
    labels = models.JSONField(default=list)  # label keys of `taxonomy_version`
    source = models.CharField(max_length=20, choices=AnnotationSource.choices, default=AnnotationSource.MANUAL)
    proposal = models.ForeignKey("learning.Proposal", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    taxonomy_version = models.ForeignKey("projects.TaxonomyVersion", on_delete=models.PROTECT, related_name="+")
    time_spent_ms = models.PositiveIntegerField(null=True, blank=True)
    # A reviewer's reject discards annotations (kept for the record, never counted).
    discarded = models.BooleanField(default=False)
    # The review that discarded it: its comment tells the annotator why.
    rejected_by = models.ForeignKey("Review", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="rejected_annotations")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AnnotationQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "annotator"], condition=models.Q(discarded=False), name="one_live_annotation_per_annotator"
            ),
        ]
        indexes = [
            models.Index(fields=["annotator", "created_at"], name="annotation_annotator_idx"),
        ]

    def __str__(self):
        return f"annotation {self.pk} of item {self.item_id}"

    def to_dict(self) -> dict:
        return {
            "item": self.item_id,
            "annotator": self.annotator_id,
            "labels": self.labels,
            "source": self.source,
            "proposal": self.proposal_id,
            "taxonomy_version": self.taxonomy_version_id,
            "time_spent_ms": self.time_spent_ms,
            "discarded": self.discarded,
        }


class ConsensusMethod(models.TextChoices):
    MAJORITY = "majority", "Majority vote"
    DAWID_SKENE = "dawid_skene", "Dawid-Skene"
    REVIEW = "review", "Review"
    GOLD = "gold", "Gold (known answer)"
    # Approved with a bulk batch whose verification sample passed (see `BulkBatch`).
    BULK = "bulk", "Bulk (sample verified)"


class ConsensusStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    AGREED = "agreed", "Agreed"
    DISPUTED = "disputed", "Disputed"
    APPROVED = "approved", "Approved"


class ConsensusQuerySet(models.QuerySet):
    """Every write of an item's final labels goes through `put`, `put_new`
    or `clear`: they keep the invariant that the item's `FinalLabel` rows
    are exactly its consensus labels (no consensus, no final labels). The
    callers hold the item rows locked (`Item.objects.lock`, or a lock on all
    of them) and record their own audit events."""

    def put(self, item_id: int, *, labels: list[str], **fields) -> tuple[Consensus, dict | None]:
        """Make `labels` the item's final labels, creating or updating its
        consensus with `fields` (a new one needs `method`, `status` and
        `taxonomy_version`). Returns the row and what it was before
        (`to_dict()`, None if new). A plain read then insert or update, not
        `update_or_create`: under the item's row lock it is race-free, and it
        saves the savepoints and the second read."""
        consensus = self.filter(item_id=item_id).first()
        before = consensus.to_dict() if consensus is not None else None
        if consensus is None:
            consensus = self.create(item_id=item_id, labels=list(labels), **fields)
        else:
            consensus.labels = list(labels)
            for name, value in fields.items():
                setattr(consensus, name, value)
            consensus.save()
        FinalLabel.objects.filter(item_id=item_id).exclude(key__in=labels).delete()
        FinalLabel.objects.bulk_create([FinalLabel(item_id=item_id, key=key) for key in labels],
                                       ignore_conflicts=True)
        return consensus, before

    def put_new(self, rows: list[Consensus], batch_size: int | None = None) -> list[Consensus]:
        """Insert consensus `rows` for items that have none yet, and their
        final labels, in bulk (bulk approval, imports). Returns the rows with
        their ids (every supported database returns them)."""
        created = self.bulk_create(rows, batch_size=batch_size)
        FinalLabel.objects.bulk_create([FinalLabel(item_id=row.item_id, key=key)
                                        for row in created for key in row.labels], batch_size=batch_size)
        return created

    def clear(self, item_id: int) -> None:
        """Remove the item's consensus and final labels (it goes back to be labelled)."""
        FinalLabel.objects.filter(item_id=item_id).delete()
        self.filter(item_id=item_id).delete()


class Consensus(models.Model):
    """The item's final labels. Only `approved` ones ever train a model.
    Written only through `ConsensusQuerySet` (`Consensus.objects.put`, ...)."""

    item = models.OneToOneField("items.Item", on_delete=models.CASCADE, related_name="consensus")
    labels = models.JSONField(default=list)
    method = models.CharField(max_length=16, choices=ConsensusMethod.choices)
    agreement = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=ConsensusStatus.choices, default=ConsensusStatus.PENDING)
    taxonomy_version = models.ForeignKey("projects.TaxonomyVersion", on_delete=models.PROTECT, related_name="+")
    # The reviewer's accept or fix that settled it: final, never recomputed.
    review = models.ForeignKey("Review", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    objects = ConsensusQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "consensus"
        indexes = [models.Index(fields=["status"], name="consensus_status_idx")]

    def __str__(self):
        return f"consensus of item {self.item_id}: {self.labels} ({self.status})"

    def to_dict(self) -> dict:
        return {
            "labels": self.labels,
            "method": self.method,
            "agreement": self.agreement,
            "status": self.status,
            "taxonomy_version": self.taxonomy_version_id,
        }


class FinalLabel(models.Model):
    """One row per label in an item's consensus, so "items labelled X" is an
    indexed join on every database (JSON containment is PostgreSQL-only).
    Written only with the consensus (`ConsensusQuerySet`)."""

    item = models.ForeignKey("items.Item", on_delete=models.CASCADE, related_name="final_labels")
    key = models.CharField(max_length=100)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "key"], name="unique_final_label")]
        indexes = [models.Index(fields=["key", "item"], name="final_label_key_idx")]


class ReviewDecision(models.TextChoices):
    ACCEPT = "accept", "Accept"
    FIX = "fix", "Fix"
    REJECT = "reject", "Reject to queue"


class Review(models.Model):
    item = models.ForeignKey("items.Item", on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    decision = models.CharField(max_length=8, choices=ReviewDecision.choices)
    labels = models.JSONField(default=list, blank=True)  # the reviewer's labels on fix
    comment = models.TextField(blank=True)
    reason = models.CharField(max_length=32, blank=True)  # what sent the item to review
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.decision} of item {self.item_id}"

    def to_dict(self) -> dict:
        return {
            "item": self.item_id,
            "reviewer": self.reviewer_id,
            "decision": self.decision,
            "labels": self.labels,
            "comment": self.comment,
            "reason": self.reason,
        }


class ReviewReason(models.TextChoices):
    """What sent an item to review (see `labelops.quality.services.review`)."""

    DISPUTED = "disputed", "Disputed (a tie between annotators)"
    LOW_AGREEMENT = "low_agreement", "Agreement below the threshold"
    GOLD_FAILURE = "gold_failure", "Failed gold check"
    ANNOTATOR_BELOW_GOLD = "annotator_below_gold", "Annotator below the minimum gold accuracy"
    MODEL_DISAGREEMENT = "model_disagreement", "Confident model disagrees"
    SUSPECTED_ERROR = "suspected_error", "Suspected label error"
    DROPPED = "dropped", "Dropped by an annotator"


class ReviewTaskQuerySet(models.QuerySet):
    def for_project(self, project):
        return self.filter(item__project=project)

    def open(self):
        return self.filter(closed_at__isnull=True)


class ReviewTask(models.Model):
    """An item waiting for a reviewer, and why. Closed by the `Review` that decides it.

    A pool or holdout item has at most one open task (its state is
    `in_review` meanwhile; further reasons are added to `reasons`). A failed
    gold check opens one task per failing annotation (`annotation`), and the
    gold item keeps its state: its known answer is what is being checked.
    """

    item = models.ForeignKey("items.Item", on_delete=models.CASCADE, related_name="review_tasks")
    reasons = models.JSONField(default=list)  # ReviewReason values, first one first
    # The annotation under review, for gold failures (and for an annotator below gold accuracy).
    annotation = models.ForeignKey(Annotation, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    review = models.OneToOneField(Review, null=True, blank=True, on_delete=models.SET_NULL, related_name="task")
    # The reviewer `next_review` handed the task to, until `lease_expires_at`.
    # Past that moment the lease is simply void (nothing has to clear it):
    # the task is free for anyone and the next claim overwrites both fields.
    leased_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    objects = ReviewTaskQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["item"], condition=models.Q(closed_at__isnull=True, annotation__isnull=True),
                name="one_open_review_per_item",
            ),
            models.UniqueConstraint(
                fields=["annotation"], condition=models.Q(closed_at__isnull=True, annotation__isnull=False),
                name="one_open_review_per_annotation",
            ),
        ]
        indexes = [models.Index(fields=["id"], condition=models.Q(closed_at__isnull=True), name="open_review_idx")]

    def __str__(self):
        return f"review task {self.pk} of item {self.item_id} ({', '.join(self.reasons)})"

    @property
    def reason(self) -> str:
        return self.reasons[0] if self.reasons else ""

    def to_dict(self) -> dict:
        return {
            "item": self.item_id,
            "reasons": self.reasons,
            "annotation": self.annotation_id,
            "details": self.details,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "review": self.review_id,
        }


# Gold items an annotator must have answered before their gold accuracy can
# send their work to review: below this, one unlucky answer would.
MIN_GOLD_FOR_ACCURACY = 5


class AnnotatorStats(models.Model):
    """An annotator's gold-check record in one project, kept incrementally by
    `submit` (one row update per gold answer, no scan of their history).

    `below_since` is set while their accuracy is below
    `rules.min_gold_accuracy` (after `MIN_GOLD_FOR_ACCURACY` gold items);
    `last_passing_at` is the last time it was at or above it (their work
    since then is what goes to review when they fall below)."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="annotator_stats")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    gold_seen = models.PositiveIntegerField(default=0)
    gold_correct = models.PositiveIntegerField(default=0)
    below_since = models.DateTimeField(null=True, blank=True)
    last_passing_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "annotator stats"
        constraints = [models.UniqueConstraint(fields=["project", "annotator"], name="one_stats_per_annotator")]

    def __str__(self):
        return f"gold record of {self.annotator_id} in {self.project_id}"

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_seen if self.gold_seen else None

    def below(self, min_accuracy: float) -> bool:
        """Judged (`MIN_GOLD_FOR_ACCURACY` answers or more) and below `min_accuracy`."""
        accuracy = self.gold_accuracy
        return self.gold_seen >= MIN_GOLD_FOR_ACCURACY and accuracy is not None and accuracy < min_accuracy

    def count_answer(self, correct: bool, min_accuracy: float, now) -> bool:
        """Count one gold answer (the caller saves); True if it made the
        annotator newly below `min_accuracy`. Passing clears the mark and
        dates `last_passing_at`."""
        self.gold_seen += 1
        self.gold_correct += int(correct)
        if self.below(min_accuracy):
            newly_below = self.below_since is None
            self.below_since = self.below_since or now
            return newly_below
        self.below_since = None
        if self.gold_seen >= MIN_GOLD_FOR_ACCURACY:
            self.last_passing_at = now
        return False

    def withdraw_answer(self, correct: bool, min_accuracy: float) -> None:
        """Take one counted gold answer back (an undo; the caller saves): the
        mark is cleared if the annotator is no longer below the minimum."""
        self.gold_seen = max(self.gold_seen - 1, 0)
        self.gold_correct = max(self.gold_correct - int(correct), 0)
        if not self.below(min_accuracy):
            self.below_since = None

    def to_dict(self) -> dict:
        return {
            "annotator": self.annotator_id,
            "gold_seen": self.gold_seen,
            "gold_correct": self.gold_correct,
            "gold_accuracy": self.gold_accuracy,
            "below_since": self.below_since.isoformat() if self.below_since else None,
            "last_passing_at": self.last_passing_at.isoformat() if self.last_passing_at else None,
        }


class AgreementSnapshot(models.Model):
    """A project's agreement metrics as last computed (see
    `labelops.quality.services.metrics`): served as is, refreshed by a
    Celery task once enough new annotations have come in (when: its
    `Recompute` row)."""

    project = models.OneToOneField("projects.Project", on_delete=models.CASCADE, related_name="agreement")
    metrics = models.JSONField(default=dict, blank=True)
    # Null until the first computation finishes.
    computed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"agreement of {self.project_id} at {self.computed_at}"


class RecomputeKind(models.TextChoices):
    DAWID_SKENE = "dawid_skene", "Dawid-Skene consensus"
    AGREEMENT = "agreement", "Agreement metrics"


class RecomputeQuerySet(models.QuerySet):
    def reset(self) -> int:
        """Forget what the last run covered (a new taxonomy version makes it
        meaningless): the next check or read queues a run."""
        return self.update(last_annotation_id=0, last_size=0, finished_at=None, queued_at=None, due_at=0)


class Recompute(models.Model):
    """When a project's batch recomputation of one kind is next due, and
    whether one is queued: the scheduler's whole state
    (`labelops.quality.services.schedule`). One row per project and kind,
    created by the first check."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="recomputes")
    kind = models.CharField(max_length=16, choices=RecomputeKind.choices)
    # What the last finished run covered: the newest annotation it included
    # and how many annotations it used.
    last_annotation_id = models.PositiveBigIntegerField(default=0)
    last_size = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    # No run can be due before an annotation with this id exists (a lower
    # bound: annotation ids only grow). A submit below it costs no query.
    due_at = models.PositiveBigIntegerField(default=0)
    # When a run was queued and has not finished yet (None: none waiting).
    queued_at = models.DateTimeField(null=True, blank=True)

    objects = RecomputeQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["project", "kind"], name="one_recompute_per_kind")]

    def __str__(self):
        return f"{self.kind} of project {self.project_id}"

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "last_annotation_id": self.last_annotation_id,
            "last_size": self.last_size,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "due_at": self.due_at,
            "queued_at": self.queued_at.isoformat() if self.queued_at else None,
        }


class BulkBatchState(models.TextChoices):
    VERIFYING = "verifying", "Verifying (sample in the queue)"
    ACCEPTED = "accepted", "Accepted (labels approved)"
    REJECTED = "rejected", "Rejected (items back in the queue)"
    # Withdrawn by a reviewer or lead before the sample was in.
    CANCELLED = "cancelled", "Cancelled (items back in the queue)"


class BulkBatchQuerySet(models.QuerySet):
    def for_project(self, project):
        return self.filter(project=project)

    def verifying(self):
        return self.filter(state=BulkBatchState.VERIFYING)

    def with_progress(self):
        """With `sample_entries` (the sampled items' entries, by item id)
        and `held_<outcome>` counts of the held items, for the API: a page
        of batches in three queries."""
        held = {
            f"held_{outcome}": models.Count("entries", filter=models.Q(entries__sampled=False,
                                                                       entries__outcome=outcome))
            for outcome in (BulkItemOutcome.PENDING, BulkItemOutcome.APPROVED, BulkItemOutcome.REQUEUED)
        }
        sample = BulkBatchItem.objects.filter(sampled=True).order_by("item_id")
        return self.annotate(**held).prefetch_related(models.Prefetch("entries", sample, to_attr="sample_entries"))


class BulkBatch(models.Model):
    """Labels applied to many items at once (a cluster or a selection),
    pending verification by a sample that annotators label like any item.
    See `labelops.quality.services.bulk`.

    The rules (`sample_rate`, `max_error_rate`) and the taxonomy version are
    copied at creation, so a rules edit cannot change how a running batch is
    judged. `seed` makes the sample reproducible from the audit trail."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="bulk_batches")
    labels = models.JSONField(default=list)  # label keys of `taxonomy_version`
    taxonomy_version = models.ForeignKey("projects.TaxonomyVersion", on_delete=models.PROTECT, related_name="+")
    # The cluster it was made from, if any (null for a selection of items).
    cluster = models.ForeignKey("learning.Cluster", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    sample_rate = models.FloatField()
    max_error_rate = models.FloatField()
    seed = models.PositiveBigIntegerField()
    state = models.CharField(max_length=12, choices=BulkBatchState.choices, default=BulkBatchState.VERIFYING)
    item_count = models.PositiveIntegerField(default=0)
    sample_size = models.PositiveIntegerField(default=0)
    # Sampled items whose consensus is in, and those whose consensus differs from `labels`.
    verified_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    # error_count / sample_size, set when the batch is resolved.
    error_rate = models.FloatField(null=True, blank=True)
    # Items of the cluster left out, by reason (see `services.bulk.EXCLUSION_REASONS`).
    excluded = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = BulkBatchQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "bulk batches"

    def __str__(self):
        return f"bulk batch {self.pk} of {self.project_id}: {self.labels} ({self.state})"

    def to_dict(self) -> dict:
        return {
            "labels": self.labels,
            "taxonomy_version": self.taxonomy_version_id,
            "cluster": self.cluster_id,
            "sample_rate": self.sample_rate,
            "max_error_rate": self.max_error_rate,
            "seed": self.seed,
            "state": self.state,
            "item_count": self.item_count,
            "sample_size": self.sample_size,
            "verified_count": self.verified_count,
            "error_count": self.error_count,
            "error_rate": self.error_rate,
            "excluded": self.excluded,
        }


class BulkItemOutcome(models.TextChoices):
    PENDING = "pending", "Pending"
    # Sampled items: the annotators' consensus matched the batch labels, or not.
    CONFIRMED = "confirmed", "Confirmed by the sample"
    CONTRADICTED = "contradicted", "Contradicted by the sample"
    # Held (unsampled) items: approved with the batch labels, or back in the queue.
    APPROVED = "approved", "Approved with the batch labels"
    REQUEUED = "requeued", "Back in the queue"


class BulkBatchItem(models.Model):
    """One item of a batch. Sampled items stay in the queue and are labelled
    as usual; held items wait (`labelled`, never served) for the verdict.

    `open` is true until the batch is resolved: the partial unique constraint
    keeps an item in at most one open batch, whatever races the API sees."""

    batch = models.ForeignKey(BulkBatch, on_delete=models.CASCADE, related_name="entries")
    item = models.ForeignKey("items.Item", on_delete=models.CASCADE, related_name="bulk_entries")
    sampled = models.BooleanField(default=False)
    open = models.BooleanField(default=True)
    outcome = models.CharField(max_length=12, choices=BulkItemOutcome.choices, default=BulkItemOutcome.PENDING)
    # The annotators' consensus on a sampled item, when it came in.
    verified_labels = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "item"], name="one_entry_per_batch_item"),
            models.UniqueConstraint(fields=["item"], condition=models.Q(open=True), name="one_open_bulk_batch_per_item"),
        ]

    def __str__(self):
        return f"item {self.item_id} in bulk batch {self.batch_id}"

    def to_dict(self) -> dict:
        return {
            "batch": self.batch_id,
            "item": self.item_id,
            "sampled": self.sampled,
            "outcome": self.outcome,
            "verified_labels": self.verified_labels,
        }
