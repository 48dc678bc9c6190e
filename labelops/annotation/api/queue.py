"""The annotator's queue over HTTP: next (with a look-ahead, `prefetch`), then
submit, skip, heartbeat or release; and undo of a submitted answer.

Views parse, authorise and format; the work is in
`labelops.annotation.services`. Annotators, reviewers and leads of the
project may work the queue; outsiders get 404. A lease is only ever visible
to its annotator (anyone else's lease, or one of another project, is 404).
Bad input is a 400 naming the problem; an action on a lease that has ended
(submitted, skipped, released, expired) is a 409. Nothing is written on error.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from labelops.annotation import services
from labelops.annotation.api.annotations import AnnotationSerializer
from labelops.annotation.models import Annotation, Lease
from labelops.annotation.services import queue_sql
from labelops.annotation.services.undo import undo
from labelops.api.serializers import StrictInput
from labelops.items.api.items import ItemSerializer
from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import Role

# A day: longer is a clock or client error, not time spent on one item.
MAX_TIME_SPENT_MS = 24 * 3600 * 1000


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


class NextQuerySerializer(serializers.Serializer):
    """`next`'s query string. Not strict: other keys (a cache buster) are ignored."""

    prefetch = serializers.BooleanField(default=False, help_text="Lease an additional item while you hold one.")


class UndoneItemSerializer(QueueItemSerializer):
    """What `undo` returns: the item back on its reopened lease, as `next`
    returns it, and the labels that were taken back."""

    labels = serializers.ListField(child=serializers.CharField(),
                                   help_text="The labels of the annotation taken back, to start from.")


NOT_FOUND = OpenApiResponse(description="Not a member of the project, or no such lease of yours in it.")
CONFLICT = OpenApiResponse(description="The lease has ended: submitted, skipped, released or expired.")


class QueueView(ProjectScopedMixin, APIView):
    needed_roles = {"post": Role.ANNOTATOR}

    def read_project(self, user, project_id):
        # One statement: the project's `QueueContext` (rules, role, active
        # taxonomy, what the claim needs) comes with its row; every queue
        # action reads it, and the services take it as `context`.
        self.queue = queue_sql.read_queue_context(user.pk, project_id)
        return (self.queue.project, self.queue.role) if self.queue is not None else (None, None)

    def handle_exception(self, exc):
        if isinstance(exc, Lease.DoesNotExist):
            # The services look the lease up under its lock, as the user's
            # lease on an item of this project: anything else is not theirs.
            exc = NotFound("No Lease matches the given query.")
        return super().handle_exception(exc)


@extend_schema(tags=["queue"])
class NextItem(QueueView):
    @extend_schema(
        summary="Lease the next item to label",
        description=(
            "Returns the item with a lease (renew it with heartbeat) and the model's proposal, if any. "
            "Calling it again while the lease is live returns the same lease (`resumed`). "
            "With `prefetch=1` a second item is leased while you hold one (a look-ahead, so the next item "
            "can be shown the moment the current one is submitted); you hold at most two live leases, and "
            "with two `prefetch=1` returns the newer one again. 204 when nothing is left for you (with "
            "`prefetch=1`: nothing beyond the lease you hold)."
        ),
        parameters=[OpenApiParameter(
            "prefetch", OpenApiTypes.BOOL, OpenApiParameter.QUERY, required=False,
            description="Lease an additional item while you hold one (at most two live leases). "
                        "Without it, a live lease you hold is returned (the oldest).",
        )],
        request=None,
        responses={200: QueueItemSerializer, 204: OpenApiResponse(description="Nothing left for you to label."),
                   400: OpenApiResponse(description="The project has no taxonomy yet."), 404: NOT_FOUND},
    )
    def post(self, request, project_pk):
        query = NextQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        claim = services.next_item(context=self.queue, annotator=request.user,
                                   prefetch=query.validated_data["prefetch"])
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
        incoming = SubmitSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        annotation = services.submit(lease_id=pk, annotator=request.user, context=self.queue,
                                     **incoming.validated_data)
        return Response(AnnotationSerializer(annotation).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["queue"])
class SkipLease(QueueView):
    @extend_schema(
        summary="Skip a leased item (the project's skip policy decides where it goes)",
        request=SkipSerializer,
        responses={200: LeaseSerializer, 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request, project_pk, pk):
        incoming = SkipSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        lease = services.skip(lease_id=pk, annotator=request.user, context=self.queue,
                              reason=incoming.validated_data["reason"])
        return Response(LeaseSerializer(lease).data)


@extend_schema(tags=["queue"])
class HeartbeatLease(QueueView):
    @extend_schema(
        summary="Extend a live lease by the project's lease time",
        request=None,
        responses={200: LeaseSerializer, 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request, project_pk, pk):
        lease = services.heartbeat(lease_id=pk, annotator=request.user, context=self.queue)
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
        lease = services.release(lease_id=pk, annotator=request.user, context=self.queue)
        return Response(LeaseSerializer(lease).data)


@extend_schema(tags=["queue"])
class UndoAnnotation(QueueView):
    @extend_schema(
        summary="Take back your last answer and get its item again",
        description=(
            "Allowed on your own annotation while the lease it was submitted on would still be live, before "
            "the item's consensus is computed and while it is not in review. The annotation is discarded, "
            "the same lease is reopened with a fresh expiry, and the item comes back as `next` returns it, "
            "with the labels you had given. You hold at most two live leases: release the look-ahead one "
            "first if you hold two."
        ),
        request=None,
        responses={200: UndoneItemSerializer, 404: OpenApiResponse(description="Not a member of the project, "
                   "or no such annotation of yours in it."),
                   409: OpenApiResponse(description="Too late or not allowed; `code` says why: already_undone, "
                   "not_from_queue, undo_expired, consensus_computed, in_review, too_many_leases.")},
    )
    def post(self, request, project_pk, pk):
        annotation = get_object_or_404(
            Annotation.objects.filter(annotator=request.user, item__project=self.project), pk=pk
        )
        undone = undo(annotation=annotation, annotator=request.user)
        return Response(UndoneItemSerializer(undone, context={"request": request}).data)
