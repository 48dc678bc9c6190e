"""Export rows and one small writer per format.

`build_row` turns an item (with what `service.iter_rows` prefetched) into an
`ExportRow` whose provenance is the same in every format; each writer turns
rows into bytes.

A text project's export imports back into LabelOps in every format but
Parquet, and into the tool each format is named after; an image project's
imports back through Label Studio JSON, which embeds the images:

- JSONL: one object per line, `{"id", "text" | "image", "label", "provenance"}`;
  `label` is a string (single-label projects, null when unlabelled) or a list
  (multi-label projects). `id` is the external id, or the item id if none.
  Image rows carry the URL of the item-file endpoint (as in CSV).
- CSV: columns `id, text | image, label, ...provenance`, multi-labels and
  annotators `|`-joined, metadata as a JSON string. Cells are written as they
  are: a spreadsheet may treat a cell starting with `=` as a formula.
- Label Studio: a JSON array of tasks, `data.text` or `data.image` (the
  image embedded as a base64 `data:` URI: LabelOps never fetches URLs on
  import), the consensus as one annotation whose `result` is a `choices`
  region from `label` to `text` (or `image`), and the provenance in `meta`.
  The task `id` is the external id when that is an integer (as Label Studio's
  own ids are), else the item id; `data.external_id` is always the JSONL `id`.
  It matches the labelling config

      <View><Text name="text" value="$text"/>
        <Choices name="label" toName="text" choice="single|multiple">
          <Choice value="KEY"/>...</Choices></View>

  (`<Image name="image" value="$image"/>` for image projects).
- Parquet: one fixed schema per project, written in row groups, loadable with
  `datasets.load_dataset("parquet", data_files=...)`. Image projects embed
  the image bytes in an `image` column that `datasets` decodes as an Image.

The text formats stream: `stream(rows)` yields chunks of about 64 KiB and
never holds more than that. Parquet needs a seekable file for its footer,
so `ParquetFormat.write(rows, path)` writes one and buffers one row group.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from labelops.items.files import read_item_file, served_type
from labelops.items.models import Item
from labelops.projects.models import Modality, Project, TaskType

logger = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024


@dataclass
class ExportRow:
    """One exported item. `labels` are its consensus labels (empty if none);
    `provenance` says where they came from and is the same in every format."""

    item_id: int
    id: str  # the id to re-import under: the source file's id if it had one
    text: str | None
    image: str | None  # for image items: the item-file URL (or stored name)
    labels: list[str]
    provenance: dict[str, Any] = field(default_factory=dict)
    item: Item | None = field(default=None, repr=False)  # for writers that embed the file

    def label_value(self, multi_label: bool) -> str | list[str] | None:
        """The `label` field: a list for multi-label projects, else one string
        (None when unlabelled). A single-label item should never have more
        than one label; if it does, they are `|`-joined rather than dropped."""
        if multi_label:
            return list(self.labels)
        return "|".join(self.labels) if self.labels else None


def build_provenance(item: Item) -> dict[str, Any]:
    """Where an item's labels came from. Expects what `service.iter_rows`
    loads: `consensus` with its taxonomy version, and `live_annotations` and
    `reviews_newest_first` with their users."""
    consensus = getattr(item, "consensus", None)
    latest_review = item.reviews_newest_first[0] if item.reviews_newest_first else None
    return {
        "item_id": item.pk,
        "external_id": item.external_id,
        "split": item.split,
        "state": item.state,
        "status": consensus.status if consensus else None,
        "consensus_method": consensus.method if consensus else None,
        "agreement": consensus.agreement if consensus else None,
        "taxonomy_version": consensus.taxonomy_version.number if consensus else None,
        "annotators": [a.annotator.username for a in item.live_annotations],
        "reviewer": latest_review.reviewer.username if latest_review else None,
        "review_decision": latest_review.decision if latest_review else None,
        "gold_labels": item.gold_labels,
        "content_hash": item.content_hash,
        "metadata": item.metadata,
    }


def build_row(item: Item, *, file_url: Callable[[Item], str] | None = None) -> ExportRow:
    consensus = getattr(item, "consensus", None)
    return ExportRow(
        item_id=item.pk,
        id=item.external_id or str(item.pk),
        text=None if item.is_image else item.text,
        image=(file_url(item) if file_url else item.file) if item.is_image else None,
        labels=list(consensus.labels) if consensus else [],
        provenance=build_provenance(item),
        item=item,
    )


def metadata_json(metadata: Any) -> str:
    """Item metadata as one JSON string, for the flat formats (CSV, Parquet)."""
    return json.dumps(metadata, ensure_ascii=False, sort_keys=True)


def is_multi_label(project: Project) -> bool:
    return project.task == TaskType.MULTI_LABEL


def _chunked(pieces: Iterable[str]) -> Iterator[bytes]:
    """Join small strings into chunks of about CHUNK_BYTES of UTF-8."""
    buffer: list[str] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= CHUNK_BYTES:
            yield "".join(buffer).encode("utf-8")
            buffer.clear()
            size = 0
    if buffer:
        yield "".join(buffer).encode("utf-8")


# Characters JSON allows raw but that some line splitters (Python's
# str.splitlines, JavaScript before ES2019) treat as line breaks.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _dumps(value: Any) -> str:
    """Compact UTF-8 JSON that is always exactly one line."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).translate(_LINE_BREAKS)


def _label_list(value: Any) -> list[str] | None:
    """Gold labels as a list of strings, whatever JSON shape they were stored in."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v if isinstance(v, str) else _dumps(v) for v in value]
    return [_dumps(value)]


class ExportFormat:
    """Shared by every format: the project shape decides the fixed fields."""

    name = ""
    content_type = ""
    extension = ""

    def __init__(self, project: Project):
        self.project = project
        self.multi_label = is_multi_label(project)
        self.content_field = "image" if project.modality == Modality.IMAGE else "text"

    def content(self, row: ExportRow) -> str | None:
        return row.image if self.content_field == "image" else row.text

    def filename(self) -> str:
        return f"project-{self.project.pk}-export.{self.extension}"

    def image_bytes(self, row: ExportRow) -> bytes | None:
        """The stored image of an image row, for formats that embed it. A
        missing file is logged and exported as no image, not a failed export."""
        data = read_item_file(row.item) if row.item is not None and row.item.is_image else None
        if data is None:
            logger.warning("export of project %s: item %s has no readable file", self.project.pk, row.item_id)
        return data

    def stream(self, rows: Iterable[ExportRow]) -> Iterator[bytes]:
        """The export as byte chunks. Every streamed format overrides this;
        Parquet needs a seekable file for its footer and has `write` instead."""
        raise NotImplementedError(f"{type(self).__name__} is written to a file, not streamed")


class JsonlFormat(ExportFormat):
    name = "jsonl"
    content_type = "application/x-ndjson; charset=utf-8"
    extension = "jsonl"

    def record(self, row: ExportRow) -> dict[str, Any]:
        return {
            "id": row.id,
            self.content_field: self.content(row),
            "label": row.label_value(self.multi_label),
            "provenance": row.provenance,
        }

    def stream(self, rows):
        return _chunked(_dumps(self.record(row)) + "\n" for row in rows)


class CsvFormat(ExportFormat):
    name = "csv"
    content_type = "text/csv; charset=utf-8"
    extension = "csv"

    PROVENANCE_COLUMNS = [
        "split", "state", "status", "consensus_method", "agreement", "taxonomy_version", "annotators",
        "reviewer", "review_decision", "gold_labels", "external_id", "content_hash", "item_id", "metadata",
    ]

    def header(self) -> list[str]:
        return ["id", self.content_field, "label", *self.PROVENANCE_COLUMNS]

    def cells(self, row: ExportRow) -> list[Any]:
        p = row.provenance
        joined = {
            "annotators": "|".join(p["annotators"]),
            "gold_labels": "|".join(_label_list(p["gold_labels"]) or []),
            "metadata": metadata_json(p["metadata"]),
        }
        values = [joined[c] if c in joined else p[c] for c in self.PROVENANCE_COLUMNS]
        return [row.id, self.content(row) or "", "|".join(row.labels),
                *("" if v is None else v for v in values)]

    def stream(self, rows):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.header())
        for row in rows:
            writer.writerow(self.cells(row))
            if buffer.tell() >= CHUNK_BYTES:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode("utf-8")


class LabelStudioFormat(ExportFormat):
    name = "label_studio"
    content_type = "application/json; charset=utf-8"
    extension = "json"

    @staticmethod
    def task_id(row: ExportRow) -> int:
        """Label Studio task ids are integers: the external id when it is one
        (so a task that came from Label Studio keeps its id), else the item's id."""
        external = row.provenance["external_id"]
        if external.isascii() and external.isdigit() and str(int(external)) == external:
            return int(external)
        return row.item_id

    def content(self, row: ExportRow) -> str | None:
        """Text, or for image projects the image itself as a base64 `data:` URI,
        so the file imports anywhere without a signed-in fetch."""
        if self.content_field != "image":
            return row.text
        data = self.image_bytes(row)
        if data is None:
            return None
        return f"data:{served_type(row.item)[0]};base64,{base64.b64encode(data).decode('ascii')}"

    def task(self, row: ExportRow) -> dict[str, Any]:
        annotations = []
        if row.labels:
            annotations.append({
                "result": [{
                    "id": f"item-{row.item_id}",
                    "from_name": "label",
                    "to_name": self.content_field,
                    "type": "choices",
                    "value": {"choices": list(row.labels)},
                }],
                "ground_truth": row.provenance["status"] == "approved",
                "was_cancelled": False,
            })
        return {
            "id": self.task_id(row),
            "data": {self.content_field: self.content(row), "external_id": row.id},
            "annotations": annotations,
            "meta": row.provenance,
        }

    def stream(self, rows):
        def pieces():
            yield "["
            for position, row in enumerate(rows):
                yield ("\n" if position == 0 else ",\n") + _dumps(self.task(row))
            yield "\n]\n"

        return _chunked(pieces())


class ParquetFormat(ExportFormat):
    name = "parquet"
    content_type = "application/vnd.apache.parquet"
    extension = "parquet"

    # A row group is flushed at whichever limit comes first.
    ROW_GROUP_ROWS = 10_000
    ROW_GROUP_BYTES = 64 * 1024**2

    IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])

    def schema(self) -> pa.Schema:
        strings = pa.list_(pa.string())
        content = (
            pa.field("image", self.IMAGE_TYPE) if self.content_field == "image" else pa.field("text", pa.string())
        )
        schema = pa.schema([
            pa.field("id", pa.string(), nullable=False),
            content,
            pa.field("label", strings if self.multi_label else pa.string()),
            pa.field("split", pa.string()),
            pa.field("state", pa.string()),
            pa.field("status", pa.string()),
            pa.field("consensus_method", pa.string()),
            pa.field("agreement", pa.float64()),
            pa.field("taxonomy_version", pa.int64()),
            pa.field("annotators", strings),
            pa.field("reviewer", pa.string()),
            pa.field("review_decision", pa.string()),
            pa.field("gold_labels", strings),
            pa.field("external_id", pa.string()),
            pa.field("content_hash", pa.string()),
            pa.field("item_id", pa.int64(), nullable=False),
            pa.field("metadata", pa.string()),  # JSON: free-form, so not a fixed struct
        ])
        if self.content_field == "image":
            # How `datasets` knows to decode the struct as an image.
            features = {"image": {"_type": "Image"}}
            schema = schema.with_metadata({"huggingface": _dumps({"info": {"features": features}})})
        return schema

    def image_cell(self, row: ExportRow) -> dict[str, Any] | None:
        data = self.image_bytes(row)
        if data is None:
            return None
        return {"bytes": data, "path": f"item-{row.item_id}.{served_type(row.item)[1]}"}

    def record(self, row: ExportRow) -> dict[str, Any]:
        p = row.provenance
        record = {
            "id": row.id,
            "label": row.label_value(self.multi_label),
            **{key: p[key] for key in (
                "split", "state", "status", "consensus_method", "agreement", "taxonomy_version",
                "annotators", "reviewer", "review_decision", "external_id", "content_hash", "item_id",
            )},
            "gold_labels": _label_list(p["gold_labels"]),
            "metadata": metadata_json(p["metadata"]),
        }
        if self.content_field == "image":
            record["image"] = self.image_cell(row)
        else:
            record["text"] = row.text
        return record

    def write(self, rows: Iterable[ExportRow], path) -> int:
        """Write every row to a Parquet file at `path`; return the row count."""
        schema = self.schema()
        count = 0
        buffer: list[dict[str, Any]] = []
        buffered_bytes = 0
        with pq.ParquetWriter(path, schema) as writer:
            for row in rows:
                record = self.record(row)
                buffer.append(record)
                buffered_bytes += len(record.get("text") or "") + len((record.get("image") or {}).get("bytes") or b"")
                if len(buffer) >= self.ROW_GROUP_ROWS or buffered_bytes >= self.ROW_GROUP_BYTES:
                    writer.write_table(pa.Table.from_pylist(buffer, schema=schema))
                    count += len(buffer)
                    buffer.clear()
                    buffered_bytes = 0
            if buffer or count == 0:
                writer.write_table(pa.Table.from_pylist(buffer, schema=schema))
                count += len(buffer)
        return count

    def stream(self, rows):
        raise TypeError("Parquet needs a seekable file: use write(rows, path)")


FORMAT_CLASSES: dict[str, type[ExportFormat]] = {
    cls.name: cls for cls in (JsonlFormat, CsvFormat, LabelStudioFormat, ParquetFormat)
}


def format_for(name: str, project: Project) -> ExportFormat:
    return FORMAT_CLASSES[name](project)
