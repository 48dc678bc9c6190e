"""Leases: an item handed to one annotator until it expires."""

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
