"""The lead dashboard over HTTP: progress, annotators, agreement, the
learning curve and the serving model of a project in one read.

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


def interval_field(of: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.FloatField(), min_length=2, max_length=2, allow_null=True,
        help_text=f"The 95% bootstrap interval of {of}, [low, high]; null when the round did not record one.")


MEANINGFUL_HELP = ("False when it stands on fewer holdout items than `min_items`: too few to mean anything yet. "
                   "Null for rounds from before this was recorded.")


class CurvePointSerializer(serializers.Serializer):
    round = serializers.IntegerField()
    finished_at = serializers.DateTimeField(allow_null=True)
    train_labels = serializers.IntegerField(allow_null=True)
    holdout_items = serializers.IntegerField(allow_null=True)
    accuracy = serializers.FloatField(help_text="Holdout accuracy (subset accuracy in multi-label projects).")
    accuracy_ci = interval_field("the accuracy")
    macro_f1 = serializers.FloatField(allow_null=True)
    macro_f1_ci = interval_field("macro-F1")
    meaningful = serializers.BooleanField(allow_null=True, help_text=MEANINGFUL_HELP)
    min_items = serializers.IntegerField(allow_null=True, help_text="Holdout items needed for a meaningful figure.")


class CandidateSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The candidate model, e.g. `zero_shot`, `head`, `spreading`, `ensemble`.")
    accuracy = serializers.FloatField(allow_null=True, help_text="Cross-validated accuracy on the training labels.")
    log_loss = serializers.FloatField(allow_null=True, help_text="Cross-validated log-loss (lower is better).")
    rows = serializers.IntegerField(allow_null=True, help_text="Labelled rows the scores stand on.")


class HoldoutSummarySerializer(serializers.Serializer):
    evaluated = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True, help_text="Why it was not evaluated; empty when it was.")
    items = serializers.IntegerField(allow_null=True, help_text="Approved holdout items the figures stand on.")
    metric = serializers.ChoiceField(choices=["accuracy", "subset_accuracy"],
                                     help_text="What `accuracy` is: subset accuracy in multi-label projects.")
    accuracy = serializers.FloatField(allow_null=True)
    accuracy_ci = interval_field("the accuracy")
    macro_f1 = serializers.FloatField(allow_null=True)
    macro_f1_ci = interval_field("macro-F1")
    meaningful = serializers.BooleanField(allow_null=True, help_text=MEANINGFUL_HELP)
    min_items = serializers.IntegerField(allow_null=True)
    confidence = serializers.FloatField(allow_null=True, help_text="The intervals' level, e.g. 0.95.")


class ServingSerializer(serializers.Serializer):
    round = serializers.IntegerField(help_text="The round that made the active model.")
    proposer = serializers.CharField(
        allow_null=True, help_text="The model serving the proposals (`zero_shot`, `head`, `spreading`, `ensemble`, "
                                   "or another name); null when none could, or for rounds from before it was kept.")
    reason = serializers.CharField(allow_blank=True, help_text="Why that proposer was chosen.")
    labels = serializers.IntegerField(allow_null=True, help_text="Approved training labels it learnt from.")
    candidates = CandidateSerializer(many=True, help_text="The proposers weighed, best first (highest accuracy, "
                                                          "then lowest log-loss); may be empty.")
    holdout = HoldoutSummarySerializer(allow_null=True, help_text="The round's holdout figures; null when it has none.")


class DashboardSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    progress = ProgressSerializer()
    annotators = AnnotatorRowSerializer(many=True)
    agreement = AgreementSerializer(help_text="The stored agreement snapshot, as the agreement endpoint serves it.")
    learning_curve = CurvePointSerializer(many=True, help_text="Finished rounds evaluated on the holdout set, "
                                                                "oldest first.")
    serving = ServingSerializer(allow_null=True, help_text="The active model; null before the first.")


@extend_schema(tags=["review"])
class Dashboard(ProjectScopedMixin, APIView):
    needed_roles = {"get": Role.REVIEWER}

    @extend_schema(
        summary="The project's dashboard: progress, annotators, agreement, learning curve and serving model",
        description="Items by split and state; per annotator their throughput, median time, gold accuracy and "
                    "proposal acceptance; the stored agreement snapshot (a refresh is queued when it is stale, "
                    "as for the agreement endpoint); holdout accuracy and macro-F1 of every finished round, with "
                    "their intervals; which proposer the active model serves, why, and its holdout figure.",
        responses={200: DashboardSerializer,
                   403: OpenApiResponse(description="Annotators may not compare each other."),
                   404: OpenApiResponse(description="Not a member of the project.")},
    )
    def get(self, request, project_pk):
        return Response(DashboardSerializer(project_dashboard(self.project)).data)
