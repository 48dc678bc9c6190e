"""Projects, who belongs to them, their quality rules and their versioned taxonomy."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.functional import cached_property

from labelops.projects.project_settings import ProjectSettings


class Modality(models.TextChoices):
    TEXT = "text", "Text"
    IMAGE = "image", "Image"


class TaskType(models.TextChoices):
    SINGLE_LABEL = "single_label", "Single label"
    MULTI_LABEL = "multi_label", "Multi label"


class Role(models.TextChoices):
    LEAD = "lead", "Lead"
    REVIEWER = "reviewer", "Reviewer"
    ANNOTATOR = "annotator", "Annotator"


class ProjectQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Projects the user is a member of (superusers see all)."""
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(memberships__user=user).distinct()

    def led_by(self, user):
        if user.is_superuser:
            return self
        return self.filter(memberships__user=user, memberships__role=Role.LEAD).distinct()


def validate_project_settings(value):
    # A field validator must raise a flat list of messages: Model.clean_fields
    # files them under the field, and a dict-shaped error would crash it.
    try:
        ProjectSettings.from_dict(value)
    except ValidationError as exc:
        raise ValidationError(exc.messages) from None


class Project(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    modality = models.CharField(max_length=16, choices=Modality.choices, default=Modality.TEXT)
    task = models.CharField(max_length=16, choices=TaskType.choices, default=TaskType.SINGLE_LABEL)
    settings = models.JSONField(default=dict, blank=True, validators=[validate_project_settings])
    # Blank for projects made by the system (no actor), and once the user is deleted.
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.name

    @property
    def config(self) -> ProjectSettings:
        """Settings with defaults filled in."""
        return ProjectSettings.from_dict(self.settings)

    def role_of(self, user) -> str | None:
        if not user.is_authenticated:
            return None
        membership = self.memberships.filter(user=user).only("role").first()
        if membership:
            return membership.role
        return Role.LEAD if user.is_superuser else None

    def check_answer(self, labels, version: TaxonomyVersion | None = None) -> TaxonomyVersion:
        """The active taxonomy version (`version` if the caller has read it),
        if `labels` is a valid answer in it: a list of distinct keys of that
        version, exactly one for a single-label project, at least one
        otherwise. Raises `ValidationError` naming the offending labels."""
        version = version if version is not None else self.active_taxonomy()
        if version is None:
            raise ValidationError({"labels": "this project has no taxonomy yet"})
        if not isinstance(labels, list) or not all(isinstance(key, str) for key in labels):
            raise ValidationError({"labels": "labels must be a list of label keys"})
        if not labels:
            raise ValidationError({"labels": "give at least one label"})
        duplicates = sorted({key for key in labels if labels.count(key) > 1})
        if duplicates:
            raise ValidationError({"labels": f"label(s) given more than once: {', '.join(duplicates)}"})
        known = version.keys()
        unknown = [key for key in labels if key not in known]
        if unknown:
            raise ValidationError(
                {"labels": f"label(s) not in the active taxonomy (v{version.number}): {', '.join(unknown)}"}
            )
        if self.task == TaskType.SINGLE_LABEL and len(labels) != 1:
            raise ValidationError(
                {"labels": f"this is a single-label project: give exactly one label, not {len(labels)}"})
        return version

    def active_taxonomy(self) -> TaxonomyVersion | None:
        return self.taxonomy_versions.order_by("-number").first()

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "modality": self.modality,
            "task": self.task,
            "settings": self.settings,
        }


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user")]

    def __str__(self):
        return f"{self.user} as {self.role} in {self.project}"

    def to_dict(self) -> dict:
        return {"project": self.project_id, "user": self.user_id, "role": self.role}


class QualityRules(models.Model):
    """How much agreement the project demands and what sends an item to review."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="rules")
    # Annotations wanted per item before consensus.
    overlap = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1), MaxValueValidator(20)])
    # Agreement (0..1) below which an item is disputed.
    agreement_threshold = models.FloatField(default=0.66, validators=[MinValueValidator(0), MaxValueValidator(1)])
    # Share of served items that are hidden gold checks.
    gold_ratio = models.FloatField(default=0.05, validators=[MinValueValidator(0), MaxValueValidator(0.5)])
    # Gold accuracy below which an annotator's recent work goes to review.
    min_gold_accuracy = models.FloatField(default=0.7, validators=[MinValueValidator(0), MaxValueValidator(1)])
    # Review triggers.
    review_disputed = models.BooleanField(default=True)
    review_gold_failures = models.BooleanField(default=True)
    review_low_agreement = models.BooleanField(default=True)
    review_model_disagreement = models.BooleanField(default=True)
    # Model confidence above which a disagreement with the consensus goes to review.
    model_disagreement_confidence = models.FloatField(
        default=0.9, validators=[MinValueValidator(0), MaxValueValidator(1)]
    )
    review_suspected_errors = models.BooleanField(default=True)
    # Bulk (cluster) labelling: share sampled for verification, and the sample
    # error rate above which the whole batch returns to the queue.
    bulk_verification_rate = models.FloatField(default=0.1, validators=[MinValueValidator(0.01), MaxValueValidator(1)])
    bulk_max_error_rate = models.FloatField(default=0.1, validators=[MinValueValidator(0), MaxValueValidator(1)])
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "quality rules"

    def __str__(self):
        return f"Quality rules of {self.project}"

    EDITABLE = [
        "overlap", "agreement_threshold", "gold_ratio", "min_gold_accuracy",
        "review_disputed", "review_gold_failures", "review_low_agreement",
        "review_model_disagreement", "model_disagreement_confidence",
        "review_suspected_errors", "bulk_verification_rate", "bulk_max_error_rate",
    ]

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.EDITABLE}


@lru_cache(maxsize=1024)
def _label_tree(version_id: int, created_at) -> tuple[tuple[str, str | None], ...]:
    """`TaxonomyVersion.label_tree`, one query per version and process. Keyed
    by `created_at` too: an id alone can come back on SQLite (a rolled-back
    transaction returns its ids, as tests do all the time) for another
    version."""
    return tuple(Label.objects.filter(version_id=version_id).order_by("position", "id")
                 .values_list("key", "parent__key"))


class TaxonomyVersion(models.Model):
    """An immutable snapshot of a project's label tree. Editing makes a new one."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="taxonomy_versions")
    number = models.PositiveIntegerField()
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "number"]
        constraints = [models.UniqueConstraint(fields=["project", "number"], name="unique_taxonomy_number")]

    def __str__(self):
        return f"{self.project} taxonomy v{self.number}"

    @cached_property
    def label_tree(self) -> tuple[tuple[str, str | None], ...]:
        """(key, parent key or None) of each label, in taxonomy order. A
        version's labels never change once it is created, and every submit
        reads them (the keys to check the answer, the order to break ties,
        the parents for partial credit): kept on this instance, and in a
        process-wide cache (`_label_tree`)."""
        return _label_tree(self.pk, self.created_at)

    def keys(self) -> set[str]:
        return {key for key, _ in self.label_tree}

    def to_dict(self) -> dict:
        return {
            "number": self.number,
            "note": self.note,
            "labels": [label.to_dict() for label in self.labels.select_related("parent")],
        }


# Keys come from real datasets (BANKING77 has "reverted_card_payment?"), so
# any printable text is allowed except what our formats use as structure: "|"
# joins several labels in a CSV cell, and edge whitespace would not survive
# a round trip.
key_validator = RegexValidator(
    r"^(?=\S)[^|\x00-\x1f\x7f]{1,100}(?<=\S)$",
    "a label key is 1-100 characters without '|' or control characters, not starting or ending with a space",
)


class Label(models.Model):
    version = models.ForeignKey(TaxonomyVersion, on_delete=models.CASCADE, related_name="labels")
    key = models.CharField(max_length=100, validators=[key_validator])
    name = models.CharField(max_length=200)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    hotkey = models.CharField(max_length=1, blank=True)
    guideline = models.TextField(blank=True)
    examples = models.JSONField(default=list, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["version", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="unique_label_key"),
            models.UniqueConstraint(
                fields=["version", "hotkey"], condition=~models.Q(hotkey=""), name="unique_label_hotkey"
            ),
        ]

    def __str__(self):
        return self.key

    def clean(self):
        if self.parent_id and self.parent.version_id != self.version_id:
            raise ValidationError({"parent": "a label's parent must be in the same taxonomy version"})

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "name": self.name,
            "parent": self.parent.key if self.parent is not None else None,
            "hotkey": self.hotkey,
            "guideline": self.guideline,
            "examples": self.examples,
        }


class MappingKind(models.TextChoices):
    RENAME = "rename", "Rename"
    MERGE = "merge", "Merge"
    SPLIT = "split", "Split"
    DEPRECATE = "deprecate", "Deprecate"


class TaxonomyMapping(models.Model):
    """How one label of the previous version carries into the new version.

    rename: one old key to one new key; merge: several old keys to one new key
    (one row each); split: one old key to several new keys (annotations need a
    person to choose); deprecate: no target, affected items are relabelled.
    """

    to_version = models.ForeignKey(TaxonomyVersion, on_delete=models.CASCADE, related_name="mappings")
    from_version = models.ForeignKey(TaxonomyVersion, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=MappingKind.choices)
    from_key = models.CharField(max_length=100)
    to_keys = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["to_version", "id"]
        constraints = [
            models.UniqueConstraint(fields=["to_version", "from_key"], name="one_mapping_per_old_key"),
        ]

    def __str__(self):
        return f"{self.kind} {self.from_key} -> {', '.join(self.to_keys) or '∅'}"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "from": self.from_key, "to": self.to_keys}
