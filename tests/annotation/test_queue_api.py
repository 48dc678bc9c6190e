"""The queue over HTTP: /projects/<id>/queue/next/ and /queue/leases/<id>/<action>/.

Who may work the queue, the response shapes, and a clear 4xx (with nothing
written) for every bad request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labelops.annotation.models import Annotation, Lease
from labelops.items.models import Item, Split
from labelops.projects import services as project_services
from tests.annotation.conftest import activate_round, make_items, set_rules

pytestmark = pytest.mark.django_db


def next_url(project):
    return f"/api/v1/projects/{project.pk}/queue/next/"


def lease_url(project, lease_id, action):
    return f"/api/v1/projects/{project.pk}/queue/leases/{lease_id}/{action}/"


def take(client, project):
    response = client.post(next_url(project))
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("persona", ["annotator", "reviewer", "lead"])
def test_members_work_the_queue(queue_project, api, request, persona):
    (item,) = make_items(queue_project, 1)
    client = api(request.getfixturevalue(persona))
    body = take(client, queue_project)
    assert body["item"]["id"] == item.pk and body["item"]["text"] == item.text
    response = client.post(lease_url(queue_project, body["lease"], "submit"), {"labels": ["bug"]}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["labels"] == ["bug"] and response.json()["source"] == "manual"


def test_outsiders_get_404_and_anonymous_401(queue_project, api, outsider, annotator):
    make_items(queue_project, 1)
    assert api(outsider).post(next_url(queue_project)).status_code == 404
    assert api().post(next_url(queue_project)).status_code == 401
    lease_id = take(api(annotator), queue_project)["lease"]
    assert api(outsider).post(lease_url(queue_project, lease_id, "submit"), {"labels": ["bug"]},
                              format="json").status_code == 404
    assert not Lease.objects.filter(annotator=outsider).exists()


def test_next_shape_is_the_same_for_gold_and_pool_items(queue_project, lead, api, annotator):
    set_rules(queue_project, lead, overlap=1, gold_ratio=0.5)
    make_items(queue_project, 1)
    make_items(queue_project, 1, split=Split.GOLD, gold_labels=["bug"])
    client = api(annotator)
    bodies = []
    for _ in range(2):
        body = take(client, queue_project)
        bodies.append(body)
        client.post(lease_url(queue_project, body["lease"], "submit"), {"labels": ["other"]}, format="json")
    splits = {Item.objects.get(pk=b["item"]["id"]).split for b in bodies}
    assert splits == {"pool", "gold"}
    assert bodies[0].keys() == bodies[1].keys() == {"lease", "expires_at", "item", "proposal", "resumed", "neighbours"}
    assert bodies[0]["item"].keys() == bodies[1]["item"].keys() == {
        "id", "modality", "text", "file_url", "content_type", "external_id", "metadata", "created_at"}
    assert all(b["proposal"] is None for b in bodies)


def test_next_with_a_proposal_and_again_while_leased(queue_project, api, annotator):
    (item,) = make_items(queue_project, 1)
    activate_round(queue_project, ranked=[item], labels=("billing",))
    client = api(annotator)
    first = take(client, queue_project)
    assert first["proposal"] == {"labels": ["billing"], "confidence": 0.5}
    assert first["resumed"] is False
    again = take(client, queue_project)
    assert again["lease"] == first["lease"] and again["resumed"] is True
    response = client.post(lease_url(queue_project, first["lease"], "submit"),
                           {"labels": ["billing"], "from_proposal": True, "time_spent_ms": 1500}, format="json")
    assert response.status_code == 201
    assert response.json()["source"] == "proposal_accepted" and response.json()["time_spent_ms"] == 1500


def test_nothing_left_is_204(queue_project, api, annotator):
    assert api(annotator).post(next_url(queue_project)).status_code == 204


def test_no_taxonomy_is_400(db, lead, api):
    project = project_services.create_project(actor=lead, name="Bare")
    make_items(project, 1)
    response = api(lead).post(next_url(project))
    assert response.status_code == 400 and "no taxonomy" in str(response.json())


@pytest.fixture
def leased(queue_project, api, annotator):
    (item,) = make_items(queue_project, 1)
    body = take(api(annotator), queue_project)
    return {"client": api(annotator), "lease": body["lease"], "item": item}


def assert_untouched(leased):
    lease = Lease.objects.get(pk=leased["lease"])
    assert lease.closed_at is None and not Annotation.objects.exists()
    item = Item.objects.get(pk=leased["item"].pk)
    assert (item.annotation_count, item.active_lease_count, item.state) == (0, 1, "unlabelled")


@pytest.mark.parametrize("body, field, message", [
    ({"labels": ["refund"]}, "labels", "not in the active taxonomy (v1): refund"),
    ({"labels": ["bug", "other"]}, "labels", "single-label project"),
    ({"labels": []}, "labels", ""),
    ({}, "labels", "required"),
    ({"labels": ["bug"], "time_spent_ms": -5}, "time_spent_ms", ""),
    ({"labels": ["bug"], "from_proposal": True}, "from_proposal", "no proposal was shown"),
    ({"labels": ["bug"], "lables": ["bug"]}, "lables", "unknown field"),
])
def test_bad_submissions_are_400_and_write_nothing(queue_project, leased, body, field, message):
    response = leased["client"].post(lease_url(queue_project, leased["lease"], "submit"), body, format="json")
    assert response.status_code == 400, response.content
    assert message in " ".join(response.json()[field])
    assert_untouched(leased)


def test_double_submit_is_409(queue_project, leased):
    url = lease_url(queue_project, leased["lease"], "submit")
    assert leased["client"].post(url, {"labels": ["bug"]}, format="json").status_code == 201
    response = leased["client"].post(url, {"labels": ["bug"]}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"] == f"lease {leased['lease']} was already submitted"
    assert Annotation.objects.count() == 1


def test_an_expired_lease_is_409_for_every_action(queue_project, leased):
    Lease.objects.filter(pk=leased["lease"]).update(expires_at=timezone.now() - timedelta(minutes=1))
    for action in ("submit", "skip", "heartbeat", "release"):
        response = leased["client"].post(lease_url(queue_project, leased["lease"], action), {"labels": ["bug"]}
                                         if action == "submit" else {}, format="json")
        assert response.status_code == 409, (action, response.content)
        assert "expired" in response.json()["detail"]
    assert not Annotation.objects.exists()


def test_someone_elses_lease_is_404(queue_project, leased, api, annotator2, lead):
    for user in (annotator2, lead):
        for action in ("submit", "skip", "heartbeat", "release"):
            response = api(user).post(lease_url(queue_project, leased["lease"], action), {"labels": ["bug"]}
                                      if action == "submit" else {}, format="json")
            assert response.status_code == 404, (user, action)
    assert_untouched(leased)


def test_a_lease_through_another_projects_url_is_404(queue_project, leased, lead, annotator):
    other = project_services.create_project(actor=lead, name="Other")
    project_services.add_member(actor=lead, project=other, user=annotator, role="annotator")
    for action in ("submit", "skip", "heartbeat", "release"):
        response = leased["client"].post(lease_url(other, leased["lease"], action), {"labels": ["bug"]}
                                         if action == "submit" else {}, format="json")
        assert response.status_code == 404, action
    assert_untouched(leased)


def test_skip_heartbeat_release(queue_project, api, annotator):
    make_items(queue_project, 3)
    client = api(annotator)
    first = take(client, queue_project)
    response = client.post(lease_url(queue_project, first["lease"], "heartbeat"))
    assert response.status_code == 200 and response.json()["closed_at"] is None
    response = client.post(lease_url(queue_project, first["lease"], "skip"), {"reason": "blurry"}, format="json")
    assert response.status_code == 200 and response.json()["outcome"] == "skipped"
    assert client.post(lease_url(queue_project, first["lease"], "skip"), {}, format="json").status_code == 409
    second = take(client, queue_project)
    assert second["item"]["id"] != first["item"]["id"]
    response = client.post(lease_url(queue_project, second["lease"], "release"))
    assert response.status_code == 200 and response.json()["outcome"] == "released"
    assert client.post(lease_url(queue_project, second["lease"], "skip"), {"why": "x"},
                       format="json").status_code == 400


def test_the_schema_lists_the_queue(api, lead):
    response = api(lead).get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/projects/{project_pk}/queue/next/" in paths
    for action in ("submit", "skip", "heartbeat", "release"):
        assert f"/api/v1/projects/{{project_pk}}/queue/leases/{{id}}/{action}/" in paths


def test_next_and_submit_cost_a_fixed_number_of_queries(queue_project, lead, api, annotator, annotator2,
                                                        django_assert_max_num_queries):
    """The queue is the hot path (`python -m labelops.bench queue`): each query
    costs a round trip, and through the ORM its compilation too (up to 7 ms
    for the claim, which is why `queue_sql` exists). The counts must
    not grow with the items, the leases or the annotations already there, and
    a change that adds one should be a decision, not an accident."""
    set_rules(queue_project, lead, overlap=2)
    make_items(queue_project, 30)
    activate_round(queue_project, make_items(queue_project, 5))
    first, second = api(annotator), api(annotator2)
    for client in (first, second):  # earlier work of both, so nothing below is a first time
        body = take(client, queue_project)
        client.post(lease_url(queue_project, body["lease"], "submit"), {"labels": ["bug"]}, format="json")

    with django_assert_max_num_queries(10):  # savepoints included: the test runs in a transaction
        body = take(first, queue_project)
    with django_assert_max_num_queries(9):
        response = first.post(lease_url(queue_project, body["lease"], "submit"), {"labels": ["bug"]}, format="json")
    assert response.status_code == 201
    body = take(second, queue_project)
    assert body["item"]["id"] == response.json()["item"]  # the item the first annotator labelled: overlap 2
    with django_assert_max_num_queries(19):  # the second answer settles the item's consensus
        response = second.post(lease_url(queue_project, body["lease"], "submit"), {"labels": ["bug"]},
                               format="json")
    assert response.status_code == 201
    assert Item.objects.get(pk=body["item"]["id"]).state == "approved"
