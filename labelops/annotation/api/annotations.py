"""Reading annotations. Reviewers and leads see everyone's; an annotator sees
only their own, so nobody learns how others labelled an item before they do."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from labelops.annotation.models import Annotation, AnnotationSource, Review
from labelops.items.models import Item
from labelops.projects.access import ProjectScopedMixin, has_role
from labelops.projects.models import Role


class RejectionSerializer(serializers.ModelSerializer):
    """Why a reviewer discarded an annotation."""

    class Meta:
        model = Review
        fields = ["comment", "created_at"]
        read_only_fields = fields


class AnnotationSerializer(serializers.ModelSerializer):
    annotator_username = serializers.CharField(source="annotator.username", read_only=True)
    taxonomy_version = serializers.IntegerField(source="taxonomy_version.number", read_only=True)
    rejection = RejectionSerializer(source="rejected_by", read_only=True, allow_null=True,
                                    help_text="Set when a reviewer rejected this annotation: their comment.")

    class Meta:
        model = Annotation
        fields = [
            "id", "item", "annotator", "annotator_username", "labels", "source", "proposal",
            "taxonomy_version", "time_spent_ms", "discarded", "rejection", "created_at",
        ]
        read_only_fields = fields


class AnnotationFilter(filters.FilterSet):
    item = filters.NumberFilter(field_name="item_id")
    annotator = filters.NumberFilter(field_name="annotator_id", help_text="A user id.")
    source = filters.ChoiceFilter(choices=AnnotationSource.choices)
    discarded = filters.BooleanFilter()

    class Meta:
        model = Annotation
        fields = ["item", "annotator", "source", "discarded"]


@extend_schema(
    summary="List a project's annotations",
    description="Keyset-paginated by id. Annotators see only their own annotations; reviewers and leads see all.",
)
class AnnotationList(ProjectScopedMixin, generics.ListAPIView):
    needed_roles = {"get": Role.ANNOTATOR}
    serializer_class = AnnotationSerializer
    filterset_class = AnnotationFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Annotation.objects.none()
        annotations = Annotation.objects.for_project(self.project).select_related(
            "annotator", "taxonomy_version", "rejected_by")
        if not has_role(self.role, Role.REVIEWER):
            annotations = annotations.filter(annotator=self.request.user)
        return annotations


@extend_schema(
    summary="List one item's annotations",
    description="As the project-wide list, for one item of the project (404 if it is not in the project).",
)
class ItemAnnotationList(AnnotationList):
    def get_queryset(self):
        annotations = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):
            return annotations
        item = get_object_or_404(Item.objects.for_project(self.project).only("id"), pk=self.kwargs["item_pk"])
        return annotations.filter(item=item)
