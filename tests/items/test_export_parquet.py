"""Parquet export: a fixed schema in row groups that Hugging Face `datasets` loads."""

from __future__ import annotations

import io
import json

import datasets
import pyarrow.parquet as pq
import pytest
from PIL import Image

from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.items.exporting import ExportOptions, ParquetFormat, iter_rows
from labelops.projects import services as project_services

pytestmark = pytest.mark.django_db


def export(project, path, **options) -> int:
    options = ExportOptions(format="parquet", **options)
    return ParquetFormat(project).write(iter_rows(project, options), path)


def load(path):
    return datasets.load_dataset("parquet", data_files=str(path), split="train", cache_dir=str(path.parent / "hf"))



def test_loads_in_datasets_with_provenance_columns(project, labelled_items, tmp_path):
    path = tmp_path / "export.parquet"
    assert export(project, path) == 3
    dataset = load(path)
    assert dataset.num_rows == 3
    assert dataset.column_names[:3] == ["id", "text", "label"]
    assert dataset["label"] == ["billing", "bug", "billing"]
    assert dataset["split"] == ["pool", "pool", "holdout"]
    first = dataset[0]
    assert first["id"] == "t-1"
    assert first["text"] == "Card charged twice, refund?"
    assert first["item_id"] == labelled_items["agreed"].pk
    assert first["annotators"] == ["annotator", "annotator2"]
    assert first["reviewer"] == "reviewer" and first["review_decision"] == "accept"
    assert first["consensus_method"] == "majority" and first["agreement"] == 1.0
    assert first["taxonomy_version"] == 1
    assert first["content_hash"] == labelled_items["agreed"].content_hash
    assert json.loads(first["metadata"]) == {"lang": "en", "n": 1}
    assert dataset[1]["text"] == labelled_items["fixed"].text
    assert dataset[2]["gold_labels"] == ["billing"]


def test_status_all_has_nulls_where_nothing_is_known(project, labelled_items, tmp_path):
    path = tmp_path / "all.parquet"
    assert export(project, path, status="all") == 5
    rows = {row["id"]: row for row in load(path)}
    assert rows["t-4"]["label"] is None and rows["t-4"]["status"] is None
    assert rows["t-4"]["agreement"] is None and rows["t-4"]["annotators"] == []


def test_schema_is_fixed_and_written_in_row_groups(project, tmp_path, monkeypatch, make_item, finalize):
    monkeypatch.setattr(ParquetFormat, "ROW_GROUP_ROWS", 4)
    for n in range(10):
        finalize(make_item(project, f"text {n}"), ["bug"])
    path = tmp_path / "groups.parquet"
    assert export(project, path, batch_size=3) == 10
    parquet = pq.ParquetFile(path)
    assert parquet.metadata.num_row_groups == 3
    assert parquet.schema_arrow == ParquetFormat(project).schema()
    assert load(path).num_rows == 10


def test_an_empty_export_still_has_the_schema(project, tmp_path):
    path = tmp_path / "empty.parquet"
    assert export(project, path) == 0
    table = pq.read_table(path)
    assert table.num_rows == 0 and table.schema.names[:3] == ["id", "text", "label"]


def test_multi_label_is_a_list_column(lead, tmp_path, make_item, finalize):
    project = project_services.create_project(actor=lead, name="Multi", task="multi_label")
    create_taxonomy_version(
        actor=lead, project=project, labels=[{"key": "a", "name": "A"}, {"key": "b", "name": "B"}]
    )
    finalize(make_item(project, "two"), ["a", "b"])
    path = tmp_path / "multi.parquet"
    export(project, path)
    assert load(path)["label"] == [["a", "b"]]


def test_image_projects_embed_images_that_datasets_decodes(lead, tmp_path, artifact_root, make_item, finalize):
    project = project_services.create_project(actor=lead, name="Pictures", modality="image")
    create_taxonomy_version(
        actor=lead, project=project, labels=[{"key": "cat", "name": "Cat"}, {"key": "dog", "name": "Dog"}]
    )
    (artifact_root / "items").mkdir(parents=True)
    for name, colour, label in [("a.png", (255, 0, 0), "cat"), ("b.png", (0, 0, 255), "dog")]:
        buffer = io.BytesIO()
        Image.new("RGB", (5, 4), colour).save(buffer, format="PNG")
        (artifact_root / "items" / name).write_bytes(buffer.getvalue())
        finalize(make_item(project, file=f"items/{name}", content_type="image/png"), [label])
    path = tmp_path / "images.parquet"
    assert export(project, path) == 2
    dataset = load(path)
    assert isinstance(dataset.features["image"], datasets.Image)
    first = dataset[0]
    assert first["image"].size == (5, 4)
    assert first["image"].convert("RGB").getpixel((0, 0)) == (255, 0, 0)
    assert dataset["label"] == ["cat", "dog"]


def test_an_image_whose_file_is_missing_exports_without_its_image(lead, tmp_path, artifact_root, make_item, finalize):
    project = project_services.create_project(actor=lead, name="Pictures", modality="image")
    create_taxonomy_version(actor=lead, project=project, labels=[{"key": "cat", "name": "Cat"}])
    finalize(make_item(project, file="items/gone.png", content_type="image/png"), ["cat"])
    path = tmp_path / "missing.parquet"
    assert export(project, path) == 1
    [row] = load(path)
    assert row["image"] is None and row["label"] == "cat"
