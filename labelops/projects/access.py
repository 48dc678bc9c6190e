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


def member_project(user, project_id) -> Project | None:
    """The project (None if there is none) with `member_role`, the user's
    role in it (None if not a member). One query: every API request pays
    it, so the role comes in the same row as the project."""
    role_of_user = Membership.objects.filter(project=OuterRef("pk"), user=user).values("role")[:1]
    return Project.objects.annotate(member_role=Subquery(role_of_user)).filter(pk=project_id).first()


def authorise(user, project: Project | None, member_role: str | None, needed: str) -> str:
    """The user's role in `project` (`member_role`, their membership's; a
    superuser who is not a member is a lead), if it is at least `needed`:
    404 for no project or a non-member, 403 with the role needed if lower."""
    role = None
    if project is not None:
        role = member_role or (Role.LEAD if user.is_superuser else None)
    if role is None:
        raise Http404("No Project matches the given query.")
    if not has_role(role, needed):
        raise PermissionDenied(f"this needs the {needed} role in project {project.pk}; you are {role}")
    return role


class ProjectScopedMixin:
    """For views nested under /projects/<project_pk>/.

    Set `needed_roles = {"list": "annotator", "create": "lead", ...}` (by DRF
    action, or by HTTP method for plain APIViews); anything not listed needs
    the lead role, so a new action is closed until someone opens it.
    """

    needed_roles: dict[str, str] = {}
    project_url_kwarg = "project_pk"

    def read_project(self, user, project_id) -> tuple[Project | None, str | None]:
        """The project (None if there is none) and the user's role in it
        (None if not a member), in one query (`member_project`): override to
        read more with the same row on a hot path (the queue views)."""
        project = member_project(user, project_id)
        return project, project.member_role if project is not None else None

    def _needed_role(self) -> str:
        action = getattr(self, "action", None) or self.request.method.lower()
        if action in ("head", "options"):  # read-only twins of GET
            action = "get"
        return self.needed_roles.get(action, Role.LEAD)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        project, member_role = self.read_project(request.user, kwargs[self.project_url_kwarg])
        self.role = authorise(request.user, project, member_role, self._needed_role())
        self.project = project
