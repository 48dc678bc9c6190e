"""Bulk labelling over HTTP: create a batch for a cluster or a selection,
list the project's batches, read one with its sample.

Reviewers and leads only (annotators 403, outsiders 404): a batch approves
labels on many items at once, which is a reviewer's kind of decision, and
its labels and sample must stay unknown to the annotators who verify it.
Views parse, authorise and format; the work is in
`labelops.quality.services.bulk`. Bad input is a 400 naming the problem,
cancelling a batch that is already resolved a 409; nothing is written then.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labelops.annotation.models import BulkBatch, BulkBatchItem
from labelops.api.serializers import StrictInput
from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import Role
from labelops.quality.services import bulk
from labelops.quality.services.bulk import MAX_BATCH_ITEMS


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


def batches(project):
    """The project's batches, ready for `BulkBatchSerializer`."""
    return BulkBatch.objects.for_project(project).select_related("created_by", "taxonomy_version").with_progress()


FORBIDDEN = OpenApiResponse(description="You are an annotator: bulk labelling needs the reviewer role.")
NOT_FOUND = OpenApiResponse(description="Not a member of the project, or no such batch in it.")


@extend_schema(tags=["bulk labelling"])
class BulkBatchList(ProjectScopedMixin, generics.ListCreateAPIView):
    needed_roles = {"get": Role.REVIEWER, "post": Role.REVIEWER}
    serializer_class = BulkBatchSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return BulkBatch.objects.none()
        return batches(self.project)

    @extend_schema(summary="List the project's bulk batches, with their progress",
                   responses={200: BulkBatchSerializer(many=True), 403: FORBIDDEN, 404: NOT_FOUND})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Bulk-label a cluster or a selection of items, pending sampled verification",
        description=(
            "Applies `labels` to the eligible items: pool items still unlabelled, not leased and in no other "
            "open batch. A sample (the rules' `bulk_verification_rate`, at least one item) stays in the queue "
            "and is labelled by annotators without seeing the batch labels; the other items wait. When the "
            "sample's error rate is at most `bulk_max_error_rate` they are approved with the batch labels, "
            "otherwise they go back to the queue. With `cluster`, ineligible items are left out and counted "
            "in `excluded`; with `items`, an ineligible item is a 400 naming it and why."
        ),
        request=BulkBatchCreateSerializer,
        responses={201: BulkBatchSerializer, 400: OpenApiResponse(
            description="A label not in the active taxonomy, a cluster or item not of this project, a cluster "
                        "of an older round, an ineligible selected item, nothing eligible, too many items."),
            403: FORBIDDEN, 404: NOT_FOUND},
    )
    def post(self, request, project_pk):
        incoming = BulkBatchCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        batch = bulk.create_batch(project=self.project, actor=request.user, labels=data["labels"],
                                  cluster_id=data.get("cluster"), item_ids=data.get("items"))
        return Response(BulkBatchSerializer(batches(self.project).get(pk=batch.pk)).data,
                        status=status.HTTP_201_CREATED)


@extend_schema(tags=["bulk labelling"])
class BulkBatchDetail(ProjectScopedMixin, generics.RetrieveAPIView):
    needed_roles = {"get": Role.REVIEWER}
    serializer_class = BulkBatchSerializer
    queryset = BulkBatch.objects.none()  # for the schema; `get_object` scopes to the project

    @extend_schema(summary="A bulk batch: its progress, its sample item by item, its held items by outcome",
                   responses={200: BulkBatchSerializer, 403: FORBIDDEN, 404: NOT_FOUND})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self):
        return get_object_or_404(batches(self.project), pk=self.kwargs["pk"])


@extend_schema(tags=["bulk labelling"])
class CancelBulkBatch(ProjectScopedMixin, APIView):
    needed_roles = {"post": Role.REVIEWER}

    @extend_schema(
        summary="Withdraw a verifying bulk batch: its held items go back to the queue",
        description="Sampled items carry on as ordinary items. For a batch whose labels were a mistake, or "
                    "whose sample cannot complete (a sampled item dropped to review).",
        request=None,
        responses={200: BulkBatchSerializer, 403: FORBIDDEN, 404: NOT_FOUND,
                   409: OpenApiResponse(description="The batch is already accepted, rejected or cancelled.")},
    )
    def post(self, request, project_pk, pk):
        batch = get_object_or_404(BulkBatch.objects.for_project(self.project), pk=pk)
        bulk.cancel_batch(batch=batch, actor=request.user)
        return Response(BulkBatchSerializer(batches(self.project).get(pk=batch.pk)).data)
