"""Reviewers working one review queue at once, each on its own database
connection: every task is claimed by exactly one reviewer and decided once,
by that reviewer, with no conflict.

Needs PostgreSQL: SQLite serialises every write transaction, so it cannot
show that `SELECT ... FOR UPDATE SKIP LOCKED` in `next_review` does its job."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, connections

from labelops.annotation.models import Review, ReviewReason, ReviewTask
from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.audit.models import AuditEvent
from labelops.items.models import ItemState
from labelops.projects import services as project_services
from labelops.quality.services.review import decide, next_review, send_to_review
from tests.annotation.conftest import make_items
from tests.conftest import require

REVIEWERS = 12
TASKS = 40


@pytest.mark.postgres
def test_reviewers_at_once_each_task_claimed_once(transactional_db, lead, make_user):
    require(connection.vendor == "postgresql", "DATABASE_URL is not PostgreSQL")
    project = project_services.create_project(actor=lead, name="Review race")
    create_taxonomy_version(actor=lead, project=project, labels=[{"key": "a"}, {"key": "b"}])
    for item in make_items(project, TASKS):
        send_to_review(item, ReviewReason.DROPPED)
    users = [make_user(f"checker{n}") for n in range(REVIEWERS)]
    for user in users:
        project_services.add_member(actor=lead, project=project, user=user, role="reviewer")

    barrier = threading.Barrier(REVIEWERS)
    claims: list[tuple[int, int]] = []  # (task id, reviewer id), one per claim served
    first_round: dict[int, int] = {}  # reviewer id -> the task of their first call, all made at once
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(user):
        try:
            barrier.wait(timeout=30)
            while (task := next_review(project, user)) is not None:
                with lock:
                    claims.append((task.pk, user.pk))
                    first_round.setdefault(user.pk, task.pk)
                # Asking again before deciding returns the same task.
                assert next_review(project, user).pk == task.pk
                decide(project=project, item=task.item, reviewer=user, decision="fix", labels=["a"])
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    # The simultaneous first calls got different tasks.
    assert len(set(first_round.values())) == len(first_round) == REVIEWERS
    # Every task claimed exactly once, and decided by the reviewer who claimed it.
    per_task = Counter(task_id for task_id, _ in claims)
    assert sorted(per_task) == sorted(ReviewTask.objects.for_project(project).values_list("id", flat=True))
    assert set(per_task.values()) == {1}
    claimed_by = dict(claims)
    for task in ReviewTask.objects.for_project(project).select_related("review"):
        assert task.closed_at is not None, task.pk
        assert task.leased_to_id == task.review.reviewer_id == claimed_by[task.pk], task.pk
    assert Review.objects.filter(item__project=project).count() == TASKS
    assert AuditEvent.objects.filter(verb="review.claim", project=project).count() == TASKS
    assert not ReviewTask.objects.open().exists()
    assert set(project.items.values_list("state", flat=True)) == {ItemState.APPROVED}
