"""Admin pages for consensus, reviews, review tasks and gold records:
read-only lists, scoped to the projects the user leads. Changes happen in
the review queue and the quality services, which record them."""

from django.contrib import admin

from labelops.annotation.admin import ItemScopedAdmin
from labelops.annotation.models import AnnotatorStats, Consensus, Review, ReviewTask
from labelops.projects.admin_scoping import LeadScopedAdminMixin, LedProjectFilter, ReadOnlyAdminMixin


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
