"""Admin pages for annotations: read-only lists, scoped to the projects the
user leads. Changes happen in the annotation queue, whose services record
them. (Consensus, reviews and gold records: `labelops.quality.admin`.)"""

from django.contrib import admin
from django.db.models import Q

from labelops.annotation.models import Annotation
from labelops.projects.admin_scoping import (
    LargeTableAdminMixin,
    LeadScopedAdminMixin,
    LedProjectFilter,
    ReadOnlyAdminMixin,
)


class ItemScopedAdmin(LeadScopedAdminMixin, LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    project_field = "item__project"
    search_fields = ["item"]  # shows the search box; the search itself is below
    search_help_text = "An item id, or an item's exact external id."

    def get_search_results(self, request, queryset, search_term):
        """Exact matches only: a substring search would scan every row."""
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(item__external_id=term)
        if term.isdigit():
            match |= Q(item_id=int(term))
        return queryset.filter(match), False


@admin.register(Annotation)
class AnnotationAdmin(ItemScopedAdmin):
    list_display = ["id", "item", "annotator", "labels", "source", "discarded", "created_at"]
    list_filter = [LedProjectFilter, "source", "discarded"]
    list_select_related = ["item", "annotator"]
