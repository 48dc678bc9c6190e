"""Reading a project's items: the list, one item, and an image item's file.

Every member may read. Reviewers and leads also see each item's split, state,
gold labels and consensus; annotators do not, and may not filter on them, so
a hidden gold item looks exactly like any other item to them.

Item content is untrusted: text is only ever returned as a JSON string, and
an image is served by `ItemFile` with the type verified at import, `nosniff`
and a sandboxing Content-Security-Policy.
"""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from labelops.annotation.models import Consensus
from labelops.api.negotiation import BinaryNegotiation
from labelops.items.files import item_file_path, served_type
from labelops.items.models import Item, ItemState, Split
from labelops.projects.access import ProjectScopedMixin, has_role
from labelops.projects.models import Modality, Role

# Query parameters that would tell an annotator which items are gold or what
# the consensus is: refused for annotators rather than silently ignored.
LABEL_REVEALING_FILTERS = frozenset({"split", "state", "label", "import_job"})


def sees_labels(role: str | None) -> bool:
    """Whether `role` may see splits, gold labels and consensus."""
    return has_role(role, Role.REVIEWER)


# --- Serializers -------------------------------------------------------------


class ConsensusSerializer(serializers.ModelSerializer):
    taxonomy_version = serializers.IntegerField(source="taxonomy_version.number", read_only=True)

    class Meta:
        model = Consensus
        fields = ["labels", "method", "agreement", "status", "taxonomy_version", "updated_at"]
        read_only_fields = fields


class ItemSerializer(serializers.ModelSerializer):
    """What every member sees. Nothing here differs between gold and other items."""

    modality = serializers.SerializerMethodField()
    file_url = serializers.SerializerMethodField()

    class Meta:
        model = Item
        fields = ["id", "modality", "text", "file_url", "content_type", "external_id", "metadata", "created_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Modality.choices))
    def get_modality(self, item) -> str:
        return Modality.IMAGE if item.is_image else Modality.TEXT

    @extend_schema_field(OpenApiTypes.URI)
    def get_file_url(self, item) -> str | None:
        if not item.is_image:
            return None
        return reverse(
            "item-file", kwargs={"project_pk": item.project_id, "pk": item.pk}, request=self.context.get("request")
        )


class ItemWithLabelsSerializer(ItemSerializer):
    """What reviewers and leads see: the item plus its split, state, gold labels and consensus."""

    consensus = ConsensusSerializer(read_only=True, allow_null=True)

    class Meta(ItemSerializer.Meta):
        fields = ItemSerializer.Meta.fields + [
            "split", "state", "gold_labels", "consensus", "content_hash", "import_job",
            "annotation_count", "active_lease_count",
        ]
        read_only_fields = fields


# --- Filters -------------------------------------------------------------------


class ItemFilter(filters.FilterSet):
    split = filters.ChoiceFilter(choices=Split.choices)
    state = filters.ChoiceFilter(choices=ItemState.choices)
    label = filters.CharFilter(method="filter_label", help_text="Items whose consensus includes this label key.")
    import_job = filters.NumberFilter(field_name="import_job_id", help_text="Items brought in by this import.")
    external_id = filters.CharFilter(help_text="The item's id in the file it was imported from.")

    class Meta:
        model = Item
        fields = ["split", "state", "label", "import_job", "external_id"]

    def filter_label(self, queryset, name, value):
        return queryset.with_label(value)


# --- Views ---------------------------------------------------------------------


class ItemAccessMixin(ProjectScopedMixin):
    needed_roles = {"get": Role.ANNOTATOR}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Item.objects.none()
        items = Item.objects.for_project(self.project)
        if sees_labels(self.role):
            items = items.select_related("consensus__taxonomy_version")
        return items

    def get_serializer_class(self):
        # The schema shows the fuller shape; annotators get the subset.
        return ItemWithLabelsSerializer if sees_labels(getattr(self, "role", Role.LEAD)) else ItemSerializer


ROLE_NOTE = (
    " Reviewers and leads also get split, state, gold_labels, consensus and counters;"
    " annotators get only the content fields, and filtering by split, state, label or import_job"
    " is refused for them (403)."
)


@extend_schema(
    summary="List a project's items",
    description="Keyset-paginated by id (no total count)." + ROLE_NOTE,
    responses=ItemWithLabelsSerializer(many=True),
)
class ItemList(ItemAccessMixin, generics.ListAPIView):
    filterset_class = ItemFilter

    def filter_queryset(self, queryset):
        if not sees_labels(self.role):
            refused = sorted(LABEL_REVEALING_FILTERS & set(self.request.query_params))
            if refused:
                raise PermissionDenied(f"filtering by {', '.join(refused)} needs the reviewer role")
        return super().filter_queryset(queryset)


@extend_schema(summary="One item", description=ROLE_NOTE.strip(), responses=ItemWithLabelsSerializer)
class ItemDetail(ItemAccessMixin, generics.RetrieveAPIView):
    # No filters on a detail view: `?split=gold` must not turn a 200 into a 404.
    filter_backends = []


class ItemFile(ProjectScopedMixin, APIView):
    """The stored file of an image item, for members of its project.

    The content type is the one verified at import if it is an allowed raster
    image type, else application/octet-stream; the browser must not sniff it
    nor run anything in it. A path that resolves outside ARTIFACT_ROOT is 404.
    """

    needed_roles = {"get": Role.ANNOTATOR}
    content_negotiation_class = BinaryNegotiation

    @extend_schema(
        summary="An image item's file",
        responses={
            (200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The image, inline."),
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="A file whose verified type is not an allowed image type."
            ),
            404: OpenApiResponse(description="No such item in this project, or it has no readable file."),
        },
    )
    def get(self, request, project_pk, pk):
        item = get_object_or_404(Item.objects.for_project(self.project).only("id", "file", "content_type"), pk=pk)
        path = item_file_path(item)
        if path is None:
            raise Http404("this item has no stored file")
        content_type, extension = served_type(item)
        response = FileResponse(path.open("rb"), content_type=content_type)
        response["Content-Disposition"] = f'inline; filename="item-{item.pk}.{extension}"'
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cache-Control"] = "private, max-age=3600"
        return response
