from django.contrib import admin

from labelops.audit.models import AuditEvent
from labelops.projects.admin_scoping import LargeTableAdminMixin, LeadScopedAdminMixin, LedProjectFilter


@admin.register(AuditEvent)
class AuditEventAdmin(LeadScopedAdminMixin, LargeTableAdminMixin, admin.ModelAdmin):
    """Read-only: the trail can be searched, never edited. Leads see the events
    of the projects they lead; events of no project (user administration) are
    for superusers only."""

    list_display = ["created_at", "actor", "project", "verb", "object_type", "object_id"]
    list_filter = [LedProjectFilter, "verb", "object_type"]
    search_fields = ["object_id", "verb", "actor__username"]
    list_select_related = ["actor", "project"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
