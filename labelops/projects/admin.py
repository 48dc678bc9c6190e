"""Admin pages for projects (with members and quality rules) and taxonomies.

Leads use these pages for the projects they lead only (see `admin_scoping`),
and start training rounds from them (`labelops.learning.admin.StartRoundAdminMixin`).
Every save goes through `labelops.projects.services`, so the admin records
the same audit events as the API and enforces the same rules (at least one
lead, settings schema, immutable taxonomy versions).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html

from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.learning.admin import StartRoundAdminMixin
from labelops.projects import services
from labelops.projects.admin_scoping import LeadScopedAdminMixin, LedProjectFilter, ReadOnlyAdminMixin
from labelops.projects.models import Label, Membership, Project, QualityRules, Role, TaxonomyMapping, TaxonomyVersion

PROJECT_FIELDS = ["name", "description", "modality", "task", "settings"]


def _adopt(target, source) -> None:
    """Make the admin's unsaved `target` stand for the row a service created."""
    for name, value in vars(source).items():
        if name != "_state":
            setattr(target, name, value)
    target._state.adding = False
    target._state.db = source._state.db


# --- Members and rules, inline on a project ---------------------------------------


class MembershipForm(forms.ModelForm):
    # A username, typed: a <select> would list every user of the site to every lead.
    user = forms.ModelChoiceField(
        queryset=get_user_model()._default_manager.filter(is_active=True),
        to_field_name="username", widget=forms.TextInput, label="Username",
        error_messages={"invalid_choice": "No active user has this username."},
    )

    class Meta:
        model = Membership
        fields = ["user", "role"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Who a membership belongs to never changes; remove it and add another.
            self.fields["user"].disabled = True
            self.initial["user"] = self.instance.user.username


class MembershipFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        roles = [
            form.cleaned_data.get("role") for form in self.forms
            if form.cleaned_data and not self._should_delete_form(form)
        ]
        if self.instance.pk and Role.LEAD not in roles:
            raise ValidationError("A project needs at least one lead: make someone else lead first.")


class MembershipInline(LeadScopedAdminMixin, admin.TabularInline):
    model = Membership
    form = MembershipForm
    formset = MembershipFormSet
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


class QualityRulesInline(LeadScopedAdminMixin, admin.StackedInline):
    model = QualityRules
    fields = QualityRules.EDITABLE
    can_delete = False
    extra = 0
    max_num = 1


# --- Projects -----------------------------------------------------------------------


@admin.register(Project)
class ProjectAdmin(StartRoundAdminMixin, LeadScopedAdminMixin, admin.ModelAdmin):
    project_field = "pk"
    list_display = ["name", "modality", "task", "created_by", "created_at"]
    list_select_related = ["created_by"]
    search_fields = ["name"]
    inlines = [MembershipInline, QualityRulesInline]

    def get_inlines(self, request, obj):
        # A new project gets its rules and its lead (you) from the service; add the rest after saving.
        return self.inlines if obj is not None else []

    def get_fields(self, request, obj=None):
        return PROJECT_FIELDS if obj is None else [*PROJECT_FIELDS, "taxonomy"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if obj.items.exists():
            return ["modality", "task", "taxonomy"]  # items and annotations depend on modality and task
        return ["taxonomy"]

    @admin.display(description="taxonomy")
    def taxonomy(self, project):
        current = project.active_taxonomy()
        versions = reverse("admin:projects_taxonomyversion_changelist") + f"?project={project.pk}"
        new = reverse("admin:projects_taxonomyversion_add") + f"?project={project.pk}"
        if current is None:
            return format_html('None yet. <a href="{}">Create the first version</a>', new)
        return format_html(
            '<a href="{}">version {}</a> is active. <a href="{}">Make the next version</a>',
            versions, current.number, new,
        )

    def has_delete_permission(self, request, obj=None):
        # The delete page would list every item and annotation of the project;
        # removing a project is an operator's job, not a click.
        return False

    def save_model(self, request, obj, form, change):
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data if name in PROJECT_FIELDS}
            if changes:
                _adopt(obj, services.update_project(actor=request.user, project=obj, **changes))
        else:
            values = {name: form.cleaned_data[name] for name in PROJECT_FIELDS if name in form.cleaned_data}
            _adopt(obj, services.create_project(actor=request.user, **values))

    def save_formset(self, request, form, formset, change):
        if formset.model is Membership:
            self._save_memberships(request, form.instance, formset)
        elif formset.model is QualityRules:
            formset.save(commit=False)
            for rules, changed in formset.changed_objects:
                services.update_rules(
                    actor=request.user, project=form.instance, **{name: getattr(rules, name) for name in changed}
                )
        else:
            super().save_formset(request, form, formset, change)

    @staticmethod
    def _save_memberships(request, project, formset) -> None:
        formset.save(commit=False)  # fills new_objects, changed_objects, deleted_objects; writes nothing
        for membership in formset.new_objects:
            services.add_member(actor=request.user, project=project, user=membership.user, role=membership.role)
        # Promotions before demotions, so handing over the lead role in one save works.
        changed = sorted(
            (m for m, fields in formset.changed_objects if "role" in fields), key=lambda m: m.role != Role.LEAD
        )
        for membership in changed:
            services.change_role(actor=request.user, membership=membership, role=membership.role)
        for membership in formset.deleted_objects:
            services.remove_member(actor=request.user, membership=membership)


# --- Taxonomy versions ------------------------------------------------------------------


class LabelInline(LeadScopedAdminMixin, ReadOnlyAdminMixin, admin.TabularInline):
    model = Label
    project_field = "version__project"
    fk_name = "version"
    fields = ["key", "name", "parent", "hotkey", "guideline", "examples"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("parent")


class MappingInline(LeadScopedAdminMixin, ReadOnlyAdminMixin, admin.TabularInline):
    model = TaxonomyMapping
    project_field = "to_version__project"
    fk_name = "to_version"
    fields = ["kind", "from_key", "to_keys"]
    readonly_fields = fields
    verbose_name = "mapping from the previous version"
    verbose_name_plural = "mapping from the previous version"


class NewTaxonomyVersionForm(forms.ModelForm):
    """A new version: the complete label list and the mapping from the
    current version, as JSON (the same shapes as the API)."""

    labels = forms.JSONField(
        initial=list,
        help_text='A list of {"key", "name", "parent", "hotkey", "guideline", "examples"}; '
                  "parent is another key of this list.",
    )
    mapping = forms.JSONField(
        initial=list, required=False,
        help_text='A list of {"kind": "rename|merge|split|deprecate", "from": "old_key", "to": ["new_key", ...]} '
                  "for every label of the current version that is not kept under the same key.",
    )

    class Meta:
        model = TaxonomyVersion
        fields = ["project", "note"]

    def clean(self):
        cleaned = super().clean()
        project, labels = cleaned.get("project"), cleaned.get("labels")
        if project is None or labels is None:
            return cleaned
        if not isinstance(labels, list):
            self.add_error("labels", "Give a JSON list of labels.")
            return cleaned
        try:
            services.check_taxonomy_version(project=project, labels=labels, mapping=cleaned.get("mapping") or [])
        except ValidationError as exc:
            self.add_error(None, exc)
        return cleaned


@admin.register(TaxonomyVersion)
class TaxonomyVersionAdmin(LeadScopedAdminMixin, admin.ModelAdmin):
    """Versions are immutable: view them here; "Add" makes the next version."""

    list_display = ["project", "number", "note", "created_by", "created_at"]
    list_filter = [LedProjectFilter]
    list_select_related = ["project", "created_by"]
    readonly_fields = ["project", "number", "note", "created_by", "created_at"]

    def get_fields(self, request, obj=None):
        return ["project", "note", "labels", "mapping"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = NewTaxonomyVersionForm
        return super().get_form(request, obj, **kwargs)

    def get_inlines(self, request, obj):
        return [LabelInline, MappingInline] if obj is not None else []

    def get_changeform_initial_data(self, request):
        """With ?project=<id>, start from that project's current labels."""
        initial = super().get_changeform_initial_data(request)
        project = Project.objects.led_by(request.user).filter(pk=request.GET.get("project") or None).first()
        current = project.active_taxonomy() if project else None
        if current is not None:
            initial["labels"] = current.to_dict()["labels"]
        return initial

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        version = create_taxonomy_version(
            actor=request.user, project=form.cleaned_data["project"], labels=form.cleaned_data["labels"],
            mapping=form.cleaned_data.get("mapping") or [], note=form.cleaned_data.get("note") or "",
        ).version
        _adopt(obj, version)
