"""/api/v1/projects/<pk>/members/: who belongs to a project, and in which role."""

from __future__ import annotations

import pytest

from labelops.audit.models import AuditEvent
from labelops.projects.models import Membership

pytestmark = pytest.mark.django_db


def member_url(urls, project, user):
    return urls("member-detail", project, pk=Membership.objects.get(project=project, user=user).pk)


# --- list -------------------------------------------------------------------------------


def test_annotator_lists_the_members(project, annotator, api, urls):
    response = api(annotator).get(urls("member-list", project))
    assert response.status_code == 200
    members = {m["username"]: m["role"] for m in response.json()["results"]}
    assert members == {"lead": "lead", "reviewer": "reviewer", "annotator": "annotator", "annotator2": "annotator"}


def test_outsider_gets_404_for_the_members(project, outsider, api, urls):
    assert api(outsider).get(urls("member-list", project)).status_code == 404


# --- add --------------------------------------------------------------------------------


def test_lead_adds_a_member_by_username(project, lead, outsider, api, urls):
    response = api(lead).post(urls("member-list", project), {"username": "outsider", "role": "reviewer"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["username"] == "outsider"
    assert project.role_of(outsider) == "reviewer"
    event = AuditEvent.objects.get(verb="member.add", after__user=outsider.pk)
    assert event.actor == lead
    assert event.after == {"project": project.pk, "user": outsider.pk, "role": "reviewer"}


def test_lead_adds_a_member_by_user_id(project, lead, outsider, api, urls):
    response = api(lead).post(urls("member-list", project), {"user": outsider.pk, "role": "annotator"}, format="json")
    assert response.status_code == 201, response.content
    assert project.role_of(outsider) == "annotator"


def test_adding_a_lead_does_not_grant_admin_access(project, lead, outsider, api, urls):
    api(lead).post(urls("member-list", project), {"username": "outsider", "role": "lead"}, format="json")
    outsider.refresh_from_db()
    assert project.role_of(outsider) == "lead"
    assert not outsider.is_staff


@pytest.mark.parametrize("both", [False, True])
def test_add_needs_exactly_one_of_user_or_username(project, lead, outsider, api, urls, both):
    body = {"user": outsider.pk, "username": "outsider", "role": "annotator"} if both else {"role": "annotator"}
    response = api(lead).post(urls("member-list", project), body, format="json")
    assert response.status_code == 400
    assert "exactly one" in str(response.json())


def test_add_names_an_unknown_username(project, lead, api, urls):
    response = api(lead).post(urls("member-list", project), {"username": "nobody", "role": "annotator"}, format="json")
    assert response.status_code == 400
    assert "nobody" in response.json()["username"][0]


def test_add_refuses_an_unknown_role(project, lead, outsider, api, urls):
    response = api(lead).post(urls("member-list", project), {"username": "outsider", "role": "boss"}, format="json")
    assert response.status_code == 400
    assert "role" in response.json()


def test_add_refuses_someone_already_a_member(project, lead, api, urls):
    response = api(lead).post(urls("member-list", project), {"username": "annotator", "role": "lead"}, format="json")
    assert response.status_code == 400
    assert "already a member" in str(response.json())


def test_annotator_cannot_add_members(project, annotator, api, urls):
    body = {"username": "outsider", "role": "lead"}
    response = api(annotator).post(urls("member-list", project), body, format="json")
    assert response.status_code == 403


def test_outsider_cannot_add_themselves(project, outsider, api, urls):
    response = api(outsider).post(urls("member-list", project), {"username": "outsider", "role": "lead"}, format="json")
    assert response.status_code == 404
    assert project.role_of(outsider) is None


# --- change role ------------------------------------------------------------------------


def test_lead_changes_a_role_and_it_is_audited(project, lead, annotator, api, urls):
    response = api(lead).patch(member_url(urls, project, annotator), {"role": "reviewer"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "reviewer"
    event = AuditEvent.objects.get(verb="member.role")
    assert (event.before["role"], event.after["role"]) == ("annotator", "reviewer")


def test_the_user_of_a_membership_cannot_be_changed(project, lead, annotator, outsider, api, urls):
    url = member_url(urls, project, annotator)
    response = api(lead).patch(url, {"user": outsider.pk}, format="json")
    assert response.status_code == 200  # read-only field: ignored
    assert project.role_of(annotator) == "annotator"
    assert project.role_of(outsider) is None


def test_the_last_lead_cannot_step_down(project, lead, api, urls):
    response = api(lead).patch(member_url(urls, project, lead), {"role": "annotator"}, format="json")
    assert response.status_code == 400
    assert "at least one lead" in str(response.json())
    assert project.role_of(lead) == "lead"


def test_a_lead_steps_down_once_another_lead_exists(project, lead, reviewer, api, urls):
    client = api(lead)
    assert client.patch(member_url(urls, project, reviewer), {"role": "lead"}, format="json").status_code == 200
    assert client.patch(member_url(urls, project, lead), {"role": "annotator"}, format="json").status_code == 200
    assert project.role_of(lead) == "annotator"


def test_reviewer_cannot_change_roles(project, reviewer, annotator, api, urls):
    response = api(reviewer).patch(member_url(urls, project, annotator), {"role": "lead"}, format="json")
    assert response.status_code == 403


# --- remove -----------------------------------------------------------------------------


def test_lead_removes_a_member(project, lead, annotator, api, urls):
    response = api(lead).delete(member_url(urls, project, annotator))
    assert response.status_code == 204
    assert project.role_of(annotator) is None
    event = AuditEvent.objects.get(verb="member.remove")
    assert event.before["user"] == annotator.pk


def test_the_last_lead_cannot_be_removed(project, lead, api, urls):
    response = api(lead).delete(member_url(urls, project, lead))
    assert response.status_code == 400
    assert project.role_of(lead) == "lead"
    assert not AuditEvent.objects.filter(verb="member.remove").exists()


def test_a_membership_of_another_project_is_404(project, other_project, other_lead, lead, api, urls):
    foreign = Membership.objects.get(project=other_project, user=other_lead)
    client = api(lead)
    assert client.get(urls("member-detail", project, pk=foreign.pk)).status_code == 404
    assert client.delete(urls("member-detail", project, pk=foreign.pk)).status_code == 404
    assert Membership.objects.filter(pk=foreign.pk).exists()
