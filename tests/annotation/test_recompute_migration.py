"""Migration 0006 moves the recompute schedule's state into `Recompute`
rows: the agreement snapshot's own columns and, for Dawid-Skene, the newest
pass the audit trail recorded. Nothing a running project relies on is lost."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("annotation", "0005_bulk_batches"), ("audit", "0001_initial")]
AFTER = [("annotation", "0006_recompute_schedule")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_the_schedules_state_is_carried_over():
    old = migrate(BEFORE)
    user = old.get_model("auth", "User").objects.create(username="lead")
    Project = old.get_model("projects", "Project")
    first, second = (Project.objects.create(name=name, created_by=user) for name in ("a", "b"))
    computed = datetime(2026, 12, 1, tzinfo=UTC)
    old.get_model("annotation", "AgreementSnapshot").objects.create(
        project=first, metrics={"units": 3}, computed_at=computed, last_annotation_id=40, refresh_queued_at=None)
    AuditEvent = old.get_model("audit", "AuditEvent")
    for last, fitted in ((10, 20), (90, 2000)):  # the newest pass counts
        AuditEvent.objects.create(project=second, verb="consensus.dawid_skene", object_type="projects.project",
                                  object_id=str(second.pk), after={"last_annotation_id": last,
                                                                   "annotations": fitted, "settled": 1})

    new = migrate(AFTER)
    Recompute = new.get_model("annotation", "Recompute")
    agreement = Recompute.objects.get(project_id=first.pk, kind="agreement")
    assert (agreement.last_annotation_id, agreement.finished_at, agreement.queued_at, agreement.due_at) == (
        40, computed, None, 90)
    dawid_skene = Recompute.objects.get(project_id=second.pk, kind="dawid_skene")
    assert (dawid_skene.last_annotation_id, dawid_skene.last_size, dawid_skene.due_at) == (90, 2000, 90 + 200)
    assert Recompute.objects.count() == 2
    snapshot = new.get_model("annotation", "AgreementSnapshot").objects.get(project_id=first.pk)
    assert snapshot.metrics == {"units": 3} and snapshot.computed_at == computed
