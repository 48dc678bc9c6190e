"""Dawid-Skene: multi-label projects (one binary model per label), runs that
are harmless when repeated, and the schedule that queues a pass once enough
annotations came in (`schedule_after_submit`, called by `submit`)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from labelops.annotation.models import Consensus, ConsensusMethod
from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.audit.models import AuditEvent
from labelops.items.models import ItemState
from labelops.projects import services as project_services
from labelops.quality.services import dawid_skene
from labelops.quality.services.dawid_skene import (
    QUEUE_VERB,
    RUN_VERB,
    fit_multi_label,
    recompute_dawid_skene,
    schedule_after_submit,
)
from labelops.quality.services.review import decide
from labelops.quality.tasks import recompute_dawid_skene as recompute_task
from tests.annotation.conftest import label_item, make_items, set_rules
from tests.conftest import filesystem_broker_options

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_schedule")]


@pytest.fixture
def fresh_schedule(monkeypatch):
    """What `schedule_after_submit` remembers per process is keyed by project
    id, and the test database hands ids out again after each test."""
    monkeypatch.setattr(dawid_skene, "_NOT_DUE", {})


def consensus_of(item):
    item.refresh_from_db()
    consensus = Consensus.objects.get(item=item)
    return item.state, consensus.labels, consensus.method, consensus.status


# --- multi-label ------------------------------------------------------------------------


def invert_a(labels):
    """The reliably wrong annotator: always the opposite about `a`, right about the rest."""
    return sorted(set(labels) ^ {"a"})


@pytest.fixture
def multi(db, lead, reviewer, make_user):
    """A multi-label project (a, b, c), overlap 3, nothing sent to review by
    agreement (Dawid-Skene leaves items in review alone), and four
    annotators: three reliable, the fourth always wrong about `a`."""
    project = project_services.create_project(actor=lead, name="Multi", task="multi_label")
    create_taxonomy_version(actor=lead, project=project,
                                             labels=[{"key": "a"}, {"key": "b"}, {"key": "c"}])
    project_services.add_member(actor=lead, project=project, user=reviewer, role="reviewer")
    users = [make_user(name) for name in ("good1", "good2", "good3", "contrary")]
    for user in users:
        project_services.add_member(actor=lead, project=project, user=user, role="annotator")
    set_rules(project, lead, overlap=3, review_disputed=False, review_low_agreement=False)
    return project, users


def test_multi_label_dawid_skene_corrects_the_majority(multi):
    """Twelve items: the contrary annotator and two good ones, who outvote
    it, so Dawid-Skene learns that its `a` means the opposite. On the last
    item a good annotator misses `a` and the contrary one, as always, says
    the opposite of the truth: the majority drops `a`, Dawid-Skene, reading
    the contrary answer for what it is worth, keeps it."""
    project, (good1, good2, good3, contrary) = multi
    items = make_items(project, 13)
    goods = [good1, good2, good3]
    for n in range(12):
        truth = ["a", "b"] if n % 2 else ["b", "c"]
        pair = [goods[n % 3], goods[(n + 1) % 3]]
        for user in pair:
            label_item(project, user, truth)
        label_item(project, contrary, invert_a(truth))
    last = items[12]
    label_item(project, good1, ["a", "b"])
    label_item(project, good2, ["b"])  # a good annotator's miss
    label_item(project, contrary, invert_a(["a", "b"]))
    assert consensus_of(last)[1:3] == (["b"], "majority")

    assert recompute_dawid_skene(project) == 13  # every item: its method changes
    assert consensus_of(last) == (ItemState.APPROVED, ["a", "b"], "dawid_skene", "approved")
    for n, item in enumerate(items[:12]):  # where the majority was right, it stays
        assert consensus_of(item)[1:3] == ((["a", "b"] if n % 2 else ["b", "c"]), "dawid_skene")
    assert recompute_dawid_skene(project) == 0  # nothing left to change
    assert recompute_task(project.pk) == 0


def test_fit_multi_label_per_label_posteriors():
    """Straight on the fitting function: label `c`, chosen by nobody, needs
    no model and is absent everywhere; `b`, chosen by everybody, present;
    the contrary worker 9's `a` is read backwards."""
    rows = []
    for item in range(1, 9):
        truth = ["a", "b"] if item % 2 else ["b"]
        rows += [(item, 1, truth), (item, 2, truth), (item, 9, sorted(set(truth) ^ {"a"}))]
    rows += [(20, 1, ["a", "b"]), (20, 2, ["b"]), (20, 9, ["b"])]
    fitted = fit_multi_label(rows, ["a", "b", "c"])
    assert fitted[20] == ["a", "b"]
    assert all(fitted[item] == (["a", "b"] if item % 2 else ["b"]) for item in range(1, 9))


def test_multi_label_leaves_a_reviewers_fix_alone(multi, reviewer, lead):
    project, (good1, good2, _, contrary) = multi
    set_rules(project, lead, overlap=2, review_disputed=True, review_low_agreement=False)
    (item,) = make_items(project, 1)
    label_item(project, good1, ["a"])
    label_item(project, contrary, ["b"])  # a tie on both labels: in review
    assert consensus_of(item)[0] == ItemState.IN_REVIEW
    decide(project=project, item=item, reviewer=reviewer, decision="fix", labels=["a", "c"])
    assert recompute_dawid_skene(project) == 0
    assert consensus_of(item)[1:3] == (["a", "c"], "review")


# --- runs twice -------------------------------------------------------------------------------


@pytest.fixture
def tie_broken(project, lead, annotators):
    """The single-label case of test_consensus: a bad annotator ties with a good one on the last item."""
    good1, good2, good3, bad, _ = annotators
    set_rules(project, lead, overlap=2, review_disputed=False, agreement_threshold=0.5)
    items = make_items(project, 13)
    truth = ["bug", "billing", "other"]
    for n in range(12):
        answer = truth[n % 3]
        for user, label in ([(good1, answer), (bad, "bug")] if n % 2 else [(good2, answer), (good3, answer)]):
            label_item(project, user, [label])
    label_item(project, good1, ["billing"])
    label_item(project, bad, ["bug"])
    return items[12]


def test_two_runs_fitted_at_once_settle_each_item_once(project, tie_broken, monkeypatch):
    """Two passes that both fitted before either wrote: the second finds
    each item already settled the same way and writes nothing."""
    settled_calls = []
    real_settle_one = dawid_skene._settle_one

    def settle_twice(*args):
        settled_calls.append(real_settle_one(*args))
        settled_calls.append(real_settle_one(*args))  # the other pass, on the same fit
        return settled_calls[-2]

    monkeypatch.setattr(dawid_skene, "_settle_one", settle_twice)
    before = AuditEvent.objects.filter(verb="consensus.settle").count()
    settled = recompute_dawid_skene(project)
    assert settled > 0 and settled_calls[1::2] == [0] * settled
    assert AuditEvent.objects.filter(verb="consensus.settle").count() == before + settled
    assert consensus_of(tie_broken)[1:3] == (["billing"], "dawid_skene")


def test_each_pass_is_recorded_with_what_it_saw(project, tie_broken):
    recompute_dawid_skene(project)
    recompute_dawid_skene(project)
    first, second = AuditEvent.objects.filter(verb=RUN_VERB).order_by("id")
    newest = project.items.values_list("annotations__id", flat=True).order_by("-annotations__id").first()
    assert first.after == {"last_annotation_id": newest, "annotations": 26, "settled": first.after["settled"]}
    assert first.after["settled"] > 0 and second.after["settled"] == 0
    assert first.object_id == str(project.pk) and first.project_id == project.pk


# --- the schedule ------------------------------------------------------------------------------


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
    monkeypatch.setattr(dawid_skene, "RECOMPUTE_EVERY", 3)


def submit_and_commit(project, user, labels, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        annotation = label_item(project, user, labels)
    return annotation, callbacks


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
    for user in annotators[3:5]:
        submit_and_commit(queue_project, user, ["bug"], django_capture_on_commit_callbacks)
    assert len(broker()) == 1  # two new since the pass: not yet
    annotation, _ = submit_and_commit(queue_project, annotators[0], ["other"], django_capture_on_commit_callbacks)
    assert len(broker()) == 2
    assert AuditEvent.objects.filter(verb=QUEUE_VERB).last().after["pending"] == 3


def test_a_queued_pass_that_never_ran_is_queued_again_later(queue_project, annotators, broker, every_three):
    make_items(queue_project, 6)
    annotations = [label_item(queue_project, user, ["bug"]) for user in annotators[:4]]
    assert schedule_after_submit(queue_project.pk, annotations[2].pk) is True
    assert schedule_after_submit(queue_project.pk, annotations[3].pk) is False
    later = timezone.now() + dawid_skene.REQUEUE_AFTER + timedelta(seconds=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dawid_skene.timezone, "now", lambda: later)
        assert schedule_after_submit(queue_project.pk, annotations[3].pk) is True
    assert len(broker()) == 2


def test_the_threshold_grows_with_the_project(queue_project, annotators, broker, every_three):
    """After a pass that fitted 50 annotations, the next waits for 5 new ones, not 3."""
    make_items(queue_project, 6)
    from labelops.audit.services import record

    record(actor=None, verb=RUN_VERB, obj=queue_project, project=queue_project,
           after={"last_annotation_id": 0, "annotations": 50, "settled": 0})
    annotations = [label_item(queue_project, user, ["bug"]) for user in annotators[:4]]
    assert schedule_after_submit(queue_project.pk, annotations[3].pk) is False
    fifth = label_item(queue_project, annotators[4], ["bug"])
    assert schedule_after_submit(queue_project.pk, fifth.pk) is True
    assert AuditEvent.objects.get(verb=QUEUE_VERB).after["threshold"] == 5


def test_discarded_annotations_do_not_count(queue_project, annotators, broker, every_three):
    from labelops.annotation.models import Annotation

    make_items(queue_project, 6)
    annotations = [label_item(queue_project, user, ["bug"]) for user in annotators[:3]]
    Annotation.objects.filter(pk=annotations[0].pk).update(discarded=True)
    assert schedule_after_submit(queue_project.pk, annotations[2].pk) is False
    assert broker() == []


def test_a_broker_that_is_down_is_logged_and_tried_again(queue_project, annotators, use_broker, every_three,
                                                         caplog):
    make_items(queue_project, 6)
    annotations = [label_item(queue_project, user, ["bug"]) for user in annotators[:3]]
    use_broker("redis://127.0.0.1:9/0")  # nothing listens on port 9
    with caplog.at_level(logging.ERROR, logger="labelops.quality.services.dawid_skene"):
        assert schedule_after_submit(queue_project.pk, annotations[2].pk) is False
    assert "could not queue a Dawid-Skene pass" in caplog.text
    assert not AuditEvent.objects.filter(verb=QUEUE_VERB).exists()


def test_the_queued_pass_runs_and_settles(project, tie_broken, broker, every_three):
    """The message queued is the real task: running it settles the tie."""
    annotation_id = tie_broken.annotations.order_by("-id").values_list("id", flat=True).first()
    assert schedule_after_submit(project.pk, annotation_id) is True
    [message] = broker()
    assert message["headers"]["argsrepr"] == f"({project.pk},)"
    assert recompute_task(project.pk) > 0
    assert consensus_of(tie_broken)[1:3] == (["billing"], ConsensusMethod.DAWID_SKENE)


def test_submits_between_passes_skip_the_check_without_a_query(queue_project, annotators, broker, every_three,
                                                                django_assert_num_queries):
    """Once a check finds no pass due before a given annotation id, earlier ids cost no query."""
    make_items(queue_project, 6)
    first = label_item(queue_project, annotators[0], ["bug"])
    assert schedule_after_submit(queue_project.pk, first.pk) is False  # a query: at most one new annotation so far
    second = label_item(queue_project, annotators[1], ["bug"])
    with django_assert_num_queries(0):
        assert schedule_after_submit(queue_project.pk, second.pk) is False
    third = label_item(queue_project, annotators[2], ["bug"])
    assert schedule_after_submit(queue_project.pk, third.pk) is True
    assert len(broker()) == 1
