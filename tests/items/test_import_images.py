"""Image import from a ZIP or a server folder: class folders as labels,
verified formats, generated file names, duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelops.annotation.models import Consensus
from labelops.items.models import Item
from labelops.projects import services as project_services
from ssl_engine.hygiene import bytes_hash
from tests.items.import_helpers import (
    import_data,
    png,
    stored_files,
    zip_of,
)

RED, GREEN, BLUE = png((255, 0, 0)), png((0, 255, 0)), png((0, 0, 255), size=(5, 7))


def test_class_folders_become_labels_and_files_get_generated_names(image_project, lead, artifact_root):
    data = zip_of({"pets/cat/one.png": RED, "pets/cat/two.png": GREEN, "pets/dog/x.png": BLUE})
    report = import_data(image_project, lead, data, "images_zip", holdout_fraction=0)

    assert report["imported"] == 3 and report["by_label"] == {"cat": 2, "dog": 1}
    dog = Item.objects.get(gold_labels=["dog"])
    digest = bytes_hash(BLUE)
    assert dog.file == f"items/{image_project.pk}/{digest[:2]}/{digest}.png"
    assert (artifact_root / dog.file).read_bytes() == BLUE
    assert (dog.content_type, dog.content_hash, dog.text) == ("image/png", digest, "")
    assert dog.metadata == {"source_name": "pets/dog/x.png", "width": 5, "height": 7}
    assert Consensus.objects.filter(item__project=image_project).count() == 3
    assert report["files_stored"] == 3
    assert len(stored_files(artifact_root)) == 3


@pytest.mark.parametrize("names", [["a.png", "b.png"], ["photos/a.png", "photos/b.png"]])
def test_flat_archives_are_unlabelled(image_project, lead, artifact_root, names):
    import_data(image_project, lead, zip_of(dict(zip(names, [RED, GREEN], strict=True))), "images_zip")
    assert list(Item.objects.values_list("state", "gold_labels")) == [("unlabelled", None)] * 2


def test_extension_comes_from_the_verified_format_not_the_name(image_project, lead, artifact_root):
    jpeg = png(fmt="JPEG")
    import_data(image_project, lead, zip_of({"cat/looks-like.png": jpeg, "dog/a.png": RED}), "images_zip")
    item = Item.objects.get(content_hash=bytes_hash(jpeg))
    assert item.file.endswith(".jpg") and item.content_type == "image/jpeg"


def test_system_files_are_skipped_and_counted(image_project, lead, artifact_root):
    data = zip_of({"a.png": RED, "__MACOSX/._a.png": b"\x00\x05junk", ".DS_Store": b"junk", "Thumbs.db": b"x"})
    report = import_data(image_project, lead, data, "images_zip")
    assert report["imported"] == 1 and report["skipped"] == {"system_files": 3}


def test_duplicate_images_are_reported_and_stored_once(image_project, lead, artifact_root):
    import_data(image_project, lead, zip_of({"first.png": RED}), "images_zip")
    existing = Item.objects.get()
    report = import_data(image_project, lead, zip_of({"x/again.png": RED, "y/b.png": GREEN, "y/c.png": GREEN}),
                         "images_zip", labels_as="ignore")
    assert report["imported"] == 1 and report["duplicates"] == 2
    assert report["duplicate_examples"] == [
        {"ref": "member 'x/again.png'", "duplicate_of": f"item {existing.pk}"},
        {"ref": "member 'y/c.png'", "duplicate_of": "member 'y/b.png'"},
    ]
    assert len(stored_files(artifact_root)) == 2


def test_a_project_without_taxonomy_gets_the_folder_names(lead, artifact_root):
    project = project_services.create_project(actor=lead, name="New", modality="image")
    import_data(project, lead, zip_of({"ant/a.png": RED, "bee/b.png": GREEN}), "images_zip", labels_as="annotations")
    assert project.active_taxonomy().keys() == {"ant", "bee"}
    assert set(Item.objects.values_list("state", flat=True)) == {"labelled"}


def test_a_server_folder_imports_in_place(image_project, lead, artifact_root, tmp_path):
    folder = tmp_path / "incoming"
    for relative, data in {"cat/1.png": RED, "dog/2.png": GREEN, "dog/.hidden.png": BLUE}.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    report = import_data(image_project, lead, Path(folder), "images_folder", holdout_fraction=0)
    assert report["by_label"] == {"cat": 1, "dog": 1} and report["skipped"] == {"system_files": 1}
    item = Item.objects.get(gold_labels=["cat"])
    assert item.metadata["source_name"] == "cat/1.png"
    assert (artifact_root / item.file).read_bytes() == RED
    assert (folder / "cat/1.png").exists()  # read in place, not moved
