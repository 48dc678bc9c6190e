"""Admin pages for training rounds and the model versions they made:
read-only, scoped to the projects the user leads."""

from django.contrib import admin

from labelops.learning.models import ModelVersion, TrainingRound
from labelops.projects.admin_scoping import LeadScopedAdminMixin, LedProjectFilter, ReadOnlyAdminMixin


@admin.register(TrainingRound)
class TrainingRoundAdmin(LeadScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["project", "number", "state", "labels_count", "created_by", "created_at", "finished_at"]
    list_filter = [LedProjectFilter, "state"]
    list_select_related = ["project", "created_by"]
    show_full_result_count = False


@admin.register(ModelVersion)
class ModelVersionAdmin(LeadScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["project", "round", "is_active", "created_at"]
    list_filter = [LedProjectFilter, "is_active"]
    list_select_related = ["project", "round"]
    show_full_result_count = False
