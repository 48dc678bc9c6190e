"""The item list and detail: pagination, filters, and what each persona sees."""

from __future__ import annotations

import pytest

from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.items.models import ImportJob, Item
from labelops.projects import services as project_services

pytestmark = pytest.mark.django_db

CONTENT_FIELDS = {"id", "modality", "text", "file_url", "content_type", "external_id", "metadata", "created_at"}
LABEL_FIELDS = {"split", "state", "gold_labels", "consensus", "content_hash", "import_job",
                "annotation_count", "active_lease_count"}


def url(project, pk=None):
    base = f"/api/v1/projects/{project.pk}/items/"
    return base if pk is None else f"{base}{pk}/"


def walk(client, first_url):
    """Every result of a cursor-paginated list, following `next`."""
    results, next_url, pages = [], first_url, 0
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert "count" not in body  # keyset pagination never counts
        results += body["results"]
        next_url = body["next"]
        pages += 1
    return results, pages


def test_lead_walks_every_item_in_id_order_by_cursor(project, lead, api, make_item):
    items = [make_item(project) for _ in range(7)]
    results, pages = walk(api(lead), url(project) + "?page_size=3")
    assert [r["id"] for r in results] == [i.pk for i in items]
    assert pages == 3


def test_lead_sees_labels_consensus_and_split(project, lead, annotator, api, labelled_item):
    item = labelled_item(project, ["bug"], [annotator], external_id="t-1", metadata={"lang": "en"})
    body = api(lead).get(url(project, item.pk)).json()
    assert set(body) == CONTENT_FIELDS | LABEL_FIELDS
    assert body["modality"] == "text" and body["file_url"] is None
    assert body["split"] == "pool" and body["state"] == "approved"
    assert body["consensus"] == {
        "labels": ["bug"], "method": "majority", "agreement": 1.0, "status": "approved",
        "taxonomy_version": 1, "updated_at": body["consensus"]["updated_at"],
    }
    assert body["external_id"] == "t-1" and body["metadata"] == {"lang": "en"}


def test_item_without_consensus_has_null_consensus(project, reviewer, api, make_item):
    item = make_item(project)
    body = api(reviewer).get(url(project, item.pk)).json()
    assert body["consensus"] is None


def test_text_is_returned_as_a_json_string(project, annotator, api, make_item):
    hostile = '<script>alert("x")</script>\u202e"\n'
    item = make_item(project, hostile)
    response = api(annotator).get(url(project, item.pk))
    assert response["Content-Type"] == "application/json"
    assert response.json()["text"] == hostile


def test_annotator_cannot_tell_gold_items_apart(project, annotator, api, make_item, finalize):
    pool = make_item(project)
    gold = make_item(project, split="gold", gold_labels=["billing"])
    finalize(gold, ["billing"], method="gold")
    client = api(annotator)
    pool_body, gold_body = client.get(url(project, pool.pk)).json(), client.get(url(project, gold.pk)).json()
    assert set(pool_body) == set(gold_body) == CONTENT_FIELDS
    listed = client.get(url(project)).json()["results"]
    assert all(set(row) == CONTENT_FIELDS for row in listed)
    assert "billing" not in str(gold_body)


@pytest.mark.parametrize("param", ["split=gold", "state=approved", "label=billing", "import_job=1"])
def test_annotator_may_not_filter_on_what_reveals_gold(project, annotator, api, param, make_item):
    make_item(project, split="gold")
    response = api(annotator).get(url(project) + "?" + param)
    assert response.status_code == 403
    assert "reviewer" in response.json()["detail"]


def test_detail_ignores_filters_so_it_cannot_probe_the_split(project, annotator, api, make_item):
    item = make_item(project)  # a pool item
    assert api(annotator).get(url(project, item.pk) + "?split=gold").status_code == 200


def test_annotator_may_filter_by_external_id(project, annotator, api, make_item):
    make_item(project, external_id="a")
    wanted = make_item(project, external_id="b")
    results = api(annotator).get(url(project) + "?external_id=b").json()["results"]
    assert [r["id"] for r in results] == [wanted.pk]


def test_filters_for_reviewers(project, lead, reviewer, annotator, api, make_item, labelled_item):
    job = ImportJob.objects.create(project=project, format="csv", source="uploads/x.csv")
    billing = labelled_item(project, ["billing"], [annotator], import_job=job)
    bug = labelled_item(project, ["bug"], [annotator])
    gold = make_item(project, split="gold", gold_labels=["other"])
    unlabelled = make_item(project)
    client = api(reviewer)

    def ids(query):
        response = client.get(url(project) + "?" + query)
        assert response.status_code == 200, response.content
        return [r["id"] for r in response.json()["results"]]

    assert ids("split=gold") == [gold.pk]
    assert ids("split=pool") == [billing.pk, bug.pk, unlabelled.pk]
    assert ids("state=approved") == [billing.pk, bug.pk]
    assert ids("state=unlabelled") == [gold.pk, unlabelled.pk]
    assert ids("label=billing") == [billing.pk]
    assert ids("label=bug&split=pool") == [bug.pk]
    assert ids(f"import_job={job.pk}") == [billing.pk]
    assert client.get(url(project) + "?split=nope").status_code == 400


def test_multi_label_filter_lists_each_item_once(lead, annotator, api, make_item, finalize):
    project = project_services.create_project(actor=lead, name="Multi", task="multi_label")
    create_taxonomy_version(
        actor=lead, project=project, labels=[{"key": "a", "name": "A"}, {"key": "b", "name": "B"}]
    )
    both = make_item(project)
    finalize(both, ["a", "b"])
    results = api(lead).get(url(project) + "?label=a").json()["results"]
    assert [r["id"] for r in results] == [both.pk]


def test_outsider_gets_404_for_list_detail_and_filters(project, outsider, api, make_item):
    item = make_item(project)
    client = api(outsider)
    assert client.get(url(project)).status_code == 404
    assert client.get(url(project, item.pk)).status_code == 404
    assert client.get(url(project) + "?split=gold").status_code == 404


def test_anonymous_is_refused(project, api):
    assert api().get(url(project)).status_code in (401, 403)


def test_item_of_another_project_is_404(project, lead, api, make_item):
    other = project_services.create_project(actor=lead, name="Other")
    foreign = make_item(other)
    assert api(lead).get(url(project, foreign.pk)).status_code == 404


def test_list_runs_in_constant_queries_without_counting(
    project, lead, annotator, api, django_assert_max_num_queries, make_item, annotate, finalize,
):
    for n in range(60):
        item = make_item(project)
        annotate(item, annotator, ["bug"])
        finalize(item, ["bug"])
    client = api(lead)
    # The access checks and one page query: nothing per item, no COUNT(*).
    with django_assert_max_num_queries(5) as captured:
        response = client.get(url(project) + "?page_size=50")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 50
    assert not any("COUNT(" in q["sql"].upper() for q in captured.captured_queries)
    assert Item.objects.count() == 60
