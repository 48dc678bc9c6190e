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


# A skipped-for-later item comes back to the same annotator after this long.
REQUEUE_LATER_AFTER = timedelta(minutes=15)


def reopenable(now) -> models.Q:
    """Closed leases whose annotator may be served the item again, by
    reopening the same row: released or expired (the annotator gave the item
    back without judging it) and skipped-for-later once `REQUEUE_LATER_AFTER`
    has passed. Every other lease, open or closed, keeps the item out of its
    annotator's queue for good."""
    return models.Q(closed_at__isnull=False) & (
        models.Q(outcome__in=[LeaseOutcome.RELEASED, LeaseOutcome.EXPIRED])
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


class ConsensusStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    AGREED = "agreed", "Agreed"
    DISPUTED = "disputed", "Disputed"
    APPROVED = "approved", "Approved"


class Consensus(models.Model):
    """The item's final labels. Only `approved` ones ever train a model."""

    item = models.OneToOneField("items.Item", on_delete=models.CASCADE, related_name="consensus")
    labels = models.JSONField(default=list)
    method = models.CharField(max_length=16, choices=ConsensusMethod.choices)
    agreement = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=ConsensusStatus.choices, default=ConsensusStatus.PENDING)
    taxonomy_version = models.ForeignKey("projects.TaxonomyVersion", on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

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
    indexed join on every database (JSON containment is PostgreSQL-only)."""

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
