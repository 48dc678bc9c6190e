"""/api/v1/projects/<pk>/taxonomy/: versions, the active one, and making the next one."""

from __future__ import annotations

import pytest

from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.audit.models import AuditEvent
from labelops.projects import services
from labelops.projects.models import TaxonomyMapping, TaxonomyVersion

pytestmark = pytest.mark.django_db

# The `project` fixture's version 1 has billing (b), bug (g) and other (o).
KEEP_ALL = [
    {"key": "billing", "name": "Billing", "hotkey": "b"},
    {"key": "bug", "name": "Bug", "hotkey": "g"},
    {"key": "other", "name": "Other", "hotkey": "o"},
]


def post_version(client, urls, project, labels, mapping=None, note=""):
    body = {"labels": labels, "note": note}
    if mapping is not None:
        body["mapping"] = mapping
    return client.post(urls("taxonomy-version-list", project), body, format="json")


# --- reading ---------------------------------------------------------------------------


def test_annotator_lists_versions_with_label_counts(project, annotator, api, urls):
    response = api(annotator).get(urls("taxonomy-version-list", project))
    assert response.status_code == 200
    (version,) = response.json()["results"]
    assert version["number"] == 1
    assert version["label_count"] == 3
    assert version["created_by"] == "lead"


def test_a_version_lists_its_labels_flat_with_parent_keys(project, lead, annotator, api, urls):
    create_taxonomy_version(
        actor=lead, project=project,
        labels=[
            {"key": "money", "name": "Money"},
            {"key": "billing", "name": "Billing", "parent": "money", "hotkey": "b",
             "guideline": "Invoices and charges", "examples": ["I was charged twice"]},
            {"key": "bug", "name": "Bug", "hotkey": "g"},
            {"key": "other", "name": "Other", "hotkey": "o"},
        ],
    )
    response = api(annotator).get(urls("taxonomy-version-detail", project, number=2))
    assert response.status_code == 200
    body = response.json()
    assert body["number"] == 2
    assert body["labels"][:2] == [
        {"key": "money", "name": "Money", "parent": None, "hotkey": "", "guideline": "", "examples": []},
        {"key": "billing", "name": "Billing", "parent": "money", "hotkey": "b",
         "guideline": "Invoices and charges", "examples": ["I was charged twice"]},
    ]
    assert body["mapping"] == []


def test_active_taxonomy_is_the_newest_version(project, lead, annotator, api, urls):
    create_taxonomy_version(actor=lead, project=project, labels=KEEP_ALL, note="second")
    response = api(annotator).get(urls("taxonomy-active", project))
    assert response.status_code == 200
    assert (response.json()["number"], response.json()["note"]) == (2, "second")


def test_active_taxonomy_of_a_project_without_one_is_404(lead, api, urls):
    empty = services.create_project(actor=lead, name="Empty")
    response = api(lead).get(urls("taxonomy-active", empty))
    assert response.status_code == 404
    assert "no taxonomy" in response.json()["detail"]


def test_unknown_version_number_is_404(project, lead, api, urls):
    assert api(lead).get(urls("taxonomy-version-detail", project, number=9)).status_code == 404


def test_outsider_gets_404_for_the_taxonomy(project, outsider, api, urls):
    client = api(outsider)
    assert client.get(urls("taxonomy-active", project)).status_code == 404
    assert client.get(urls("taxonomy-version-list", project)).status_code == 404
    assert client.get(urls("taxonomy-version-detail", project, number=1)).status_code == 404
    assert post_version(client, urls, project, KEEP_ALL).status_code == 404


# --- a new version ----------------------------------------------------------------------


def test_lead_makes_a_version_with_every_kind_of_mapping(project, lead, api, urls):
    """v1 billing, bug, other (+ refund, invoice added first) ->
    rename bug to defect, merge refund and invoice into payments, split billing,
    deprecate other."""
    create_taxonomy_version(
        actor=lead, project=project,
        labels=[*KEEP_ALL, {"key": "refund", "name": "Refund"}, {"key": "invoice", "name": "Invoice"}],
    )
    labels = [
        {"key": "defect", "name": "Defect", "hotkey": "d"},
        {"key": "payments", "name": "Payments", "hotkey": "p"},
        {"key": "charges", "name": "Charges", "parent": "payments", "hotkey": "c"},
        {"key": "subscriptions", "name": "Subscriptions", "parent": "payments", "hotkey": "s"},
    ]
    mapping = [
        {"kind": "rename", "from": "bug", "to": ["defect"]},
        {"kind": "merge", "from": "refund", "to": ["payments"]},
        {"kind": "merge", "from": "invoice", "to": ["payments"]},
        {"kind": "split", "from": "billing", "to": ["charges", "subscriptions"]},
        {"kind": "deprecate", "from": "other"},
    ]
    response = post_version(api(lead), urls, project, labels, mapping, note="v3: payments tree")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == 3
    assert [label["key"] for label in body["labels"]] == ["defect", "payments", "charges", "subscriptions"]
    assert body["labels"][2]["parent"] == "payments"
    assert body["mapping"] == [{**m, "to": m.get("to", [])} for m in mapping]

    version = TaxonomyVersion.objects.get(project=project, number=3)
    assert TaxonomyMapping.objects.filter(to_version=version, from_version__number=2).count() == 5
    event = AuditEvent.objects.get(verb="taxonomy.create_version", object_id=str(version.pk))
    assert event.actor == lead
    assert {label["key"] for label in event.before["labels"]} == {"billing", "bug", "other", "refund", "invoice"}
    assert event.after["mapping"][3] == {"kind": "split", "from": "billing", "to": ["charges", "subscriptions"]}
    assert api(lead).get(urls("taxonomy-active", project)).json()["number"] == 3


def test_a_label_dropped_without_mapping_is_named(project, lead, api, urls):
    response = post_version(api(lead), urls, project, KEEP_ALL[:2])  # "other" vanishes
    assert response.status_code == 400
    message = str(response.json()["mapping"])
    assert "other" in message and "deprecate" in message
    assert project.active_taxonomy().number == 1


def test_a_cycle_in_the_tree_is_refused(project, lead, api, urls):
    labels = [
        {"key": "billing", "parent": "other"},
        {"key": "bug"},
        {"key": "other", "parent": "billing"},
    ]
    response = post_version(api(lead), urls, project, labels)
    assert response.status_code == 400
    assert "own ancestor" in str(response.json()["labels"])


def test_an_unknown_parent_is_named(project, lead, api, urls):
    response = post_version(api(lead), urls, project, [*KEEP_ALL, {"key": "refund", "parent": "money"}])
    assert response.status_code == 400
    assert "'money'" in str(response.json()["labels"])


def test_a_duplicate_hotkey_is_refused_naming_it(project, lead, api, urls):
    labels = [*KEEP_ALL, {"key": "refund", "name": "Refund", "hotkey": "b"}]
    response = post_version(api(lead), urls, project, labels)
    assert response.status_code == 400
    assert "hotkey(s) used by more than one label: b" in str(response.json()["labels"])


def test_a_duplicate_key_is_refused(project, lead, api, urls):
    response = post_version(api(lead), urls, project, [*KEEP_ALL, {"key": "bug"}])
    assert response.status_code == 400
    assert "duplicate label key(s): bug" in str(response.json())


def test_a_bad_key_is_refused_naming_the_label(project, lead, api, urls):
    response = post_version(api(lead), urls, project, [*KEEP_ALL, {"key": "refund|chargeback"}])
    assert response.status_code == 400
    assert "'refund|chargeback'" in str(response.json()["labels"])


def test_a_hotkey_longer_than_one_character_is_named(project, lead, api, urls):
    response = post_version(api(lead), urls, project, [*KEEP_ALL, {"key": "refund", "hotkey": "rf"}])
    assert response.status_code == 400
    assert "'refund'" in str(response.json()["labels"])


def test_a_mapping_to_a_key_not_in_the_new_version_is_named(project, lead, api, urls):
    mapping = [{"kind": "rename", "from": "other", "to": ["misc"]}]
    response = post_version(api(lead), urls, project, KEEP_ALL[:2], mapping)
    assert response.status_code == 400
    assert "'misc'" in str(response.json()["mapping"])


def test_split_needs_two_targets(project, lead, api, urls):
    mapping = [{"kind": "split", "from": "other", "to": ["bug"]}]
    response = post_version(api(lead), urls, project, KEEP_ALL[:2], mapping)
    assert response.status_code == 400
    assert "two or more" in str(response.json()["mapping"])


def test_an_unknown_mapping_kind_is_refused(project, lead, api, urls):
    mapping = [{"kind": "teleport", "from": "other", "to": ["bug"]}]
    response = post_version(api(lead), urls, project, KEEP_ALL[:2], mapping)
    assert response.status_code == 400
    assert "kind" in str(response.json()["mapping"])


def test_an_unknown_label_field_is_refused(project, lead, api, urls):
    response = post_version(api(lead), urls, project, [*KEEP_ALL[:2], {"key": "other", "colour": "red"}])
    assert response.status_code == 400
    assert "colour" in str(response.json())


def test_an_empty_taxonomy_is_refused(project, lead, api, urls):
    response = post_version(api(lead), urls, project, [])
    assert response.status_code == 400


def test_the_first_version_has_nothing_to_map_from(lead, api, urls):
    empty = services.create_project(actor=lead, name="Fresh")
    response = post_version(api(lead), urls, empty, KEEP_ALL, [{"kind": "deprecate", "from": "x"}])
    assert response.status_code == 400
    assert "first taxonomy version" in str(response.json())
    response = post_version(api(lead), urls, empty, KEEP_ALL)
    assert response.status_code == 201
    assert response.json()["number"] == 1


@pytest.mark.parametrize("persona", ["reviewer", "annotator"])
def test_only_the_lead_makes_versions(project, persona, request, api, urls):
    response = post_version(api(request.getfixturevalue(persona)), urls, project, KEEP_ALL)
    assert response.status_code == 403
    assert project.active_taxonomy().number == 1


def test_reading_a_large_version_costs_a_fixed_number_of_queries(project, lead, api, urls,
                                                                  django_assert_max_num_queries):
    labels = [{"key": "root"}] + [{"key": f"leaf{n}", "parent": "root"} for n in range(50)]
    mapping = [{"kind": "deprecate", "from": key} for key in ("billing", "bug", "other")]
    create_taxonomy_version(actor=lead, project=project, labels=labels, mapping=mapping)
    client = api(lead)
    with django_assert_max_num_queries(6):
        body = client.get(urls("taxonomy-version-detail", project, number=2)).json()
    assert len(body["labels"]) == 51
    assert body["labels"][-1]["parent"] == "root"
