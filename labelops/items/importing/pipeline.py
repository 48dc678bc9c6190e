"""The import service: file in, items (and their labels) out, all or nothing.

`run_import(job)` streams the job's file through its format's reader, cleans
each record with `ssl_engine.hygiene` (canonical text, PII scrubbing, content
hash), verifies and stores images, and writes items in batches. Per batch it
finds exact duplicates (one `content_hash__in` query against the project's
items, plus a dict within the batch) and reports them; it assigns the holdout
split as items stream past (stratified by label, seeded); and it turns labels
in the file into gold answers or imported annotations, as the job asks.

Memory stays flat whatever the file size: one batch of prepared records,
one counter per label for the holdout, and a bounded list of examples for
the report. The whole import is one transaction, so bad input anywhere (the
last line included) leaves nothing behind, and image files written before
the failure are deleted.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from labelops.annotation.models import (
    Annotation,
    AnnotationSource,
    Consensus,
    ConsensusMethod,
    ConsensusStatus,
)
from labelops.annotation.services.taxonomy_migration import ensure_labels
from labelops.audit.services import record
from labelops.items.files import ItemFileStore
from labelops.items.importing.errors import ImportFailed
from labelops.items.importing.images import verify_image
from labelops.items.importing.options import ImportOptions, check_format_fits
from labelops.items.importing.readers import READERS, Prediction, ReaderConfig, SourceRecord
from labelops.items.importing.storage import resolve_source
from labelops.items.importing.writers import item_writer
from labelops.items.models import ImportFormat, ImportJob, ItemState, LabelsAs, Split
from labelops.learning.models import Proposal, ProposalSource
from labelops.projects.models import Modality, Project, QualityRules, TaskType, TaxonomyVersion, key_validator
from ssl_engine.hygiene import PiiScrubber, StratifiedHoldout, bytes_hash, canonicalize_text, stratum_of, text_hash

# Items written per round trip: large enough to amortise a query, small
# enough that a batch of prepared records stays a few megabytes.
BATCH_SIZE = 5000
# How many duplicate or empty rows the report names (the counts are exact).
EXAMPLES = 20
# A file whose label column yields more distinct keys than this, for a
# project without a taxonomy, almost certainly has label_field wrong.
MAX_NEW_LABELS = 1000
# Room for the other columns of a row around its text, in bytes.
ROW_OVERHEAD_BYTES = 1024**2


@dataclass
class ImportReport:
    """What an import did. Stored on the ImportJob and in the audit event."""

    format: str
    labels_as: str
    holdout_fraction: float
    seed: int
    scrub_pii: bool
    read: int = 0
    imported: int = 0
    duplicates: int = 0
    empty: int = 0
    skipped: Counter = field(default_factory=Counter)
    pii: Counter = field(default_factory=Counter)
    holdout: int = 0
    gold: int = 0
    annotations: int = 0
    proposals: int = 0
    by_split: Counter = field(default_factory=Counter)
    by_label: Counter = field(default_factory=Counter)
    duplicate_examples: list[dict[str, str]] = field(default_factory=list)
    empty_examples: list[str] = field(default_factory=list)
    taxonomy_version: int | None = None
    taxonomy_created: bool = False
    files_stored: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["skipped"] = dict(sorted(self.skipped.items()))
        data["pii"] = {kind: self.pii.get(kind, 0) for kind in ("email", "phone", "card")}
        data["by_split"] = {split: self.by_split.get(split, 0) for split in Split.values}
        data["by_label"] = dict(sorted(self.by_label.items()))
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass(slots=True)
class _Prepared:
    """A record after cleaning, waiting in the batch to be written."""

    ref: str
    content_hash: str
    stratum: str | None
    text: str = ""
    file: str = ""
    content_type: str = ""
    labels: list[str] | None = None
    external_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    predictions: list[Prediction] = field(default_factory=list)


def run_import(job: ImportJob) -> dict[str, Any]:
    """Import the job's file into its project; return the report (a dict).

    Raises ImportFailed (nothing imported, no file left) for bad input.
    Does not change the job's state: the caller (the `run_import_job` task)
    records the outcome.

    Locking: the job row and the project row are locked (`select_for_update`)
    for the whole import. The project lock makes two imports into one project
    run one after the other, so they cannot race on duplicates or on creating
    the first taxonomy version; the job lock tells a live run from one whose
    worker died (see `labelops.items.tasks`).
    Run it outside any outer transaction: image files are kept once this
    function's transaction commits, and an outer rollback would orphan them.
    """
    started = time.monotonic()
    try:
        options = ImportOptions.from_dict({**job.options, "format": job.format})
        check_format_fits(job.project, options.format)
    except ValidationError as exc:
        raise ImportFailed("; ".join(exc.messages), where="options") from None
    try:
        path = resolve_source(settings.ARTIFACT_ROOT, job.source)
    except ValueError as exc:
        raise ImportFailed(str(exc), where="source") from None
    _check_source(path, options.format)

    store = ItemFileStore(settings.ARTIFACT_ROOT, job.project_id)
    try:
        with transaction.atomic():
            list(ImportJob.objects.select_for_update().filter(pk=job.pk).values_list("pk", flat=True))
            project = Project.objects.select_for_update().get(pk=job.project_id)
            report = _Importer(job=job, project=project, options=options, store=store).run(path)
            report.seconds = time.monotonic() - started
            result = report.to_dict()
            record(actor=job.created_by, verb="items.import", obj=job, project=project, after=result)
    except BaseException:
        store.discard()
        raise
    store.keep()
    return result


def _check_source(path: Path, fmt: str) -> None:
    if fmt == ImportFormat.IMAGES_FOLDER:
        if not path.is_dir():
            raise ImportFailed(f"{path} is not a folder", where="source")
        return
    if not path.is_file():
        raise ImportFailed("the import file is missing (was it deleted?)", where="source")
    size = path.stat().st_size
    if size == 0:
        raise ImportFailed("the file is empty (0 bytes)", where="the file")
    if size > settings.IMPORT_MAX_BYTES:
        raise ImportFailed(
            f"the file is {size} bytes, more than IMPORT_MAX_BYTES ({settings.IMPORT_MAX_BYTES})", where="the file"
        )


class _Importer:
    """One run of one import. Holds only per-import counters and one batch."""

    def __init__(self, *, job: ImportJob, project: Project, options: ImportOptions, store: ItemFileStore):
        self.job = job
        self.project = project
        self.options = options
        self.store = store
        self.actor = job.created_by
        self.image = project.modality == Modality.IMAGE
        self.multi_label = project.task == TaskType.MULTI_LABEL
        fraction = options.holdout_fraction
        if fraction is None:
            fraction = project.config.holdout_fraction
        self.holdout = StratifiedHoldout(fraction, seed=options.seed)
        self.scrubber = PiiScrubber() if options.scrub_pii and not self.image else None
        self.report = ImportReport(
            format=options.format, labels_as=options.labels_as, holdout_fraction=fraction,
            seed=options.seed, scrub_pii=options.scrub_pii,
        )
        self.version: TaxonomyVersion | None = None
        self.known_keys: set[str] = set()
        self.batch: list[_Prepared] = []
        self.writer = item_writer()
        self.overlap = QualityRules.objects.filter(project=project).values_list("overlap", flat=True).first() or 1
        self.config = ReaderConfig(
            text_field=options.text_field,
            label_field=options.label_field,
            image_modality=self.image,
            multi_label=self.multi_label,
            # UTF-8 takes at most 4 bytes a character.
            max_line_bytes=settings.TEXT_MAX_CHARS * 4 + ROW_OVERHEAD_BYTES,
            image_max_bytes=settings.IMAGE_MAX_BYTES,
            archive_max_bytes=settings.IMPORT_MAX_BYTES,
        )

    @property
    def uses_labels(self) -> bool:
        return self.options.labels_as != LabelsAs.IGNORE

    def run(self, path: Path) -> ImportReport:
        if self.options.labels_as == LabelsAs.ANNOTATIONS and self.actor is None:
            raise ImportFailed("labels_as=annotations needs the importing user, and this job has none",
                               where="options")
        reader = READERS[self.options.format]
        if self.uses_labels:
            self._resolve_taxonomy(reader, path)
        for source in reader(path, self.config, self.report.skipped):
            self.report.read += 1
            prepared = self._prepare(source)
            if prepared is not None:
                self.batch.append(prepared)
                if len(self.batch) >= BATCH_SIZE:
                    self._flush()
        self._flush()
        self.report.files_stored = self.store.created
        return self.report

    # --- Taxonomy ----------------------------------------------------------------

    def _resolve_taxonomy(self, reader, path: Path) -> None:
        """The active taxonomy; or, for a project with none yet, a first
        version made of the file's label keys (`ensure_labels`).

        The keys of a streamed file are only known at its end, so a project
        without a taxonomy costs one extra pass that reads labels only (image
        bytes are not even read). That keeps taxonomy versions immutable: the
        version is created once, complete, before the first item refers to it.
        """
        current = self.project.active_taxonomy()
        if current is None:
            keys: set[str] = set()
            for source in reader(path, dataclasses.replace(self.config, labels_only=True), Counter()):
                for key in self._keys_of(source):
                    if key not in keys:
                        self._check_key_syntax(key, source.ref)
                        keys.add(key)
                        if len(keys) > MAX_NEW_LABELS:
                            raise ImportFailed(
                                f"{source.ref}: the file has more than {MAX_NEW_LABELS} distinct labels; "
                                f"is {self.options.label_field!r} really the label column?",
                                where=source.ref,
                            )
            if not keys:
                return
            try:
                current = ensure_labels(actor=self.actor, project=self.project, keys=keys)
            except ValidationError as exc:
                raise ImportFailed(f"cannot create a taxonomy from the file's labels: {'; '.join(exc.messages)}",
                                   where="labels") from None
            self.report.taxonomy_created = True
        self.version = current
        self.known_keys = current.keys()
        self.report.taxonomy_version = current.number

    @staticmethod
    def _keys_of(source: SourceRecord):
        yield from source.labels or ()
        for prediction in source.predictions:
            yield from prediction.labels

    @staticmethod
    def _check_key_syntax(key: str, ref: str) -> None:
        try:
            key_validator(key)
        except ValidationError as exc:
            raise ImportFailed(f"{ref}: {key!r} cannot be a label key: {exc.messages[0]}", where=ref) from None

    def _check_labels(self, labels: list[str], ref: str, what: str = "label") -> None:
        if not self.multi_label and len(labels) > 1:
            raise ImportFailed(
                f"{ref} has {len(labels)} {what}s ({', '.join(labels)}) but the project is single-label", where=ref
            )
        for key in labels:
            if key not in self.known_keys:
                known = sorted(self.known_keys)
                shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "")
                raise ImportFailed(
                    f"{ref}: {what} {key!r} is not in taxonomy v{self.version.number} of this project "
                    f"(its labels: {shown})",
                    where=ref,
                )

    # --- One record ----------------------------------------------------------------

    def _prepare(self, source: SourceRecord) -> _Prepared | None:
        """Clean one record, or return None (and count it) if it is empty."""
        labels = source.labels
        stratum = stratum_of(labels)
        predictions = source.predictions
        if self.uses_labels:
            if labels:
                self._check_labels(labels, source.ref)
            for prediction in predictions:
                self._check_labels(prediction.labels, source.ref, what="predicted label")
        else:
            labels = None
            if predictions:
                self.report.skipped["predictions_ignored"] += len(predictions)
                predictions = []

        if self.image:
            return self._prepare_image(source, labels, stratum, predictions)

        text = canonicalize_text(source.text or "")
        if not text:
            self._empty(source.ref)
            return None
        if len(text) > settings.TEXT_MAX_CHARS:
            raise ImportFailed(
                f"{source.ref}: the text has {len(text)} characters, more than TEXT_MAX_CHARS "
                f"({settings.TEXT_MAX_CHARS})",
                where=source.ref,
            )
        metadata = source.metadata
        if self.scrubber is not None:
            text = self.scrubber.scrub(text, self.report.pii)
            if metadata:
                metadata = self._scrub_value(metadata)
        return _Prepared(
            ref=source.ref, content_hash=text_hash(text), stratum=stratum, text=text, labels=labels,
            external_id=source.external_id[:200], metadata=metadata, predictions=predictions,
        )

    def _prepare_image(self, source: SourceRecord, labels, stratum, predictions) -> _Prepared:
        data = source.image or b""
        if len(data) > settings.IMAGE_MAX_BYTES:
            raise ImportFailed(
                f"{source.ref} has {len(data)} bytes, more than IMAGE_MAX_BYTES ({settings.IMAGE_MAX_BYTES})",
                where=source.ref,
            )
        image = verify_image(data, source.ref, max_pixels=settings.IMAGE_MAX_PIXELS)
        content_hash = bytes_hash(data)
        # Written now, not at flush, so a batch never holds image bytes. The
        # path is content-addressed: a duplicate found at flush points at the
        # same file, which is therefore never a stray.
        path = self.store.save(data, content_hash, image.extension)
        return _Prepared(
            ref=source.ref, content_hash=content_hash, stratum=stratum, file=path,
            content_type=image.content_type, labels=labels, external_id=source.external_id[:200],
            metadata={**source.metadata, "width": image.width, "height": image.height},
            predictions=predictions,
        )

    def _scrub_value(self, value: Any) -> Any:
        """Metadata is scrubbed too: an e-mail column is as personal as the text."""
        if isinstance(value, str):
            return self.scrubber.scrub(value, self.report.pii)
        if isinstance(value, dict):
            return {key: self._scrub_value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._scrub_value(item) for item in value]
        return value

    def _empty(self, ref: str) -> None:
        self.report.empty += 1
        if len(self.report.empty_examples) < EXAMPLES:
            self.report.empty_examples.append(ref)

    def _duplicate(self, ref: str, of: str) -> None:
        self.report.duplicates += 1
        if len(self.report.duplicate_examples) < EXAMPLES:
            self.report.duplicate_examples.append({"ref": ref, "duplicate_of": of})

    # --- One batch ----------------------------------------------------------------------

    def _flush(self) -> None:
        """Drop duplicates, assign splits, and write one batch with its labels."""
        batch, self.batch = self.batch, []
        if not batch:
            return
        existing = self.writer.existing(self.project.pk, {p.content_hash for p in batch})
        first_seen: dict[str, str] = {}
        fresh: list[_Prepared] = []
        for prepared in batch:
            if prepared.content_hash in existing:
                pk, job_id, external_id = existing[prepared.content_hash]
                of = f"item {pk}"
                if external_id:
                    of += f" (external id {external_id})"
                if job_id == self.job.pk:
                    of += ", imported earlier from this file"
                self._duplicate(prepared.ref, of)
            elif prepared.content_hash in first_seen:
                self._duplicate(prepared.ref, first_seen[prepared.content_hash])
            else:
                first_seen[prepared.content_hash] = prepared.ref
                fresh.append(prepared)

        labels_as = self.options.labels_as
        # Plain strings, not enum members: the COPY writer hands values to
        # psycopg as they are, and psycopg dumps an Enum by its name.
        labelled_state = (ItemState.LABELLED if self.overlap <= 1 else ItemState.IN_PROGRESS).value
        rows = []
        for prepared in fresh:
            held_out = self.holdout.assign(prepared.stratum)
            row = {
                "project_id": self.project.pk, "text": prepared.text, "file": prepared.file,
                "content_type": prepared.content_type, "content_hash": prepared.content_hash,
                "external_id": prepared.external_id, "metadata": prepared.metadata,
                "import_job_id": self.job.pk, "split": (Split.HOLDOUT if held_out else Split.POOL).value,
            }
            if prepared.labels and labels_as == LabelsAs.GOLD:
                row.update(gold_labels=prepared.labels, state=ItemState.APPROVED.value)
                if not held_out:
                    row["split"] = Split.GOLD.value
            elif prepared.labels and labels_as == LabelsAs.ANNOTATIONS:
                row.update(state=labelled_state, annotation_count=1)
            rows.append(row)
        ids = self.writer.insert(rows)

        report = self.report
        consensus, annotations, proposals = [], [], []
        for prepared, row, item_id in zip(fresh, rows, ids, strict=True):
            report.by_split[row["split"]] += 1
            if prepared.labels:
                report.by_label.update(prepared.labels)
                if labels_as == LabelsAs.GOLD:
                    consensus.append(Consensus(
                        item_id=item_id, labels=prepared.labels, method=ConsensusMethod.GOLD,
                        status=ConsensusStatus.APPROVED, taxonomy_version=self.version,
                    ))
                else:
                    annotations.append(Annotation(
                        item_id=item_id, annotator=self.actor, labels=prepared.labels,
                        source=AnnotationSource.IMPORTED, taxonomy_version=self.version,
                    ))
            for prediction in prepared.predictions:
                proposals.append(Proposal(
                    item_id=item_id, round=None, source=ProposalSource.IMPORTED, labels=prediction.labels,
                    confidence=prediction.score,
                ))
        Consensus.objects.put_new(consensus)
        Annotation.objects.bulk_create(annotations)
        Proposal.objects.bulk_create(proposals)

        report.imported += len(rows)
        report.holdout = report.by_split[Split.HOLDOUT]
        report.gold += len(consensus)
        report.annotations += len(annotations)
        report.proposals += len(proposals)

