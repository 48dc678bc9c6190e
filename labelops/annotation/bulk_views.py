"""Bulk labelling over HTTP: create a batch for a cluster or a selection,
list the project's batches, read one with its sample.

Reviewers and leads only (annotators 403, outsiders 404): a batch approves
labels on many items at once, which is a reviewer's kind of decision, and
its labels and sample must stay unknown to the annotators who verify it.
Views parse, authorise and format; the work is in
`labelops.annotation.services.bulk`. Bad input is a 400 naming the problem,
cancelling a batch that is already resolved a 409; nothing is written then.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labelops.annotation.models import BulkBatch
from labelops.annotation.serializers import BulkBatchCreateSerializer, BulkBatchSerializer
from labelops.annotation.services import bulk
from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import Role


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
