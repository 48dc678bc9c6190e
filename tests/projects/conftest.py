"""Fixtures for the projects tests, opt-in like those of tests/conftest.py."""

from __future__ import annotations

import pytest
from django.urls import reverse

from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.projects import services


@pytest.fixture
def other_lead(make_user):
    return make_user("other_lead")


@pytest.fixture
def other_project(db, other_lead):
    """A project none of the `project` personas belongs to."""
    other = services.create_project(actor=other_lead, name="Someone else's")
    create_taxonomy_version(actor=other_lead, project=other, labels=[{"key": "secret"}])
    return other


@pytest.fixture
def urls():
    """`urls("member-list", project)` -> "/api/v1/projects/1/members/"."""

    def make(name: str, project=None, **kwargs):
        if project is not None:
            kwargs["pk" if name == "project-detail" else "project_pk"] = project.pk
        return reverse(name, kwargs=kwargs or None)

    return make
