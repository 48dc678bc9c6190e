"""CSV export: id,text,label then provenance columns, `|`-joined lists."""

from __future__ import annotations

import csv
import io
import json

import pytest

from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.items.exporting import ExportOptions, format_for, formats, iter_rows
from labelops.projects import services as project_services

pytestmark = pytest.mark.django_db


def export(project, **options) -> tuple[list[str], list[dict]]:
    options = ExportOptions(format="csv", **options)
    data = b"".join(format_for("csv", project).stream(iter_rows(project, options))).decode("utf-8")
    reader = csv.DictReader(io.StringIO(data, newline=""))
    rows = list(reader)
    return reader.fieldnames, rows



def test_header_starts_with_the_importable_columns(project, labelled_items):
    header, _ = export(project)
    assert header[:3] == ["id", "text", "label"]
    assert {"split", "status", "consensus_method", "agreement", "taxonomy_version", "annotators", "reviewer",
            "review_decision", "external_id", "content_hash", "item_id", "metadata"} <= set(header)


def test_rows_round_trip_awkward_text_and_carry_provenance(project, labelled_items):
    _, rows = export(project)
    assert [r["item_id"] for r in rows] == [str(labelled_items[k].pk) for k in ("agreed", "fixed", "holdout")]
    agreed, fixed, holdout = rows
    assert agreed["id"] == "t-1" and agreed["label"] == "billing"
    assert agreed["annotators"] == "annotator|annotator2"
    assert agreed["reviewer"] == "reviewer" and agreed["review_decision"] == "accept"
    assert agreed["agreement"] == "1.0" and agreed["taxonomy_version"] == "1"
    assert json.loads(agreed["metadata"]) == {"lang": "en", "n": 1}
    assert agreed["content_hash"] == labelled_items["agreed"].content_hash
    # Commas, quotes, a newline and non-ASCII survive the CSV quoting.
    assert fixed["text"] == labelled_items["fixed"].text
    assert fixed["label"] == "bug" and fixed["review_decision"] == "fix"
    assert holdout["split"] == "holdout" and holdout["gold_labels"] == "billing"


def test_status_all_leaves_missing_values_empty(project, labelled_items):
    _, rows = export(project, status="all")
    unlabelled = next(r for r in rows if r["id"] == "t-4")
    assert unlabelled["label"] == "" and unlabelled["status"] == "" and unlabelled["reviewer"] == ""
    assert unlabelled["annotators"] == "" and unlabelled["metadata"] == "{}"


def test_multi_label_is_pipe_joined(lead, make_item, finalize):
    project = project_services.create_project(actor=lead, name="Multi", task="multi_label")
    create_taxonomy_version(
        actor=lead, project=project, labels=[{"key": "a", "name": "A"}, {"key": "b", "name": "B"}]
    )
    finalize(make_item(project, "two"), ["a", "b"])
    _, rows = export(project)
    assert rows[0]["label"] == "a|b"


def test_large_exports_come_in_several_chunks(project, monkeypatch, make_item, finalize):
    monkeypatch.setattr(formats, "CHUNK_BYTES", 256)
    for n in range(20):
        finalize(make_item(project, f"text number {n} " * 5), ["bug"])
    chunks = list(format_for("csv", project).stream(iter_rows(project, ExportOptions(format="csv", batch_size=6))))
    assert len(chunks) > 3
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode("utf-8"), newline="")))
    assert len(rows) == 20
