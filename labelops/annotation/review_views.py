"""The review queue over HTTP: the next item to review, and a decision on it.

Reviewers and leads only (annotators 403, outsiders 404). Views parse,
authorise and format; the work is in `labelops.annotation.services.review`.
Bad input is a 400 naming the problem; a decision on an item the reviewer
annotated themselves a 403 (`own_annotation`); on an item that is not in
review (`not_in_review`) or that another reviewer holds
(`review_leased`) a 409; nothing is written on error.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from labelops.annotation.serializers import DecideSerializer, ReviewSerializer, ReviewTaskSerializer
from labelops.annotation.services import review as review_services
from labelops.items.models import Item
from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import Role

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
