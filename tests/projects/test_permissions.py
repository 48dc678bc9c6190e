"""Who may call what: every project endpoint (and the item, import and
export endpoints) against every persona.

Outsiders learn nothing about a project (404), members whose role is too low
are told so (403), anonymous callers are refused before anything is looked up
(401, with a `WWW-Authenticate: Token` challenge). Methods an endpoint does not
have are 405 for those allowed to see it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import reverse

from labelops.learning.models import TrainingRound
from labelops.projects.models import Membership

pytestmark = pytest.mark.django_db

PERSONAS = ["lead", "reviewer", "annotator", "outsider", "anonymous"]

LABELS = [{"key": "billing", "hotkey": "b"}, {"key": "bug", "hotkey": "g"}, {"key": "other", "hotkey": "o"}]


def project_url(name: str, **kwargs) -> Callable:
    def build(project) -> str:
        key = "pk" if name == "project-detail" else "project_pk"
        return reverse(name, kwargs={key: project.pk, **kwargs})

    return build


def membership_url(username: str) -> Callable:
    def build(project) -> str:
        membership = Membership.objects.get(project=project, user__username=username)
        return reverse("member-detail", kwargs={"project_pk": project.pk, "pk": membership.pk})

    return build


def round_url(name: str) -> Callable:
    """The URL of round 1 of the project, a round still running (made here)."""

    def build(project) -> str:
        TrainingRound.objects.get_or_create(project=project, number=1, defaults={"state": "embedding"})
        return reverse(name, kwargs={"project_pk": project.pk, "number": 1})

    return build


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    url: Callable
    expected: tuple[int, int, int, int, int]  # lead, reviewer, annotator, outsider, anonymous
    body: Any = None
    format: str = "json"


CASES = [
    Case("list projects", "get", lambda p: reverse("project-list"), (200, 200, 200, 200, 401)),
    Case("create project", "post", lambda p: reverse("project-list"), (201, 201, 201, 201, 401), {"name": "New"}),
    Case("read project", "get", project_url("project-detail"), (200, 200, 200, 404, 401)),
    Case("change project", "patch", project_url("project-detail"), (200, 403, 403, 404, 401), {"description": "x"}),
    Case("replace project", "put", project_url("project-detail"), (200, 403, 403, 404, 401), {"name": "Renamed"}),
    Case("delete project", "delete", project_url("project-detail"), (405, 403, 403, 404, 401)),
    Case("list members", "get", project_url("member-list"), (200, 200, 200, 404, 401)),
    Case("add member", "post", project_url("member-list"), (201, 403, 403, 404, 401),
         {"username": "newcomer", "role": "annotator"}),
    Case("read member", "get", membership_url("annotator2"), (200, 200, 200, 404, 401)),
    Case("change role", "patch", membership_url("annotator2"), (200, 403, 403, 404, 401), {"role": "reviewer"}),
    Case("remove member", "delete", membership_url("annotator2"), (204, 403, 403, 404, 401)),
    Case("read rules", "get", project_url("quality-rules"), (200, 200, 200, 404, 401)),
    Case("change rules", "patch", project_url("quality-rules"), (200, 403, 403, 404, 401), {"overlap": 2}),
    Case("replace rules", "put", project_url("quality-rules"), (405, 403, 403, 404, 401), {"overlap": 2}),
    Case("active taxonomy", "get", project_url("taxonomy-active"), (200, 200, 200, 404, 401)),
    Case("list versions", "get", project_url("taxonomy-version-list"), (200, 200, 200, 404, 401)),
    Case("new version", "post", project_url("taxonomy-version-list"), (201, 403, 403, 404, 401),
         {"labels": LABELS, "note": "same labels"}),
    Case("read version", "get", project_url("taxonomy-version-detail", number=1), (200, 200, 200, 404, 401)),
    Case("change version", "put", project_url("taxonomy-version-detail", number=1), (405, 403, 403, 404, 401),
         {"note": "versions are immutable"}),
    # Items, imports and export (labelops.items), which use the same access rules.
    Case("list items", "get", project_url("item-list"), (200, 200, 200, 404, 401)),
    Case("list imports", "get", project_url("import-list"), (200, 200, 200, 404, 401)),
    # The lead passes authorisation and then fails validation: no file was sent.
    Case("start import", "post", project_url("import-list"), (400, 403, 403, 404, 401), {}, "multipart"),
    Case("export", "get", project_url("export"), (200, 403, 403, 404, 401)),
    # Training rounds (labelops.learning). The learning curve needs a file on
    # disk: its access is tested in tests/learning/test_rounds_api.py.
    Case("list rounds", "get", project_url("round-list"), (200, 200, 200, 404, 401)),
    Case("start round", "post", project_url("round-list"), (201, 403, 403, 404, 401), {"strategy": "margin"}),
    Case("read round", "get", round_url("round-detail"), (200, 200, 200, 404, 401)),
    Case("cancel round", "post", round_url("round-cancel"), (200, 403, 403, 404, 401)),
]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_access(case, persona, project, make_user, request, api):
    make_user("newcomer")
    user = None if persona == "anonymous" else request.getfixturevalue(persona)
    client = api(user)
    response = getattr(client, case.method)(case.url(project), case.body, format=case.format)
    expected = case.expected[PERSONAS.index(persona)]
    assert response.status_code == expected, response.content
