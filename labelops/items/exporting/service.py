"""Exporting a project's items: the options, the rows in keyset batches, and
the audit event. The writers in `formats.py` turn rows into bytes.

Rows are read in keyset batches (`id > last ORDER BY id LIMIT batch`) with
each batch's annotations and reviews prefetched, so an export costs three
queries per batch whatever the project's size, and never holds more than one
batch of items in memory.

An export is not a snapshot: an item approved while it runs appears in it if
the cursor has not passed it yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch

from labelops.annotation.models import Annotation, ConsensusStatus, Review
from labelops.audit.services import record
from labelops.items.exporting.formats import FORMAT_CLASSES, ExportRow, ParquetFormat, build_row, format_for
from labelops.items.models import Item, Split
from labelops.projects.models import Project

STATUSES = ("approved", "all")
DEFAULT_BATCH_SIZE = 1000


@dataclass(frozen=True)
class ExportOptions:
    """What to export. `status="approved"` (the default) keeps only items whose
    consensus is approved; `"all"` exports every item with whatever labels it
    has. `split` narrows to one split."""

    format: str = "jsonl"
    status: str = "approved"
    split: str | None = None
    batch_size: int = DEFAULT_BATCH_SIZE

    def __post_init__(self):
        errors = {}
        if self.format not in FORMAT_CLASSES:
            errors["format"] = f"format must be one of {', '.join(FORMAT_CLASSES)}, got {self.format!r}"
        if self.status not in STATUSES:
            errors["status"] = f"status must be one of {', '.join(STATUSES)}, got {self.status!r}"
        if self.split is not None and self.split not in Split.values:
            errors["split"] = f"split must be one of {', '.join(Split.values)}, got {self.split!r}"
        if not 1 <= self.batch_size <= 10_000:
            errors["batch_size"] = f"batch_size must be between 1 and 10000, got {self.batch_size}"
        if errors:
            raise ValidationError(errors)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def items_to_export(project: Project, options: ExportOptions):
    """The items an export with `options` covers, unordered and unbatched."""
    items = Item.objects.for_project(project)
    if options.status == "approved":
        items = items.filter(consensus__status=ConsensusStatus.APPROVED)
    if options.split:
        items = items.in_split(options.split)
    return items


def iter_rows(
    project: Project, options: ExportOptions, *, file_url: Callable[[Item], str] | None = None,
) -> Iterator[ExportRow]:
    """Yield one row per exported item, in id order, reading keyset batches of
    `options.batch_size` items (three queries each). `file_url(item)` is the
    `image` of image items; without it they carry their stored file name."""
    items = items_to_export(project, options).select_related("consensus__taxonomy_version").prefetch_related(
        Prefetch(
            "annotations",
            queryset=Annotation.objects.active().select_related("annotator").order_by("id"),
            to_attr="live_annotations",
        ),
        Prefetch(
            "reviews",
            queryset=Review.objects.select_related("reviewer").order_by("-id"),
            to_attr="reviews_newest_first",
        ),
    )
    last_id = 0
    while True:
        batch = list(items.filter(id__gt=last_id).order_by("id")[: options.batch_size])
        for item in batch:
            yield build_row(item, file_url=file_url)
        if len(batch) < options.batch_size:
            return
        last_id = batch[-1].pk


def record_export(*, actor, project: Project, options: ExportOptions) -> None:
    """Record that `actor` (None for the command line) exported `project`
    with `options`, verb `items.export`. Called once, before the first byte."""
    record(actor=actor, verb="items.export", obj=project, project=project, after=options.to_dict())


def export_to_path(
    *, actor, project: Project, options: ExportOptions, path: Path,
    file_url: Callable[[Item], str] | None = None,
) -> int:
    """Record the export, then write it to `path`; return the number of items.
    No lock: it reads in batches, as `iter_rows` says."""
    record_export(actor=actor, project=project, options=options)
    rows = iter_rows(project, options, file_url=file_url)
    writer = format_for(options.format, project)
    if isinstance(writer, ParquetFormat):
        return writer.write(rows, path)
    counted = _Counter(rows)
    with open(path, "wb") as out:
        for chunk in writer.stream(counted):
            out.write(chunk)
    return counted.count


class _Counter:
    """Pass rows through, counting them."""

    def __init__(self, rows):
        self.rows = rows
        self.count = 0

    def __iter__(self):
        for row in self.rows:
            self.count += 1
            yield row
