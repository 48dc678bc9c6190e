"""JSON Lines import: keys, label lists, nested metadata, line numbers in errors."""

from __future__ import annotations

import json

import pytest

from labelops.items.importing.errors import ImportFailed
from labelops.items.models import Item
from tests.items.import_helpers import import_data

pytestmark = pytest.mark.usefixtures("artifact_root")


def jsonl(*objects) -> bytes:
    return "".join(json.dumps(obj) + "\n" for obj in objects).encode()


def test_keys_become_text_label_id_and_metadata(project, lead):
    data = jsonl(
        {"id": 17, "text": "charged  twice", "label": "billing", "meta": {"lang": "en", "tags": ["a"]}},
        {"text": "unlabelled", "label": None, "score": 0.5},
    )
    report = import_data(project, lead, data, "jsonl", holdout_fraction=0)
    first = Item.objects.get(external_id="17")
    assert (first.text, first.gold_labels, first.metadata) == (
        "charged twice", ["billing"], {"meta": {"lang": "en", "tags": ["a"]}}
    )
    second = Item.objects.get(text="unlabelled")
    assert (second.external_id, second.gold_labels, second.metadata) == ("", None, {"score": 0.5})
    assert report["imported"] == 2 and report["gold"] == 1


def test_multi_label_lists(project, lead):
    project.task = "multi_label"
    project.save()
    import_data(project, lead, jsonl({"text": "both", "label": ["bug", "billing"]}), "jsonl", holdout_fraction=0)
    assert Item.objects.get().gold_labels == ["bug", "billing"]


def test_a_label_list_in_a_single_label_project_is_an_error(project, lead):
    with pytest.raises(ImportFailed, match=r"^line 1 has 2 labels \(bug, billing\) but the project is single-label"):
        import_data(project, lead, jsonl({"text": "both", "label": ["bug", "billing"]}), "jsonl")


def test_custom_text_and_label_keys(project, lead):
    import_data(project, lead, jsonl({"body": "hi", "category": "other"}), "jsonl",
                text_field="body", label_field="category", holdout_fraction=0)
    item = Item.objects.get()
    assert (item.text, item.gold_labels, item.metadata) == ("hi", ["other"], {})


def test_pii_in_nested_metadata_is_scrubbed(project, lead):
    report = import_data(project, lead, jsonl({"text": "x", "from": {"mail": ["ann@example.com"]}}), "jsonl")
    assert Item.objects.get().metadata == {"from": {"mail": ["[EMAIL]"]}}
    assert report["pii"]["email"] == 1


def test_invalid_json_names_the_line(project, lead):
    data = jsonl({"text": "fine"}) + b'{"text": "broken",}\n'
    with pytest.raises(ImportFailed, match=r"^line 2 is not valid JSON: .*column 19") as failure:
        import_data(project, lead, data, "jsonl")
    assert failure.value.where == "line 2"
    assert not Item.objects.exists()


def test_a_line_that_is_not_an_object_names_the_line(project, lead):
    with pytest.raises(ImportFailed, match=r"^line 2 must be a JSON object, got list"):
        import_data(project, lead, jsonl({"text": "fine"}, ["text"]), "jsonl")


def test_missing_text_key_names_the_line(project, lead):
    with pytest.raises(ImportFailed, match=r"^line 3 has no 'text' key"):
        import_data(project, lead, jsonl({"text": "a"}, {"text": "b"}, {"body": "c"}), "jsonl")


def test_non_string_text_names_the_line(project, lead):
    with pytest.raises(ImportFailed, match=r"^line 1: 'text' must be a string, got int"):
        import_data(project, lead, jsonl({"text": 5}), "jsonl")


def test_blank_lines_and_empty_texts_are_skipped_and_reported(project, lead):
    data = b'{"text": "a"}\n\n{"text": "   "}\n{"text": null}\n'
    report = import_data(project, lead, data, "jsonl")
    assert report["imported"] == 1
    assert report["empty"] == 2 and report["empty_examples"] == ["line 3", "line 4"]
    assert report["skipped"] == {"blank_lines": 1}
