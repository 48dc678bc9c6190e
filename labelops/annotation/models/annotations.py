"""Annotations: one annotator's answer for one item."""

from __future__ import annotations

from django.conf import settings
from django.db import models


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
