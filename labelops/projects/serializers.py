"""Request and response shapes of the projects API.

Serializers parse and format; the services in `labelops.projects.services`
validate the domain rules (the label tree, the mapping, the last lead) and
write. Every serializer that accepts input refuses keys it does not know, so a
typo in an API call is a 400 naming the key, never a silently ignored field.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from labelops.projects.models import Label, MappingKind, Membership, Project, QualityRules, Role, TaxonomyVersion
from labelops.projects.project_settings import FINE_TUNE_MODES, SKIP_POLICIES, STRATEGIES, ProjectSettings

# Sent by HTML forms of the browsable API; never a field.
_FORM_KEYS = {"csrfmiddlewaretoken"}


class StrictFieldsMixin:
    """Refuse unknown keys in the request body (read-only fields are known
    and ignored, so a client may send back what it was given)."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields) - _FORM_KEYS)
            if unknown:
                raise serializers.ValidationError({key: ["unknown field"] for key in unknown})
        return super().to_internal_value(data)


# --- Project settings -------------------------------------------------------------

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


# --- Projects -----------------------------------------------------------------------


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


# --- Members ------------------------------------------------------------------------


class MembershipSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A member as listed; on update only `role` may change."""

    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "username", "role", "created_at"]
        read_only_fields = ["user", "created_at"]


class MembershipCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    """Add a user, named by `username` or by `user` id (exactly one of them)."""

    user = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model()._default_manager.filter(is_active=True), required=False,
        help_text="The user's id; or give `username` instead.",
    )
    username = serializers.CharField(required=False, help_text="The user's username; or give `user` instead.")
    role = serializers.ChoiceField(choices=Role.choices)

    def validate(self, attrs):
        if ("user" in attrs) == ("username" in attrs):
            raise serializers.ValidationError("give exactly one of `user` (an id) or `username`")
        if "username" in attrs:
            name = attrs.pop("username")
            user = get_user_model()._default_manager.filter(username=name, is_active=True).first()
            if user is None:
                raise serializers.ValidationError({"username": f"no active user is named {name!r}"})
            attrs["user"] = user
        return attrs


# --- Quality rules ------------------------------------------------------------------


class QualityRulesSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = QualityRules
        fields = [*QualityRules.EDITABLE, "updated_at"]
        read_only_fields = ["updated_at"]


# --- Taxonomy -----------------------------------------------------------------------


class LabelSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="key", read_only=True, help_text="The parent label's key.")

    class Meta:
        model = Label
        fields = ["key", "name", "parent", "hotkey", "guideline", "examples"]
        read_only_fields = fields


class MappingSerializer(serializers.Serializer):
    """How a label of the previous version carries into this one."""

    kind = serializers.ChoiceField(choices=MappingKind.choices)
    to = serializers.ListField(child=serializers.CharField(), source="to_keys", read_only=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField(source="from_key", read_only=True)  # `from` is a keyword
        return fields


class TaxonomyVersionSerializer(serializers.ModelSerializer):
    """A version as listed: no labels, only how many."""

    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    label_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = TaxonomyVersion
        fields = ["number", "note", "label_count", "created_by", "created_at"]
        read_only_fields = fields


class TaxonomyVersionDetailSerializer(serializers.ModelSerializer):
    """A version with its labels (a flat list in tree order, each naming its
    parent's key) and the mapping from the version before it."""

    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    labels = LabelSerializer(many=True, read_only=True)
    mapping = MappingSerializer(many=True, read_only=True, source="mappings")

    class Meta:
        model = TaxonomyVersion
        fields = ["number", "note", "created_by", "created_at", "labels", "mapping"]
        read_only_fields = fields


class MigrationSummarySerializer(serializers.Serializer):
    """What a new version's mapping did to the project's labels (see
    `labelops.annotation.services.taxonomy_migration`)."""

    from_version = serializers.IntegerField()
    to_version = serializers.IntegerField()
    mapping = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                    help_text="The old keys of each mapping kind.")
    annotations_relabelled = serializers.IntegerField()
    annotations_carried = serializers.IntegerField(help_text="Labels unchanged, now in the new version.")
    annotations_discarded = serializers.IntegerField()
    consensus_relabelled = serializers.IntegerField()
    consensus_carried = serializers.IntegerField()
    items_sent_back = serializers.IntegerField(help_text="Back in the queue to be labelled again.")
    gold_items_demoted = serializers.IntegerField(help_text="Gold items whose answer was split or deprecated: "
                                                            "now holdout items with no known answer.")
    answers_relabelled = serializers.IntegerField()
    answers_cleared = serializers.IntegerField()
    proposals_relabelled = serializers.IntegerField()
    proposals_dropped = serializers.IntegerField()
    review_tasks_closed = serializers.IntegerField()


# The view assembles this response from the detail and `MigrationSummarySerializer`;
# the class describes it for the schema.
class TaxonomyVersionCreatedSerializer(TaxonomyVersionDetailSerializer):
    """A version just made, with what its mapping migrated (null for a first version)."""

    migration = MigrationSummarySerializer(read_only=True, allow_null=True)

    class Meta(TaxonomyVersionDetailSerializer.Meta):
        fields = [*TaxonomyVersionDetailSerializer.Meta.fields, "migration"]
        read_only_fields = fields


class LabelInputSerializer(StrictFieldsMixin, serializers.Serializer):
    """Types only: the service checks keys, hotkeys and the tree, naming the label."""

    key = serializers.CharField(trim_whitespace=False)
    name = serializers.CharField(required=False, allow_blank=True, help_text="Defaults to the key.")
    parent = serializers.CharField(required=False, allow_null=True, allow_blank=True, help_text="A key of this list.")
    hotkey = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False,
                                   help_text="One character, unique in the version.")
    guideline = serializers.CharField(required=False, allow_blank=True)
    examples = serializers.ListField(child=serializers.CharField(), required=False)


class MappingInputSerializer(StrictFieldsMixin, serializers.Serializer):
    kind = serializers.ChoiceField(choices=MappingKind.choices)
    to = serializers.ListField(
        child=serializers.CharField(), required=False,
        help_text="New keys: one for rename and merge, two or more for split, none for deprecate.",
    )

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.CharField(help_text="A key of the previous version.")
        return fields


class TaxonomyVersionCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    """The complete label list of the new version, and for every label of the
    current version that is not kept under the same key, a mapping entry."""

    labels = LabelInputSerializer(many=True)
    mapping = MappingInputSerializer(many=True, required=False)
    note = serializers.CharField(required=False, allow_blank=True)
