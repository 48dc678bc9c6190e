"""Gold checks: answers on gold items scored against the known answer, the
annotator's running gold accuracy, and what a failure sends to review."""

from __future__ import annotations

import pytest

from labelops.annotation.models import MIN_GOLD_FOR_ACCURACY, AnnotatorStats, Consensus, ReviewTask
from labelops.audit.models import AuditEvent
from labelops.items.models import ItemState, Split
from tests.annotation.conftest import Always, label_item, make_items, set_rules

pytestmark = pytest.mark.django_db

GOLD_NOW = Always(-100.0)  # a gold item is always due


def stats_of(project, user):
    stats = AnnotatorStats.objects.get(project=project, annotator=user)
    return stats.gold_seen, stats.gold_correct, stats.below_since is not None


def test_a_correct_gold_answer_counts(queue_project, lead, annotator):
    set_rules(queue_project, lead, overlap=1, gold_ratio=0.5)
    (gold,) = make_items(queue_project, 1, split=Split.GOLD, gold_labels=["bug"])
    label_item(queue_project, annotator, ["bug"], rng=GOLD_NOW)
    assert stats_of(queue_project, annotator) == (1, 1, False)
    assert not ReviewTask.objects.exists()
    event = AuditEvent.objects.get(verb="gold.check")
    assert event.after["correct"] is True and event.after["gold_accuracy"] == 1.0
    gold.refresh_from_db()
    assert gold.state == ItemState.APPROVED and not Consensus.objects.exists()


def test_a_failed_gold_check_opens_a_review_of_that_answer(queue_project, lead, annotator, annotator2):
    set_rules(queue_project, lead, overlap=1, gold_ratio=0.5)
    (gold,) = make_items(queue_project, 1, split=Split.GOLD, gold_labels=["bug"])
    wrong = label_item(queue_project, annotator, ["billing"], rng=GOLD_NOW)
    wrong2 = label_item(queue_project, annotator2, ["other"], rng=GOLD_NOW)
    assert stats_of(queue_project, annotator) == (1, 0, False)  # one answer is not a verdict
    tasks = list(ReviewTask.objects.open().filter(item=gold))
    assert [(t.reasons, t.annotation) for t in tasks] == [(["gold_failure"], wrong), (["gold_failure"], wrong2)]
    assert tasks[0].details["gold_failure"] == {"annotator": annotator.pk, "expected": ["bug"], "given": ["billing"]}
    gold.refresh_from_db()
    assert gold.state == ItemState.APPROVED  # gold items keep their state


def test_gold_failures_need_their_trigger(queue_project, lead, annotator):
    set_rules(queue_project, lead, overlap=1, gold_ratio=0.5, review_gold_failures=False)
    make_items(queue_project, 1, split=Split.GOLD, gold_labels=["bug"])
    label_item(queue_project, annotator, ["billing"], rng=GOLD_NOW)
    assert stats_of(queue_project, annotator) == (1, 0, False)
    assert not ReviewTask.objects.exists()


def test_falling_below_the_minimum_sends_recent_work_to_review(queue_project, lead, annotator, annotator2):
    set_rules(queue_project, lead, overlap=1, min_gold_accuracy=0.7, review_gold_failures=False)
    mine = make_items(queue_project, 2)
    for item in mine:
        label_item(queue_project, annotator, ["bug"])
    theirs = make_items(queue_project, 1)
    label_item(queue_project, annotator2, ["bug"])
    assert all(Consensus.objects.get(item=item).status == "approved" for item in mine + theirs)

    set_rules(queue_project, lead, gold_ratio=0.5)
    make_items(queue_project, MIN_GOLD_FOR_ACCURACY, split=Split.GOLD, gold_labels=["bug"])
    answers = [["bug"], ["other"], ["bug"], ["other"], ["bug"]]  # 3/5 = 0.6 < 0.7
    for n, labels in enumerate(answers, start=1):
        label_item(queue_project, annotator, labels, rng=GOLD_NOW)
        if n < MIN_GOLD_FOR_ACCURACY:  # not judged yet, though at 1/2 already
            assert not ReviewTask.objects.exists()
    assert stats_of(queue_project, annotator) == (5, 3, True)
    for item in mine:
        item.refresh_from_db()
        task = ReviewTask.objects.open().get(item=item)
        assert (item.state, task.reasons) == (ItemState.IN_REVIEW, ["annotator_below_gold"])
        assert task.details["annotator_below_gold"]["gold_accuracy"] == 0.6
        assert Consensus.objects.get(item=item).status == "agreed"  # no longer approved
    theirs[0].refresh_from_db()
    assert theirs[0].state == ItemState.APPROVED

    # While below, whatever they complete goes to review too.
    (later,) = make_items(queue_project, 1)
    label_item(queue_project, annotator, ["bug"], rng=Always(0.99))
    later.refresh_from_db()
    assert later.state == ItemState.IN_REVIEW
    assert ReviewTask.objects.get(item=later).reasons == ["annotator_below_gold"]


def test_getting_back_above_the_minimum_clears_the_mark(queue_project, lead, annotator):
    set_rules(queue_project, lead, overlap=1, gold_ratio=0.5, min_gold_accuracy=0.7, review_gold_failures=False)
    make_items(queue_project, MIN_GOLD_FOR_ACCURACY + 2, split=Split.GOLD, gold_labels=["bug"])
    for labels in [["bug"], ["other"], ["bug"], ["other"], ["bug"]]:
        label_item(queue_project, annotator, labels, rng=GOLD_NOW)
    assert stats_of(queue_project, annotator) == (5, 3, True)
    label_item(queue_project, annotator, ["bug"], rng=GOLD_NOW)
    label_item(queue_project, annotator, ["bug"], rng=GOLD_NOW)  # 5/7 >= 0.7
    assert stats_of(queue_project, annotator) == (7, 5, False)
    assert AnnotatorStats.objects.get(annotator=annotator).last_passing_at is not None
