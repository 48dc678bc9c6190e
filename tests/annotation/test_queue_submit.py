"""submit: the annotation, the counters and state, the audit, and every refusal."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from labelops.annotation.models import Annotation, Lease, LeaseOutcome
from labelops.annotation.services import LeaseConflict, next_item, submit
from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.audit.models import AuditEvent
from labelops.items.models import ItemState, Split
from labelops.projects import services as project_services
from labelops.quality.services import consensus
from tests.annotation.conftest import Always, activate_round, import_proposal, make_items, set_rules

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook_calls(monkeypatch):
    calls = []
    monkeypatch.setattr(consensus, "on_overlap_reached", lambda item, **context: calls.append(item.pk))
    return calls


def snapshot(item):
    item.refresh_from_db()
    return item.state, item.annotation_count, item.active_lease_count


def test_manual_submit_writes_closes_and_counts(project, lead, annotator, annotator2, hook_calls):
    set_rules(project, lead, overlap=2)
    (item,) = make_items(project, 1)
    claim = next_item(project=project, annotator=annotator)
    annotation = submit(lease_id=claim.lease.pk, annotator=annotator, labels=["bug"], time_spent_ms=4200)
    assert (annotation.labels, annotation.source, annotation.proposal, annotation.time_spent_ms) == (
        ["bug"], "manual", None, 4200)
    assert annotation.taxonomy_version == project.active_taxonomy()
    lease = Lease.objects.get(pk=claim.lease.pk)
    assert lease.outcome == LeaseOutcome.SUBMITTED and lease.closed_at is not None
    assert snapshot(item) == (ItemState.IN_PROGRESS, 1, 0)
    assert hook_calls == []

    claim = next_item(project=project, annotator=annotator2)
    submit(lease_id=claim.lease.pk, annotator=annotator2, labels=["billing"])
    assert snapshot(item) == (ItemState.LABELLED, 2, 0)
    assert hook_calls == [item.pk]


def test_accepted_and_edited_proposals_are_told_apart_and_audited(queue_project, annotator):
    a, b, c = make_items(queue_project, 3)
    activate_round(queue_project, ranked=[a, b, c], labels=("bug",))
    outcomes = []
    for labels, from_proposal in ((["bug"], True), (["other"], True), (["bug"], False)):
        claim = next_item(project=queue_project, annotator=annotator)
        annotation = submit(lease_id=claim.lease.pk, annotator=annotator, labels=labels, from_proposal=from_proposal,
                            time_spent_ms=1000)
        outcomes.append((annotation.source, annotation.proposal_id == claim.proposal.pk))
    assert outcomes == [("proposal_accepted", True), ("proposal_edited", True), ("manual", False)]
    events = list(AuditEvent.objects.filter(verb="annotation.submit"))
    assert [e.after["source"] for e in events] == ["proposal_accepted", "proposal_edited", "manual"]
    assert all(e.after["proposal_shown"] == ["bug"] and e.after["time_spent_ms"] == 1000 for e in events)
    assert events[0].actor == annotator and events[0].after["item_state"] == {
        "before": "unlabelled", "after": "labelled"}


def test_the_proposal_shown_counts_even_after_a_new_model(queue_project, annotator):
    (item,) = make_items(queue_project, 1)
    shown = import_proposal(item, ["billing"])
    claim = next_item(project=queue_project, annotator=annotator)
    activate_round(queue_project, ranked=[item], labels=("bug",))
    annotation = submit(lease_id=claim.lease.pk, annotator=annotator, labels=["billing"], from_proposal=True)
    assert annotation.source == "proposal_accepted" and annotation.proposal == shown


def assert_nothing_written(lease, item):
    lease.refresh_from_db()
    assert lease.closed_at is None and lease.outcome == ""
    assert snapshot(item) == (ItemState.UNLABELLED, 0, 1)
    assert not Annotation.objects.exists()
    assert not AuditEvent.objects.filter(verb="annotation.submit").exists()


@pytest.mark.parametrize("labels, message", [
    (["bug", "refund"], "not in the active taxonomy (v1): refund"),
    (["bug", "bug"], "more than once: bug"),
    ([], "at least one label"),
    (["bug", "other"], "single-label project: give exactly one label, not 2"),
    ("bug", "must be a list"),
])
def test_bad_labels_are_refused_and_nothing_is_written(queue_project, annotator, labels, message):
    (item,) = make_items(queue_project, 1)
    claim = next_item(project=queue_project, annotator=annotator)
    with pytest.raises(ValidationError, match=re.escape(message)):
        submit(lease_id=claim.lease.pk, annotator=annotator, labels=labels)
    assert_nothing_written(claim.lease, item)


def test_multi_label_projects_take_several_labels(db, lead, annotator):
    project = project_services.create_project(actor=lead, name="Multi", task="multi_label")
    create_taxonomy_version(actor=lead, project=project, labels=[{"key": "a"}, {"key": "b"}])
    project_services.add_member(actor=lead, project=project, user=annotator, role="annotator")
    set_rules(project, lead, overlap=1)
    make_items(project, 1)
    claim = next_item(project=project, annotator=annotator)
    assert submit(lease_id=claim.lease.pk, annotator=annotator, labels=["b", "a"]).labels == ["b", "a"]


def test_labels_are_checked_against_the_taxonomy_active_at_submit(queue_project, lead, annotator):
    make_items(queue_project, 1)
    claim = next_item(project=queue_project, annotator=annotator)
    create_taxonomy_version(
        actor=lead, project=queue_project,
        labels=[{"key": "billing"}, {"key": "defect"}, {"key": "other"}],
        mapping=[{"kind": "rename", "from": "bug", "to": "defect"}],
    )
    with pytest.raises(ValidationError, match=r"\(v2\): bug"):
        submit(lease_id=claim.lease.pk, annotator=annotator, labels=["bug"])
    assert submit(lease_id=claim.lease.pk, annotator=annotator, labels=["defect"]).taxonomy_version.number == 2


def test_from_proposal_needs_a_proposal(queue_project, annotator):
    (item,) = make_items(queue_project, 1)
    claim = next_item(project=queue_project, annotator=annotator)
    with pytest.raises(ValidationError, match="no proposal was shown"):
        submit(lease_id=claim.lease.pk, annotator=annotator, labels=["bug"], from_proposal=True)
    assert_nothing_written(claim.lease, item)


def test_double_submit_is_a_conflict(queue_project, annotator):
    make_items(queue_project, 2)
    claim = next_item(project=queue_project, annotator=annotator)
    submit(lease_id=claim.lease.pk, annotator=annotator, labels=["bug"])
    with pytest.raises(LeaseConflict, match="already submitted") as caught:
        submit(lease_id=claim.lease.pk, annotator=annotator, labels=["bug"])
    assert caught.value.code == "already_submitted"
    assert Annotation.objects.count() == 1


def test_an_expired_lease_cannot_be_submitted(queue_project, annotator):
    (item,) = make_items(queue_project, 1)
    claim = next_item(project=queue_project, annotator=annotator)
    Lease.objects.filter(pk=claim.lease.pk).update(expires_at=claim.lease.expires_at - timedelta(hours=2))
    with pytest.raises(LeaseConflict, match="expired at") as caught:
        submit(lease_id=claim.lease.pk, annotator=annotator, labels=["bug"])
    assert caught.value.code == "lease_expired"
    assert_nothing_written(claim.lease, item)


def test_someone_elses_lease_does_not_exist_for_you(queue_project, annotator, annotator2):
    (item,) = make_items(queue_project, 1)
    claim = next_item(project=queue_project, annotator=annotator)
    with pytest.raises(Lease.DoesNotExist):
        submit(lease_id=claim.lease.pk, annotator=annotator2, labels=["bug"])
    assert_nothing_written(claim.lease, item)


def test_gold_submissions_keep_the_gold_state(queue_project, lead, annotator, hook_calls):
    set_rules(queue_project, lead, overlap=1, gold_ratio=0.5)
    (gold,) = make_items(queue_project, 1, split=Split.GOLD, gold_labels=["bug"])
    claim = next_item(project=queue_project, annotator=annotator, rng=Always(0.0))
    submit(lease_id=claim.lease.pk, annotator=annotator, labels=["billing"])
    assert snapshot(gold) == (ItemState.APPROVED, 1, 0)
    assert hook_calls == []


def test_an_answer_nobody_judges_is_refused_and_nothing_is_written(project, annotator):
    """The queue's signals must reach the quality rules: with the receiver
    gone (the quality app not installed), submit fails loudly and rolls back."""
    from django.core.exceptions import ImproperlyConfigured

    from labelops.annotation.signals import answer_submitted

    (item,) = make_items(project, 1)
    claim = next_item(project=project, annotator=annotator)
    assert answer_submitted.disconnect(dispatch_uid="quality.on_answer_submitted")
    try:
        with pytest.raises(ImproperlyConfigured, match="labelops.quality"):
            submit(lease_id=claim.lease.pk, annotator=annotator, labels=["bug"])
    finally:
        from labelops.quality.services.answers import on_answer_submitted

        answer_submitted.connect(on_answer_submitted, dispatch_uid="quality.on_answer_submitted")
    assert not Annotation.objects.filter(item=item).exists()
    assert Lease.objects.get(pk=claim.lease.pk).closed_at is None
