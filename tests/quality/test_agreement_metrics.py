"""Agreement metrics: known values of each statistic, the project snapshot,
and the API that serves it without computing in the request."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from labelops.annotation.models import AgreementSnapshot, Recompute, RecomputeKind
from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
from labelops.quality.services import metrics, schedule
from labelops.quality.tasks import refresh_agreement
from tests.annotation.conftest import Always, label_item, make_items, set_rules
from tests.conftest import filesystem_broker_options

pytestmark = pytest.mark.django_db


# --- known values ------------------------------------------------------------------


def test_fleiss_kappa_by_hand():
    # P_u = 1, 1, 0 -> P = 2/3; p = (1/2, 1/2) -> P_e = 1/2; kappa = 1/3
    assert metrics.fleiss_kappa(np.array([[2, 0], [0, 2], [1, 1]])) == pytest.approx(1 / 3, abs=1e-6)
    assert metrics.fleiss_kappa(np.array([[1, 0]])) is None  # nothing pairable
    assert metrics.fleiss_kappa(np.array([[2, 0], [3, 0]])) is None  # one category: undefined


def test_krippendorff_alpha_matches_the_reference_example():
    nan = np.nan
    data = [[nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
            [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
            [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4]]
    counts = np.array([[sum(1 for rater in data if rater[u] == v) for v in (1, 2, 3, 4)] for u in range(15)])
    # The reference values are those of Krippendorff (2011) and of the `krippendorff` package's docs.
    assert metrics.alpha(counts, None) == pytest.approx(0.691358, abs=1e-6)
    # The all-or-nothing distance is the nominal one.
    assert metrics.alpha(counts, 1 - np.eye(4)) == pytest.approx(0.691358, abs=1e-6)
    # A distance matrix is used as given: squared differences are the interval metric.
    squared = np.subtract.outer(np.arange(4), np.arange(4)) ** 2.0
    assert metrics.alpha(counts, squared) == pytest.approx(0.810845, abs=1e-6)


def test_cohen_kappa_by_hand():
    units = [{1: 0, 2: 0}, {1: 1, 2: 1}, {1: 0, 2: 1}, {1: 1, 2: 1}, {1: 0}]
    # p_o = 3/4; marginals (2, 2) and (1, 3): p_e = (2 + 6) / 16 = 1/2; kappa = 1/2
    assert metrics.pair_kappas(units) == [
        {"annotators": [1, 2], "units": 4, "observed_agreement": 0.75, "cohen_kappa": 0.5}]


# --- the project snapshot ------------------------------------------------------------


@pytest.fixture
def labelled(project, lead, annotator, annotator2):
    """Six items, each labelled by both annotators; they disagree on two."""
    set_rules(project, lead, overlap=2, review_disputed=False, review_low_agreement=False)
    make_items(project, 6)
    for first, second in [("bug", "bug"), ("billing", "billing"), ("other", "other"), ("bug", "bug"),
                          ("billing", "bug"), ("other", "billing")]:
        label_item(project, annotator, [first])
        label_item(project, annotator2, [second])
    return project


def test_project_metrics(labelled, annotator, annotator2):
    result, last_id = metrics.compute_metrics(labelled)
    assert (result["units"], result["items"], result["annotations"]) == (6, 6, 12)
    [pair] = result["pairs"]
    assert pair["annotators"] == [annotator.pk, annotator2.pk] and pair["observed_agreement"] == pytest.approx(4 / 6)
    assert -1 <= result["fleiss_kappa"] <= 1 and result["krippendorff_alpha"] is not None
    # A flat taxonomy gives no partial credit: both alphas agree.
    assert result["krippendorff_alpha_taxonomy"] == result["krippendorff_alpha"]
    low, high = result["bootstrap"]["fleiss_kappa"]
    assert low <= result["fleiss_kappa"] <= high
    assert result["bootstrap"]["resamples"] == metrics.BOOTSTRAP_RESAMPLES
    assert [row["label"] for row in result["per_label"]] == ["billing", "bug", "other"]
    assert metrics.compute_metrics(labelled) == (result, last_id)  # seeded: the same every time


def test_gold_accuracy_is_reported(queue_project, lead, annotator):
    set_rules(queue_project, lead, overlap=1, gold_ratio=0.5)
    make_items(queue_project, 2, split="gold", gold_labels=["bug"])
    label_item(queue_project, annotator, ["bug"], rng=Always(-100.0))
    label_item(queue_project, annotator, ["other"], rng=Always(-100.0))
    result, _ = metrics.compute_metrics(queue_project)
    assert result["gold_accuracy"] == [{"annotator": annotator.pk, "username": "annotator", "gold_seen": 2,
                                        "gold_correct": 1, "gold_accuracy": 0.5, "below_minimum": False}]


# --- the API -------------------------------------------------------------------------


@pytest.fixture
def broker(use_broker, tmp_path):
    options = filesystem_broker_options(tmp_path)
    use_broker("filesystem://", options)
    return Path(options["data_folder_in"])


def queued_tasks(queue: Path) -> list[str]:
    return [json.loads(path.read_text())["headers"]["task"] for path in sorted(queue.iterdir())]


def url(project):
    return f"/api/v1/projects/{project.pk}/agreement/"


def test_the_snapshot_is_served_and_refreshed_by_a_task(labelled, api, reviewer, annotator, broker, monkeypatch):
    client = api(reviewer)
    first = client.get(url(labelled)).json()
    assert (first["computed_at"], first["pending_annotations"], first["refresh_queued"]) == (None, 12, True)
    assert queued_tasks(broker) == ["labelops.quality.tasks.refresh_agreement"]
    assert client.get(url(labelled)).json()["refresh_queued"] is False  # queued once, not per request

    refresh_agreement(labelled.pk)
    refresh_agreement(labelled.pk)  # safe twice
    body = client.get(url(labelled)).json()
    assert body["computed_at"] is not None and body["pending_annotations"] == 0 and not body["refresh_queued"]
    assert body["metrics"]["units"] == 6 and len(body["metrics"]["pairs"]) == 1

    # New annotations are pending until there are enough of them for a refresh.
    policy = schedule.POLICIES[RecomputeKind.AGREEMENT]
    monkeypatch.setitem(schedule.POLICIES, RecomputeKind.AGREEMENT, dataclasses.replace(policy, every=2))
    make_items(labelled, 1)
    label_item(labelled, annotator, ["bug"])
    assert client.get(url(labelled)).json()["pending_annotations"] == 1
    assert len(queued_tasks(broker)) == 1
    refresh_agreement(labelled.pk)
    assert Recompute.objects.get(project=labelled, kind=RecomputeKind.AGREEMENT).queued_at is None


def test_annotators_get_403_and_outsiders_404(labelled, api, annotator, outsider, broker):
    assert api(annotator).get(url(labelled)).status_code == 403
    assert api(outsider).get(url(labelled)).status_code == 404
    assert queued_tasks(broker) == []


def test_a_project_that_is_gone_is_skipped(db):
    refresh_agreement(10**9)
    assert not AgreementSnapshot.objects.exists()


def test_taxonomy_alpha_gives_siblings_partial_credit(tree_project, lead, annotator, annotator2):
    set_rules(tree_project, lead, overlap=2, review_disputed=False, review_low_agreement=False)
    make_items(tree_project, 6)
    for first, second in [("card", "card"), ("transfer", "transfer"), ("login", "login"),
                          ("profile", "profile"), ("card", "transfer"), ("login", "profile")]:
        label_item(tree_project, annotator, [first])
        label_item(tree_project, annotator2, [second])
    result, _ = metrics.compute_metrics(tree_project)
    # Both disagreements are between siblings: half a disagreement each.
    assert result["krippendorff_alpha_taxonomy"] > result["krippendorff_alpha"]


def test_multi_label_units_are_item_label_pairs(db, lead, annotator, annotator2):
    from labelops.projects import services as project_services

    project = project_services.create_project(actor=lead, name="Multi", task="multi_label")
    create_taxonomy_version(actor=lead, project=project, labels=[{"key": "a"}, {"key": "b"}])
    for user in (annotator, annotator2):
        project_services.add_member(actor=lead, project=project, user=user, role="annotator")
    set_rules(project, lead, overlap=2, review_disputed=False, review_low_agreement=False)
    make_items(project, 3)
    for first, second in [(["a"], ["a"]), (["a", "b"], ["a"]), (["b"], ["b"])]:
        label_item(project, annotator, first)
        label_item(project, annotator2, second)
    result, _ = metrics.compute_metrics(project)
    assert (result["units"], result["krippendorff_alpha_taxonomy"]) == (6, None)
    assert [(row["label"], row["chosen"]) for row in result["per_label"]] == [("a", 4), ("b", 3)]
    assert result["pairs"][0]["observed_agreement"] == pytest.approx(5 / 6)
