"""/api/v1/projects/ and /api/v1/projects/<pk>/: list, create, read, change; no delete."""

from __future__ import annotations

import pytest

from labelops.audit.models import AuditEvent
from labelops.items.models import Item
from labelops.projects.models import Project, QualityRules
from labelops.projects.project_settings import ProjectSettings

pytestmark = pytest.mark.django_db


# --- list -------------------------------------------------------------------------------


def test_member_lists_only_their_projects_with_their_role(project, other_project, annotator, api, urls):
    response = api(annotator).get(urls("project-list"))
    assert response.status_code == 200
    body = response.json()
    assert [p["id"] for p in body["results"]] == [project.pk]
    assert body["results"][0]["role"] == "annotator"
    assert "count" not in body  # keyset pagination


def test_outsider_lists_nothing(project, outsider, api, urls):
    response = api(outsider).get(urls("project-list"))
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_superuser_lists_every_project_as_lead(project, other_project, make_user, api, urls):
    root = make_user("root", is_superuser=True, is_staff=True)
    results = api(root).get(urls("project-list")).json()["results"]
    assert [(p["id"], p["role"]) for p in results] == [(project.pk, "lead"), (other_project.pk, "lead")]


def test_list_is_paginated_by_cursor(lead, api, urls):
    from labelops.projects import services

    created = [services.create_project(actor=lead, name=f"P{n}").pk for n in range(5)]
    client = api(lead)
    page = client.get(urls("project-list") + "?page_size=2").json()
    seen = [p["id"] for p in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [p["id"] for p in page["results"]]
    assert seen == created


# --- create -----------------------------------------------------------------------------


def test_anyone_signed_in_creates_a_project_and_becomes_its_lead(outsider, api, urls):
    response = api(outsider).post(
        urls("project-list"),
        {"name": "Images", "modality": "image", "task": "multi_label", "settings": {"batch_size": 20}},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    project = Project.objects.get(pk=body["id"])
    assert body["role"] == "lead"
    assert body["created_by"] == "outsider"
    assert body["settings"]["batch_size"] == 20
    assert body["settings"]["strategy"] == "auto"  # defaults filled in
    assert body["links"]["members"].endswith(urls("member-list", project))
    assert project.role_of(outsider) == "lead"
    assert QualityRules.objects.filter(project=project).exists()
    assert AuditEvent.objects.filter(verb="project.create", object_id=str(project.pk), actor=outsider).exists()


def test_creating_a_project_does_not_grant_admin_access(outsider, api, urls):
    api(outsider).post(urls("project-list"), {"name": "Mine"}, format="json")
    outsider.refresh_from_db()
    assert not outsider.is_staff
    assert not outsider.groups.exists()


def test_create_needs_a_name(outsider, api, urls):
    response = api(outsider).post(urls("project-list"), {"description": "no name"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()


def test_create_refuses_unknown_fields(outsider, api, urls):
    response = api(outsider).post(urls("project-list"), {"name": "x", "modalty": "image"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"modalty": ["unknown field"]}
    assert not Project.objects.exists()


def test_create_refuses_unknown_setting_naming_it(outsider, api, urls):
    response = api(outsider).post(
        urls("project-list"), {"name": "x", "settings": {"batch_sise": 10}}, format="json"
    )
    assert response.status_code == 400
    assert "batch_sise" in str(response.json()["settings"])
    assert not Project.objects.exists()


def test_create_refuses_settings_that_are_not_an_object(outsider, api, urls):
    response = api(outsider).post(urls("project-list"), {"name": "x", "settings": [1]}, format="json")
    assert response.status_code == 400
    assert "settings" in response.json()


def test_create_refuses_an_unknown_modality(outsider, api, urls):
    response = api(outsider).post(urls("project-list"), {"name": "x", "modality": "audio"}, format="json")
    assert response.status_code == 400
    assert "modality" in response.json()


# --- retrieve ---------------------------------------------------------------------------


def test_member_reads_a_project(project, annotator, api, urls):
    response = api(annotator).get(urls("project-detail", project))
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Tickets"
    assert body["role"] == "annotator"
    assert set(body["settings"]) == set(ProjectSettings().to_dict())


def test_outsider_gets_404_for_a_project(project, outsider, api, urls):
    assert api(outsider).get(urls("project-detail", project)).status_code == 404


def test_unknown_project_is_404(lead, api):
    assert api(lead).get("/api/v1/projects/999999/").status_code == 404


# --- update -----------------------------------------------------------------------------


def test_lead_renames_a_project_and_the_change_is_audited(project, lead, api, urls):
    response = api(lead).patch(urls("project-detail", project), {"name": "Support tickets"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Support tickets"
    event = AuditEvent.objects.filter(verb="project.update").get()
    assert event.actor == lead
    assert event.before["name"] == "Tickets"
    assert event.after["name"] == "Support tickets"


def test_settings_are_merged_key_by_key(project, lead, api, urls):
    client = api(lead)
    client.patch(urls("project-detail", project), {"settings": {"batch_size": 7}}, format="json")
    response = client.patch(urls("project-detail", project), {"settings": {"lease_minutes": 5}}, format="json")
    assert response.status_code == 200
    project.refresh_from_db()
    assert project.config.batch_size == 7
    assert project.config.lease_minutes == 5


def test_put_replaces_fields_and_keeps_unsent_settings(project, lead, api, urls):
    client = api(lead)
    client.patch(urls("project-detail", project), {"settings": {"batch_size": 7}}, format="json")
    body = client.get(urls("project-detail", project)).json()
    body["description"] = "All of them"
    response = client.put(urls("project-detail", project), body, format="json")  # read-only fields come back
    assert response.status_code == 200, response.content
    project.refresh_from_db()
    assert project.description == "All of them"
    assert project.config.batch_size == 7


def test_update_refuses_an_out_of_range_setting_naming_it(project, lead, api, urls):
    response = api(lead).patch(urls("project-detail", project), {"settings": {"lease_minutes": 0}}, format="json")
    assert response.status_code == 400
    assert "lease_minutes" in str(response.json())
    assert not AuditEvent.objects.filter(verb="project.update").exists()


def test_modality_is_fixed_once_the_project_has_items(project, lead, api, urls):
    Item.objects.create(project=project, text="hello", content_hash="h1")
    response = api(lead).patch(urls("project-detail", project), {"modality": "image"}, format="json")
    assert response.status_code == 400
    assert "modality" in response.json()
    project.refresh_from_db()
    assert project.modality == "text"


@pytest.mark.parametrize("persona", ["reviewer", "annotator"])
def test_members_below_lead_cannot_change_a_project(project, persona, request, api, urls):
    user = request.getfixturevalue(persona)
    response = api(user).patch(urls("project-detail", project), {"name": "mine now"}, format="json")
    assert response.status_code == 403
    assert "lead" in response.json()["detail"]


def test_outsider_cannot_change_a_project(project, outsider, api, urls):
    response = api(outsider).patch(urls("project-detail", project), {"name": "mine now"}, format="json")
    assert response.status_code == 404


# --- delete -----------------------------------------------------------------------------


def test_projects_cannot_be_deleted_over_the_api(project, lead, api, urls):
    assert api(lead).delete(urls("project-detail", project)).status_code == 405
    assert Project.objects.filter(pk=project.pk).exists()


# --- cost -------------------------------------------------------------------------------


def test_listing_costs_the_same_for_one_project_or_many(lead, api, urls, django_assert_max_num_queries):
    from labelops.projects import services

    client = api(lead)
    services.create_project(actor=lead, name="P0")
    with django_assert_max_num_queries(3) as one:
        client.get(urls("project-list"))
    for n in range(1, 6):
        services.create_project(actor=lead, name=f"P{n}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert len(client.get(urls("project-list")).json()["results"]) == 6
