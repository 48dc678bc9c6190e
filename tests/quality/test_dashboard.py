"""The lead dashboard: /projects/<id>/dashboard/.

Progress by split and state, the annotator table (throughput, median time,
gold accuracy, proposal acceptance), the agreement snapshot as the agreement
endpoint serves it, the learning curve from finished rounds (with intervals
and whether each point is meaningful), the serving model, who may read it,
and a query count that does not grow with the project."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from labelops.annotation.models import Annotation
from labelops.annotation.services import next_item, submit
from labelops.items.models import ItemState, Split
from labelops.learning.models import ModelVersion, RoundState, TrainingRound
from labelops.quality.tasks import refresh_agreement
from tests.annotation.conftest import Always, import_proposal, label_item, make_items, set_rules
from tests.conftest import filesystem_broker_options

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(use_broker, tmp_path):
    """A private filesystem broker: the agreement refresh the dashboard may queue lands here."""
    options = filesystem_broker_options(tmp_path)
    use_broker("filesystem://", options)
    return Path(options["data_folder_in"])


def url(project):
    return f"/api/v1/projects/{project.pk}/dashboard/"


def answer(project, user, labels, *, ms=None, from_proposal=False, rng=None):
    claim = next_item(project=project, annotator=user, rng=rng)
    assert claim is not None
    return submit(lease_id=claim.lease.pk, annotator=user, labels=labels, time_spent_ms=ms, from_proposal=from_proposal)


def row_of(body, user):
    [row] = [row for row in body["annotators"] if row["annotator"] == user.pk]
    return row


def test_progress_counts_items_by_split_and_state(project, api, lead, broker):
    make_items(project, 3)  # unlabelled
    make_items(project, 2, state=ItemState.IN_PROGRESS)
    make_items(project, 1, state=ItemState.LABELLED)
    make_items(project, 2, state=ItemState.IN_REVIEW)
    make_items(project, 4, state=ItemState.APPROVED)
    make_items(project, 2, split=Split.HOLDOUT, state=ItemState.APPROVED)
    make_items(project, 1, split=Split.HOLDOUT)
    make_items(project, 5, split=Split.GOLD)

    response = api(lead).get(url(project))
    assert response.status_code == 200, response.content
    progress = response.json()["progress"]
    assert progress["pool"] == {"total": 12, "labelled": 7, "approved": 4, "in_review": 2, "in_progress": 2,
                                "remaining": 5}
    assert progress["holdout"] == {"total": 3, "labelled": 2, "approved": 2, "in_review": 0, "in_progress": 0,
                                   "remaining": 1}
    assert progress["gold"]["total"] == 5 and progress["gold"]["approved"] == 5
    # The labelling work: pool and holdout, never the known gold answers.
    assert progress["labelling"] == {"total": 15, "labelled": 9, "approved": 6, "in_review": 2, "in_progress": 2,
                                     "remaining": 6}


def test_the_annotator_table(project, api, lead, reviewer, annotator, annotator2, broker):
    set_rules(project, lead, overlap=2)
    items = make_items(project, 4)
    for item in items[:3]:
        import_proposal(item, ["bug"], confidence=0.9)
    # annotator: accepts, edits, ignores a proposal, then one without a proposal.
    answer(project, annotator, ["bug"], ms=1000, from_proposal=True)
    answer(project, annotator, ["billing"], ms=4000, from_proposal=True)
    answer(project, annotator, ["other"], ms=2000)
    old = answer(project, annotator, ["other"], ms=None)
    Annotation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    # annotator2: accepts twice; times 300 and 500.
    answer(project, annotator2, ["bug"], ms=300, from_proposal=True)
    answer(project, annotator2, ["bug"], ms=500, from_proposal=True)

    body = api(reviewer).get(url(project)).json()
    first = row_of(body, annotator)
    assert (first["username"], first["annotations"], first["last_24h"]) == ("annotator", 4, 3)
    assert first["median_time_ms"] == 2000  # of 1000, 2000, 4000; the untimed one is left out
    assert first["by_source"] == {"manual": 2, "proposal_accepted": 1, "proposal_edited": 1, "cluster_bulk": 0,
                                  "imported": 0}
    assert first["shown_proposal"] == 3  # the item with no proposal is not counted
    assert first["acceptance_rate"] == pytest.approx(1 / 3)
    second = row_of(body, annotator2)
    assert (second["annotations"], second["median_time_ms"], second["acceptance_rate"]) == (2, 400, 1.0)
    assert (second["gold_seen"], second["gold_accuracy"]) == (0, None)
    # The reviewer and the lead did no labelling and are not annotators: not listed.
    assert [row["username"] for row in body["annotators"]] == ["annotator", "annotator2"]


def test_gold_accuracy_and_members_without_work(project, api, lead, annotator, annotator2, broker):
    set_rules(project, lead, overlap=1, gold_ratio=0.5)
    make_items(project, 2, split=Split.GOLD, gold_labels=["bug"])
    label_item(project, annotator, ["bug"], rng=Always(-100.0))
    label_item(project, annotator, ["other"], rng=Always(-100.0))

    body = api(lead).get(url(project)).json()
    first = row_of(body, annotator)
    assert (first["gold_seen"], first["gold_correct"], first["gold_accuracy"]) == (2, 1, 0.5)
    assert first["below_gold_minimum"] is False
    idle = row_of(body, annotator2)
    assert (idle["annotations"], idle["median_time_ms"], idle["acceptance_rate"]) == (0, None, None)


def test_agreement_is_the_stored_snapshot(project, api, lead, reviewer, annotator, annotator2, broker):
    set_rules(project, lead, overlap=2)
    make_items(project, 3)
    for first, second in [("bug", "bug"), ("billing", "billing"), ("other", "bug")]:
        label_item(project, annotator, [first])
        label_item(project, annotator2, [second])

    before = api(reviewer).get(url(project)).json()["agreement"]
    assert (before["computed_at"], before["pending_annotations"], before["refresh_queued"]) == (None, 6, True)
    assert len(list(broker.iterdir())) == 1  # the refresh was queued, not computed in the request

    refresh_agreement(project.pk)
    dashboard = api(reviewer).get(url(project)).json()["agreement"]
    agreement = api(reviewer).get(f"/api/v1/projects/{project.pk}/agreement/").json()
    assert dashboard == agreement
    assert dashboard["metrics"]["units"] == 3 and dashboard["metrics"]["fleiss_kappa"] is not None
    assert dashboard["metrics"]["bootstrap"]["fleiss_kappa"] is not None


def test_the_learning_curve_has_the_evaluated_finished_rounds(project, api, lead, broker):
    def holdout(labels, accuracy, f1):
        return {"holdout": {"evaluated": True, "items": 12, "train_labels": labels, "accuracy": accuracy,
                            "macro_f1": f1, "ece": 0.1}}

    now = timezone.now()
    TrainingRound.objects.create(project=project, number=1, state=RoundState.DONE, finished_at=now,
                                 metrics={"holdout": {"evaluated": False, "reason": "no model in a cold-start round"}})
    TrainingRound.objects.create(project=project, number=2, state=RoundState.DONE, finished_at=now,
                                 metrics=holdout(20, 0.55, 0.5))
    TrainingRound.objects.create(project=project, number=3, state=RoundState.FAILED, finished_at=now,
                                 metrics=holdout(30, 0.1, 0.1))
    TrainingRound.objects.create(project=project, number=4, state=RoundState.DONE, finished_at=now,
                                 metrics=holdout(40, 0.75, 0.7))
    TrainingRound.objects.create(project=project, number=5, state=RoundState.TRAINING, metrics={})

    curve = api(lead).get(url(project)).json()["learning_curve"]
    assert [(p["round"], p["train_labels"], p["accuracy"], p["macro_f1"], p["holdout_items"]) for p in curve] == [
        (2, 20, 0.55, 0.5, 12), (4, 40, 0.75, 0.7, 12)]


def test_a_multi_label_round_reports_subset_accuracy(project, api, lead, broker):
    TrainingRound.objects.create(project=project, number=1, state=RoundState.DONE, metrics={"holdout": {
        "evaluated": True, "items": 5, "subset_accuracy": 0.4, "macro_f1": 0.6, "train_labels": 9}})
    [point] = api(lead).get(url(project)).json()["learning_curve"]
    assert (point["accuracy"], point["macro_f1"], point["train_labels"]) == (0.4, 0.6, 9)


def evaluated(items, *, accuracy=0.782, labels=120, **extra):
    return {"evaluated": True, "items": items, "train_labels": labels, "accuracy": accuracy,
            "accuracy_ci": [0.74, 0.821], "macro_f1": 0.7, "macro_f1_ci": [0.65, 0.75],
            "meaningful": items >= 30, "min_items": 30, "confidence": 0.95, "ece": 0.05, "per_class": {}, **extra}


def test_curve_points_carry_their_intervals_and_whether_they_mean_anything(project, api, lead, broker):
    TrainingRound.objects.create(project=project, number=1, state=RoundState.DONE, metrics={"holdout": {
        "evaluated": True, "items": 12, "accuracy": 0.5, "macro_f1": 0.4, "train_labels": 9}})  # before intervals
    TrainingRound.objects.create(project=project, number=2, state=RoundState.DONE,
                                 metrics={"holdout": evaluated(12, labels=40)})
    TrainingRound.objects.create(project=project, number=3, state=RoundState.DONE,
                                 metrics={"holdout": evaluated(412, labels=300)})
    TrainingRound.objects.create(project=project, number=4, state=RoundState.DONE, metrics={"holdout": {
        "evaluated": True, "items": 40, "subset_accuracy": 0.4, "subset_accuracy_ci": [0.3, 0.5], "macro_f1": 0.6,
        "train_labels": 500, "meaningful": True, "min_items": 30}})

    curve = api(lead).get(url(project)).json()["learning_curve"]
    old, few, many, multi = curve
    assert (old["accuracy_ci"], old["macro_f1_ci"], old["meaningful"], old["min_items"]) == (None, None, None, None)
    assert (few["holdout_items"], few["meaningful"], few["min_items"]) == (12, False, 30)
    assert (many["accuracy_ci"], many["macro_f1_ci"], many["meaningful"]) == ([0.74, 0.821], [0.65, 0.75], True)
    assert (multi["accuracy"], multi["accuracy_ci"], multi["macro_f1_ci"]) == (0.4, [0.3, 0.5], None)


def test_no_serving_model_before_the_first(project, api, lead, broker):
    TrainingRound.objects.create(project=project, number=1, state=RoundState.DONE,
                                 metrics={"holdout": evaluated(40)})
    assert api(lead).get(url(project)).json()["serving"] is None


def test_the_serving_model_says_which_proposer_serves_and_why(project, api, lead, broker):
    proposer = {"chosen": "spreading", "reason": "best cross-validated accuracy", "labels": 120, "candidates": {
        "zero_shot": {"accuracy": 0.61, "log_loss": 1.2, "rows": 120},
        "head": {"accuracy": 0.74, "log_loss": 0.81, "rows": 120},
        "spreading": {"accuracy": 0.78, "log_loss": 0.7, "rows": 120},
        "ensemble": {"accuracy": 0.78, "log_loss": 0.65, "rows": 120},
        "knn": {"accuracy": None, "log_loss": None, "rows": 0},
    }}
    older = TrainingRound.objects.create(project=project, number=1, state=RoundState.DONE,
                                         metrics={"holdout": evaluated(20)})
    active = TrainingRound.objects.create(project=project, number=2, state=RoundState.DONE,
                                          metrics={"holdout": evaluated(412), "proposer": proposer})
    ModelVersion.objects.create(project=project, round=older, is_active=False)
    ModelVersion.objects.create(project=project, round=active, is_active=True)

    serving = api(lead).get(url(project)).json()["serving"]
    assert (serving["round"], serving["proposer"], serving["reason"], serving["labels"]) == (
        2, "spreading", "best cross-validated accuracy", 120)
    # Best first: accuracy, then log-loss breaks the tie; a candidate without scores last.
    assert [c["name"] for c in serving["candidates"]] == ["ensemble", "spreading", "head", "zero_shot", "knn"]
    assert serving["candidates"][1] == {"name": "spreading", "accuracy": 0.78, "log_loss": 0.7, "rows": 120}
    assert serving["candidates"][-1] == {"name": "knn", "accuracy": None, "log_loss": None, "rows": 0}
    assert serving["holdout"] == {
        "evaluated": True, "reason": "", "items": 412, "metric": "accuracy", "accuracy": 0.782,
        "accuracy_ci": [0.74, 0.821], "macro_f1": 0.7, "macro_f1_ci": [0.65, 0.75], "meaningful": True,
        "min_items": 30, "confidence": 0.95}


def test_a_serving_model_from_before_proposers_and_intervals(project, api, lead, broker):
    old = TrainingRound.objects.create(project=project, number=1, state=RoundState.DONE, metrics={"holdout": {
        "evaluated": True, "items": 12, "accuracy": 0.5, "macro_f1": 0.4, "train_labels": 9}})
    ModelVersion.objects.create(project=project, round=old, is_active=True)
    serving = api(lead).get(url(project)).json()["serving"]
    assert (serving["proposer"], serving["reason"], serving["labels"], serving["candidates"]) == (None, "", None, [])
    holdout = serving["holdout"]
    assert (holdout["accuracy"], holdout["items"], holdout["accuracy_ci"], holdout["meaningful"]) == (0.5, 12, None, None)


def test_a_serving_model_not_evaluated_on_the_holdout(project, api, lead, broker):
    bare = TrainingRound.objects.create(project=project, number=1, state=RoundState.DONE, metrics={
        "holdout": {"evaluated": False, "reason": "no approved holdout labels yet", "items": 0},
        "proposer": {"chosen": "zero_shot", "reason": "no labels yet: the taxonomy's descriptions",
                     "candidates": {}}})
    ModelVersion.objects.create(project=project, round=bare, is_active=True)
    serving = api(lead).get(url(project)).json()["serving"]
    assert (serving["proposer"], serving["candidates"]) == ("zero_shot", [])
    assert serving["holdout"]["evaluated"] is False
    assert serving["holdout"]["reason"] == "no approved holdout labels yet"
    assert (serving["holdout"]["items"], serving["holdout"]["accuracy"], serving["holdout"]["meaningful"]) == (
        0, None, None)

    bare.metrics = {}  # a round with no holdout record at all
    bare.save()
    assert api(lead).get(url(project)).json()["serving"]["holdout"] is None


def test_annotators_get_403_and_outsiders_404(project, api, annotator, outsider, broker):
    response = api(annotator).get(url(project))
    assert response.status_code == 403 and "reviewer role" in response.json()["detail"]
    assert api(outsider).get(url(project)).status_code == 404
    assert api().get(url(project)).status_code in (401, 403)
    assert list(broker.iterdir()) == []  # refused before anything was queued


def test_the_query_count_does_not_grow_with_the_project(project, api, lead, annotator, annotator2, make_user,
                                                        broker):
    set_rules(project, lead, overlap=2)
    client = api(lead)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url(project)).status_code == 200
        return len(captured)

    make_items(project, 2)
    for user in (annotator, annotator2):
        answer(project, user, ["bug"], ms=100)
    first = TrainingRound.objects.create(project=project, number=1, state=RoundState.DONE, metrics={"holdout": {
        "evaluated": True, "items": 5, "accuracy": 0.4, "macro_f1": 0.6, "train_labels": 9}})
    ModelVersion.objects.create(project=project, round=first, is_active=True)
    client.get(url(project))  # the snapshot row exists from here on, and the refresh is queued
    small = queries()

    extra = [make_user(f"annotator{n}") for n in (3, 4, 5)]
    from labelops.projects import services as project_services

    for user in extra:
        project_services.add_member(actor=lead, project=project, user=user, role="annotator")
    make_items(project, 6)
    for user in (annotator, annotator2, *extra):
        for _ in range(2):
            answer(project, user, ["billing"], ms=200)
    for number in (2, 3, 4):
        TrainingRound.objects.create(project=project, number=number, state=RoundState.DONE, metrics={"holdout": {
            "evaluated": True, "items": 5, "accuracy": 0.5, "macro_f1": 0.6, "train_labels": 9 * number}})
    assert queries() == small
