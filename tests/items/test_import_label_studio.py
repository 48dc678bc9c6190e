"""Label Studio JSON import: tasks, annotations as labels, predictions as
imported proposals, embedded images."""

from __future__ import annotations

import base64
import json

import pytest

from labelops.annotation.models import Annotation
from labelops.items.importing.errors import ImportFailed
from labelops.items.models import Item
from labelops.learning.models import Proposal
from labelops.projects import services as project_services
from tests.items.import_helpers import import_data, png

pytestmark = pytest.mark.usefixtures("artifact_root")


def choices(*keys):
    return [{"type": "choices", "from_name": "label", "to_name": "text", "value": {"choices": list(keys)}}]


def tasks(*items) -> bytes:
    return json.dumps(list(items)).encode()


def test_annotations_become_labels_and_predictions_become_proposals(project, lead):
    data = tasks(
        {
            "id": 41,
            "data": {"text": "card charged twice", "channel": "mail"},
            "annotations": [{"result": choices("billing"), "was_cancelled": False}],
            "predictions": [{"result": choices("billing"), "score": 0.91}, {"result": choices("bug"), "score": 0.2}],
        },
        {"id": 42, "data": {"text": "the app crashes"}, "predictions": [{"result": choices("bug")}]},
    )
    report = import_data(project, lead, data, "label_studio", holdout_fraction=0)

    billing = Item.objects.get(external_id="41")
    assert (billing.text, billing.gold_labels, billing.split, billing.metadata) == (
        "card charged twice", ["billing"], "gold", {"channel": "mail"}
    )
    proposals = list(Proposal.objects.filter(item=billing).values_list("labels", "confidence", "source", "round"))
    assert proposals == [(["billing"], 0.91, "imported", None), (["bug"], 0.2, "imported", None)]
    crash = Item.objects.get(external_id="42")
    assert crash.state == "unlabelled"
    assert list(Proposal.objects.filter(item=crash).values_list("labels", "confidence")) == [(["bug"], None)]
    assert report["proposals"] == 3 and report["gold"] == 1


def test_annotations_mode_and_the_first_live_annotation_wins(project, lead):
    data = tasks({
        "id": 1,
        "data": {"text": "hello"},
        "annotations": [
            {"result": choices("other"), "was_cancelled": True},
            {"result": [{"type": "textarea", "value": {"text": ["note"]}}] + choices("bug")},
            {"result": choices("billing")},
        ],
    })
    report = import_data(project, lead, data, "label_studio", labels_as="annotations")
    annotation = Annotation.objects.get()
    assert (annotation.labels, annotation.source, annotation.annotator) == (["bug"], "imported", lead)
    assert report["skipped"] == {
        "label_studio_cancelled_annotations": 1,
        "label_studio_extra_annotations": 1,
        "label_studio_non_choice_results": 1,
    }


def test_predictions_are_checked_against_the_taxonomy(project, lead):
    data = tasks({"id": 9, "data": {"text": "x"}, "predictions": [{"result": choices("nonsense"), "score": 0.5}]})
    with pytest.raises(ImportFailed, match=r"^task #1 \(id 9\): predicted label 'nonsense' is not in taxonomy v1"):
        import_data(project, lead, data, "label_studio")


def test_ignore_mode_ignores_predictions_too(project, lead):
    data = tasks({"data": {"text": "x"}, "predictions": [{"result": choices("nonsense")}]})
    report = import_data(project, lead, data, "label_studio", labels_as="ignore")
    assert not Proposal.objects.exists() and report["skipped"] == {"predictions_ignored": 1}


def test_image_tasks_with_embedded_images(lead, artifact_root):
    project = project_services.create_project(actor=lead, name="Pets", modality="image")
    uri = "data:image/png;base64," + base64.b64encode(png()).decode()
    data = tasks({"id": 3, "data": {"image": uri}, "annotations": [{"result": choices("cat")}]})
    report = import_data(project, lead, data, "label_studio", holdout_fraction=0)
    item = Item.objects.get()
    assert item.gold_labels == ["cat"] and (artifact_root / item.file).read_bytes() == png()
    assert report["taxonomy_created"] is True


def test_image_links_are_never_fetched(lead):
    project = project_services.create_project(actor=lead, name="Pets", modality="image")
    data = tasks({"id": 3, "data": {"image": "http://example.com/cat.png"}})
    with pytest.raises(ImportFailed, match=r"^task #1 \(id 3\): data.image 'http://example.com/cat.png' is a link"):
        import_data(project, lead, data, "label_studio")


def test_malformed_json_names_the_task(project, lead):
    data = b'[{"data": {"text": "a"}}, {"data": {"text": "b"}}, {"data": '
    with pytest.raises(ImportFailed, match=r"^the JSON is malformed at or after task #3"):
        import_data(project, lead, data, "label_studio")
    assert not Item.objects.exists()


def test_a_json_object_instead_of_an_array_is_refused(project, lead):
    with pytest.raises(ImportFailed, match=r"must be a JSON array of Label Studio tasks"):
        import_data(project, lead, b'{"data": {"text": "a"}}', "label_studio")


def test_invalid_utf8_names_the_line(project, lead):
    data = b'[\n{"data": {"text": "a"}},\n{"data": {"text": "caf\xe9"}}\n]'
    with pytest.raises(ImportFailed, match=r"^line 3 is not valid UTF-8"):
        import_data(project, lead, data, "label_studio")


def test_task_without_text_names_the_task(project, lead):
    with pytest.raises(ImportFailed, match=r"^task #2 \(id 8\) has no data.text"):
        import_data(project, lead, tasks({"data": {"text": "a"}}, {"id": 8, "data": {"image": "x"}}), "label_studio")


def test_a_task_larger_than_any_item_may_be_is_refused_while_streaming(project, lead, settings):
    settings.TEXT_MAX_CHARS = 1
    data = tasks({"data": {"text": "a"}}, {"data": {"text": "x" * (3 * 1024**2)}})
    with pytest.raises(ImportFailed, match=r"^task #2 is larger than \d+ bytes$"):
        import_data(project, lead, data, "label_studio")
