"""How training rounds leave the API (read only; rounds are started by the
learning services and advanced by workers)."""

from __future__ import annotations

from rest_framework import serializers

from labelops.learning.models import ModelVersion, TrainingRound


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

    class Meta:
        model = TrainingRound
        fields = [
            "number", "state", "is_finished", "progress", "config", "metrics", "error",
            "taxonomy_version", "labels_count", "labels_hash", "model_version",
            "created_by", "created_at", "started_at", "finished_at",
        ]
        read_only_fields = fields
