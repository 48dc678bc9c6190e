"""Reading training rounds: state, progress, metrics and the model each produced.
Every member may read; starting a round is a lead's action elsewhere."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics

from labelops.api.pagination import KeysetPagination
from labelops.learning.models import TrainingRound
from labelops.learning.serializers import TrainingRoundSerializer
from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import Role


class NewestRoundFirst(KeysetPagination):
    ordering = "-number"


class RoundAccessMixin(ProjectScopedMixin):
    needed_roles = {"get": Role.ANNOTATOR}
    serializer_class = TrainingRoundSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return TrainingRound.objects.none()
        return TrainingRound.objects.for_project(self.project).select_related(
            "taxonomy_version", "created_by", "model_version"
        )


@extend_schema(summary="List a project's training rounds", description="Newest first, keyset-paginated.")
class RoundList(RoundAccessMixin, generics.ListAPIView):
    pagination_class = NewestRoundFirst
    filter_backends = []


@extend_schema(summary="One training round, by its number in the project")
class RoundDetail(RoundAccessMixin, generics.RetrieveAPIView):
    lookup_field = "number"
    filter_backends = []
