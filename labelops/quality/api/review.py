"""The review queue over HTTP: the next item to review, and a decision on it.

Reviewers and leads only (annotators 403, outsiders 404). Views parse,
authorise and format; the work is in `labelops.quality.services.review`.
Bad input is a 400 naming the problem; a decision on an item the reviewer
annotated themselves a 403 (`own_annotation`); on an item that is not in
review (`not_in_review`) or that another reviewer holds
(`review_leased`) a 409; nothing is written on error.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labelops.annotation.api.annotations import AnnotationSerializer
from labelops.annotation.api.queue import ShownProposalSerializer
from labelops.annotation.models import Annotation, Consensus, Review, ReviewDecision, ReviewReason, ReviewTask
from labelops.api.serializers import StrictInput
from labelops.items.api.items import ConsensusSerializer, ItemSerializer
from labelops.items.models import Item
from labelops.learning.models import ModelVersion, Proposal
from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import Role
from labelops.quality.services import review as review_services


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


FORBIDDEN = OpenApiResponse(description="You are an annotator: reviewing needs the reviewer role.")
NOT_FOUND = OpenApiResponse(description="Not a member of the project, or no such item in it.")


@extend_schema(tags=["review"])
class ReviewNext(ProjectScopedMixin, APIView):
    needed_roles = {"get": Role.REVIEWER}

    @extend_schema(
        summary="The next item to review",
        description="Leases a review task to you for the project's `lease_minutes`: the one you already hold, "
                    "else the oldest open task nobody else holds, on an item you did not annotate. Returns the "
                    "item, why it is here, its consensus and its annotations; 204 when nothing is left for you.",
        responses={200: ReviewTaskSerializer, 204: OpenApiResponse(description="Nothing to review."),
                   403: FORBIDDEN, 404: NOT_FOUND},
    )
    def get(self, request, project_pk):
        task = review_services.next_review(self.project, request.user)
        if task is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(ReviewTaskSerializer(task, context={"request": request}).data)


@extend_schema(tags=["review"])
class ReviewDecide(ProjectScopedMixin, APIView):
    needed_roles = {"post": Role.REVIEWER}

    @extend_schema(
        summary="Decide an item in review: accept, fix (with labels) or reject (with a comment)",
        request=DecideSerializer,
        responses={201: ReviewSerializer, 400: OpenApiResponse(description="A label not in the active taxonomy, "
                   "fix without labels, reject without a comment, accept with nothing to accept."),
                   403: OpenApiResponse(description="You are an annotator, or you annotated this item: "
                                                    "someone else must review it."),
                   404: NOT_FOUND,
                   409: OpenApiResponse(description="The item is not in review, or another reviewer "
                                                    "holds it.")},
    )
    def post(self, request, project_pk, item_pk):
        item = get_object_or_404(Item.objects.for_project(self.project), pk=item_pk)
        incoming = DecideSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        review = review_services.decide(project=self.project, item=item, reviewer=request.user,
                                        **incoming.validated_data)
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)
