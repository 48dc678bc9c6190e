"""Label Studio export: a JSON array of tasks with data, annotations and meta."""

from __future__ import annotations

import base64
import json

import pytest

from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.items.exporting import ExportOptions, format_for, formats, iter_rows
from labelops.projects import services as project_services

pytestmark = pytest.mark.django_db


def export(project, **options) -> list[dict]:
    options = ExportOptions(format="label_studio", **options)
    return json.loads(b"".join(format_for("label_studio", project).stream(iter_rows(project, options))))



def test_tasks_have_label_studio_shape(project, labelled_items):
    tasks = export(project)
    assert len(tasks) == 3
    first = tasks[0]
    assert first["id"] == labelled_items["agreed"].pk
    assert first["data"] == {"text": "Card charged twice, refund?", "external_id": "t-1"}
    assert first["annotations"] == [{
        "result": [{
            "id": f"item-{labelled_items['agreed'].pk}",
            "from_name": "label",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": ["billing"]},
        }],
        "ground_truth": True,
        "was_cancelled": False,
    }]
    assert first["meta"]["annotators"] == ["annotator", "annotator2"]
    assert first["meta"]["reviewer"] == "reviewer"


def test_unlabelled_tasks_have_no_annotations_and_unapproved_are_not_ground_truth(project, labelled_items):
    tasks = {t["id"]: t for t in export(project, status="all")}
    assert tasks[labelled_items["unlabelled"].pk]["annotations"] == []
    assert tasks[labelled_items["disputed"].pk]["annotations"][0]["ground_truth"] is False


def test_multi_label_choices(lead, make_item, finalize):
    project = project_services.create_project(actor=lead, name="Multi", task="multi_label")
    create_taxonomy_version(
        actor=lead, project=project, labels=[{"key": "a", "name": "A"}, {"key": "b", "name": "B"}]
    )
    finalize(make_item(project, "two"), ["a", "b"])
    [task] = export(project)
    assert task["annotations"][0]["result"][0]["value"] == {"choices": ["a", "b"]}


def test_empty_export_is_an_empty_array(project):
    assert export(project) == []


def test_the_array_is_valid_json_across_chunks(project, monkeypatch, make_item, finalize):
    monkeypatch.setattr(formats, "CHUNK_BYTES", 100)
    for n in range(12):
        finalize(make_item(project, f"item {n}"), ["other"])
    chunks = list(format_for("label_studio", project).stream(
        iter_rows(project, ExportOptions(format="label_studio", batch_size=5))
    ))
    assert len(chunks) > 3
    assert len(json.loads(b"".join(chunks))) == 12


def test_task_id_is_an_integer_external_id_else_the_item_id(project, make_item, finalize):
    from_label_studio = make_item(project, "came from LS", external_id="42")
    named = make_item(project, "came from a CSV", external_id="ticket-7")
    padded = make_item(project, "zero padded", external_id="007")
    for item in (from_label_studio, named, padded):
        finalize(item, ["bug"])
    tasks = export(project)
    assert [t["id"] for t in tasks] == [42, named.pk, padded.pk]
    assert [t["data"]["external_id"] for t in tasks] == ["42", "ticket-7", "007"]


def test_image_projects_embed_the_image_as_a_data_uri(lead, artifact_root, make_item, finalize):
    project = project_services.create_project(actor=lead, name="Pictures", modality="image")
    create_taxonomy_version(actor=lead, project=project, labels=[{"key": "cat", "name": "Cat"}])
    (artifact_root / "items").mkdir(parents=True)
    (artifact_root / "items" / "a.png").write_bytes(b"\x89PNG fake bytes")
    finalize(make_item(project, file="items/a.png", content_type="image/png"), ["cat"])
    [task] = export(project)
    assert task["data"]["image"] == "data:image/png;base64," + base64.b64encode(b"\x89PNG fake bytes").decode()
    assert task["annotations"][0]["result"][0]["to_name"] == "image"
