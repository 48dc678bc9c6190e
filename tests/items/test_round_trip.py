"""Import -> export -> import again keeps every item's content and labels.

Each case imports a small labelled file as gold (so its labels are approved),
exports it through the API in one format with the default (approved-only)
filter, imports the exported bytes into a fresh project, and compares
(content, labels) pairs. Content includes tricky text: Unicode, quotes,
commas, newlines, HTML-like markup.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from labelops.annotation.models import Consensus
from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.items.models import Item
from labelops.projects import services as project_services
from tests.items.import_helpers import import_data, png, zip_of

ROWS = [
    ("Card charged twice, need a refund", ["billing"]),
    ('App says "error 500" when I log in', ["bug"]),
    ("Ça coûte combien ? 12,50 €", ["billing"]),
    ("line one\nline two", ["other"]),
    ("<b>not html</b> & <script>alert(1)</script>", ["bug"]),
]
MULTI_ROWS = [
    ("Charged twice and the app crashed", ["billing", "bug"]),
    ("Nothing in particular", ["other"]),
]


def new_project(lead, name, *, task="single_label", modality="text", keys=("billing", "bug", "other")):
    project = project_services.create_project(actor=lead, name=name, task=task, modality=modality)
    create_taxonomy_version(actor=lead, project=project, labels=[{"key": k} for k in keys])
    return project


def source_jsonl(rows) -> bytes:
    lines = [json.dumps({"id": f"t-{n}", "text": text, "label": labels}) for n, (text, labels) in enumerate(rows)]
    return ("\n".join(lines) + "\n").encode()


def content_and_labels(project) -> set[tuple[str, tuple[str, ...]]]:
    """What must survive: each item's content with its approved labels."""
    pairs = set()
    for item in Item.objects.for_project(project).select_related("consensus"):
        content = item.text or item.content_hash  # images: same bytes, same hash
        pairs.add((content, tuple(sorted(item.consensus.labels))))
    return pairs


def export_bytes(api, lead, project, fmt: str) -> bytes:
    response = api(lead).get(reverse("export", kwargs={"project_pk": project.pk}), {"format": fmt})
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize("fmt, import_as", [("jsonl", "jsonl"), ("csv", "csv"), ("label_studio", "label_studio")])
@pytest.mark.parametrize("task, rows", [("single_label", ROWS), ("multi_label", MULTI_ROWS)])
def test_text_round_trip(fmt, import_as, task, rows, lead, api, artifact_root):
    first = new_project(lead, "First", task=task)
    import_data(first, lead, source_jsonl(rows), "jsonl", labels_as="gold", holdout_fraction=0)
    assert Consensus.objects.filter(item__project=first, status="approved").count() == len(rows)
    expected = {(text, tuple(sorted(labels))) for text, labels in rows}
    assert content_and_labels(first) == expected

    exported = export_bytes(api, lead, first, fmt)
    second = new_project(lead, "Second", task=task)
    report = import_data(second, lead, exported, import_as, labels_as="gold", holdout_fraction=0)

    assert report["imported"] == len(rows) and report["duplicates"] == 0
    assert content_and_labels(second) == expected
    assert set(Item.objects.for_project(second).values_list("external_id", flat=True)) == {
        f"t-{n}" for n in range(len(rows))
    }


def test_image_round_trip_through_label_studio(lead, api, artifact_root):
    first = new_project(lead, "Pets", modality="image", keys=("cat", "dog"))
    images = {"cat/a.png": png((250, 0, 0)), "cat/b.png": png((0, 250, 0)), "dog/c.jpg": png((0, 0, 250), fmt="JPEG")}
    import_data(first, lead, zip_of(images), "images_zip", labels_as="gold", holdout_fraction=0)
    expected = content_and_labels(first)
    assert len(expected) == 3

    exported = export_bytes(api, lead, first, "label_studio")
    second = new_project(lead, "Pets again", modality="image", keys=("cat", "dog"))
    import_data(second, lead, exported, "label_studio", labels_as="gold", holdout_fraction=0)
    assert content_and_labels(second) == expected


def test_parquet_export_loads_in_datasets_with_the_same_content(lead, api, artifact_root, tmp_path):
    datasets = pytest.importorskip("datasets")
    project = new_project(lead, "Tickets")
    import_data(project, lead, source_jsonl(ROWS), "jsonl", labels_as="gold", holdout_fraction=0)
    path = tmp_path / "export.parquet"
    path.write_bytes(export_bytes(api, lead, project, "parquet"))

    table = datasets.load_dataset("parquet", data_files=str(path), split="train")
    got = {(row["text"], (row["label"],) if isinstance(row["label"], str) else tuple(sorted(row["label"])))
           for row in table}
    assert got == {(text, tuple(labels)) for text, labels in ROWS}
    assert {row["split"] for row in table} == {"gold"}
    assert {row["status"] for row in table} == {"approved"}
