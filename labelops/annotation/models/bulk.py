"""Bulk labelling: batches of labels applied at once, and their items."""

from __future__ import annotations

from django.conf import settings
from django.db import models


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
