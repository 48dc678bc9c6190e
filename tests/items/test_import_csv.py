"""CSV import: columns, canonical text, PII, duplicates, splits and the three
ways of taking labels (gold, annotations, ignore)."""

from __future__ import annotations

from collections import Counter

import pytest

from labelops.annotation.models import Annotation, Consensus, FinalLabel
from labelops.audit.models import AuditEvent
from labelops.items.models import ImportJob, Item
from labelops.projects import services as project_services
from labelops.projects.models import QualityRules
from ssl_engine.hygiene import canonicalize_text, text_hash
from tests.items.import_helpers import csv_bytes, import_data

pytestmark = pytest.mark.usefixtures("artifact_root")


def test_columns_become_text_external_id_and_metadata(project, lead):
    data = csv_bytes("id,text,lang,channel", "t-1,Hello   there,en,mail", 't-2,"Two\nlines",fr,')
    report = import_data(project, lead, data, "csv", holdout_fraction=0)

    first, second = Item.objects.for_project(project)
    assert (first.text, first.external_id, first.metadata) == ("Hello there", "t-1", {"lang": "en", "channel": "mail"})
    assert (second.text, second.external_id, second.metadata) == ("Two\nlines", "t-2", {"lang": "fr", "channel": ""})
    assert first.content_hash == text_hash("Hello there")
    assert first.state == "unlabelled" and first.split == "pool"
    assert report["read"] == report["imported"] == 2
    assert report["by_split"] == {"pool": 2, "holdout": 0, "gold": 0}


def test_text_is_nfc_canonical_and_custom_text_column(project, lead):
    data = csv_bytes("body", "Cafe\u0301 \t au lait")
    import_data(project, lead, data, "csv", text_field="body")
    assert Item.objects.get().text == "Caf\u00e9 au lait"


def test_pii_is_scrubbed_in_text_and_metadata_and_counted(project, lead):
    data = csv_bytes(
        "text,contact",
        "Mail ann@example.com or call (201) 555-0123,bob@example.com",
        "Card 4111 1111 1111 1111 and ref 4111 1111 1111 1112,",
    )
    report = import_data(project, lead, data, "csv")
    texts = {item.text: item.metadata for item in Item.objects.all()}
    assert texts == {
        "Mail [EMAIL] or call [PHONE]": {"contact": "[EMAIL]"},
        "Card [CARD] and ref 4111 1111 1111 1112": {"contact": ""},
    }
    assert report["pii"] == {"email": 2, "phone": 1, "card": 1}


def test_scrubbing_can_be_turned_off(project, lead):
    report = import_data(project, lead, csv_bytes("text", "mail ann@example.com"), "csv", scrub_pii=False)
    assert Item.objects.get().text == "mail ann@example.com"
    assert report["pii"] == {"email": 0, "phone": 0, "card": 0}


def test_duplicates_in_the_file_and_in_the_project_are_reported_not_imported(project, lead):
    import_data(project, lead, csv_bytes("id,text", "old,Already here"), "csv")
    existing = Item.objects.get()
    data = csv_bytes("text", "New one", "new  ONE", "New one", "Already   here", '"  "')
    report = import_data(project, lead, data, "csv")

    assert report["read"] == 5
    assert report["imported"] == 2  # "New one", "new ONE"
    assert report["duplicates"] == 2
    assert report["duplicate_examples"] == [
        {"ref": "line 4", "duplicate_of": "line 2"},
        {"ref": "line 5", "duplicate_of": f"item {existing.pk} (external id old)"},
    ]
    assert report["empty"] == 1 and report["empty_examples"] == ["line 6"]
    assert Item.objects.count() == 3


def test_duplicates_across_batches_name_the_item_from_this_file(project, lead, monkeypatch):
    from labelops.items.importing import pipeline

    monkeypatch.setattr(pipeline, "BATCH_SIZE", 2)  # a real batch boundary between the two copies
    report = import_data(project, lead, csv_bytes("text", "a", "b", "a"), "csv")
    item = Item.objects.get(text="a")
    assert report["duplicate_examples"] == [
        {"ref": "line 4", "duplicate_of": f"item {item.pk}, imported earlier from this file"}
    ]


def test_blank_lines_are_skipped_and_counted(project, lead):
    report = import_data(project, lead, b"text\n\none\n\n\ntwo\n", "csv")
    assert report["imported"] == 2
    assert report["skipped"] == {"blank_lines": 3}


def test_gold_labels_make_approved_gold_items_with_consensus(project, lead):
    data = csv_bytes("text,label", "charged twice,billing", "app crashes,bug", "no label here,")
    report = import_data(project, lead, data, "csv", labels_as="gold", holdout_fraction=0)

    charged = Item.objects.get(text="charged twice")
    assert (charged.split, charged.state, charged.gold_labels) == ("gold", "approved", ["billing"])
    consensus = Consensus.objects.get(item=charged)
    assert (consensus.labels, consensus.method, consensus.status) == (["billing"], "gold", "approved")
    assert consensus.taxonomy_version == project.active_taxonomy()
    assert list(FinalLabel.objects.filter(item=charged).values_list("key", flat=True)) == ["billing"]
    plain = Item.objects.get(text="no label here")
    assert (plain.split, plain.state, plain.gold_labels) == ("pool", "unlabelled", None)
    assert report["gold"] == 2 and report["by_label"] == {"billing": 1, "bug": 1}
    assert not Annotation.objects.exists()


def test_gold_items_that_fall_in_the_holdout_keep_their_labels_as_truth(project, lead):
    rows = [f"billing text {i},billing" for i in range(20)]
    report = import_data(project, lead, csv_bytes("text,label", *rows), "csv", labels_as="gold",
                         holdout_fraction=0.25, seed=1)
    held = Item.objects.filter(split="holdout")
    assert held.count() == 5 == report["holdout"]
    assert all(item.gold_labels == ["billing"] and item.state == "approved" for item in held)
    assert Consensus.objects.filter(item__in=held, status="approved").count() == 5
    assert report["by_split"] == {"pool": 0, "holdout": 5, "gold": 15}


def test_annotations_mode_creates_imported_annotations_by_the_importer(project, lead):
    data = csv_bytes("text,label", "charged twice,billing", "plain,")
    report = import_data(project, lead, data, "csv", labels_as="annotations", holdout_fraction=0)

    item = Item.objects.get(text="charged twice")
    annotation = Annotation.objects.get(item=item)
    assert (annotation.annotator, annotation.labels, annotation.source) == (lead, ["billing"], "imported")
    assert annotation.taxonomy_version == project.active_taxonomy()
    assert (item.state, item.annotation_count, item.split, item.gold_labels) == ("labelled", 1, "pool", None)
    assert not Consensus.objects.exists()
    assert report["annotations"] == 1 and report["gold"] == 0


def test_annotations_below_the_overlap_leave_items_in_progress(project, lead):
    QualityRules.objects.filter(project=project).update(overlap=3)
    import_data(project, lead, csv_bytes("text,label", "charged twice,billing"), "csv", labels_as="annotations")
    assert Item.objects.get().state == "in_progress"


def test_ignore_mode_drops_labels_even_unknown_ones(project, lead):
    report = import_data(project, lead, csv_bytes("text,label", "a,not-a-label", "b,bug"), "csv", labels_as="ignore")
    assert set(Item.objects.values_list("state", flat=True)) == {"unlabelled"}
    assert report["gold"] == report["annotations"] == 0 and report["by_label"] == {}


def test_multi_label_cells_split_on_pipes(project, lead):
    project.task = "multi_label"
    project.save()
    import_data(project, lead, csv_bytes("text,label", "both,billing|bug", "one, other "), "csv", holdout_fraction=0)
    both = Item.objects.get(text="both")
    assert both.gold_labels == ["billing", "bug"]
    assert sorted(FinalLabel.objects.filter(item=both).values_list("key", flat=True)) == ["billing", "bug"]
    assert Item.objects.get(text="one").gold_labels == ["other"]


def test_project_without_taxonomy_gets_one_from_the_file_labels(lead):
    project = project_services.create_project(actor=lead, name="Fresh")
    data = csv_bytes("text,label", "a,spam", "b,ham", "c,spam", "d,")
    report = import_data(project, lead, data, "csv", holdout_fraction=0)
    taxonomy = project.active_taxonomy()
    assert taxonomy.number == 1 and taxonomy.keys() == {"ham", "spam"}
    assert report["taxonomy_created"] is True and report["taxonomy_version"] == 1
    assert Consensus.objects.filter(taxonomy_version=taxonomy).count() == 3


def test_holdout_is_stratified_by_label_and_repeatable(project, lead):
    labels = ["billing"] * 50 + ["bug"] * 30 + ["other"] * 20
    rows = [f"text number {i},{label}" for i, label in enumerate(labels)]

    def holdout_texts(seed):
        Item.objects.all().delete()
        import_data(project, lead, csv_bytes("text,label", *rows), "csv", holdout_fraction=0.1, seed=seed)
        return set(Item.objects.filter(split="holdout").values_list("text", flat=True))

    first = holdout_texts(seed=7)
    held_out = Item.objects.filter(split="holdout").values_list("gold_labels", flat=True)
    per_label = Counter(labels[0] for labels in held_out)
    assert per_label == {"billing": 5, "bug": 3, "other": 2}
    assert holdout_texts(seed=7) == first
    assert holdout_texts(seed=8) != first


def test_project_holdout_setting_is_the_default(project, lead):
    project_services.update_project(actor=lead, project=project, settings={"holdout_fraction": 0.5})
    project.refresh_from_db()
    report = import_data(project, lead, csv_bytes("text", *[f"row {i}" for i in range(10)]), "csv")
    assert report["holdout_fraction"] == 0.5 and report["holdout"] == 5


def test_import_is_audited_with_the_report(project, lead):
    report = import_data(project, lead, csv_bytes("text", "hello"), "csv")
    job = ImportJob.objects.get()
    event = AuditEvent.objects.for_object(job).get(verb="items.import")
    assert event.actor == lead and event.project == project
    assert event.after == report
    assert Item.objects.get().import_job == job


def test_a_utf8_byte_order_mark_is_not_part_of_the_header(project, lead):
    import_data(project, lead, "\ufefftext\nhello\n".encode("utf-8"), "csv")
    assert Item.objects.get().text == canonicalize_text("hello")
