"""The annotator's queue over HTTP: next, then submit, skip, heartbeat or release.

Views parse, authorise and format; the work is in
`labelops.annotation.services`. Annotators, reviewers and leads of the
project may work the queue; outsiders get 404. A lease is only ever visible
to its annotator (anyone else's lease, or one of another project, is 404).
Bad input is a 400 naming the problem; an action on a lease that has ended
(submitted, skipped, released, expired) is a 409. Nothing is written on error.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from labelops.annotation import services
from labelops.annotation.models import Lease
from labelops.annotation.serializers import (
    AnnotationSerializer,
    LeaseSerializer,
    QueueItemSerializer,
    SkipSerializer,
    SubmitSerializer,
)
from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import Role


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "conflict"
    default_code = "conflict"


NOT_FOUND = OpenApiResponse(description="Not a member of the project, or no such lease of yours in it.")
CONFLICT = OpenApiResponse(description="The lease has ended: submitted, skipped, released or expired.")


class QueueView(ProjectScopedMixin, APIView):
    needed_roles = {"post": Role.ANNOTATOR}

    def handle_exception(self, exc):
        if isinstance(exc, services.LeaseConflict):
            exc = Conflict(detail=exc.message, code=exc.code)
        elif isinstance(exc, Lease.DoesNotExist):  # the service re-reads the lease under its lock
            exc = Conflict(detail="this lease no longer exists", code="lease_gone")
        return super().handle_exception(exc)

    def get_lease(self) -> Lease:
        """The requesting user's lease `pk` on an item of this project, else 404."""
        return get_object_or_404(
            Lease.objects.filter(annotator=self.request.user, item__project=self.project), pk=self.kwargs["pk"]
        )


@extend_schema(tags=["queue"])
class NextItem(QueueView):
    @extend_schema(
        summary="Lease the next item to label",
        description=(
            "Returns the item with a lease (renew it with heartbeat) and the model's proposal, if any. "
            "Calling it again while the lease is live returns the same lease (`resumed`). "
            "204 when nothing is left for you."
        ),
        request=None,
        responses={200: QueueItemSerializer, 204: OpenApiResponse(description="Nothing left for you to label."),
                   400: OpenApiResponse(description="The project has no taxonomy yet."), 404: NOT_FOUND},
    )
    def post(self, request, project_pk):
        claim = services.next_item(project=self.project, annotator=request.user)
        if claim is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(QueueItemSerializer(claim, context={"request": request}).data)


@extend_schema(tags=["queue"])
class SubmitLease(QueueView):
    @extend_schema(
        summary="Submit your labels for a leased item",
        request=SubmitSerializer,
        responses={201: AnnotationSerializer, 400: OpenApiResponse(description="A label not in the active "
                   "taxonomy, the wrong number of labels, or a bad field."), 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request, project_pk, pk):
        lease = self.get_lease()
        incoming = SubmitSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        annotation = services.submit(lease=lease, annotator=request.user, **incoming.validated_data)
        return Response(AnnotationSerializer(annotation).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["queue"])
class SkipLease(QueueView):
    @extend_schema(
        summary="Skip a leased item (the project's skip policy decides where it goes)",
        request=SkipSerializer,
        responses={200: LeaseSerializer, 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request, project_pk, pk):
        lease = self.get_lease()
        incoming = SkipSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        lease = services.skip(lease=lease, annotator=request.user, reason=incoming.validated_data["reason"])
        return Response(LeaseSerializer(lease).data)


@extend_schema(tags=["queue"])
class HeartbeatLease(QueueView):
    @extend_schema(
        summary="Extend a live lease by the project's lease time",
        request=None,
        responses={200: LeaseSerializer, 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request, project_pk, pk):
        lease = services.heartbeat(lease=self.get_lease(), annotator=request.user)
        return Response(LeaseSerializer(lease).data)


@extend_schema(tags=["queue"])
class ReleaseLease(QueueView):
    @extend_schema(
        summary="Give a leased item back unlabelled",
        description="The item returns to the queue, for you too.",
        request=None,
        responses={200: LeaseSerializer, 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request, project_pk, pk):
        lease = services.release(lease=self.get_lease(), annotator=request.user)
        return Response(LeaseSerializer(lease).data)
