"""Admin pages for annotations, consensus and reviews: read-only lists,
scoped to the projects the user leads. Changes happen in the annotation and
review queues, whose services record them."""

from django.contrib import admin
from django.db.models import Q

from labelops.annotation.models import Annotation, AnnotatorStats, Consensus, Review, ReviewTask
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


@admin.register(Consensus)
class ConsensusAdmin(ItemScopedAdmin):
    list_display = ["item", "labels", "status", "method", "agreement", "updated_at"]
    list_filter = [LedProjectFilter, "status", "method"]
    list_select_related = ["item"]


@admin.register(Review)
class ReviewAdmin(ItemScopedAdmin):
    list_display = ["id", "item", "reviewer", "decision", "reason", "created_at"]
    list_filter = [LedProjectFilter, "decision"]
    list_select_related = ["item", "reviewer"]


@admin.register(ReviewTask)
class ReviewTaskAdmin(ItemScopedAdmin):
    list_display = ["id", "item", "reasons", "annotation", "created_at", "closed_at"]
    list_filter = [LedProjectFilter]
    list_select_related = ["item"]


@admin.register(AnnotatorStats)
class AnnotatorStatsAdmin(LeadScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    project_field = "project"
    list_display = ["annotator", "project", "gold_seen", "gold_correct", "below_since", "last_passing_at"]
    list_filter = [LedProjectFilter]
    list_select_related = ["annotator", "project"]
