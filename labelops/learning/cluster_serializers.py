"""How the active round's clusters and their unlabelled members leave the API.

Read-only: clusters and proposals are written by a round's `publish` step
(`labelops.learning.pipeline.publish`); these serializers only format them.
Item content is untrusted and leaves as a JSON string (text) or as the URL of
the item file endpoint (images), never inlined.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from labelops.learning.models import Cluster, Proposal
from labelops.projects.models import Modality


class TopLabelSerializer(serializers.Serializer):
    label = serializers.CharField()
    count = serializers.IntegerField(help_text="Approved members of the cluster with this label, at the round.")


class ClusterSerializer(serializers.ModelSerializer):
    """A cluster of the active model's round. Expects a cluster from
    `cluster_views.clusters_of`, which annotates `unlabelled`."""

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
