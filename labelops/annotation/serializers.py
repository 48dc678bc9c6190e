"""How annotations leave the API (read only; they are written by the queue services)."""

from __future__ import annotations

from rest_framework import serializers

from labelops.annotation.models import Annotation


class AnnotationSerializer(serializers.ModelSerializer):
    annotator_username = serializers.CharField(source="annotator.username", read_only=True)
    taxonomy_version = serializers.IntegerField(source="taxonomy_version.number", read_only=True)

    class Meta:
        model = Annotation
        fields = [
            "id", "item", "annotator", "annotator_username", "labels", "source", "proposal",
            "taxonomy_version", "time_spent_ms", "discarded", "created_at",
        ]
        read_only_fields = fields
