"""Consensus: an item's final labels, and the `FinalLabel` rows that index
them. Written only through `ConsensusQuerySet` (`Consensus.objects.put`,
`put_new`, `clear`), which keeps the two together."""

from __future__ import annotations

from django.db import models


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

    def put(self, item_id: int, *, labels: list[str], current: Consensus | None = None,
            **fields) -> tuple[Consensus, dict | None]:
        """Make `labels` the item's final labels, creating or updating its
        consensus with `fields` (a new one needs `method`, `status` and
        `taxonomy_version`). `current` is the item's consensus if the caller
        has read it under the same lock (it is read here otherwise). Returns
        the row and what it was before (`to_dict()`, None if new). A plain
        read then insert or update, not `update_or_create`: under the item's
        row lock it is race-free, and it saves the savepoints and the second
        read."""
        consensus = current if current is not None else self.filter(item_id=item_id).first()
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
