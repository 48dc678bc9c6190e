"""The OpenAPI schema: served, valid, and free of drf-spectacular warnings."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from labelops.projects.project_settings import ProjectSettings

pytestmark = pytest.mark.django_db

PROJECT_PATHS = [
    "/api/v1/projects/",
    "/api/v1/projects/{id}/",
    "/api/v1/projects/{project_pk}/members/",
    "/api/v1/projects/{project_pk}/members/{id}/",
    "/api/v1/projects/{project_pk}/rules/",
    "/api/v1/projects/{project_pk}/taxonomy/",
    "/api/v1/projects/{project_pk}/taxonomy/versions/",
    "/api/v1/projects/{project_pk}/taxonomy/versions/{number}/",
    "/api/v1/auth/token/",
]


@pytest.fixture
def schema(api):
    response = api().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema_is_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "LabelOps API"


def test_schema_has_every_project_endpoint(schema):
    assert set(PROJECT_PATHS) <= set(schema["paths"])
    assert "delete" not in schema["paths"]["/api/v1/projects/{id}/"]
    assert set(schema["paths"]["/api/v1/projects/{project_pk}/rules/"]) == {"get", "patch"}


def test_schema_describes_project_settings(schema):
    settings = schema["components"]["schemas"]["Project"]["properties"]["settings"]
    assert set(settings["properties"]) == set(ProjectSettings().to_dict())
    assert settings["additionalProperties"] is False


# This app's endpoints alone, so they are checked on their own while other apps change.
urlpatterns = [path("api/v1/", include("labelops.projects.urls"))]


def test_project_endpoints_document_without_warnings():
    GENERATOR_STATS.reset()
    schema = SchemaGenerator(urlconf=__name__).get_schema(request=None, public=True)
    validate_schema(schema)
    assert set(schema["paths"]) == set(PROJECT_PATHS)
    assert not GENERATOR_STATS, dict(GENERATOR_STATS._warn_cache)


def test_spectacular_validates_without_warnings(tmp_path):
    """The whole API, every app's views: a warning here is a gap in the docs."""
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/v1/projects/" in yaml.safe_load(out.read_text())["paths"]
