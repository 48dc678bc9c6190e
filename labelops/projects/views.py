"""Projects, members, quality rules and taxonomy versions over HTTP.

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

from django.db.models import Count, OuterRef, Prefetch, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.projects import services
from labelops.projects.access import ProjectScopedMixin
from labelops.projects.models import Label, Membership, Project, Role, TaxonomyVersion
from labelops.projects.serializers import (
    MembershipCreateSerializer,
    MembershipSerializer,
    MigrationSummarySerializer,
    ProjectSerializer,
    QualityRulesSerializer,
    TaxonomyVersionCreatedSerializer,
    TaxonomyVersionCreateSerializer,
    TaxonomyVersionDetailSerializer,
    TaxonomyVersionSerializer,
)


def _is_schema_generation(view) -> bool:
    # drf-spectacular instantiates views without a real request or URL kwargs.
    return getattr(view, "swagger_fake_view", False)


# --- Projects ------------------------------------------------------------------------


@extend_schema(tags=["projects"])
@extend_schema_view(
    get=extend_schema(summary="Projects you are a member of (all projects for superusers)"),
    post=extend_schema(summary="Create a project; you become its lead"),
)
class ProjectList(generics.ListCreateAPIView):
    serializer_class = ProjectSerializer

    def get_queryset(self):
        if _is_schema_generation(self):
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


# --- Members ---------------------------------------------------------------------------


class ProjectMembersMixin(ProjectScopedMixin):
    serializer_class = MembershipSerializer

    def get_queryset(self):
        if _is_schema_generation(self):
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


# --- Quality rules -----------------------------------------------------------------------


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


# --- Taxonomy ----------------------------------------------------------------------------


class ProjectTaxonomyMixin(ProjectScopedMixin):
    def get_queryset(self):
        if _is_schema_generation(self):
            return TaxonomyVersion.objects.none()
        return TaxonomyVersion.objects.filter(project=self.project).select_related("created_by")

    def with_labels(self, queryset):
        return queryset.prefetch_related(
            Prefetch("labels", queryset=Label.objects.select_related("parent")), "mappings"
        )


@extend_schema(tags=["taxonomy"])
@extend_schema_view(
    get=extend_schema(summary="Taxonomy versions of a project, oldest first (members)"),
    post=extend_schema(
        summary="Create the next taxonomy version (lead)",
        description=(
            "Give the complete label list of the new version. Every label of the current version that is "
            "not kept under the same key needs a mapping entry: rename (one target), merge (one target, "
            "one entry per merged label), split (two or more targets) or deprecate (no target). "
            "The project's annotations, consensus, known answers and proposals move into the new version "
            "in the same request: renamed and merged labels are rewritten, items that used a split or "
            "deprecated label go back to the queue to be labelled again. `migration` counts what moved."
        ),
        request=TaxonomyVersionCreateSerializer, responses={201: TaxonomyVersionCreatedSerializer},
    ),
)
class TaxonomyVersionList(ProjectTaxonomyMixin, generics.ListCreateAPIView):
    serializer_class = TaxonomyVersionSerializer
    needed_roles = {"get": Role.ANNOTATOR}  # post: lead

    def get_queryset(self):
        return super().get_queryset().annotate(label_count=Count("labels"))

    def create(self, request, *args, **kwargs):
        incoming = TaxonomyVersionCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        created = create_taxonomy_version(actor=request.user, project=self.project, **incoming.validated_data)
        version = self.with_labels(super().get_queryset()).get(pk=created.version.pk)
        migration = MigrationSummarySerializer(created.migration).data if created.migration else None
        return Response({**TaxonomyVersionDetailSerializer(version).data, "migration": migration},
                        status=status.HTTP_201_CREATED)


@extend_schema(tags=["taxonomy"])
@extend_schema_view(get=extend_schema(summary="One taxonomy version with its labels and mapping (members)"))
class TaxonomyVersionDetail(ProjectTaxonomyMixin, generics.RetrieveAPIView):
    serializer_class = TaxonomyVersionDetailSerializer
    needed_roles = {"get": Role.ANNOTATOR}
    lookup_field = "number"

    def get_queryset(self):
        return self.with_labels(super().get_queryset())


@extend_schema(tags=["taxonomy"])
@extend_schema_view(get=extend_schema(summary="The active (newest) taxonomy version (members); 404 if none yet"))
class ActiveTaxonomy(ProjectTaxonomyMixin, generics.RetrieveAPIView):
    serializer_class = TaxonomyVersionDetailSerializer
    needed_roles = {"get": Role.ANNOTATOR}

    def get_object(self):
        version = self.with_labels(self.get_queryset()).order_by("-number").first()
        if version is None:
            raise Http404("this project has no taxonomy yet")
        return version


# --- API tokens ----------------------------------------------------------------------------


@extend_schema(tags=["auth"], summary="Exchange a username and password for an API token")
class ObtainToken(ObtainAuthToken):
    """Send `Authorization: Token <token>` with later requests. The token stays
    valid until it is deleted (in the admin); the browser app uses the session."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"
