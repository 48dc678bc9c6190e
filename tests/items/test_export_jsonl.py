"""JSONL export: one object per line with id, text, label and provenance."""

from __future__ import annotations

import json

import pytest

from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.items.exporting import ExportOptions, format_for, iter_rows
from labelops.projects import services as project_services

pytestmark = pytest.mark.django_db


def export(project, **options) -> list[dict]:
    options = ExportOptions(format="jsonl", **options)
    data = b"".join(format_for("jsonl", project).stream(iter_rows(project, options)))
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]



def test_approved_items_only_by_default_in_id_order(project, labelled_items):
    rows = export(project)
    assert [r["provenance"]["item_id"] for r in rows] == [labelled_items[k].pk for k in ("agreed", "fixed", "holdout")]
    assert [r["label"] for r in rows] == ["billing", "bug", "billing"]


def test_row_shape_and_provenance(project, labelled_items):
    agreed, fixed = export(project)[:2]
    assert agreed == {
        "id": "t-1",
        "text": "Card charged twice, refund?",
        "label": "billing",
        "provenance": {
            "item_id": labelled_items["agreed"].pk,
            "external_id": "t-1",
            "split": "pool",
            "state": "approved",
            "status": "approved",
            "consensus_method": "majority",
            "agreement": 1.0,
            "taxonomy_version": 1,
            "annotators": ["annotator", "annotator2"],
            "reviewer": "reviewer",
            "review_decision": "accept",
            "gold_labels": None,
            "content_hash": labelled_items["agreed"].content_hash,
            "metadata": {"lang": "en", "n": 1},
        },
    }
    # No external id: the item's own id stands in, so a re-import has one.
    assert fixed["id"] == str(labelled_items["fixed"].pk)
    assert fixed["text"] == labelled_items["fixed"].text
    # The discarded annotation is not provenance; the latest review is.
    assert fixed["provenance"]["annotators"] == ["annotator", "annotator2"]
    assert fixed["provenance"]["review_decision"] == "fix"
    assert fixed["provenance"]["consensus_method"] == "review"
    assert fixed["provenance"]["agreement"] == 0.5


def test_status_all_includes_unapproved_and_unlabelled(project, labelled_items):
    rows = {r["provenance"]["item_id"]: r for r in export(project, status="all")}
    assert len(rows) == 5
    assert rows[labelled_items["unlabelled"].pk]["label"] is None
    assert rows[labelled_items["unlabelled"].pk]["provenance"]["status"] is None
    assert rows[labelled_items["unlabelled"].pk]["provenance"]["annotators"] == []
    assert rows[labelled_items["disputed"].pk]["label"] == "billing"
    assert rows[labelled_items["disputed"].pk]["provenance"]["status"] == "disputed"


def test_split_filter(project, labelled_items):
    rows = export(project, split="holdout")
    assert [r["id"] for r in rows] == ["t-5"]
    assert rows[0]["provenance"]["gold_labels"] == ["billing"]


def test_multi_label_projects_export_lists(lead, make_item, finalize):
    project = project_services.create_project(actor=lead, name="Multi", task="multi_label")
    create_taxonomy_version(
        actor=lead, project=project, labels=[{"key": "a", "name": "A"}, {"key": "b", "name": "B"}]
    )
    finalize(make_item(project, "two", external_id="m-1"), ["a", "b"])
    unlabelled = make_item(project, "none")
    rows = export(project, status="all")
    assert rows[0]["label"] == ["a", "b"]
    assert rows[1]["label"] == [] and rows[1]["provenance"]["item_id"] == unlabelled.pk


def test_batches_cover_every_item_once(project, labelled_items, make_item, finalize):
    for n in range(7):
        finalize(make_item(project), ["other"])
    rows = export(project, batch_size=2)
    assert len(rows) == 10
    assert len({r["provenance"]["item_id"] for r in rows}) == 10


def test_empty_export_is_empty(project):
    assert b"".join(format_for("jsonl", project).stream(iter_rows(project, ExportOptions()))) == b""


def test_each_row_is_exactly_one_line_whatever_the_text(project, make_item, finalize):
    hostile = "a\nb\rc\u2028d\u2029e\x85f\x0bg\x1ch\"i\\j"
    finalize(make_item(project, hostile), ["bug"])
    data = b"".join(format_for("jsonl", project).stream(iter_rows(project, ExportOptions())))
    [line] = data.decode("utf-8").splitlines()  # splitlines breaks on every one of those characters
    assert json.loads(line)["text"] == hostile
