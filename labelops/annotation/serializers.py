"""How annotations leave the API, and the queue's request and response shapes.
Annotations are written only by the queue services."""

from __future__ import annotations

from rest_framework import serializers

from labelops.annotation.models import Annotation, Consensus, Lease, Review, ReviewDecision, ReviewReason, ReviewTask
from labelops.items.api.items import ConsensusSerializer, ItemSerializer

# A day: longer is a clock or client error, not time spent on one item.
MAX_TIME_SPENT_MS = 24 * 3600 * 1000


class RejectionSerializer(serializers.ModelSerializer):
    """Why a reviewer discarded an annotation."""

    class Meta:
        model = Review
        fields = ["comment", "created_at"]
        read_only_fields = fields


class AnnotationSerializer(serializers.ModelSerializer):
    annotator_username = serializers.CharField(source="annotator.username", read_only=True)
    taxonomy_version = serializers.IntegerField(source="taxonomy_version.number", read_only=True)
    rejection = RejectionSerializer(source="rejected_by", read_only=True, allow_null=True,
                                    help_text="Set when a reviewer rejected this annotation: their comment.")

    class Meta:
        model = Annotation
        fields = [
            "id", "item", "annotator", "annotator_username", "labels", "source", "proposal",
            "taxonomy_version", "time_spent_ms", "discarded", "rejection", "created_at",
        ]
        read_only_fields = fields


# --- The queue -------------------------------------------------------------------


class StrictInput(serializers.Serializer):
    """Request bodies refuse unknown keys: a typo is a 400 naming it."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields) - {"csrfmiddlewaretoken"})
            if unknown:
                raise serializers.ValidationError({key: ["unknown field"] for key in unknown})
        return super().to_internal_value(data)


class ShownProposalSerializer(serializers.Serializer):
    labels = serializers.ListField(child=serializers.CharField())
    confidence = serializers.FloatField(allow_null=True)


class QueueItemSerializer(serializers.Serializer):
    """What `next` returns: the lease, the item as an annotator sees it
    (never its split, state or gold answer) and the proposal shown with it."""

    lease = serializers.IntegerField(source="lease.pk", help_text="The lease id, for submit, skip, heartbeat, release.")
    expires_at = serializers.DateTimeField(source="lease.expires_at")
    item = ItemSerializer()
    proposal = ShownProposalSerializer(allow_null=True, help_text="Null when there is none, and for holdout items.")
    resumed = serializers.BooleanField(help_text="True if this is a lease you already held, returned again.")


class LeaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Lease
        fields = ["id", "item", "expires_at", "heartbeat_at", "closed_at", "outcome"]
        read_only_fields = fields


class SubmitSerializer(StrictInput):
    labels = serializers.ListField(child=serializers.CharField(), allow_empty=False,
                                   help_text="Keys of the active taxonomy; exactly one in a single-label project.")
    time_spent_ms = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=MAX_TIME_SPENT_MS)
    from_proposal = serializers.BooleanField(
        default=False,
        help_text="The annotator started from the proposal shown (accepted it, or edited it).",
    )


class SkipSerializer(StrictInput):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


# --- The review queue ------------------------------------------------------------


class ReviewTaskSerializer(serializers.ModelSerializer):
    """An item waiting for review, with everything needed to decide it."""

    item = ItemSerializer()
    reasons = serializers.ListField(child=serializers.ChoiceField(choices=ReviewReason.choices))
    consensus = serializers.SerializerMethodField()
    annotations = serializers.SerializerMethodField()
    gold_labels = serializers.SerializerMethodField(help_text="The known answer, for gold failures; else null.")

    class Meta:
        model = ReviewTask
        fields = ["id", "item", "reasons", "details", "consensus", "annotations", "gold_labels", "created_at"]
        read_only_fields = fields

    def get_consensus(self, task) -> ConsensusSerializer(allow_null=True):
        consensus = Consensus.objects.filter(item=task.item).select_related("taxonomy_version").first()
        return ConsensusSerializer(consensus).data if consensus else None

    def get_annotations(self, task) -> AnnotationSerializer(many=True):
        """The annotation under review (gold failures), else the item's live annotations."""
        annotations = Annotation.objects.active().filter(item=task.item).select_related(
            "annotator", "taxonomy_version", "rejected_by")
        if task.annotation_id is not None:
            annotations = annotations.filter(pk=task.annotation_id)
        return AnnotationSerializer(annotations, many=True).data

    def get_gold_labels(self, task) -> serializers.ListField(child=serializers.CharField(), allow_null=True):
        return task.item.gold_labels if task.annotation_id is not None else None


class DecideSerializer(StrictInput):
    decision = serializers.ChoiceField(choices=ReviewDecision.choices)
    labels = serializers.ListField(child=serializers.CharField(), required=False, allow_empty=False,
                                   help_text="With fix: the final labels (keys of the active taxonomy).")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="",
                                    help_text="Required with reject: the annotators see it.")


class ReviewSerializer(serializers.ModelSerializer):
    class Meta:
        model = Review
        fields = ["id", "item", "reviewer", "decision", "labels", "comment", "reason", "created_at"]
        read_only_fields = fields


# --- Agreement metrics -------------------------------------------------------------


class AgreementSerializer(serializers.Serializer):
    """The stored agreement snapshot (see `labelops.annotation.services.metrics`)."""

    computed_at = serializers.DateTimeField(allow_null=True, help_text="When the metrics were computed; "
                                            "null until the first computation finishes.")
    pending_annotations = serializers.IntegerField(help_text="Annotations newer than the snapshot.")
    refresh_queued = serializers.BooleanField(help_text="True if this request queued a recomputation.")
    metrics = serializers.DictField(help_text="units, items, annotations, fleiss_kappa, krippendorff_alpha, "
                                    "krippendorff_alpha_taxonomy, bootstrap (95% intervals), per_label, pairs "
                                    "(Cohen's kappa), gold_accuracy.")
