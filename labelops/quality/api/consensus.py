"""Starting a Dawid-Skene refinement of a project's consensus (leads only).

The work is a Celery task on the `default` queue
(`labelops.quality.tasks.recompute_dawid_skene`); the request only queues
it, through the schedule (`labelops.quality.services.schedule.queue_now`).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from labelops.annotation.models import RecomputeKind
from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import Role
from labelops.quality.services import schedule


class QueuedSerializer(serializers.Serializer):
    task = serializers.CharField()
    project = serializers.IntegerField()


@extend_schema(tags=["review"])
class RecomputeDawidSkene(ProjectScopedMixin, APIView):
    needed_roles = {"post": Role.LEAD}

    @extend_schema(
        summary="Queue a Dawid-Skene pass over the project's consensus",
        description="Weights annotators by their estimated reliability and settles again every item it changes "
                    "(never one a reviewer decided, nor one in review). Single-label projects; safe to repeat.",
        request=None,
        responses={202: QueuedSerializer, 403: OpenApiResponse(description="Needs the lead role."),
                   404: OpenApiResponse(description="Not a member of the project.")},
    )
    def post(self, request, project_pk):
        schedule.queue_now(self.project, RecomputeKind.DAWID_SKENE)
        return Response({"task": schedule.POLICIES[RecomputeKind.DAWID_SKENE].task, "project": self.project.pk},
                        status=status.HTTP_202_ACCEPTED)
