"""Who may do what in a project, for every API view.

Rule of thumb: someone who is not a member must not learn that an object
exists, so they get 404; a member whose role is too low gets 403 with the
role that is needed.
"""

from __future__ import annotations

from django.db.models import OuterRef, Subquery
from django.http import Http404
from rest_framework.exceptions import PermissionDenied

from labelops.projects.models import Membership, Project, Role

# Roles in increasing power; a role may do everything the roles before it may.
ROLE_ORDER = [Role.ANNOTATOR, Role.REVIEWER, Role.LEAD]


def has_role(role: str | None, needed: str) -> bool:
    return role is not None and ROLE_ORDER.index(role) >= ROLE_ORDER.index(needed)


def get_project_for(user, project_id, needed: str = Role.ANNOTATOR, projects=None) -> tuple[Project, str]:
    """The project if `user` is a member (404 otherwise) with at least role
    `needed` (403 otherwise), and the user's role. One query: every API
    request pays it, so the role comes in the same row as the project.
    `projects` (default all) lets a view read what it needs with the same
    row (the queue views add the rules and the claim's `QueueState`)."""
    role_of_user = Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
    projects = Project.objects.all() if projects is None else projects
    project = projects.annotate(member_role=Subquery(role_of_user)).filter(pk=project_id).first()
    role = None
    if project is not None:
        role = project.member_role or (Role.LEAD if user.is_superuser else None)
    if role is None:
        raise Http404("No Project matches the given query.")
    if not has_role(role, needed):
        raise PermissionDenied(f"this needs the {needed} role in project {project.pk}; you are {role}")
    return project, role


class ProjectScopedMixin:
    """For views nested under /projects/<project_pk>/.

    Set `needed_roles = {"list": "annotator", "create": "lead", ...}` (by DRF
    action, or by HTTP method for plain APIViews); anything not listed needs
    the lead role, so a new action is closed until someone opens it.
    """

    needed_roles: dict[str, str] = {}
    project_url_kwarg = "project_pk"

    def project_queryset(self):
        """Where the project is read from: override to read more with the
        same row (`select_related`, annotations) on a hot path."""
        return Project.objects.all()

    def _needed_role(self) -> str:
        action = getattr(self, "action", None) or self.request.method.lower()
        if action in ("head", "options"):  # read-only twins of GET
            action = "get"
        return self.needed_roles.get(action, Role.LEAD)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.project, self.role = get_project_for(
            request.user, kwargs[self.project_url_kwarg], self._needed_role(), projects=self.project_queryset()
        )
