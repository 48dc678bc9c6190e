"""GET /projects/<id>/annotations/ and /items/<id>/annotations/: reviewers and
leads see all annotations, annotators only their own, outsiders nothing."""

from __future__ import annotations

import pytest

from labelops.annotation.models import Annotation
from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.items.models import Item
from labelops.projects import services as project_services

pytestmark = pytest.mark.django_db


def url(project, item=None):
    if item is not None:
        return f"/api/v1/projects/{project.pk}/items/{item.pk}/annotations/"
    return f"/api/v1/projects/{project.pk}/annotations/"


def make_item(project, n):
    return Item.objects.create(project=project, text=f"text {n}", content_hash=f"hash-{project.pk}-{n}")


def annotate(item, user, labels, **fields):
    return Annotation.objects.create(
        item=item, annotator=user, labels=labels, taxonomy_version=item.project.active_taxonomy(), **fields
    )


@pytest.fixture
def annotations(project, annotator, annotator2):
    first, second = make_item(project, 1), make_item(project, 2)
    return {
        "a1": annotate(first, annotator, ["bug"], time_spent_ms=900),
        "b1": annotate(first, annotator2, ["billing"], source="proposal_accepted"),
        "a2_old": annotate(second, annotator, ["other"], discarded=True),
        "a2": annotate(second, annotator, ["bug"]),
        "items": (first, second),
    }


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.mark.parametrize("persona", ["lead", "reviewer"])
def test_leads_and_reviewers_see_every_annotation(project, api, request, annotations, persona):
    response = api(request.getfixturevalue(persona)).get(url(project))
    assert ids(response) == [annotations[k].pk for k in ("a1", "b1", "a2_old", "a2")]
    row = response.json()["results"][0]
    assert row == {
        "id": annotations["a1"].pk, "item": annotations["items"][0].pk,
        "annotator": annotations["a1"].annotator_id, "annotator_username": "annotator",
        "labels": ["bug"], "source": "manual", "proposal": None, "taxonomy_version": 1,
        "time_spent_ms": 900, "discarded": False, "rejection": None, "created_at": row["created_at"],
    }


def test_annotators_see_only_their_own(project, api, annotator, annotator2, annotations):
    assert ids(api(annotator).get(url(project))) == [annotations[k].pk for k in ("a1", "a2_old", "a2")]
    assert ids(api(annotator2).get(url(project))) == [annotations["b1"].pk]
    # Not even by asking for someone else's explicitly.
    assert ids(api(annotator2).get(url(project) + f"?annotator={annotator.pk}")) == []


def test_filters(project, reviewer, annotator, api, annotations):
    client = api(reviewer)
    first, second = annotations["items"]
    assert ids(client.get(url(project) + f"?item={second.pk}")) == [annotations["a2_old"].pk, annotations["a2"].pk]
    assert ids(client.get(url(project) + f"?annotator={annotator.pk}&discarded=false")) == [
        annotations["a1"].pk, annotations["a2"].pk
    ]
    assert ids(client.get(url(project) + "?discarded=true")) == [annotations["a2_old"].pk]
    assert ids(client.get(url(project) + "?source=proposal_accepted")) == [annotations["b1"].pk]
    assert client.get(url(project) + "?source=guess").status_code == 400


def test_keyset_pages(project, lead, api, annotations):
    body = api(lead).get(url(project) + "?page_size=3").json()
    assert len(body["results"]) == 3 and body["next"] and "count" not in body
    assert len(api(lead).get(body["next"]).json()["results"]) == 1


def test_item_annotations(project, lead, annotator2, api, annotations):
    first, _ = annotations["items"]
    assert ids(api(lead).get(url(project, first))) == [annotations["a1"].pk, annotations["b1"].pk]
    assert ids(api(annotator2).get(url(project, first))) == [annotations["b1"].pk]


def test_item_of_another_project_is_404(project, lead, api, annotations):
    other = project_services.create_project(actor=lead, name="Other")
    create_taxonomy_version(actor=lead, project=other, labels=[{"key": "x", "name": "X"}])
    foreign = make_item(other, 1)
    annotate(foreign, lead, ["x"])
    assert api(lead).get(url(project, foreign)).status_code == 404
    assert ids(api(lead).get(url(project) + f"?item={foreign.pk}")) == []


def test_outsider_gets_404(project, outsider, api, annotations):
    assert api(outsider).get(url(project)).status_code == 404
    assert api(outsider).get(url(project, annotations["items"][0])).status_code == 404


def test_constant_queries(project, lead, api, annotations, annotator, django_assert_max_num_queries):
    for n in range(3, 40):
        annotate(make_item(project, n), annotator, ["bug"])
    # The access checks and one page query, whatever the number of annotations.
    with django_assert_max_num_queries(5):
        assert len(ids(api(lead).get(url(project)))) == 41
