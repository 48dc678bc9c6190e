"""Readers: one generator per import format, each yielding `SourceRecord`s.

Every reader streams: it holds one line, one JSON task or one archive member
at a time, so memory does not grow with the file. Every problem is raised as
`ImportFailed` naming the line, task or member, before anything about that
record reaches the database.

Readers only parse. Canonical text, PII scrubbing, label checks, image
verification, deduplication and writing belong to the pipeline, so the same
rules apply to every format.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import csv
import json
import os
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import ijson

from labelops.items.importing.errors import ImportFailed
from labelops.items.models import ImportFormat

# Names that operating systems add to archives and folders; never data.
_SYSTEM_NAMES = frozenset({"thumbs.db", "desktop.ini"})
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(slots=True)
class Prediction:
    """A model's suggestion carried in the file (Label Studio "predictions")."""

    labels: list[str]
    score: float | None


@dataclass(slots=True)
class SourceRecord:
    """One item as read from the file, before any cleaning.

    `ref` says where it came from ("line 12", "member 'cats/a.png'",
    "task #3 (id 17)") and starts every message about it. `labels` is None
    when the record carries no label at all.
    """

    ref: str
    text: str | None = None
    image: bytes | None = None
    labels: list[str] | None = None
    external_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    predictions: list[Prediction] = field(default_factory=list)


@dataclass(frozen=True)
class ReaderConfig:
    """What a reader needs to know, taken from the options, project and settings."""

    text_field: str = "text"
    label_field: str = "label"
    image_modality: bool = False
    multi_label: bool = False
    max_line_bytes: int = 1024**2
    image_max_bytes: int = 20 * 1024**2
    # Cap on the bytes an archive may expand to (zip bombs).
    archive_max_bytes: int = 2 * 1024**3
    # Only labels are wanted (the pre-pass that collects a new taxonomy's
    # keys): readers may skip reading image bytes.
    labels_only: bool = False


Reader = Callable[[Path, ReaderConfig, Counter], Iterator[SourceRecord]]


# --- Lines and UTF-8 -------------------------------------------------------------


def _not_utf8(number: int, raw: bytes, exc: UnicodeDecodeError) -> ImportFailed:
    where = f"line {number}"
    hint = "save the file as UTF-8"
    if number == 1 and raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        hint = "the file starts with a UTF-16 byte-order mark: save it as UTF-8"
    return ImportFailed(
        f"{where} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at byte {exc.start + 1} of the line): {hint}",
        where=where,
    )


class DecodedLines:
    """A binary file as an iterator of UTF-8 text lines, counting them.

    Decoding line by line (rather than through a TextIOWrapper) is what lets
    an encoding error name its line. Lines keep their line ending, so the csv
    module can still read quoted fields that span lines. `number` is the
    number of lines read so far.
    """

    def __init__(self, raw: BinaryIO, max_line_bytes: int):
        self._raw = raw
        self._max = max_line_bytes
        self.number = 0

    def __iter__(self) -> DecodedLines:
        return self

    def __next__(self) -> str:
        line = self._raw.readline(self._max + 1)
        if not line:
            raise StopIteration
        self.number += 1
        if len(line) > self._max and not line.endswith(b"\n"):
            where = f"line {self.number}"
            raise ImportFailed(f"{where} is longer than {self._max} bytes", where=where)
        if self.number == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8):]
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _not_utf8(self.number, line, exc) from None
        if "\x00" in text:
            where = f"line {self.number}"
            raise ImportFailed(
                f"{where} contains NUL characters (is the file UTF-16?): save it as UTF-8", where=where
            )
        return text


class Utf8CheckedStream:
    """A binary stream that checks UTF-8 as it passes bytes through.

    ijson parses bytes itself and reports bad UTF-8 without a line number;
    checking here, with an incremental decoder, names the line. The leading
    UTF-8 byte-order mark, which JSON parsers refuse, is dropped.

    ijson also builds each task whole in memory, so the stream refuses to
    pass more than `max_gap_bytes` between two `record_done()` calls: one
    giant task cannot take the memory that one line of a CSV may not.
    """

    def __init__(self, raw: BinaryIO, max_gap_bytes: int):
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._started = False
        self._max_gap = max_gap_bytes
        self._gap = 0
        self.records = 0
        self.line = 1

    def record_done(self) -> None:
        self.records += 1
        self._gap = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._gap += len(data)
        if self._gap > self._max_gap + len(data):
            # Chunks overshoot a record's end, hence the slack of one chunk.
            where = f"task #{self.records + 1}"
            raise ImportFailed(f"{where} is larger than {self._max_gap} bytes", where=where)
        if not self._started and data:
            self._started = True
            if data.startswith(codecs.BOM_UTF8):
                data = data[len(codecs.BOM_UTF8):]
        pending = self._decoder.getstate()[0]
        try:
            self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            seen = pending + data
            number = self.line + seen[: exc.start].count(b"\n")
            where = f"line {number}"
            raise ImportFailed(
                f"{where} is not valid UTF-8 (byte 0x{seen[exc.start]:02x}): save the file as UTF-8", where=where
            ) from None
        self.line += data.count(b"\n")
        return data


# --- Labels ----------------------------------------------------------------------


def _unique(keys: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(keys))


def labels_from_cell(value: str, config: ReaderConfig) -> list[str] | None:
    """Labels in a CSV cell: one key, or several separated by '|' in a
    multi-label project. An empty cell is no label."""
    value = value.strip()
    if not value:
        return None
    if config.multi_label:
        keys = _unique(part.strip() for part in value.split("|") if part.strip())
        return keys or None
    return [value]


def labels_from_json(value: Any, ref: str, field_name: str, config: ReaderConfig) -> list[str] | None:
    """Labels in a JSON value: a key, a list of keys, or null."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        return [value.strip()] if value.strip() else None
    if isinstance(value, list) and all(isinstance(key, str) for key in value):
        keys = _unique(key.strip() for key in value if key.strip())
        return keys or None
    raise ImportFailed(
        f"{ref}: {field_name!r} must be a label key or a list of label keys, got {json.dumps(value)[:80]}",
        where=ref,
    )


# --- CSV -------------------------------------------------------------------------


def _csv_problem(exc: csv.Error, start: int) -> str:
    message = str(exc)
    if "unexpected end of data" in message or "field larger than field limit" in message:
        return (f"has a quoted field that is never closed (the quote opened at line {start}), "
                "or a field longer than the limit")
    if "new-line character seen in unquoted field" in message:
        return "has a bare carriage return (\\r) outside quotes: save the file with \\n or \\r\\n line endings"
    return f"is not valid CSV: {message}"


def read_csv(path: Path, config: ReaderConfig, skipped: Counter) -> Iterator[SourceRecord]:
    """Rows of a CSV file with a header line.

    The text column is `config.text_field`, the optional label column
    `config.label_field`, an optional `id` column becomes the external id and
    every other column goes into metadata. Every row must have as many
    fields as the header; blank lines are skipped (and counted).
    """
    # The csv module's field limit is process-wide; only ever raise it, to
    # what the longest allowed line needs.
    if csv.field_size_limit() < config.max_line_bytes:
        csv.field_size_limit(config.max_line_bytes)
    with open(path, "rb") as raw:
        lines = DecodedLines(raw, config.max_line_bytes)
        rows = csv.reader(lines, strict=True)
        try:
            header = next(rows)
        except StopIteration:
            raise ImportFailed("the file has no header line", where="line 1") from None
        except csv.Error as exc:
            raise ImportFailed(f"line 1 {_csv_problem(exc, 1)}", where="line 1") from None
        header = [name.strip() for name in header]
        if not any(header):
            raise ImportFailed("line 1 (the header) is empty", where="line 1")
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise ImportFailed(f"line 1 (the header) repeats column(s) {', '.join(repeated)}", where="line 1")
        if config.text_field not in header:
            raise ImportFailed(
                f"line 1 (the header) has no {config.text_field!r} column "
                f"(columns: {', '.join(header)}); set text_field to the column holding the text",
                where="line 1",
            )
        text_at = header.index(config.text_field)
        label_at = header.index(config.label_field) if config.label_field in header else None
        id_at = header.index("id") if "id" in header else None
        extra = [(i, name) for i, name in enumerate(header) if i not in (text_at, label_at, id_at)]

        while True:
            start = lines.number + 1
            try:
                row = next(rows)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ImportFailed(f"line {start} {_csv_problem(exc, start)}", where=f"line {start}") from None
            if not row:
                skipped["blank_lines"] += 1
                continue
            ref = f"line {start}"
            if len(row) != len(header):
                raise ImportFailed(
                    f"{ref} has {len(row)} field(s) but the header has {len(header)}", where=ref
                )
            yield SourceRecord(
                ref=ref,
                text=row[text_at],
                labels=labels_from_cell(row[label_at], config) if label_at is not None else None,
                external_id=row[id_at].strip() if id_at is not None else "",
                metadata={name: row[i] for i, name in extra},
            )


# --- JSON Lines --------------------------------------------------------------------


def read_jsonl(path: Path, config: ReaderConfig, skipped: Counter) -> Iterator[SourceRecord]:
    """One JSON object per line: `text_field` holds the text, `label_field`
    a key or a list of keys, `id` the external id, anything else metadata."""
    with open(path, "rb") as raw:
        lines = DecodedLines(raw, config.max_line_bytes)
        for line in lines:
            ref = f"line {lines.number}"
            if not line.strip():
                skipped["blank_lines"] += 1
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ImportFailed(f"{ref} is not valid JSON: {exc.msg} (column {exc.colno})", where=ref) from None
            if not isinstance(obj, dict):
                raise ImportFailed(f"{ref} must be a JSON object, got {type(obj).__name__}", where=ref)
            if config.text_field not in obj:
                raise ImportFailed(
                    f"{ref} has no {config.text_field!r} key; set text_field to the key holding the text", where=ref
                )
            text = obj.pop(config.text_field)
            if text is not None and not isinstance(text, str):
                raise ImportFailed(
                    f"{ref}: {config.text_field!r} must be a string, got {type(text).__name__}", where=ref
                )
            labels = labels_from_json(obj.pop(config.label_field, None), ref, config.label_field, config)
            external_id = obj.pop("id", None)
            yield SourceRecord(
                ref=ref,
                text=text or "",
                labels=labels,
                external_id="" if external_id is None else str(external_id),
                metadata=obj,
            )


# --- Label Studio ------------------------------------------------------------------


def _choices(result: Any, ref: str, skipped: Counter) -> list[str] | None:
    """Label keys of an annotation's or prediction's `result` list: the
    `choices` results; other result types (spans, boxes, text areas) are
    not classification labels and are counted as skipped."""
    if not isinstance(result, list):
        raise ImportFailed(f"{ref}: 'result' must be a list", where=ref)
    keys: list[str] = []
    found = False
    for entry in result:
        if not isinstance(entry, dict):
            raise ImportFailed(f"{ref}: each result must be an object", where=ref)
        if entry.get("type") != "choices":
            skipped["label_studio_non_choice_results"] += 1
            continue
        choices = (entry.get("value") or {}).get("choices")
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            raise ImportFailed(f"{ref}: a choices result needs value.choices, a list of strings", where=ref)
        found = True
        keys.extend(choices)
    return _unique(k.strip() for k in keys if k.strip()) if found else None


def _data_uri_image(value: str, ref: str, config: ReaderConfig) -> bytes:
    head, _, payload = value.partition(",")
    if not head.startswith("data:image/") or not head.endswith(";base64"):
        raise ImportFailed(f"{ref}: data.image must be a base64 data: URI of an image", where=ref)
    if len(payload) * 3 // 4 > config.image_max_bytes + 3:
        raise ImportFailed(
            f"{ref}: the image is larger than IMAGE_MAX_BYTES ({config.image_max_bytes} bytes)", where=ref
        )
    if config.labels_only:
        return b""
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImportFailed(f"{ref}: data.image is not valid base64", where=ref) from None


def read_label_studio(path: Path, config: ReaderConfig, skipped: Counter) -> Iterator[SourceRecord]:
    """A Label Studio JSON export: an array of tasks, parsed one task at a time.

    `data[text_field]` holds the text (text projects) or `data.image` a base64
    `data:` URI (image projects: files behind URLs are never fetched). The
    first non-cancelled annotation with a `choices` result gives the labels;
    every prediction with a `choices` result becomes a `Prediction`.
    """
    with open(path, "rb") as raw:
        head = raw.read(4096).removeprefix(codecs.BOM_UTF8).lstrip()
        if not head.startswith(b"["):
            raise ImportFailed(
                "the file must be a JSON array of Label Studio tasks (it does not start with '[')", where="line 1"
            )
        raw.seek(0)
        # A task holds one text (as a CSV line may) or one base64 image.
        max_task_bytes = config.max_line_bytes + (config.image_max_bytes * 4 // 3 if config.image_modality else 0)
        stream = Utf8CheckedStream(raw, max_task_bytes)
        number = 0
        try:
            for number, task in enumerate(ijson.items(stream, "item", use_float=True), 1):
                stream.record_done()
                yield _label_studio_record(task, number, config, skipped)
        except ijson.JSONError as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            where = f"task #{number + 1}"
            raise ImportFailed(f"the JSON is malformed at or after task #{number + 1}: {first_line}",
                               where=where) from None


def _label_studio_record(task: Any, number: int, config: ReaderConfig, skipped: Counter) -> SourceRecord:
    ref = f"task #{number}"
    if not isinstance(task, dict):
        raise ImportFailed(f"{ref} must be a JSON object", where=ref)
    if task.get("id") is not None:
        ref = f"task #{number} (id {task['id']})"
    data = task.get("data")
    if not isinstance(data, dict):
        raise ImportFailed(f"{ref} has no 'data' object", where=ref)
    data = dict(data)
    # Label Studio task ids must be integers, so our own exports carry the
    # original id (e.g. "t-17") in data.external_id; prefer it when present.
    external_id = data.pop("external_id", None)
    if external_id is None:
        external_id = task.get("id")
    record = SourceRecord(ref=ref, external_id="" if external_id is None else str(external_id))
    if config.image_modality:
        value = data.pop("image", None)
        if not isinstance(value, str) or not value:
            raise ImportFailed(f"{ref} has no data.image (this is an image project)", where=ref)
        if not value.startswith("data:"):
            raise ImportFailed(
                f"{ref}: data.image {value[:80]!r} is a link, and LabelOps never fetches files over the network: "
                "embed the image as a base64 data: URI, or import the images as a ZIP",
                where=ref,
            )
        record.image = _data_uri_image(value, ref, config)
    else:
        if config.text_field not in data:
            raise ImportFailed(f"{ref} has no data.{config.text_field} (set text_field to the data key)", where=ref)
        value = data.pop(config.text_field)
        if value is not None and not isinstance(value, str):
            raise ImportFailed(f"{ref}: data.{config.text_field} must be a string", where=ref)
        record.text = value or ""

    annotations = task.get("annotations") or []
    if not isinstance(annotations, list):
        raise ImportFailed(f"{ref}: 'annotations' must be a list", where=ref)
    for annotation in annotations:
        if not isinstance(annotation, dict):
            raise ImportFailed(f"{ref}: each annotation must be an object", where=ref)
        if annotation.get("was_cancelled"):
            skipped["label_studio_cancelled_annotations"] += 1
            continue
        labels = _choices(annotation.get("result") or [], ref, skipped)
        if labels is None:
            continue
        if record.labels is None:
            record.labels = labels or None
        else:
            # One importing user can hold one live annotation per item.
            skipped["label_studio_extra_annotations"] += 1

    predictions = task.get("predictions") or []
    if not isinstance(predictions, list):
        raise ImportFailed(f"{ref}: 'predictions' must be a list", where=ref)
    for prediction in predictions:
        if not isinstance(prediction, dict):
            raise ImportFailed(f"{ref}: each prediction must be an object", where=ref)
        labels = _choices(prediction.get("result") or [], ref, skipped)
        if not labels:
            skipped["label_studio_empty_predictions"] += 1
            continue
        score = prediction.get("score")
        if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
            raise ImportFailed(f"{ref}: a prediction's score must be a number", where=ref)
        record.predictions.append(Prediction(labels=labels, score=None if score is None else float(score)))

    record.metadata = data
    if isinstance(task.get("meta"), dict) and task["meta"]:
        record.metadata["meta"] = task["meta"]
    return record


# --- Images -------------------------------------------------------------------------


def check_member_name(name: str) -> None:
    """Refuse names that would escape a folder if anyone ever used them as a
    path: absolute, drive-qualified, with a '..' part, or with NUL bytes.

    Files are stored under generated names, so such a name could do no harm
    here; refusing the archive anyway makes a crafted archive a loud error
    rather than something that happens to be harmless today.
    """
    parts = re.split(r"[\\/]", name)
    if "\x00" in name or name.startswith(("/", "\\")) or _DRIVE.match(name) or ".." in parts:
        where = f"member {name!r}"
        raise ImportFailed(
            f"{where} has an unsafe path (absolute, or with a '..' part): the archive is refused "
            "and nothing was imported",
            where=where,
        )


def is_system_file(name: str) -> bool:
    """macOS resource forks and folder metadata, Windows thumbnails, hidden files."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return (
        any(part == "__MACOSX" for part in parts)
        or any(part.startswith(".") for part in parts)
        or parts[-1].lower() in _SYSTEM_NAMES
    )


def folder_labeller(names: Iterable[str]) -> Callable[[str], list[str] | None]:
    """Labels from class folders.

    The folders that all files share (a wrapping "dataset/" folder) are
    stripped; below them, a file's first folder is its label, and files with
    no folder left are unlabelled. So `cat/1.png, dog/2.png` and
    `data/cat/1.png, data/dog/2.png` give labels cat and dog, while
    `1.png, 2.png` and `photos/1.png, photos/2.png` are flat (unlabelled).
    An archive whose files all sit in a single folder therefore reads as
    flat: a class folder is recognised by having a sibling.
    """
    parents = {PurePosixPath(name.replace("\\", "/")).parent.parts for name in names}
    common: tuple[str, ...] = ()
    if parents:
        first = min(parents, key=len)
        for i, part in enumerate(first):
            if all(parent[i] == part for parent in parents):
                common += (part,)
            else:
                break
    depth = len(common)

    def label(name: str) -> list[str] | None:
        parts = PurePosixPath(name.replace("\\", "/")).parent.parts
        return [parts[depth]] if len(parts) > depth else None

    return label


def _image_too_large(where: str, size: int, config: ReaderConfig, declared: bool = False) -> ImportFailed:
    what = "declares" if declared else "has"
    return ImportFailed(
        f"{where} {what} {size} bytes, more than IMAGE_MAX_BYTES ({config.image_max_bytes})", where=where
    )


def read_images_zip(path: Path, config: ReaderConfig, skipped: Counter) -> Iterator[SourceRecord]:
    """Images in a ZIP archive, one member at a time.

    Member names are checked first, all of them, before any byte is read;
    then each member's declared size and actual bytes are held to
    IMAGE_MAX_BYTES, and the archive's total to `archive_max_bytes`, so a
    zip bomb is stopped by what it really expands to, not by what it claims.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFailed(f"the file is not a readable ZIP archive: {exc}", where="the archive") from None
    with archive:
        infos = archive.infolist()
        for info in infos:
            check_member_name(info.filename)
        members = []
        for info in infos:
            if info.is_dir():
                continue
            if is_system_file(info.filename):
                skipped["system_files"] += 1
                continue
            members.append(info)
        declared = sum(info.file_size for info in members)
        if declared > config.archive_max_bytes:
            raise ImportFailed(
                f"the archive declares {declared} bytes of files, more than the {config.archive_max_bytes} "
                "an import may expand to",
                where="the archive",
            )
        label_of = folder_labeller(info.filename for info in members)
        expanded = 0
        for info in members:
            where = f"member {info.filename!r}"
            record = SourceRecord(ref=where, labels=label_of(info.filename),
                                  metadata={"source_name": info.filename})
            if config.labels_only:
                yield record
                continue
            if info.file_size > config.image_max_bytes:
                raise _image_too_large(where, info.file_size, config, declared=True)
            try:
                with archive.open(info) as member:
                    data = member.read(config.image_max_bytes + 1)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                raise ImportFailed(f"{where} cannot be read from the archive: {exc}", where=where) from None
            except (NotImplementedError, RuntimeError) as exc:  # unsupported compression, encryption
                raise ImportFailed(f"{where} cannot be extracted: {exc}", where=where) from None
            if len(data) > config.image_max_bytes:
                raise ImportFailed(
                    f"{where} expands past IMAGE_MAX_BYTES ({config.image_max_bytes} bytes) although it declares "
                    f"{info.file_size}: the archive is corrupt or a zip bomb",
                    where=where,
                )
            expanded += len(data)
            if expanded > config.archive_max_bytes:
                raise ImportFailed(
                    f"the archive expands past {config.archive_max_bytes} bytes at {where}", where=where
                )
            record.image = data
            yield record


def read_images_folder(path: Path, config: ReaderConfig, skipped: Counter) -> Iterator[SourceRecord]:
    """Images in a server folder (the `import_items` command only), walked in
    sorted order so an import is repeatable. Symbolic links to folders are
    not followed. Class folders give labels as in a ZIP."""
    if not path.is_dir():
        raise ImportFailed(f"{path} is not a folder", where=str(path))

    def walk() -> Iterator[str]:
        for folder, subfolders, files in os.walk(path):
            subfolders.sort()
            for name in sorted(files):
                relative = os.path.relpath(os.path.join(folder, name), path).replace(os.sep, "/")
                if is_system_file(relative):
                    continue
                yield relative

    # A first walk collects the set of folders (not the files), for labels.
    label_of = folder_labeller(walk())
    for folder, subfolders, files in os.walk(path):
        subfolders.sort()
        for name in sorted(files):
            relative = os.path.relpath(os.path.join(folder, name), path).replace(os.sep, "/")
            if is_system_file(relative):
                skipped["system_files"] += 1
                continue
            where = f"file {relative!r}"
            record = SourceRecord(ref=where, labels=label_of(relative), metadata={"source_name": relative})
            if not config.labels_only:
                full = os.path.join(folder, name)
                size = os.path.getsize(full)
                if size > config.image_max_bytes:
                    raise _image_too_large(where, size, config)
                with open(full, "rb") as handle:
                    data = handle.read(config.image_max_bytes + 1)
                if len(data) > config.image_max_bytes:
                    raise _image_too_large(where, len(data), config)
                record.image = data
            yield record


READERS: dict[str, Reader] = {
    ImportFormat.CSV: read_csv,
    ImportFormat.JSONL: read_jsonl,
    ImportFormat.LABEL_STUDIO: read_label_studio,
    ImportFormat.IMAGES_ZIP: read_images_zip,
    ImportFormat.IMAGES_FOLDER: read_images_folder,
}
