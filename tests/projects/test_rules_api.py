"""/api/v1/projects/<pk>/rules/: read by members, changed (PATCH) by the lead."""

from __future__ import annotations

import pytest

from labelops.audit.models import AuditEvent
from labelops.projects.models import QualityRules

pytestmark = pytest.mark.django_db


def test_annotator_reads_the_rules(project, annotator, api, urls):
    response = api(annotator).get(urls("quality-rules", project))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {*QualityRules.EDITABLE, "updated_at"}
    assert body["overlap"] == 1


def test_lead_changes_rules_and_the_change_is_audited(project, lead, api, urls):
    response = api(lead).patch(
        urls("quality-rules", project), {"overlap": 3, "agreement_threshold": 0.8, "review_disputed": False},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["overlap"] == 3
    rules = QualityRules.objects.get(project=project)
    assert (rules.overlap, rules.agreement_threshold, rules.review_disputed) == (3, 0.8, False)
    event = AuditEvent.objects.get(verb="rules.update")
    assert event.actor == lead
    assert (event.before["overlap"], event.after["overlap"]) == (1, 3)
    assert event.after["gold_ratio"] == 0.05  # the whole rule set, before and after


@pytest.mark.parametrize(
    "field,value",
    [("overlap", 0), ("overlap", 21), ("agreement_threshold", 1.5), ("gold_ratio", 0.6),
     ("bulk_verification_rate", 0), ("overlap", "three")],
)
def test_out_of_range_or_wrong_type_is_refused_naming_the_rule(project, lead, api, urls, field, value):
    response = api(lead).patch(urls("quality-rules", project), {field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not AuditEvent.objects.filter(verb="rules.update").exists()


def test_unknown_rule_is_refused(project, lead, api, urls):
    response = api(lead).patch(urls("quality-rules", project), {"overlapp": 2}, format="json")
    assert response.status_code == 400
    assert response.json() == {"overlapp": ["unknown field"]}


def test_put_is_not_allowed(project, lead, api, urls):
    assert api(lead).put(urls("quality-rules", project), {"overlap": 2}, format="json").status_code == 405


@pytest.mark.parametrize("persona", ["reviewer", "annotator"])
def test_only_the_lead_changes_rules(project, persona, request, api, urls):
    client = api(request.getfixturevalue(persona))
    response = client.patch(urls("quality-rules", project), {"overlap": 5}, format="json")
    assert response.status_code == 403
    assert QualityRules.objects.get(project=project).overlap == 1


def test_outsider_gets_404_for_rules(project, outsider, api, urls):
    assert api(outsider).get(urls("quality-rules", project)).status_code == 404
    assert api(outsider).patch(urls("quality-rules", project), {"overlap": 5}, format="json").status_code == 404
