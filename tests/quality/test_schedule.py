"""The one scheduler of project-wide recomputations (`schedule`): a
Dawid-Skene pass is queued once enough annotations came in after submits,
the agreement snapshot when it is read; one `Recompute` row per project and
kind holds all it needs, and the audit trail is only evidence."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from labelops.annotation.models import Annotation, ConsensusMethod, Recompute, RecomputeKind
from labelops.annotation.services import queue_sql
from labelops.audit.models import AuditEvent
from labelops.quality.services import schedule
from labelops.quality.services.schedule import QUEUE_VERB, after_submit
from labelops.quality.tasks import recompute_dawid_skene as recompute_task
from tests.annotation.conftest import label_item, make_items
from tests.conftest import filesystem_broker_options
from tests.quality.test_dawid_skene import consensus_of, tie_broken  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

DAWID_SKENE = RecomputeKind.DAWID_SKENE


@pytest.fixture
def broker(use_broker, tmp_path):
    """A filesystem broker of our own: the messages queued, decoded."""
    options = filesystem_broker_options(tmp_path)
    use_broker("filesystem://", options)

    def messages():
        return [json.loads(path.read_text()) for path in sorted(Path(options["data_folder_in"]).iterdir())]

    return messages


@pytest.fixture
def every_three(monkeypatch):
    policy = schedule.POLICIES[DAWID_SKENE]
    monkeypatch.setitem(schedule.POLICIES, DAWID_SKENE, dataclasses.replace(policy, every=3))


def submit_and_commit(project, user, labels, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        annotation = label_item(project, user, labels)
    return annotation, callbacks


def row(project) -> Recompute:
    return Recompute.objects.get(project=project, kind=DAWID_SKENE)


def test_a_pass_is_queued_after_enough_annotations(queue_project, annotators, broker, every_three,
                                                    django_capture_on_commit_callbacks):
    make_items(queue_project, 6)
    for user in annotators[:2]:
        submit_and_commit(queue_project, user, ["bug"], django_capture_on_commit_callbacks)
    assert broker() == [] and not AuditEvent.objects.filter(verb=QUEUE_VERB).exists()
    _, callbacks = submit_and_commit(queue_project, annotators[2], ["bug"], django_capture_on_commit_callbacks)
    assert len(callbacks) == 1
    [message] = broker()
    assert message["headers"]["task"] == "labelops.quality.tasks.recompute_dawid_skene"
    event = AuditEvent.objects.get(verb=QUEUE_VERB)
    assert event.after == {"pending": 3, "threshold": 3, "last_annotation_id": 0}
    assert row(queue_project).queued_at is not None
    # While it waits to run, more submits queue nothing more.
    submit_and_commit(queue_project, annotators[3], ["bug"], django_capture_on_commit_callbacks)
    assert len(broker()) == 1


def test_after_a_pass_the_count_starts_again(queue_project, annotators, broker, every_three,
                                             django_capture_on_commit_callbacks):
    make_items(queue_project, 6)
    for user in annotators[:3]:
        submit_and_commit(queue_project, user, ["bug"], django_capture_on_commit_callbacks)
    assert len(broker()) == 1
    recompute_task(queue_project.pk)  # the worker runs it
    finished = row(queue_project)
    assert finished.queued_at is None and finished.last_size == 3
    assert finished.due_at == finished.last_annotation_id + 3
    for user in annotators[3:5]:
        submit_and_commit(queue_project, user, ["bug"], django_capture_on_commit_callbacks)
    assert len(broker()) == 1  # two new since the pass: not yet
    submit_and_commit(queue_project, annotators[0], ["other"], django_capture_on_commit_callbacks)
    assert len(broker()) == 2
    assert AuditEvent.objects.filter(verb=QUEUE_VERB).last().after["pending"] == 3


def test_a_queued_pass_that_never_ran_is_queued_again_later(queue_project, annotators, broker, every_three):
    make_items(queue_project, 6)
    annotations = [label_item(queue_project, user, ["bug"]) for user in annotators[:4]]
    assert after_submit(queue_project.pk, annotations[2].pk) is True
    assert after_submit(queue_project.pk, annotations[3].pk) is False
    later = timezone.now() + schedule.POLICIES[DAWID_SKENE].requeue_after + timedelta(seconds=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(schedule.timezone, "now", lambda: later)
        # Past the window the check looks again, even below the mark set when it was queued.
        assert after_submit(queue_project.pk, annotations[3].pk) is True
    assert len(broker()) == 2


def test_the_threshold_grows_with_the_project(queue_project, annotators, broker, every_three):
    """After a pass that fitted 50 annotations, the next waits for 5 new ones, not 3."""
    make_items(queue_project, 6)
    schedule.finished(queue_project.pk, DAWID_SKENE, last_annotation_id=0, size=50)
    annotations = [label_item(queue_project, user, ["bug"]) for user in annotators[:4]]
    assert after_submit(queue_project.pk, annotations[3].pk) is False
    fifth = label_item(queue_project, annotators[4], ["bug"])
    assert after_submit(queue_project.pk, fifth.pk) is True
    assert AuditEvent.objects.get(verb=QUEUE_VERB).after["threshold"] == 5


def test_discarded_annotations_do_not_count(queue_project, annotators, broker, every_three):
    make_items(queue_project, 6)
    annotations = [label_item(queue_project, user, ["bug"]) for user in annotators[:3]]
    Annotation.objects.filter(pk=annotations[0].pk).update(discarded=True)
    assert after_submit(queue_project.pk, annotations[2].pk) is False
    assert broker() == []
    assert row(queue_project).due_at == annotations[2].pk + 1  # one more annotation could make it due


def test_a_broker_that_is_down_is_logged_and_tried_again(queue_project, annotators, use_broker, every_three,
                                                         caplog):
    make_items(queue_project, 6)
    annotations = [label_item(queue_project, user, ["bug"]) for user in annotators[:3]]
    use_broker("redis://127.0.0.1:9/0")  # nothing listens on port 9
    with caplog.at_level(logging.ERROR, logger="labelops.quality.services.schedule"):
        assert after_submit(queue_project.pk, annotations[2].pk) is False
    assert "could not queue a Dawid-Skene pass" in caplog.text
    assert not AuditEvent.objects.filter(verb=QUEUE_VERB).exists()
    assert row(queue_project).queued_at is None  # the next submit tries again


def test_the_queued_pass_runs_and_settles(project, tie_broken, broker, every_three):  # noqa: F811
    """The message queued is the real task: running it settles the tie."""
    annotation_id = tie_broken.annotations.order_by("-id").values_list("id", flat=True).first()
    assert after_submit(project.pk, annotation_id) is True
    [message] = broker()
    assert message["headers"]["argsrepr"] == f"({project.pk},)"
    assert recompute_task(project.pk) > 0
    assert consensus_of(tie_broken)[1:3] == (["billing"], ConsensusMethod.DAWID_SKENE)


def test_a_submit_below_the_due_mark_costs_no_query(queue_project, annotators, broker, every_three,
                                                     django_assert_num_queries):
    """Once a check finds no pass due before a given annotation id, the
    queue's context carries that mark, and submits below it cost nothing."""
    make_items(queue_project, 6)
    first = label_item(queue_project, annotators[0], ["bug"])
    assert after_submit(queue_project.pk, first.pk) is False  # queries: at most one new annotation so far
    second = label_item(queue_project, annotators[1], ["bug"])
    context = queue_sql.queue_context(queue_project.pk)
    due_at, queued_at = context.dawid_skene_due_at, context.dawid_skene_queued_at
    assert due_at > second.pk and queued_at is None
    with django_assert_num_queries(0):
        assert after_submit(queue_project.pk, second.pk, due_at, queued_at) is False
    third = label_item(queue_project, annotators[2], ["bug"])
    assert after_submit(queue_project.pk, third.pk, due_at, queued_at) is True
    assert len(broker()) == 1


def test_two_checks_at_once_queue_one_pass(queue_project, annotators, broker, every_three):
    """The claim is a conditional update on the row as each check read it."""
    make_items(queue_project, 6)
    annotations = [label_item(queue_project, user, ["bug"]) for user in annotators[:3]]
    schedule.row_of(queue_project.pk, DAWID_SKENE)
    read_by_both = row(queue_project)
    now = timezone.now()
    assert schedule._claim(read_by_both, DAWID_SKENE, now, due_at=annotations[2].pk + 3) is True
    assert schedule._claim(read_by_both, DAWID_SKENE, now, due_at=annotations[2].pk + 3) is False
