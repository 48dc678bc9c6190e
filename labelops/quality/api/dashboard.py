"""The lead dashboard over HTTP: progress, annotators, agreement and the
learning curve of a project in one read.

Reviewers and leads only (it compares named annotators, as the agreement
endpoint does): annotators 403, outsiders 404. The numbers come from
`labelops.quality.services.dashboard`; this module only describes and
formats them. The response shapes live here, beside their only view.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from labelops.annotation.models import AnnotationSource
from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import Role
from labelops.quality.api.agreement import AgreementSerializer
from labelops.quality.services.dashboard import project_dashboard


class SplitProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    labelled = serializers.IntegerField(help_text="Reached the overlap: agreed, in review or approved.")
    approved = serializers.IntegerField()
    in_review = serializers.IntegerField()
    in_progress = serializers.IntegerField(help_text="Has annotations, fewer than the overlap.")
    remaining = serializers.IntegerField(help_text="Not labelled yet (total - labelled).")


class ProgressSerializer(serializers.Serializer):
    labelling = SplitProgressSerializer(help_text="Pool and holdout items together; gold items are known answers.")
    pool = SplitProgressSerializer()
    holdout = SplitProgressSerializer()
    gold = SplitProgressSerializer()


class SourceCountsSerializer(serializers.Serializer):
    # One count per AnnotationSource value, named by it.
    def get_fields(self):
        return {source: serializers.IntegerField() for source in AnnotationSource.values}


class AnnotatorRowSerializer(serializers.Serializer):
    annotator = serializers.IntegerField(help_text="The user id.")
    username = serializers.CharField()
    annotations = serializers.IntegerField(help_text="Live annotations (rejected ones are not counted).")
    last_24h = serializers.IntegerField(help_text="Live annotations made in the last 24 hours.")
    median_time_ms = serializers.FloatField(allow_null=True, help_text="Median time spent per annotation.")
    gold_seen = serializers.IntegerField()
    gold_correct = serializers.IntegerField()
    gold_accuracy = serializers.FloatField(allow_null=True)
    below_gold_minimum = serializers.BooleanField()
    by_source = SourceCountsSerializer(help_text="Live annotations by how they were made.")
    shown_proposal = serializers.IntegerField(help_text="Live annotations whose item was shown with a proposal.")
    acceptance_rate = serializers.FloatField(
        allow_null=True, help_text="Of those, the share that kept the proposal's labels unchanged.")


class CurvePointSerializer(serializers.Serializer):
    round = serializers.IntegerField()
    finished_at = serializers.DateTimeField(allow_null=True)
    train_labels = serializers.IntegerField(allow_null=True)
    holdout_items = serializers.IntegerField(allow_null=True)
    accuracy = serializers.FloatField(help_text="Holdout accuracy (subset accuracy in multi-label projects).")
    macro_f1 = serializers.FloatField(allow_null=True)


class DashboardSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    progress = ProgressSerializer()
    annotators = AnnotatorRowSerializer(many=True)
    agreement = AgreementSerializer(help_text="The stored agreement snapshot, as the agreement endpoint serves it.")
    learning_curve = CurvePointSerializer(many=True, help_text="Finished rounds evaluated on the holdout set, "
                                                                "oldest first.")


@extend_schema(tags=["review"])
class Dashboard(ProjectScopedMixin, APIView):
    needed_roles = {"get": Role.REVIEWER}

    @extend_schema(
        summary="The project's dashboard: progress, annotators, agreement and learning curve",
        description="Items by split and state; per annotator their throughput, median time, gold accuracy and "
                    "proposal acceptance; the stored agreement snapshot (a refresh is queued when it is stale, "
                    "as for the agreement endpoint); holdout accuracy and macro-F1 of every finished round.",
        responses={200: DashboardSerializer,
                   403: OpenApiResponse(description="Annotators may not compare each other."),
                   404: OpenApiResponse(description="Not a member of the project.")},
    )
    def get(self, request, project_pk):
        return Response(DashboardSerializer(project_dashboard(self.project)).data)
