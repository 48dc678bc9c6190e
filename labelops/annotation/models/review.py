"""Review: the tasks that wait for a reviewer, and their decisions."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from labelops.annotation.models.annotations import Annotation


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
