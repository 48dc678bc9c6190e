"""Errors about the whole request carry a machine-readable code beside the detail."""

from django.urls import reverse


def test_anonymous_gets_not_authenticated(project, api):
    response = api().get(reverse("project-detail", kwargs={"pk": project.pk}))
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_outsider_gets_not_found(project, api, outsider):
    response = api(outsider).get(reverse("project-detail", kwargs={"pk": project.pk}))
    assert response.status_code == 404
    assert response.json() == {"detail": "No Project matches the given query.", "code": "not_found"}


def test_low_role_gets_permission_denied_naming_the_role(project, api, annotator):
    response = api(annotator).patch(reverse("quality-rules", kwargs={"project_pk": project.pk}), {"overlap": 2})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "needs the lead role" in response.json()["detail"]
