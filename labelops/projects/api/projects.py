"""Projects over HTTP: list, create, read and change them.

Views parse, authorise and format; every change is a call to
`labelops.projects.services`. Authorisation comes from
`labelops.projects.access`: outside a project everything in it is 404, inside
it a role that is too low is 403. Domain errors from the services become 400s
in `labelops.api.errors`.

Projects cannot be deleted over the API (DELETE is 405): a project holds up
to millions of items and their annotations, and removing it is an operator's
decision, not a click.
"""

from __future__ import annotations

import dataclasses
import types
import typing

from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.reverse import reverse

from labelops.api.serializers import StrictFieldsMixin
from labelops.projects import services
from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import Membership, Project, Role
from labelops.projects.project_settings import FINE_TUNE_MODES, SKIP_POLICIES, STRATEGIES, ProjectSettings

_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object"}
_SETTING_CHOICES = {"strategy": STRATEGIES, "fine_tune": FINE_TUNE_MODES, "skip_policy": SKIP_POLICIES}


def project_settings_schema() -> dict:
    """The OpenAPI schema of `Project.settings`, derived from the
    `ProjectSettings` dataclass so the two cannot drift. Fails at import on a
    field type it cannot describe, so a new kind of setting is noticed here."""
    hints = typing.get_type_hints(ProjectSettings)
    properties = {}
    for field in dataclasses.fields(ProjectSettings):
        hint, nullable = hints[field.name], False
        if isinstance(hint, types.UnionType) and type(None) in hint.__args__:
            (hint,) = [arg for arg in hint.__args__ if arg is not type(None)]
            nullable = True
        base = typing.get_origin(hint) or hint
        if base not in _JSON_TYPES:
            raise TypeError(f"ProjectSettings.{field.name}: no JSON type for {hint!r}")
        schema = {"type": _JSON_TYPES[base]}
        if nullable:
            schema["nullable"] = True
        if field.name in _SETTING_CHOICES:
            schema["enum"] = list(_SETTING_CHOICES[field.name])
        default = field.default_factory() if field.default is dataclasses.MISSING else field.default
        schema["default"] = default
        properties[field.name] = schema
    return {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "description": "Project settings. On update, the keys given replace those stored; the rest stay.",
    }


@extend_schema_field(project_settings_schema())
class ProjectSettingsField(serializers.JSONField):
    """A JSON object; its keys and values are checked by `ProjectSettings` in the service."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            raise serializers.ValidationError(f"settings must be an object, got {type(value).__name__}")
        return value


class ProjectLinksSerializer(serializers.Serializer):
    members = serializers.URLField(read_only=True)
    rules = serializers.URLField(read_only=True)
    taxonomy = serializers.URLField(read_only=True)
    taxonomy_versions = serializers.URLField(read_only=True)


class ProjectSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="project-detail")
    settings = ProjectSettingsField(required=False)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    # Named `role` (not `my_role`) so the schema shares one RoleEnum with memberships.
    role = serializers.SerializerMethodField(help_text="Your role in this project.")
    links = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id", "url", "name", "description", "modality", "task", "settings",
            "role", "created_by", "created_at", "updated_at", "links",
        ]
        read_only_fields = ["created_at", "updated_at"]

    @extend_schema_field(serializers.ChoiceField(choices=Role.choices, allow_null=True))
    def get_role(self, project) -> str | None:
        """The requesting user's role; views annotate it to avoid a query per row."""
        if hasattr(project, "my_role"):
            return project.my_role
        return project.role_of(self.context["request"].user)

    @extend_schema_field(ProjectLinksSerializer)
    def get_links(self, project) -> dict[str, str]:
        request = self.context.get("request")
        kwargs = {"project_pk": project.pk}
        return {
            "members": reverse("member-list", kwargs=kwargs, request=request),
            "rules": reverse("quality-rules", kwargs=kwargs, request=request),
            "taxonomy": reverse("taxonomy-active", kwargs=kwargs, request=request),
            "taxonomy_versions": reverse("taxonomy-version-list", kwargs=kwargs, request=request),
        }


@extend_schema(tags=["projects"])
@extend_schema_view(
    get=extend_schema(summary="Projects you are a member of (all projects for superusers)"),
    post=extend_schema(summary="Create a project; you become its lead"),
)
class ProjectList(generics.ListCreateAPIView):
    serializer_class = ProjectSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Project.objects.none()
        user = self.request.user
        my_role = Subquery(Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1])
        if user.is_superuser:
            my_role = Coalesce(my_role, Value(Role.LEAD.value))
        return Project.objects.visible_to(user).select_related("created_by").annotate(my_role=my_role)

    def perform_create(self, serializer):
        project = services.create_project(actor=self.request.user, **serializer.validated_data)
        project.my_role = Role.LEAD.value
        serializer.instance = project


@extend_schema(tags=["projects"])
@extend_schema_view(
    get=extend_schema(summary="A project (members)"),
    put=extend_schema(summary="Change a project (lead); settings are merged key by key"),
    patch=extend_schema(summary="Change some fields of a project (lead); settings are merged key by key"),
)
class ProjectDetail(ProjectScopedMixin, generics.RetrieveUpdateAPIView):
    serializer_class = ProjectSerializer
    queryset = Project.objects.none()  # the project comes from ProjectScopedMixin
    project_url_kwarg = "pk"
    needed_roles = {"get": Role.ANNOTATOR}  # put, patch: lead

    def get_object(self):
        self.project.my_role = self.role
        return self.project

    def perform_update(self, serializer):
        project = services.update_project(actor=self.request.user, project=self.project, **serializer.validated_data)
        project.my_role = self.role
        serializer.instance = project
