"""Review tasks are leased to one reviewer at a time, and nobody reviews
their own work: /projects/<id>/review/next/ and /review/<item>/decide/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labelops.annotation.models import Review, ReviewReason, ReviewTask
from labelops.audit.models import AuditEvent
from labelops.items.models import ItemState, Split
from labelops.projects import services as project_services
from labelops.quality.services.review import next_review, send_to_review
from tests.annotation.conftest import Always, label_item, make_items, set_rules

pytestmark = pytest.mark.django_db


def next_url(project):
    return f"/api/v1/projects/{project.pk}/review/next/"


def decide_url(project, item):
    return f"/api/v1/projects/{project.pk}/review/{item.pk}/decide/"


def dropped(project, n):
    """`n` items sent to review by an annotator's drop: nobody annotated them."""
    items = make_items(project, n)
    for item in items:
        send_to_review(item, ReviewReason.DROPPED)
    return items


def expire(task):
    ReviewTask.objects.filter(pk=task.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))


# --- leases ---------------------------------------------------------------------------


def test_next_leases_the_task_for_the_projects_lease_minutes(project, lead, api, reviewer):
    project_services.update_project(actor=lead, project=project, settings={"lease_minutes": 7})
    first, _ = dropped(project, 2)
    before = timezone.now()
    response = api(reviewer).get(next_url(project))
    assert response.status_code == 200, response.content
    assert response.json()["item"]["id"] == first.pk
    task = ReviewTask.objects.get(item=first)
    assert task.leased_to == reviewer
    assert before + timedelta(minutes=7) <= task.lease_expires_at <= timezone.now() + timedelta(minutes=7)
    event = AuditEvent.objects.get(verb="review.claim")
    assert (event.actor, event.object_id, event.after["leased_to"]) == (reviewer, str(task.pk), reviewer.pk)


def test_asking_again_returns_the_same_task(project, api, reviewer):
    first, _ = dropped(project, 2)
    ids = {api(reviewer).get(next_url(project)).json()["id"] for _ in range(3)}
    assert ids == {ReviewTask.objects.get(item=first).pk}
    assert AuditEvent.objects.filter(verb="review.claim").count() == 1
    assert ReviewTask.objects.filter(leased_to=reviewer).count() == 1


def add_reviewer(project, lead, user):
    project_services.add_member(actor=lead, project=project, user=user, role="reviewer")
    return user


def test_another_reviewer_gets_the_next_free_task(project, api, reviewer, lead, make_user):
    first, second = dropped(project, 2)
    assert api(reviewer).get(next_url(project)).json()["item"]["id"] == first.pk
    assert api(lead).get(next_url(project)).json()["item"]["id"] == second.pk
    # Both held: a third reviewer finds nothing to take.
    third = add_reviewer(project, lead, make_user("reviewer3"))
    assert api(third).get(next_url(project)).status_code == 204


def test_an_expired_lease_frees_the_task(project, api, reviewer, lead):
    (item,) = dropped(project, 1)
    assert api(reviewer).get(next_url(project)).status_code == 200
    assert api(lead).get(next_url(project)).status_code == 204
    task = ReviewTask.objects.get(item=item)
    expire(task)
    assert api(lead).get(next_url(project)).json()["id"] == task.pk
    task.refresh_from_db()
    assert task.leased_to == lead and task.lease_expires_at > timezone.now()
    assert AuditEvent.objects.filter(verb="review.claim").last().after["previous_lease"] == reviewer.pk
    # The first reviewer lost it: they are not given it back.
    assert api(reviewer).get(next_url(project)).status_code == 204


def test_deciding_a_task_someone_else_holds_is_a_conflict(project, api, reviewer, lead):
    (item,) = dropped(project, 1)
    assert api(reviewer).get(next_url(project)).status_code == 200
    response = api(lead).post(decide_url(project, item), {"decision": "fix", "labels": ["bug"]}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "review_leased" and "being reviewed by reviewer until" in body["detail"]
    assert not Review.objects.exists() and ReviewTask.objects.open().filter(item=item).exists()
    # The holder decides it.
    assert api(reviewer).post(decide_url(project, item), {"decision": "fix", "labels": ["bug"]},
                              format="json").status_code == 201
    task = ReviewTask.objects.get(item=item)
    assert task.closed_at is not None and task.review.reviewer == reviewer


def test_once_the_lease_expires_anyone_may_decide(project, api, reviewer, lead):
    (item,) = dropped(project, 1)
    api(reviewer).get(next_url(project))
    expire(ReviewTask.objects.get(item=item))
    assert api(lead).post(decide_url(project, item), {"decision": "fix", "labels": ["other"]},
                          format="json").status_code == 201
    assert Review.objects.get().reviewer == lead


def test_a_decided_task_is_not_served_again(project, api, reviewer):
    first, second = dropped(project, 2)
    api(reviewer).get(next_url(project))
    api(reviewer).post(decide_url(project, first), {"decision": "fix", "labels": ["bug"]}, format="json")
    assert api(reviewer).get(next_url(project)).json()["item"]["id"] == second.pk


def test_gold_failures_of_one_item_go_to_different_reviewers(project, lead, api, reviewer, annotator, annotator2):
    """A gold item has one task per failing answer: two reviewers may each
    hold one, and each decides their own."""
    set_rules(project, lead, overlap=1, gold_ratio=0.5)
    (gold,) = make_items(project, 1, split=Split.GOLD, gold_labels=["bug"])
    label_item(project, annotator, ["billing"], rng=Always(-100.0))
    label_item(project, annotator2, ["other"], rng=Always(-100.0))
    first, second = ReviewTask.objects.open().filter(item=gold).order_by("id")
    assert api(reviewer).get(next_url(project)).json()["id"] == first.pk
    assert api(lead).get(next_url(project)).json()["id"] == second.pk
    response = api(lead).post(decide_url(project, gold), {"decision": "accept"}, format="json")
    assert response.status_code == 201, response.content
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.closed_at is None and second.review.reviewer == lead
    assert api(reviewer).post(decide_url(project, gold), {"decision": "accept"}, format="json").status_code == 201
    assert not ReviewTask.objects.open().exists()


# --- own work ------------------------------------------------------------------------------


@pytest.fixture
def reviewer_tied(project, lead, reviewer, annotator):
    """An item the reviewer labelled themselves, tied with an annotator: in review."""
    set_rules(project, lead, overlap=2)
    (item,) = make_items(project, 1)
    label_item(project, reviewer, ["bug"])
    label_item(project, annotator, ["billing"])
    item.refresh_from_db()
    assert item.state == ItemState.IN_REVIEW
    return item


def test_a_reviewer_is_not_served_an_item_they_annotated(project, reviewer_tied, api, reviewer, lead):
    assert api(reviewer).get(next_url(project)).status_code == 204
    assert api(lead).get(next_url(project)).json()["item"]["id"] == reviewer_tied.pk


def test_a_reviewer_may_not_decide_an_item_they_annotated(project, reviewer_tied, api, reviewer):
    response = api(reviewer).post(decide_url(project, reviewer_tied), {"decision": "fix", "labels": ["bug"]},
                                  format="json")
    assert response.status_code == 403
    assert response.json() == {"detail": f"you annotated item {reviewer_tied.pk}: someone else must review it",
                               "code": "own_annotation"}
    assert not Review.objects.exists() and ReviewTask.objects.open().filter(item=reviewer_tied).exists()


def test_a_discarded_annotation_still_counts(project, lead, api, reviewer, annotator, annotator2, reviewer_tied):
    """The lead rejects the tie; the item comes back, the annotators label it
    again and tie again: the reviewer's discarded answer still keeps them off."""
    assert api(lead).post(decide_url(project, reviewer_tied), {"decision": "reject", "comment": "again"},
                          format="json").status_code == 201
    label_item(project, annotator, ["bug"])
    label_item(project, annotator2, ["other"])
    reviewer_tied.refresh_from_db()
    assert reviewer_tied.state == ItemState.IN_REVIEW
    assert api(reviewer).get(next_url(project)).status_code == 204
    assert api(reviewer).post(decide_url(project, reviewer_tied), {"decision": "fix", "labels": ["bug"]},
                              format="json").status_code == 403


def test_a_lead_who_annotated_is_kept_off_too_and_the_task_waits(project, lead, api, reviewer, annotator,
                                                                 make_user):
    """Both the reviewer and the lead labelled the item: nobody may review
    it, so it stays open (and in review) until another reviewer comes."""
    set_rules(project, lead, overlap=2)
    (item,) = make_items(project, 1)
    label_item(project, reviewer, ["bug"])
    label_item(project, lead, ["billing"])
    for user in (reviewer, lead):
        assert api(user).get(next_url(project)).status_code == 204
        assert api(user).post(decide_url(project, item), {"decision": "fix", "labels": ["bug"]},
                              format="json").status_code == 403
    item.refresh_from_db()
    assert item.state == ItemState.IN_REVIEW and ReviewTask.objects.open().filter(item=item).exists()
    newcomer = add_reviewer(project, lead, make_user("newcomer"))
    assert api(newcomer).get(next_url(project)).json()["item"]["id"] == item.pk
    # An annotator-only member is still refused by role, before anything else.
    assert api(annotator).get(next_url(project)).status_code == 403


def test_the_service_skips_own_items_for_the_next_one(project, lead, reviewer, annotator):
    set_rules(project, lead, overlap=2)
    (own,) = make_items(project, 1)
    label_item(project, reviewer, ["bug"])
    label_item(project, annotator, ["billing"])
    (free,) = dropped(project, 1)
    assert ReviewTask.objects.open().get(item=own).pk < ReviewTask.objects.open().get(item=free).pk
    assert next_review(project, reviewer).item == free
    assert next_review(project, lead).item == own
