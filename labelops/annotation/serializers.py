"""How annotations leave the API, and the queue's request and response shapes.
Annotations are written only by the queue services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labelops.annotation.models import Annotation, Lease, Review
from labelops.items.api.items import ItemSerializer

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


# --- The queue's look-ahead and undo -------------------------------------------------


class NextQuerySerializer(serializers.Serializer):
    """`next`'s query string. Not strict: other keys (a cache buster) are ignored."""

    prefetch = serializers.BooleanField(default=False, help_text="Lease an additional item while you hold one.")


class UndoneItemSerializer(QueueItemSerializer):
    """What `undo` returns: the item back on its reopened lease, as `next`
    returns it, and the labels that were taken back."""

    labels = serializers.ListField(child=serializers.CharField(),
                                   help_text="The labels of the annotation taken back, to start from.")
