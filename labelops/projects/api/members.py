"""A project's members over HTTP: leads add people, change roles and remove
them (never the last lead); members read the list."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from labelops.api.serializers import StrictFieldsMixin
from labelops.projects import services
from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import Membership, Role


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


class ProjectMembersMixin(ProjectScopedMixin):
    serializer_class = MembershipSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return Membership.objects.filter(project=self.project).select_related("user")


@extend_schema(tags=["members"])
@extend_schema_view(
    get=extend_schema(summary="Members of a project and their roles (members)"),
    post=extend_schema(
        summary="Add a member by username or user id (lead)",
        request=MembershipCreateSerializer, responses={201: MembershipSerializer},
    ),
)
class MemberList(ProjectMembersMixin, generics.ListCreateAPIView):
    needed_roles = {"get": Role.ANNOTATOR}  # post: lead

    def create(self, request, *args, **kwargs):
        incoming = MembershipCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        membership = services.add_member(actor=request.user, project=self.project, **incoming.validated_data)
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["members"])
@extend_schema_view(
    get=extend_schema(summary="A member (members)"),
    put=extend_schema(summary="Change a member's role (lead)"),
    patch=extend_schema(summary="Change a member's role (lead)"),
    delete=extend_schema(summary="Remove a member (lead); the last lead cannot be removed"),
)
class MemberDetail(ProjectMembersMixin, generics.RetrieveUpdateDestroyAPIView):
    needed_roles = {"get": Role.ANNOTATOR}  # put, patch, delete: lead

    def perform_update(self, serializer):
        if "role" in serializer.validated_data:
            serializer.instance = services.change_role(
                actor=self.request.user, membership=serializer.instance, role=serializer.validated_data["role"]
            )

    def perform_destroy(self, instance):
        services.remove_member(actor=self.request.user, membership=instance)
