"""Training rounds over HTTP: read them, start one, cancel one, and fetch the
learning curve a round drew.

Every member may read rounds and their learning curve; starting and
cancelling are a lead's (reviewers and annotators 403, outsiders 404).
Views parse, authorise and format; the work is in
`labelops.learning.services.rounds`. Bad overrides are a 400 naming the
setting; a second round while one runs, or cancelling a finished round, a
409 (`round_running`, `round_finished`); nothing is written on error.
"""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.fields import empty
from rest_framework.response import Response
from rest_framework.views import APIView

from labelops.api.pagination import KeysetPagination
from labelops.api.serializers import StrictFieldsMixin
from labelops.learning import artifacts
from labelops.learning.models import ModelVersion, TrainingRound
from labelops.learning.services import rounds
from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import Role
from labelops.projects.project_settings import FINE_TUNE_MODES, STRATEGIES


class ModelVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["id", "is_active", "metrics", "created_at"]
        read_only_fields = fields


class TrainingRoundSerializer(serializers.ModelSerializer):
    taxonomy_version = serializers.IntegerField(source="taxonomy_version.number", read_only=True, allow_null=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)
    model_version = ModelVersionSerializer(read_only=True, allow_null=True)
    is_finished = serializers.BooleanField(read_only=True)
    artifacts = serializers.SerializerMethodField(
        help_text="Names of the files the round kept (e.g. `learning_curve`); their paths stay on the server."
    )

    class Meta:
        model = TrainingRound
        fields = [
            "number", "state", "is_finished", "progress", "config", "metrics", "error", "artifacts",
            "taxonomy_version", "labels_count", "labels_hash", "model_version",
            "created_by", "created_at", "started_at", "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_artifacts(self, training_round) -> list[str]:
        return sorted(training_round.artifacts or {})


class OptionalBooleanField(serializers.BooleanField):
    """A boolean that, left out of a form post, is left out: DRF's own reads
    a missing checkbox as False, which would turn pretraining off for every
    round started from a form."""

    default_empty_html = empty


class StartRoundSerializer(StrictFieldsMixin, serializers.Serializer):
    """Per-round overrides of the project's settings; every key is optional
    (`labelops.learning.services.rounds.ROUND_SETTINGS`). Types only: the
    ranges are checked by the service, with the project's settings, naming
    the setting that is out of range."""

    strategy = serializers.ChoiceField(choices=STRATEGIES, required=False)
    batch_size = serializers.IntegerField(required=False)
    pretraining = OptionalBooleanField(required=False)
    pretraining_epochs = serializers.IntegerField(required=False)
    pretraining_minutes = serializers.FloatField(required=False)
    fine_tune = serializers.ChoiceField(choices=FINE_TUNE_MODES, required=False)
    n_clusters = serializers.IntegerField(required=False, allow_null=True)
    text_encoder = serializers.CharField(required=False)


NOT_FOUND = OpenApiResponse(description="Not a member of the project, or no such round in it.")
LEADS_ONLY = OpenApiResponse(description="Only the project's leads start and cancel rounds.")


class NewestRoundFirst(KeysetPagination):
    ordering = "-number"


class RoundAccessMixin(ProjectScopedMixin):
    needed_roles = {"get": Role.ANNOTATOR}  # anything else (start, cancel) needs the lead role
    serializer_class = TrainingRoundSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return TrainingRound.objects.none()
        return TrainingRound.objects.for_project(self.project).select_related(
            "taxonomy_version", "created_by", "model_version"
        )


@extend_schema(tags=["rounds"])
class RoundList(RoundAccessMixin, generics.ListAPIView):
    pagination_class = NewestRoundFirst
    filter_backends = []

    @extend_schema(summary="List a project's training rounds", description="Newest first, keyset-paginated.")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Start a training round",
        description=(
            "The round takes its configuration from the project's settings; the body may override any of "
            "them for this round only, e.g. `{\"strategy\": \"margin\", \"pretraining\": false}`. The "
            "configuration is frozen with the round. Returns the queued round; follow its `progress`."
        ),
        request=StartRoundSerializer,
        responses={
            201: TrainingRoundSerializer,
            400: OpenApiResponse(description="An unknown setting, a value of the wrong type or out of range "
                                             "(named), or a project without a taxonomy."),
            403: LEADS_ONLY,
            404: NOT_FOUND,
            409: OpenApiResponse(description="A round of this project is still running (`round_running`)."),
            503: OpenApiResponse(description="The task broker is unreachable; the round is recorded as failed "
                                             "(`broker_unavailable`)."),
        },
    )
    def post(self, request, project_pk):
        incoming = StartRoundSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        training_round = rounds.start_round(project=self.project, actor=request.user,
                                            overrides=incoming.validated_data)
        return Response(TrainingRoundSerializer(training_round).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["rounds"], summary="One training round, by its number in the project",
               description="State and progress (step, percent, estimated seconds left) while it runs; "
                           "configuration, metrics, error and the model it produced once finished.")
class RoundDetail(RoundAccessMixin, generics.RetrieveAPIView):
    lookup_field = "number"
    filter_backends = []


@extend_schema(tags=["rounds"])
class CancelRound(RoundAccessMixin, APIView):
    @extend_schema(
        summary="Cancel a round in flight",
        description="The running step stops at its next heartbeat; nothing it computed reaches the queue, "
                    "and the last good model keeps serving.",
        request=None,
        responses={200: TrainingRoundSerializer, 403: LEADS_ONLY, 404: NOT_FOUND,
                   409: OpenApiResponse(description="The round has already finished (`round_finished`).")},
    )
    def post(self, request, project_pk, number):
        training_round = get_object_or_404(self.get_queryset(), number=number)
        training_round = rounds.cancel_round(training_round=training_round, actor=request.user)
        return Response(TrainingRoundSerializer(training_round).data)


@extend_schema(tags=["rounds"])
class LearningCurve(RoundAccessMixin, APIView):
    def perform_content_negotiation(self, request, force=False):
        # An <img> or a client asking for image/png gets the PNG; errors are
        # JSON whatever was asked for, never a 406.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        summary="The learning curve a round drew (PNG)",
        description="Holdout accuracy of the project's finished rounds up to this one, against the number "
                    "of approved training labels. 404 when the round drew none (it failed or was cancelled "
                    "first, or had no holdout labels) or retention removed it.",
        operation_id="projects_rounds_learning_curve_retrieve",
        responses={(200, "image/png"): OpenApiTypes.BINARY, 404: NOT_FOUND},
    )
    def get(self, request, project_pk, number):
        training_round = get_object_or_404(self.get_queryset(), number=number)
        stored = (training_round.artifacts or {}).get("learning_curve")
        path = artifacts.resolve(stored) if stored else None
        if path is None or not path.is_file():
            raise Http404(f"round {training_round.number} has no learning curve")
        response = FileResponse(open(path, "rb"), content_type="image/png")
        # Served as an image, never sniffed into anything else.
        response["X-Content-Type-Options"] = "nosniff"
        return response
