"""The active model's clusters over HTTP, for the cluster explorer: the
clusters of the round whose model is active, and each cluster's members
that are still waiting for labels, most confident proposal first.

Reviewers and leads only (annotators 403, outsiders 404), like bulk
labelling, which is what the explorer feeds: the proposals and cluster
statistics must not anchor annotators. Read-only; a cluster's membership is
its members' `Proposal.cluster` in that round, as `publish` wrote it, so a
project without an active model has no clusters, and a cluster of an older
round is 404 here (bulk labelling refuses it too).
"""

from __future__ import annotations

from django.db.models import Count, Exists, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.reverse import reverse

from labelops.annotation.models import BulkBatchItem
from labelops.api.pagination import KeysetPagination
from labelops.items.models import ItemState, Split
from labelops.learning.models import Cluster, ModelVersion, Proposal
from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import Modality, Role


class TopLabelSerializer(serializers.Serializer):
    label = serializers.CharField()
    count = serializers.IntegerField(help_text="Approved members of the cluster with this label, at the round.")


class ClusterSerializer(serializers.ModelSerializer):
    """A cluster of the active model's round. Expects a cluster from
    `clusters_of`, which annotates `unlabelled`."""

    round = serializers.IntegerField(source="round.number", read_only=True,
                                     help_text="The number of the round that wrote the cluster.")
    top_labels = TopLabelSerializer(many=True, read_only=True,
                                    help_text="Up to three most frequent approved labels among its members.")
    unlabelled = serializers.IntegerField(read_only=True, help_text=(
        "Members that are pool items still unlabelled now and in no bulk batch still verifying "
        "(the ones a new bulk batch can take, unless leased at that moment)."))

    class Meta:
        model = Cluster
        fields = ["id", "round", "index", "size", "labelled_coverage", "purity", "top_labels", "unlabelled"]
        read_only_fields = fields
        extra_kwargs = {
            "size": {"help_text": "Items of the round's snapshot assigned to the cluster."},
            "labelled_coverage": {"help_text": "Share of the members that had approved labels at the round."},
            "purity": {"help_text": "Share of the labelled members carrying the most frequent label; "
                                    "null when none was labelled."},
        }


class MemberProposalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Proposal
        fields = ["labels", "confidence"]
        read_only_fields = fields


class ClusterMemberSerializer(serializers.Serializer):
    """An unlabelled member of a cluster: the item's content and the active
    model's proposal for it. Built from a `Proposal` with its item."""

    id = serializers.IntegerField(source="item_id", read_only=True, help_text="The item's id.")
    modality = serializers.SerializerMethodField()
    text = serializers.CharField(source="item.text", read_only=True, help_text="Untrusted: render as text only.")
    file_url = serializers.SerializerMethodField()
    external_id = serializers.CharField(source="item.external_id", read_only=True)
    proposal = MemberProposalSerializer(source="*", read_only=True)

    @extend_schema_field(serializers.ChoiceField(choices=Modality.choices))
    def get_modality(self, proposal) -> str:
        return Modality.IMAGE if proposal.item.is_image else Modality.TEXT

    @extend_schema_field(OpenApiTypes.URI)
    def get_file_url(self, proposal) -> str | None:
        if not proposal.item.is_image:
            return None
        return reverse("item-file", kwargs={"project_pk": proposal.item.project_id, "pk": proposal.item_id},
                       request=self.context.get("request"))


# Purity and confidence are null for a cluster without labelled members and
# for a cold-start proposal; the keyset needs a value to compare, so they
# sort as this, below every real share or probability.
MISSING = -1.0

# `?ordering=` of the cluster list: the column and its tie-breaker (the keyset
# pages on the first column, and ties need a fixed order to page through).
CLUSTER_ORDERINGS = {
    "index": ("index",),
    "size": ("size", "index"),
    "coverage": ("labelled_coverage", "index"),
    "purity": ("purity_rank", "index"),
    "unlabelled": ("unlabelled", "index"),
}


def active_round_id(project) -> int | None:
    """The round whose model is active in `project`, or None before the first finished round."""
    return ModelVersion.objects.filter(project=project, is_active=True).values_list("round_id", flat=True).first()


def unlabelled_members(round_id: int):
    """The round's proposals for pool items still unlabelled now and in no
    bulk batch still verifying: the members a person (or a new bulk batch)
    may still label. A batch's sampled items stay `unlabelled` while
    annotators verify them, but they are spoken for."""
    in_open_batch = BulkBatchItem.objects.filter(item=OuterRef("item"), open=True)
    return Proposal.objects.filter(round_id=round_id, item__split=Split.POOL,
                                   item__state=ItemState.UNLABELLED).exclude(Exists(in_open_batch))


def clusters_of(project):
    """The active round's clusters with `unlabelled` (members still waiting
    for labels) and `purity_rank` (purity, null as `MISSING`)."""
    round_id = active_round_id(project)
    if round_id is None:
        return Cluster.objects.none()
    left = (unlabelled_members(round_id).filter(cluster=OuterRef("pk")).order_by()
            .values("cluster").annotate(n=Count("pk")).values("n"))
    return Cluster.objects.filter(round_id=round_id).select_related("round").annotate(
        unlabelled=Coalesce(Subquery(left, output_field=IntegerField()), 0),
        purity_rank=Coalesce("purity", Value(MISSING)),
    )


class ClusterPagination(KeysetPagination):
    """Keyset pages in the order `?ordering=` asks for (a name of
    `CLUSTER_ORDERINGS`, `-` for descending; by index by default)."""

    def get_ordering(self, request, queryset, view):
        asked = request.query_params.get("ordering", "index")
        name = asked.removeprefix("-")
        if name not in CLUSTER_ORDERINGS:
            raise ValidationError({"ordering": f"cannot order clusters by {asked!r}; choose one of "
                                               f"{', '.join(CLUSTER_ORDERINGS)}, with '-' for descending"})
        first, *rest = CLUSTER_ORDERINGS[name]
        return ("-" + first if asked.startswith("-") else first, *rest)


class MostConfidentFirst(KeysetPagination):
    ordering = ("-confidence_rank", "id")


FORBIDDEN = OpenApiResponse(description="You are an annotator: the cluster explorer needs the reviewer role.")


@extend_schema(tags=["clusters"])
class ClusterList(ProjectScopedMixin, generics.ListAPIView):
    needed_roles = {"get": Role.REVIEWER}
    serializer_class = ClusterSerializer
    pagination_class = ClusterPagination
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Cluster.objects.none()
        return clusters_of(self.project)

    @extend_schema(
        summary="The active model's clusters, with coverage, purity and the members still unlabelled",
        description="The clusters of the round whose model is active; empty before the first finished round. "
                    "Keyset-paginated (no total count).",
        parameters=[OpenApiParameter(
            "ordering", OpenApiTypes.STR, enum=[*CLUSTER_ORDERINGS, *(f"-{name}" for name in CLUSTER_ORDERINGS)],
            description="Sort column, `-` for descending; ties by index. Default `index`.")],
        responses={200: ClusterSerializer(many=True), 400: OpenApiResponse(description="An unknown `ordering`."),
                   403: FORBIDDEN, 404: OpenApiResponse(description="Not a member of the project.")},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=["clusters"])
class ClusterMembers(ProjectScopedMixin, generics.ListAPIView):
    needed_roles = {"get": Role.REVIEWER}
    serializer_class = ClusterMemberSerializer
    pagination_class = MostConfidentFirst
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Proposal.objects.none()
        round_id = active_round_id(self.project)
        cluster = Cluster.objects.filter(pk=self.kwargs["cluster_pk"], round__project=self.project).first()
        if cluster is None:
            raise Http404(f"no cluster {self.kwargs['cluster_pk']} in this project")
        if cluster.round_id != round_id:
            raise Http404(f"cluster {cluster.pk} is not a cluster of the active model's round: reload the clusters")
        return (unlabelled_members(round_id).filter(cluster=cluster).select_related("item")
                .annotate(confidence_rank=Coalesce("confidence", Value(MISSING))))

    @extend_schema(
        summary="A cluster's members still unlabelled, most confident proposal first",
        description="Pool items of the cluster that are still unlabelled and in no bulk batch still verifying, "
                    "with the active model's proposal. "
                    "Keyset-paginated (no total count). Text is untrusted; an image is at `file_url`.",
        responses={200: ClusterMemberSerializer(many=True), 403: FORBIDDEN, 404: OpenApiResponse(
            description="Not a member of the project, no such cluster in it, or a cluster of an older round.")},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
