"""A project's taxonomy over HTTP: its versions (members read them), and a
new version with its mapping from the previous one (leads), which carries
the project's labels into it (`labelops.annotation.services.taxonomy_migration`)."""

from __future__ import annotations

from django.db.models import Count, Prefetch
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.api.serializers import StrictFieldsMixin
from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import Label, MappingKind, Role, TaxonomyVersion


class LabelSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="key", read_only=True, help_text="The parent label's key.")

    class Meta:
        model = Label
        fields = ["key", "name", "parent", "hotkey", "guideline", "examples"]
        read_only_fields = fields


class MappingSerializer(serializers.Serializer):
    """How a label of the previous version carries into this one."""

    kind = serializers.ChoiceField(choices=MappingKind.choices)
    to = serializers.ListField(child=serializers.CharField(), source="to_keys", read_only=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField(source="from_key", read_only=True)  # `from` is a keyword
        return fields


class TaxonomyVersionSerializer(serializers.ModelSerializer):
    """A version as listed: no labels, only how many."""

    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    label_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = TaxonomyVersion
        fields = ["number", "note", "label_count", "created_by", "created_at"]
        read_only_fields = fields


class TaxonomyVersionDetailSerializer(serializers.ModelSerializer):
    """A version with its labels (a flat list in tree order, each naming its
    parent's key) and the mapping from the version before it."""

    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    labels = LabelSerializer(many=True, read_only=True)
    mapping = MappingSerializer(many=True, read_only=True, source="mappings")

    class Meta:
        model = TaxonomyVersion
        fields = ["number", "note", "created_by", "created_at", "labels", "mapping"]
        read_only_fields = fields


class MigrationSummarySerializer(serializers.Serializer):
    """What a new version's mapping did to the project's labels (see
    `labelops.annotation.services.taxonomy_migration`)."""

    from_version = serializers.IntegerField()
    to_version = serializers.IntegerField()
    mapping = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                    help_text="The old keys of each mapping kind.")
    annotations_relabelled = serializers.IntegerField()
    annotations_carried = serializers.IntegerField(help_text="Labels unchanged, now in the new version.")
    annotations_discarded = serializers.IntegerField()
    consensus_relabelled = serializers.IntegerField()
    consensus_carried = serializers.IntegerField()
    items_sent_back = serializers.IntegerField(help_text="Back in the queue to be labelled again.")
    gold_items_demoted = serializers.IntegerField(help_text="Gold items whose answer was split or deprecated: "
                                                            "now holdout items with no known answer.")
    answers_relabelled = serializers.IntegerField()
    answers_cleared = serializers.IntegerField()
    proposals_relabelled = serializers.IntegerField()
    proposals_dropped = serializers.IntegerField()
    review_tasks_closed = serializers.IntegerField()


# The view assembles this response from the detail and `MigrationSummarySerializer`;
# the class describes it for the schema.
class TaxonomyVersionCreatedSerializer(TaxonomyVersionDetailSerializer):
    """A version just made, with what its mapping migrated (null for a first version)."""

    migration = MigrationSummarySerializer(read_only=True, allow_null=True)

    class Meta(TaxonomyVersionDetailSerializer.Meta):
        fields = [*TaxonomyVersionDetailSerializer.Meta.fields, "migration"]
        read_only_fields = fields


class LabelInputSerializer(StrictFieldsMixin, serializers.Serializer):
    """Types only: the service checks keys, hotkeys and the tree, naming the label."""

    key = serializers.CharField(trim_whitespace=False)
    name = serializers.CharField(required=False, allow_blank=True, help_text="Defaults to the key.")
    parent = serializers.CharField(required=False, allow_null=True, allow_blank=True, help_text="A key of this list.")
    hotkey = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False,
                                   help_text="One character, unique in the version.")
    guideline = serializers.CharField(required=False, allow_blank=True)
    examples = serializers.ListField(child=serializers.CharField(), required=False)


class MappingInputSerializer(StrictFieldsMixin, serializers.Serializer):
    kind = serializers.ChoiceField(choices=MappingKind.choices)
    to = serializers.ListField(
        child=serializers.CharField(), required=False,
        help_text="New keys: one for rename and merge, two or more for split, none for deprecate.",
    )

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField(help_text="A key of the previous version.")
        return fields


class TaxonomyVersionCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    """The complete label list of the new version, and for every label of the
    current version that is not kept under the same key, a mapping entry."""

    labels = LabelInputSerializer(many=True)
    mapping = MappingInputSerializer(many=True, required=False)
    note = serializers.CharField(required=False, allow_blank=True)


class ProjectTaxonomyMixin(ProjectScopedMixin):
    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return TaxonomyVersion.objects.none()
        return TaxonomyVersion.objects.filter(project=self.project).select_related("created_by")

    def with_labels(self, queryset):
        return queryset.prefetch_related(
            Prefetch("labels", queryset=Label.objects.select_related("parent")), "mappings"
        )


@extend_schema(tags=["taxonomy"])
@extend_schema_view(
    get=extend_schema(summary="Taxonomy versions of a project, oldest first (members)"),
    post=extend_schema(
        summary="Create the next taxonomy version (lead)",
        description=(
            "Give the complete label list of the new version. Every label of the current version that is "
            "not kept under the same key needs a mapping entry: rename (one target), merge (one target, "
            "one entry per merged label), split (two or more targets) or deprecate (no target). "
            "The project's annotations, consensus, known answers and proposals move into the new version "
            "in the same request: renamed and merged labels are rewritten, items that used a split or "
            "deprecated label go back to the queue to be labelled again. `migration` counts what moved."
        ),
        request=TaxonomyVersionCreateSerializer, responses={201: TaxonomyVersionCreatedSerializer},
    ),
)
class TaxonomyVersionList(ProjectTaxonomyMixin, generics.ListCreateAPIView):
    serializer_class = TaxonomyVersionSerializer
    needed_roles = {"get": Role.ANNOTATOR}  # post: lead

    def get_queryset(self):
        return super().get_queryset().annotate(label_count=Count("labels"))

    def create(self, request, *args, **kwargs):
        incoming = TaxonomyVersionCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        created = create_taxonomy_version(actor=request.user, project=self.project, **incoming.validated_data)
        version = self.with_labels(super().get_queryset()).get(pk=created.version.pk)
        migration = MigrationSummarySerializer(created.migration).data if created.migration else None
        return Response({**TaxonomyVersionDetailSerializer(version).data, "migration": migration},
                        status=status.HTTP_201_CREATED)


@extend_schema(tags=["taxonomy"])
@extend_schema_view(get=extend_schema(summary="One taxonomy version with its labels and mapping (members)"))
class TaxonomyVersionDetail(ProjectTaxonomyMixin, generics.RetrieveAPIView):
    serializer_class = TaxonomyVersionDetailSerializer
    needed_roles = {"get": Role.ANNOTATOR}
    lookup_field = "number"

    def get_queryset(self):
        return self.with_labels(super().get_queryset())


@extend_schema(tags=["taxonomy"])
@extend_schema_view(get=extend_schema(summary="The active (newest) taxonomy version (members); 404 if none yet"))
class ActiveTaxonomy(ProjectTaxonomyMixin, generics.RetrieveAPIView):
    serializer_class = TaxonomyVersionDetailSerializer
    needed_roles = {"get": Role.ANNOTATOR}

    def get_object(self):
        version = self.with_labels(self.get_queryset()).order_by("-number").first()
        if version is None:
            raise Http404("this project has no taxonomy yet")
        return version
