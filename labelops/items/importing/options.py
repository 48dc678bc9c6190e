"""What an import is asked to do: its format and options, validated once.

The same dataclass is filled by the API serializer, by the `import_items`
command and from `ImportJob.options` when the job runs, so every entry point
accepts exactly the same options with the same defaults and the same errors.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from django.core.exceptions import ValidationError

from labelops.items.models import ImportFormat, LabelsAs
from labelops.projects.models import Modality, Project

IMAGE_FORMATS = frozenset({ImportFormat.IMAGES_ZIP, ImportFormat.IMAGES_FOLDER})
TEXT_ONLY_FORMATS = frozenset({ImportFormat.CSV, ImportFormat.JSONL})

# File name endings -> format, for uploads that do not say their format.
EXTENSIONS = {
    ".csv": ImportFormat.CSV,
    ".jsonl": ImportFormat.JSONL,
    ".ndjson": ImportFormat.JSONL,
    ".zip": ImportFormat.IMAGES_ZIP,
    ".json": ImportFormat.LABEL_STUDIO,
}


def infer_format(name: str) -> str | None:
    """The format a file name's extension implies, or None."""
    return EXTENSIONS.get(PurePath(name).suffix.lower())


def check_format_fits(project: Project, fmt: str) -> None:
    """Image projects take image formats (and Label Studio tasks with images);
    text projects take text formats (and Label Studio tasks with text)."""
    if project.modality == Modality.IMAGE and fmt in TEXT_ONLY_FORMATS:
        raise ValidationError({"format": (
            f"{fmt} files hold text, but project {project.pk} is an image project: "
            "import a ZIP of images or Label Studio tasks with images"
        )})
    if project.modality == Modality.TEXT and fmt in IMAGE_FORMATS:
        raise ValidationError({"format": (
            f"{fmt} holds images, but project {project.pk} is a text project: "
            "import CSV, JSONL or Label Studio tasks with text"
        )})


@dataclass(frozen=True)
class ImportOptions:
    format: str
    # What labels found in the file become (see LabelsAs).
    labels_as: str = LabelsAs.GOLD.value
    # Share of items held out for evaluation; None: the project's setting.
    holdout_fraction: float | None = None
    # Column (CSV), key (JSONL) or data key (Label Studio) holding the text.
    text_field: str = "text"
    # Column or key holding the label(s).
    label_field: str = "label"
    # Replace e-mail addresses, phone and card numbers by placeholders.
    scrub_pii: bool = True
    # Seed of the holdout assignment: same file, same seed, same split.
    seed: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportOptions:
        """Validated options; unknown keys and bad values are errors naming the option."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValidationError({"options": f"unknown import option(s): {', '.join(unknown)}"})
        if "format" not in data:
            raise ValidationError({"format": "the import format is missing"})
        options = cls(**data)
        options.validate()
        return options

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> None:
        errors: dict[str, str] = {}
        if self.format not in ImportFormat.values:
            errors["format"] = f"format must be one of {', '.join(ImportFormat.values)}, got {self.format!r}"
        if self.labels_as not in LabelsAs.values:
            errors["labels_as"] = f"labels_as must be one of {', '.join(LabelsAs.values)}, got {self.labels_as!r}"
        fraction = self.holdout_fraction
        if fraction is not None and (
            isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction < 1
        ):
            errors["holdout_fraction"] = f"holdout_fraction must be a number in [0, 1), got {fraction!r}"
        for name in ("text_field", "label_field"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                errors[name] = f"{name} must be a non-empty column name, got {value!r}"
        if not isinstance(self.scrub_pii, bool):
            errors["scrub_pii"] = f"scrub_pii must be true or false, got {self.scrub_pii!r}"
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            errors["seed"] = f"seed must be a non-negative integer, got {self.seed!r}"
        if errors:
            raise ValidationError(errors)
