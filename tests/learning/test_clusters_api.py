"""The cluster explorer's API: /projects/<id>/clusters/ and
/projects/<id>/clusters/<cluster>/items/.

Who may read them, which clusters and members they list (the active
model's round only; members still unlabelled only), in which order, and
that the keyset pages walk every row exactly once even through ties."""

from __future__ import annotations

import pytest
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from labelops.items.models import Item, ItemState, Split
from labelops.learning import urls as learning_urls
from labelops.learning.models import Cluster, Proposal
from labelops.projects import services as project_services
from labelops.quality.services import bulk
from tests.annotation.conftest import activate_round, make_items, set_rules

pytestmark = pytest.mark.django_db


def clusters_url(project):
    return f"/api/v1/projects/{project.pk}/clusters/"


def members_url(project, cluster):
    return f"/api/v1/projects/{project.pk}/clusters/{cluster.pk if isinstance(cluster, Cluster) else cluster}/items/"


def add_cluster(round_, index, size, coverage=0.0, purity=None, top_labels=()):
    return Cluster.objects.create(round=round_, index=index, size=size, centroid=b"\0" * 8,
                                  labelled_coverage=coverage, purity=purity, top_labels=list(top_labels))


def put_in(cluster, items, confidences, labels=("bug",)):
    """Proposals of the cluster's round placing `items` in `cluster`."""
    for item, confidence in zip(items, confidences, strict=True):
        Proposal.objects.update_or_create(item=item, round=cluster.round, defaults={
            "labels": list(labels), "confidence": confidence, "cluster": cluster})


def walk(client, url, **params) -> list[dict]:
    """Every row of a keyset-paginated list, following `next`."""
    rows, response = [], client.get(url, params)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        rows += body["results"]
        if not body["next"]:
            return rows
        response = client.get(body["next"])


@pytest.fixture
def explorer(project):
    """An older round with one cluster, then the active round with three:
    A (4 unlabelled members, one approved, one holdout), B (2) and C (none)."""
    old_round = activate_round(project, [])
    old = add_cluster(old_round, 0, 9)
    round_ = activate_round(project, [])
    a = add_cluster(round_, 0, 6, coverage=0.5, purity=0.75, top_labels=[{"label": "bug", "count": 3}])
    b = add_cluster(round_, 1, 2)
    c = add_cluster(round_, 2, 6, coverage=1.0, purity=1.0, top_labels=[{"label": "billing", "count": 6}])
    pool = make_items(project, 6)
    approved = make_items(project, 1, state=ItemState.APPROVED)
    holdout = make_items(project, 1, split=Split.HOLDOUT)
    put_in(a, pool[:4] + approved + holdout, [0.6, 0.9, None, 0.7, 0.99, 0.99])
    put_in(b, pool[4:], [0.5, 0.8], labels=("billing",))
    put_in(old, pool, [0.1] * 6)  # the old round's membership: ignored
    return {"round": round_, "a": a, "b": b, "c": c, "old": old, "pool": pool}


def test_lead_and_reviewer_see_the_active_rounds_clusters(api, lead, reviewer, project, explorer):
    for user in (lead, reviewer):
        response = api(user).get(clusters_url(project))
        assert response.status_code == 200, response.content
        rows = response.json()["results"]
        assert [row["id"] for row in rows] == [explorer[k].pk for k in "abc"]
    a = rows[0]
    assert a == {"id": explorer["a"].pk, "round": explorer["round"].number, "index": 0, "size": 6,
                 "labelled_coverage": 0.5, "purity": 0.75, "top_labels": [{"label": "bug", "count": 3}],
                 "unlabelled": 4}
    assert [row["unlabelled"] for row in rows] == [4, 2, 0]
    assert rows[1]["purity"] is None


def test_the_unlabelled_count_follows_the_items_state(api, lead, project, explorer):
    Item.objects.filter(pk=explorer["pool"][0].pk).update(state=ItemState.IN_PROGRESS)
    rows = api(lead).get(clusters_url(project)).json()["results"]
    assert rows[0]["unlabelled"] == 3


def test_members_in_a_verifying_bulk_batch_are_spoken_for(api, lead, project, explorer):
    pool = explorer["pool"]
    set_rules(project, lead, bulk_verification_rate=0.5)
    batch = bulk.create_batch(project=project, actor=lead, labels=["bug"], item_ids=[pool[0].pk, pool[1].pk])
    sampled = batch.entries.get(sampled=True).item
    assert Item.objects.get(pk=sampled.pk).state == ItemState.UNLABELLED  # in the queue, being verified
    rows = walk(api(lead), members_url(project, explorer["a"]))
    assert [row["id"] for row in rows] == [pool[3].pk, pool[2].pk]
    assert api(lead).get(clusters_url(project)).json()["results"][0]["unlabelled"] == 2
    bulk.cancel_batch(batch=batch, actor=lead)  # back in the queue: listed again
    assert api(lead).get(clusters_url(project)).json()["results"][0]["unlabelled"] == 4


def test_annotators_are_refused_and_outsiders_told_nothing(api, annotator, outsider, project, explorer):
    for url in (clusters_url(project), members_url(project, explorer["a"])):
        refused = api(annotator).get(url)
        assert refused.status_code == 403
        assert "reviewer" in refused.json()["detail"]
        assert api(outsider).get(url).status_code == 404
        assert api().get(url).status_code in (401, 403)


def test_no_active_model_means_no_clusters(api, lead, project):
    response = api(lead).get(clusters_url(project))
    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize(("ordering", "expected"), [
    ("index", "abc"),
    ("-index", "cba"),
    ("size", "bac"),  # a and c tie on size: by index
    ("-size", "acb"),
    ("coverage", "bac"),
    ("-purity", "cab"),
    ("purity", "bac"),  # no purity (nothing labelled) first
    ("-unlabelled", "abc"),
    ("unlabelled", "cba"),
])
def test_clusters_sort_by_any_column(api, lead, project, explorer, ordering, expected):
    for page_size in (1, 50):  # one per page: the keyset pages through the ties too
        rows = walk(api(lead), clusters_url(project), ordering=ordering, page_size=page_size)
        assert [row["id"] for row in rows] == [explorer[k].pk for k in expected], (ordering, page_size)


def test_an_unknown_ordering_is_a_400_naming_it(api, lead, project, explorer):
    response = api(lead).get(clusters_url(project), {"ordering": "centroid"})
    assert response.status_code == 400
    assert "centroid" in str(response.json()["ordering"])


def test_members_are_the_unlabelled_pool_items_most_confident_first(api, lead, project, explorer):
    pool = explorer["pool"]
    rows = walk(api(lead), members_url(project, explorer["a"]))
    # confidences 0.6, 0.9, None, 0.7; the approved and holdout members are left out
    assert [row["id"] for row in rows] == [pool[1].pk, pool[3].pk, pool[0].pk, pool[2].pk]
    assert rows[0] == {"id": pool[1].pk, "modality": "text", "text": pool[1].text, "file_url": None,
                       "external_id": "", "proposal": {"labels": ["bug"], "confidence": 0.9}}
    assert rows[-1]["proposal"]["confidence"] is None


def test_member_pages_walk_ties_exactly_once(api, reviewer, project, explorer):
    cluster = add_cluster(explorer["round"], 3, 7)
    items = make_items(project, 7)
    put_in(cluster, items, [0.5, 0.8, 0.5, 0.5, None, 0.8, None])
    rows = walk(api(reviewer), members_url(project, cluster), page_size=2)
    by_confidence = [i.pk for i in (items[1], items[5], items[0], items[2], items[3], items[4], items[6])]
    assert [row["id"] for row in rows] == by_confidence


def test_member_text_is_returned_verbatim_and_images_by_their_file_url(api, lead, project, explorer):
    hostile = Item.objects.create(project=project, text='<script>alert(1)</script><img src=x onerror="alert(2)">',
                                  content_hash="hostile")
    image = Item.objects.create(project=project, file="items/cat.png", content_type="image/png", content_hash="img")
    put_in(explorer["c"], [hostile, image], [0.9, 0.8])
    rows = api(lead).get(members_url(project, explorer["c"])).json()["results"]
    assert rows[0]["text"] == hostile.text
    assert rows[1]["modality"] == "image"
    assert rows[1]["file_url"].endswith(f"/api/v1/projects/{project.pk}/items/{image.pk}/file/")


def test_a_cluster_of_an_older_round_or_another_project_is_404(api, lead, project, explorer):
    stale = api(lead).get(members_url(project, explorer["old"]))
    assert stale.status_code == 404
    assert "active model" in stale.json()["detail"]
    other = project_services.create_project(actor=lead, name="Other")
    foreign = add_cluster(activate_round(other, []), 0, 1)
    assert api(lead).get(members_url(project, foreign)).status_code == 404
    assert api(lead).get(members_url(other, explorer["a"])).status_code == 404
    assert api(lead).get(members_url(project, 999_999)).status_code == 404


urlpatterns = [path("api/v1/", include([pattern for pattern in learning_urls.urlpatterns
                                          if pattern.name.startswith("cluster-")]))]


def test_cluster_endpoints_document_without_warnings():
    GENERATOR_STATS.reset()
    schema = SchemaGenerator(urlconf=__name__).get_schema(request=None, public=True)
    validate_schema(schema)
    assert set(schema["paths"]) == {"/api/v1/projects/{project_pk}/clusters/",
                                    "/api/v1/projects/{project_pk}/clusters/{cluster_pk}/items/"}
    assert not GENERATOR_STATS, dict(GENERATOR_STATS._warn_cache)
