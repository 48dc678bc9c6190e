"""How annotations leave the API, and the queue's request and response shapes.
Annotations are written only by the queue services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labelops.annotation.models import (
    Annotation,
    BulkBatch,
    BulkBatchItem,
    Consensus,
    Lease,
    Review,
    ReviewDecision,
    ReviewReason,
    ReviewTask,
)
from labelops.annotation.services.bulk import MAX_BATCH_ITEMS
from labelops.items.api.items import ConsensusSerializer, ItemSerializer
from labelops.learning.models import ModelVersion, Proposal

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


class NeighbourSerializer(serializers.Serializer):
    item = serializers.IntegerField()
    text = serializers.CharField(help_text="Empty for image items; fetch their file by id.")
    labels = serializers.ListField(child=serializers.CharField())
    similarity = serializers.FloatField(help_text="Cosine similarity of the embeddings, -1 to 1.")


class QueueItemSerializer(serializers.Serializer):
    """What `next` returns: the lease, the item as an annotator sees it
    (never its split, state or gold answer), the proposal shown with it and
    the nearest items with approved labels."""

    lease = serializers.IntegerField(source="lease.pk", help_text="The lease id, for submit, skip, heartbeat, release.")
    expires_at = serializers.DateTimeField(source="lease.expires_at")
    item = ItemSerializer()
    proposal = ShownProposalSerializer(allow_null=True, help_text="Null when there is none, and for holdout items.")
    resumed = serializers.BooleanField(help_text="True if this is a lease you already held, returned again.")
    neighbours = serializers.SerializerMethodField(
        help_text="Up to three nearest items with approved labels, from the round that made the proposal; "
                  "empty without a proposal (and so always for holdout items).")

    @extend_schema_field(NeighbourSerializer(many=True))
    def get_neighbours(self, claim) -> list[dict]:
        neighbours = claim.proposal.labelled_neighbours() if claim.proposal is not None else []
        return NeighbourSerializer(neighbours, many=True).data


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
    proposal = serializers.SerializerMethodField(
        help_text="The active model's proposal for the item (or an imported one); null when there is none.")

    class Meta:
        model = ReviewTask
        fields = ["id", "item", "reasons", "details", "consensus", "annotations", "gold_labels", "proposal",
                  "lease_expires_at", "created_at"]
        read_only_fields = fields

    @extend_schema_field(ShownProposalSerializer(allow_null=True))
    def get_proposal(self, task) -> dict | None:
        active = ModelVersion.objects.active_round_id(task.item.project_id)
        proposal = Proposal.objects.shown_with(task.item, active)
        return ShownProposalSerializer(proposal).data if proposal else None

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


# --- Bulk labelling ----------------------------------------------------------------


class BulkBatchCreateSerializer(StrictInput):
    """A cluster or a selection of items, and the labels to apply to them."""

    cluster = serializers.IntegerField(required=False, help_text="A cluster id of the active model's round; "
                                       "its ineligible items are left out and counted in `excluded`.")
    items = serializers.ListField(child=serializers.IntegerField(), required=False, allow_empty=False,
                                  max_length=MAX_BATCH_ITEMS, help_text="Item ids of this project; any ineligible one is a 400 naming it.")
    labels = serializers.ListField(child=serializers.CharField(), allow_empty=False,
                                   help_text="Keys of the active taxonomy; exactly one in a single-label project.")

    def validate(self, attrs):
        if ("cluster" in attrs) == ("items" in attrs):
            raise serializers.ValidationError("give exactly one of `cluster` (an id) or `items` (a list of ids)")
        return attrs


class BulkHeldSerializer(serializers.Serializer):
    pending = serializers.IntegerField(help_text="Waiting for the sample's verdict.")
    approved = serializers.IntegerField(help_text="Approved with the batch labels.")
    requeued = serializers.IntegerField(help_text="Back in the queue (batch rejected or cancelled).")


class BulkBatchItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = BulkBatchItem
        fields = ["item", "outcome", "verified_labels"]
        read_only_fields = fields


class BulkBatchSerializer(serializers.ModelSerializer):
    """A batch and its progress: `verified_count` of `sample_size` sampled
    items have their consensus, `error_count` of them differ from `labels`.
    Expects a batch from `BulkBatch.objects.with_progress()`."""

    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    taxonomy_version = serializers.IntegerField(source="taxonomy_version.number", read_only=True)
    sample = BulkBatchItemSerializer(source="sample_entries", many=True, read_only=True,
                                     help_text="The sampled items, with their outcome and their consensus.")
    held = serializers.SerializerMethodField(help_text="How many held (unsampled) items are pending, approved "
                                             "and requeued.")

    class Meta:
        model = BulkBatch
        fields = [
            "id", "labels", "taxonomy_version", "cluster", "created_by", "state", "sample_rate", "max_error_rate",
            "item_count", "sample_size", "verified_count", "error_count", "error_rate", "excluded", "created_at",
            "resolved_at", "sample", "held",
        ]
        read_only_fields = fields

    def get_held(self, batch) -> BulkHeldSerializer:
        return {"pending": batch.held_pending, "approved": batch.held_approved, "requeued": batch.held_requeued}


# --- The queue's look-ahead and undo -------------------------------------------------


class NextQuerySerializer(serializers.Serializer):
    """`next`'s query string. Not strict: other keys (a cache buster) are ignored."""

    prefetch = serializers.BooleanField(default=False, help_text="Lease an additional item while you hold one.")


class UndoneItemSerializer(QueueItemSerializer):
    """What `undo` returns: the item back on its reopened lease, as `next`
    returns it, and the labels that were taken back."""

    labels = serializers.ListField(child=serializers.CharField(),
                                   help_text="The labels of the annotation taken back, to start from.")
