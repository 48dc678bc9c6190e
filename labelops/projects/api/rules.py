"""A project's quality rules over HTTP: members read them, leads change them."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from labelops.api.serializers import StrictFieldsMixin
from labelops.projects import services
from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import QualityRules, Role


class QualityRulesSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = QualityRules
        fields = [*QualityRules.EDITABLE, "updated_at"]
        read_only_fields = ["updated_at"]


@extend_schema(tags=["quality rules"])
class QualityRulesView(ProjectScopedMixin, generics.GenericAPIView):
    serializer_class = QualityRulesSerializer
    needed_roles = {"get": Role.ANNOTATOR}  # patch: lead
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        return self.project.rules

    @extend_schema(summary="A project's quality rules (members)")
    def get(self, request, *args, **kwargs):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(summary="Change some quality rules (lead); every value is range-checked")
    def patch(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        rules = services.update_rules(actor=request.user, project=self.project, **serializer.validated_data)
        return Response(self.get_serializer(rules).data)
