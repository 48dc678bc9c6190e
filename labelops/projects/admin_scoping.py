"""What a lead may see in the Django admin: only the projects they lead.

Leads are staff users who are not superusers (`services.grant_lead_admin`
makes one). Model permissions, from the "Leads" group, say which *kinds* of
object they may view or change; the mixins here say *which* objects: every
admin queryset, every foreign-key choice and the project filter in the
sidebar are limited to projects where the user has the lead role. Superusers
see everything. An object outside that scope is simply not found (the admin
answers as for a missing object), as in the API.

Also here: read-only admins, and a paginator that never counts a million rows.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from labelops.projects.models import Membership, Project, Role


def led_project_ids(user):
    """A subquery of the ids of the projects `user` leads."""
    return Membership.objects.filter(user=user, role=Role.LEAD).values("project_id")


def scope_to_led_projects(queryset, user, project_field: str):
    """`queryset` limited to objects whose `project_field` (an ORM path to a
    Project, or "pk" for projects themselves) is a project `user` leads."""
    if user.is_superuser:
        return queryset
    if not (user.is_active and user.is_staff):
        return queryset.none()
    return queryset.filter(**{f"{project_field}__in": led_project_ids(user)})


class LedProjectFilter(admin.SimpleListFilter):
    """Sidebar filter by project, listing only projects the user leads (the
    stock related-field filter would list every project's name). Follows the
    model admin's `project_field`."""

    title = "project"
    parameter_name = "project"

    def __init__(self, request, params, model, model_admin):
        self.project_field = model_admin.project_field
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return [(p.pk, p.name) for p in Project.objects.led_by(request.user).only("pk", "name")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.project_field: self.value()})
        return queryset


class LeadScopedAdminMixin:
    """For ModelAdmin and inline classes. Set `project_field` to the ORM path
    from the model to its project ("project", "item__project", or "pk" on
    Project itself)."""

    project_field = "project"

    def get_queryset(self, request):
        return scope_to_led_projects(super().get_queryset(request), request.user, self.project_field)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            related_admin = self.admin_site._registry.get(db_field.related_model)
            if db_field.related_model is Project:
                kwargs["queryset"] = Project.objects.led_by(request.user)
            elif isinstance(related_admin, LeadScopedAdminMixin):
                kwargs["queryset"] = related_admin.get_queryset(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyAdminMixin:
    """Viewable (with the view permission), never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CappedCountPaginator(Paginator):
    """Counts at most `cap` rows: `SELECT COUNT(*) FROM (... LIMIT cap)`.

    A project holds up to a million items, and the admin's changelist would
    otherwise COUNT(*) them on every page view. Past the cap the changelist
    shows "10000" and its last page; filters and search reach the rest."""

    cap = 10_000

    @cached_property
    def count(self):
        return self.object_list.order_by()[: self.cap].count()


class LargeTableAdminMixin:
    """For changelists over tables that grow with the corpus."""

    paginator = CappedCountPaginator
    show_full_result_count = False
