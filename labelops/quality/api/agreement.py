"""Agreement metrics over HTTP: the project's stored snapshot.

Reviewers and leads only (the metrics compare named annotators): annotators
403, outsiders 404. A request never computes metrics: it serves the stored
snapshot and queues a refresh when enough new annotations have come in
(`labelops.quality.services.metrics`)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import Role
from labelops.quality.services.metrics import snapshot_for_request


class AgreementSerializer(serializers.Serializer):
    """The stored agreement snapshot (see `labelops.quality.services.metrics`)."""

    computed_at = serializers.DateTimeField(allow_null=True, help_text="When the metrics were computed; "
                                            "null until the first computation finishes.")
    pending_annotations = serializers.IntegerField(help_text="Annotations newer than the snapshot.")
    refresh_queued = serializers.BooleanField(help_text="True if this request queued a recomputation.")
    metrics = serializers.DictField(help_text="units, items, annotations, fleiss_kappa, krippendorff_alpha, "
                                    "krippendorff_alpha_taxonomy, bootstrap (95% intervals), per_label, pairs "
                                    "(Cohen's kappa), gold_accuracy.")


@extend_schema(tags=["review"])
class Agreement(ProjectScopedMixin, APIView):
    needed_roles = {"get": Role.REVIEWER}

    @extend_schema(
        summary="Agreement metrics: Cohen's kappa per annotator pair, Fleiss' kappa, Krippendorff's alpha, "
                "with bootstrap intervals, and gold accuracy per annotator",
        responses={200: AgreementSerializer,
                   403: OpenApiResponse(description="Annotators may not compare each other."),
                   404: OpenApiResponse(description="Not a member of the project.")},
    )
    def get(self, request, project_pk):
        snapshot, pending, queued = snapshot_for_request(self.project)
        return Response(AgreementSerializer({
            "computed_at": snapshot.computed_at, "pending_annotations": pending, "refresh_queued": queued,
            "metrics": snapshot.metrics,
        }).data)
