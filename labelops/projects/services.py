"""Changes to projects, members, rules and taxonomies, and admin access for leads.

Each public function validates, writes and records an audit event in one
transaction; views only parse, authorise and format. Functions that read then
write the same rows lock them with `select_for_update`, as their docstrings say.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.db.models import Q

from labelops.audit.services import record
from labelops.projects.models import (
    Label,
    MappingKind,
    Membership,
    Project,
    QualityRules,
    Role,
    TaxonomyMapping,
    TaxonomyVersion,
)
from labelops.projects.project_settings import ProjectSettings

# --- Projects ------------------------------------------------------------------

@transaction.atomic
def create_project(
    *, actor, name: str, modality: str = "text", task: str = "single_label",
    description: str = "", settings: dict[str, Any] | None = None,
) -> Project:
    """Create a project with default quality rules; `actor` becomes its lead."""
    project = Project(
        name=name, description=description, modality=modality, task=task,
        settings=ProjectSettings.from_dict(settings).to_dict(), created_by=actor,
    )
    project.full_clean()
    project.save()
    QualityRules.objects.create(project=project)
    record(actor=actor, verb="project.create", obj=project, project=project, after=project.to_dict())
    if actor is not None:
        Membership.objects.create(project=project, user=actor, role=Role.LEAD)
    return project


@transaction.atomic
def update_project(*, actor, project: Project, **changes) -> Project:
    """Change name, description or settings. Modality and task are fixed once
    items exist, because items and annotations depend on them. Locks the project row."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    before = project.to_dict()
    allowed = {"name", "description", "settings", "modality", "task"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(f"cannot change {', '.join(sorted(unknown))}")
    for field in ("modality", "task"):
        if field in changes and changes[field] != getattr(project, field) and project.items.exists():
            raise ValidationError({field: f"cannot change {field} of a project that has items"})
    if "settings" in changes:
        # Partial update: keys given replace those stored; the result must validate.
        merged = {**project.settings, **(changes.pop("settings") or {})}
        project.settings = ProjectSettings.from_dict(merged).to_dict()
    for field, value in changes.items():
        setattr(project, field, value)
    project.full_clean()
    project.save()
    record(actor=actor, verb="project.update", obj=project, project=project, before=before, after=project.to_dict())
    return project


@transaction.atomic
def update_rules(*, actor, project: Project, **changes) -> QualityRules:
    """Change quality rules; every value is range-checked. Locks the rules row."""
    rules = QualityRules.objects.select_for_update().get(project=project)
    unknown = set(changes) - set(QualityRules.EDITABLE)
    if unknown:
        raise ValidationError(f"unknown rule(s): {', '.join(sorted(unknown))}")
    before = rules.to_dict()
    for field, value in changes.items():
        setattr(rules, field, value)
    rules.full_clean()
    rules.save()
    record(actor=actor, verb="rules.update", obj=rules, project=project, before=before, after=rules.to_dict())
    return rules


# --- Members -------------------------------------------------------------------

@transaction.atomic
def add_member(*, actor, project: Project, user, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": f"role must be one of {', '.join(Role.values)}, got {role!r}"})
    if Membership.objects.filter(project=project, user=user).exists():
        raise ValidationError({"user": f"{user.username} is already a member of this project"})
    membership = Membership.objects.create(project=project, user=user, role=role)
    record(actor=actor, verb="member.add", obj=membership, project=project, after=membership.to_dict())
    return membership


def _ensure_a_lead_remains(project: Project, leaving: Membership) -> None:
    others = Membership.objects.filter(project=project, role=Role.LEAD).exclude(pk=leaving.pk)
    if leaving.role == Role.LEAD and not others.exists():
        raise ValidationError("a project needs at least one lead: add another lead first")


@transaction.atomic
def change_role(*, actor, membership: Membership, role: str) -> Membership:
    """Locks the project's lead memberships so two demotions cannot both pass."""
    if role not in Role.values:
        raise ValidationError({"role": f"role must be one of {', '.join(Role.values)}, got {role!r}"})
    list(Membership.objects.select_for_update().filter(project_id=membership.project_id, role=Role.LEAD))
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    before = membership.to_dict()
    if role != Role.LEAD:
        _ensure_a_lead_remains(membership.project, membership)
    membership.role = role
    membership.save(update_fields=["role"])
    record(actor=actor, verb="member.role", obj=membership, project=membership.project, before=before,
           after=membership.to_dict())
    return membership


@transaction.atomic
def remove_member(*, actor, membership: Membership) -> None:
    list(Membership.objects.select_for_update().filter(project_id=membership.project_id, role=Role.LEAD))
    _ensure_a_lead_remains(membership.project, membership)
    record(actor=actor, verb="member.remove", obj=membership, project=membership.project,
           before=membership.to_dict())
    membership.delete()


# --- Taxonomy ------------------------------------------------------------------

@dataclass(frozen=True)
class LabelSpec:
    key: str
    name: str
    parent: str | None = None
    hotkey: str = ""
    guideline: str = ""
    examples: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any], position: int) -> LabelSpec:
        if not isinstance(data, dict):
            raise ValidationError({"labels": f"label #{position + 1} must be an object, got {data!r}"})
        unknown = set(data) - {"key", "name", "parent", "hotkey", "guideline", "examples"}
        if unknown:
            raise ValidationError({"labels": f"label #{position + 1}: unknown field(s) {', '.join(sorted(unknown))}"})
        if not data.get("key"):
            raise ValidationError({"labels": f"label #{position + 1} has no key"})
        return cls(
            key=str(data["key"]),
            name=str(data.get("name") or data["key"]),
            parent=data.get("parent") or None,
            hotkey=str(data.get("hotkey") or ""),
            guideline=str(data.get("guideline") or ""),
            examples=tuple(str(e) for e in data.get("examples") or ()),
        )


def _validate_tree(specs: list[LabelSpec]) -> None:
    keys = [s.key for s in specs]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValidationError({"labels": f"duplicate label key(s): {', '.join(duplicates)}"})
    hotkeys = [s.hotkey for s in specs if s.hotkey]
    clashes = sorted({h for h in hotkeys if hotkeys.count(h) > 1})
    if clashes:
        raise ValidationError({"labels": f"hotkey(s) used by more than one label: {', '.join(clashes)}"})
    for spec in specs:
        if len(spec.hotkey) > 1:
            raise ValidationError({"labels": f"label {spec.key!r}: a hotkey is one character, got {spec.hotkey!r}"})
        if spec.parent is not None and spec.parent not in keys:
            raise ValidationError({"labels": f"label {spec.key!r}: parent {spec.parent!r} is not a label of this version"})
    parents = {s.key: s.parent for s in specs}
    for spec in specs:  # walk up; a revisit means a cycle
        seen: set[str] = set()
        key: str | None = spec.key
        while key is not None:
            if key in seen:
                raise ValidationError({"labels": f"label {spec.key!r} is its own ancestor"})
            seen.add(key)
            key = parents[key]


def _validate_mapping(old: TaxonomyVersion | None, new_keys: set[str], mapping: list[dict]) -> list[dict]:
    if old is None:
        if mapping:
            raise ValidationError({"mapping": "the first taxonomy version has nothing to map from"})
        return []
    old_keys = old.keys()
    cleaned, mapped = [], set()
    for position, entry in enumerate(mapping):
        where = f"mapping #{position + 1}"
        if not isinstance(entry, dict) or set(entry) - {"kind", "from", "to"}:
            raise ValidationError({"mapping": f"{where} must be an object with kind, from and to"})
        kind, source = entry.get("kind"), entry.get("from")
        targets = entry.get("to") or []
        if isinstance(targets, str):
            targets = [targets]
        if kind not in MappingKind.values:
            raise ValidationError({"mapping": f"{where}: kind must be one of {', '.join(MappingKind.values)}"})
        if source not in old_keys:
            raise ValidationError({"mapping": f"{where}: {source!r} is not a label of version {old.number}"})
        if source in mapped:
            raise ValidationError({"mapping": f"{where}: {source!r} is mapped twice"})
        missing = [t for t in targets if t not in new_keys]
        if missing:
            raise ValidationError({"mapping": f"{where}: {', '.join(map(repr, missing))} not in the new version"})
        expected = {"rename": (1, 1), "merge": (1, 1), "split": (2, None), "deprecate": (0, 0)}[kind]
        if len(targets) < expected[0] or (expected[1] is not None and len(targets) > expected[1]):
            raise ValidationError({"mapping": f"{where}: {kind} takes "
                                   + {"rename": "one target", "merge": "one target",
                                      "split": "two or more targets", "deprecate": "no target"}[kind]})
        mapped.add(source)
        cleaned.append({"kind": kind, "from": source, "to": list(targets)})
    dropped = sorted(old_keys - new_keys - mapped)
    if dropped:
        raise ValidationError({"mapping": (
            f"label(s) {', '.join(dropped)} of version {old.number} are missing from the new version: "
            "map each one (rename, merge, split) or deprecate it"
        )})
    return cleaned


@dataclass(frozen=True)
class TaxonomyDraft:
    """A checked, not yet written, next version of a project's taxonomy."""

    specs: tuple[LabelSpec, ...]
    previous: TaxonomyVersion | None
    mapping: tuple[dict[str, Any], ...]


def _check_label_fields(spec: LabelSpec) -> None:
    label = Label(key=spec.key, name=spec.name, hotkey=spec.hotkey, guideline=spec.guideline,
                  examples=list(spec.examples))
    try:
        label.clean_fields(exclude=["version", "parent", "position"])
    except ValidationError as exc:
        problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
        raise ValidationError({"labels": f"label {spec.key!r}: {problems}"}) from None


def check_taxonomy_version(
    *, project: Project, labels: Iterable[dict[str, Any]], mapping: list[dict] | None = None,
) -> TaxonomyDraft:
    """Validate a proposed next version without writing anything: the labels
    form a tree (unique keys and hotkeys, known parents, no cycles) and every
    label of the current version is mapped or kept. Errors name the label.
    Takes no locks: `create_taxonomy_version` (in
    `labelops.annotation.services.taxonomy_migration`) checks again under its lock."""
    specs = [LabelSpec.from_dict(data, i) for i, data in enumerate(labels)]
    if not specs:
        raise ValidationError({"labels": "a taxonomy needs at least one label"})
    _validate_tree(specs)
    for spec in specs:
        _check_label_fields(spec)
    previous = project.active_taxonomy()
    cleaned_mapping = _validate_mapping(previous, {s.key for s in specs}, list(mapping or []))
    return TaxonomyDraft(specs=tuple(specs), previous=previous, mapping=tuple(cleaned_mapping))


def write_taxonomy_version(*, project: Project, draft: TaxonomyDraft, actor, note: str = "") -> TaxonomyVersion:
    """Write the version `draft` describes (from `check_taxonomy_version`):
    its labels, tree and mapping from the previous version. Nothing else:
    the caller, `labelops.annotation.services.taxonomy_migration.
    create_taxonomy_version`, holds the project row lock, carries the
    project's labels into the new version and records the event, all in
    one transaction."""
    previous = draft.previous
    version = TaxonomyVersion.objects.create(
        project=project, number=(previous.number + 1) if previous else 1, note=note, created_by=actor
    )
    by_key: dict[str, Label] = {}
    for position, spec in enumerate(draft.specs):
        by_key[spec.key] = Label(version=version, key=spec.key, name=spec.name, hotkey=spec.hotkey,
                                 guideline=spec.guideline, examples=list(spec.examples), position=position)
    Label.objects.bulk_create(by_key.values())
    children = []
    for spec in draft.specs:
        if spec.parent:
            by_key[spec.key].parent = by_key[spec.parent]
            children.append(by_key[spec.key])
    Label.objects.bulk_update(children, ["parent"])
    TaxonomyMapping.objects.bulk_create(
        TaxonomyMapping(to_version=version, from_version=previous, kind=m["kind"], from_key=m["from"], to_keys=m["to"])
        for m in draft.mapping
    )
    return version


# --- Admin access for leads ------------------------------------------------------

LEADS_GROUP = "Leads"

# What a lead may do in the Django admin ("app_label.codename"). Every admin
# page is further limited to the projects the user leads (see
# `labelops.projects.admin_scoping`), so these grant kinds of objects, never
# other people's projects. Writes are only those the admin routes through
# services (projects, members, rules, new taxonomy versions); the rest is view-only.
LEAD_ADMIN_PERMISSIONS = (
    "projects.add_project", "projects.change_project", "projects.view_project",
    "projects.add_membership", "projects.change_membership", "projects.delete_membership",
    "projects.view_membership",
    "projects.change_qualityrules", "projects.view_qualityrules",
    "projects.add_taxonomyversion", "projects.view_taxonomyversion",
    "projects.view_label", "projects.view_taxonomymapping",
    "items.view_item", "items.view_importjob",
    "annotation.view_annotation", "annotation.view_consensus", "annotation.view_review",
    "learning.view_traininground", "learning.view_modelversion",
    "audit.view_auditevent",
)


def ensure_leads_group():
    """The "Leads" auth group, created if missing, with exactly
    `LEAD_ADMIN_PERMISSIONS` (permissions added to it by hand are removed:
    the list above is the one place to change). Idempotent; safe to call from
    a `post_migrate` handler. Fails loudly if a permission does not exist,
    i.e. migrations have not run or a model was renamed."""
    from django.contrib.auth.models import Group, Permission

    wanted = {tuple(name.split(".", 1)) for name in LEAD_ADMIN_PERMISSIONS}
    matches = Q()
    for app_label, codename in wanted:
        matches |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.filter(matches).select_related("content_type"))
    missing = wanted - {(p.content_type.app_label, p.codename) for p in found}
    if missing:
        names = ", ".join(sorted(f"{app}.{code}" for app, code in missing))
        raise ImproperlyConfigured(f"permission(s) {names} do not exist: run `manage.py migrate` first")
    group, _ = Group.objects.get_or_create(name=LEADS_GROUP)
    group.permissions.set(found)
    return group


def _admin_access(user) -> dict[str, Any]:
    return {"is_staff": user.is_staff, "groups": sorted(user.groups.values_list("name", flat=True))}


@transaction.atomic
def grant_lead_admin(*, actor, user):
    """Let `user` into the Django admin as a lead: sets `is_staff` and adds
    them to the Leads group. Never implied by leading a project (neither
    `create_project` nor `add_member` touches staff status): it is granted
    explicitly, and recorded. What they see there stays limited to the
    projects they lead. Locks the user row."""
    user = type(user)._default_manager.select_for_update().get(pk=user.pk)
    group = ensure_leads_group()
    before = _admin_access(user)
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    user.groups.add(group)
    record(actor=actor, verb="user.grant_lead_admin", obj=user, before=before, after=_admin_access(user))
    return user


@transaction.atomic
def revoke_lead_admin(*, actor, user):
    """Undo `grant_lead_admin`: removes the Leads group and, unless the user is
    a superuser, the staff flag. Project memberships are untouched. Locks the user row."""
    from django.contrib.auth.models import Group

    user = type(user)._default_manager.select_for_update().get(pk=user.pk)
    before = _admin_access(user)
    user.groups.remove(*Group.objects.filter(name=LEADS_GROUP))
    if user.is_staff and not user.is_superuser:
        user.is_staff = False
        user.save(update_fields=["is_staff"])
    record(actor=actor, verb="user.revoke_lead_admin", obj=user, before=before, after=_admin_access(user))
    return user


def sync_leads_group(sender=None, **kwargs):
    """`post_migrate` receiver: keep the Leads group's permissions current.

    Permissions are created per app as `post_migrate` runs through the apps,
    so this waits until every app named in `LEAD_ADMIN_PERMISSIONS` has them."""
    from django.contrib.auth.models import Permission

    using = kwargs.get("using", "default")
    apps_needed = {name.split(".", 1)[0] for name in LEAD_ADMIN_PERMISSIONS}
    have = set(
        Permission.objects.using(using).filter(content_type__app_label__in=apps_needed)
        .values_list("content_type__app_label", flat=True).distinct()
    )
    if have >= apps_needed and using == "default":
        ensure_leads_group()
