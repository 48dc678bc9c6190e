"""Admin pages for items and import jobs: read-only, scoped to the projects
the user leads. Items change through the items and annotation services (and
their audit events), never by hand here."""

from django.contrib import admin

from labelops.items.models import ImportJob, Item
from labelops.projects.admin_scoping import (
    LargeTableAdminMixin,
    LeadScopedAdminMixin,
    LedProjectFilter,
    ReadOnlyAdminMixin,
)


@admin.register(Item)
class ItemAdmin(LeadScopedAdminMixin, LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """A project may hold a million items: no full counts, no <select> over them."""

    list_display = ["id", "project", "external_id", "preview", "split", "state", "annotation_count", "created_at"]
    list_filter = [LedProjectFilter, "split", "state"]
    # Exact external id first (indexed per project); text is a substring scan, so narrow by project first.
    search_fields = ["=external_id", "text"]
    search_help_text = "An exact external id, or words of the text."
    list_select_related = ["project"]
    # Should editing ever be opened, foreign keys stay id inputs, never a <select> over the table.
    raw_id_fields = ["project", "import_job"]
    exclude = ["gold_labels"]  # known answers stay out of sight, as in the annotator's view

    @admin.display(description="text")
    def preview(self, item):
        return item.file or (item.text[:80] + ("…" if len(item.text) > 80 else ""))


@admin.register(ImportJob)
class ImportJobAdmin(LeadScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "project", "format", "original_name", "state", "created_by", "created_at", "finished_at"]
    list_filter = [LedProjectFilter, "state", "format"]
    list_select_related = ["project", "created_by"]
    show_full_result_count = False
