"""How training rounds leave the API, and what starting one accepts.

Rounds are started and cancelled by `labelops.learning.services.rounds` and
advanced by workers; these serializers only parse and format.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from labelops.learning.models import ModelVersion, TrainingRound
from labelops.projects.project_settings import FINE_TUNE_MODES, STRATEGIES
from labelops.projects.serializers import StrictFieldsMixin


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
