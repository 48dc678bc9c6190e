"""Agreement metrics over HTTP: the project's stored snapshot.

Reviewers and leads only (the metrics compare named annotators): annotators
403, outsiders 404. A request never computes metrics: it serves the stored
snapshot and queues a refresh when enough new annotations have come in
(`labelops.annotation.services.metrics`)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from labelops.annotation.serializers import AgreementSerializer
from labelops.annotation.services.metrics import snapshot_for_request
from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import Role


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
