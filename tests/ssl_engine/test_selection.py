"""Choosing the round's proposer by cross-validation on the approved labels only."""

import faiss
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from ssl_engine.index import VectorIndex
from ssl_engine.proposals.propagation import normalised_knn_graph
from ssl_engine.proposals.selection import CANDIDATES, assign_folds, select_proposer
from ssl_engine.proposals.zero_shot import TaxonomyZeroShot

faiss.omp_set_num_threads(1)


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    with threadpool_limits(limits=1):
        yield


CLASSES = np.array(["atm", "card", "refund", "transfer"], dtype=object)


def problem(seed=0, n_per_class=25, dim=12, noise=0.6):
    """Items around orthogonal class directions, a graph of them, and a prior from noisy descriptions."""
    rng = np.random.default_rng(seed)
    centres = 3.0 * np.eye(CLASSES.size, dim)
    codes = np.repeat(np.arange(CLASSES.size), n_per_class)
    x = centres[codes] + noise * rng.normal(size=(codes.size, dim))
    y = CLASSES[codes].astype(object)
    prior = TaxonomyZeroShot().fit(centres + 0.5 * rng.normal(size=centres.shape), CLASSES)
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    graph = normalised_knn_graph(VectorIndex(metric="cosine").fit(x32), x32, 5)
    return x, y, prior, graph


def label_mask(y, per_class, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.zeros(y.size, dtype=bool)
    for label, count in per_class.items():
        mask[rng.choice(np.flatnonzero(y == label), count, replace=False)] = True
    return mask


def test_rows_outside_labelled_can_never_change_the_choice_scores_or_probabilities():
    x, y, prior, graph = problem()
    labelled = label_mask(y, {c: 8 for c in CLASSES})
    first = select_proposer(x, labelled, y, prior=prior, graph=graph, random_state=0)
    scrambled = y.copy()
    scrambled[~labelled] = np.random.default_rng(1).permutation(scrambled[~labelled])
    scrambled[np.flatnonzero(~labelled)[:5]] = "not even a class"
    second = select_proposer(x, labelled, scrambled, prior=prior, graph=graph, random_state=0)
    assert first.rule == "cross-validation"
    assert (first.chosen, first.scores, first.temperatures) == (second.chosen, second.scores, second.temperatures)
    np.testing.assert_array_equal(first.fit_predict(x, labelled, y, prior=prior, graph=graph),
                                  second.fit_predict(x, labelled, scrambled, prior=prior, graph=graph))


def test_selection_scores_every_candidate_and_returns_calibrated_probabilities_for_every_row():
    x, y, prior, graph = problem()
    labelled = label_mask(y, {c: 8 for c in CLASSES})
    selection = select_proposer(x, labelled, y, prior=prior, graph=graph, random_state=0)
    assert set(selection.scores) == set(CANDIDATES)
    for score in selection.scores.values():
        assert score["rows_scored"] == 32 and score["folds"] == 5
        assert 0 <= score["accuracy"] <= 1 and score["log_loss"] >= 0
    best = max(s["accuracy"] for s in selection.scores.values())
    assert selection.scores[selection.chosen]["accuracy"] == best
    probs = selection.fit_predict(x, labelled, y, prior=prior, graph=graph)
    assert probs.shape == (y.size, CLASSES.size)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert (selection.classes[probs.argmax(axis=1)] == y).mean() > 0.9


def test_selection_is_deterministic():
    x, y, prior, graph = problem()
    labelled = label_mask(y, {c: 6 for c in CLASSES})
    a = select_proposer(x, labelled, y, prior=prior, graph=graph, random_state=3)
    b = select_proposer(x, labelled, y, prior=prior, graph=graph, random_state=3)
    assert (a.chosen, a.scores, a.temperatures) == (b.chosen, b.scores, b.temperatures)


@pytest.mark.parametrize("per_class", [
    {"atm": 1, "card": 1, "refund": 1, "transfer": 1},  # every class a singleton: nothing can be held out
    {"atm": 1, "card": 1, "refund": 9, "transfer": 9},  # some singletons
    {"atm": 1, "card": 12},                             # classes with no label yet (the prior knows them)
])
def test_singletons_and_unlabelled_classes_never_crash(per_class):
    x, y, prior, graph = problem()
    labelled = label_mask(y, per_class)
    for use_prior in (True, False):
        p = prior if use_prior else None
        selection = select_proposer(x, labelled, y, prior=p, graph=graph, random_state=0)
        probs = selection.fit_predict(x, labelled, y, prior=p, graph=graph)
        assert probs.shape == (y.size, selection.classes.size)
        assert np.isfinite(probs).all()
        np.testing.assert_allclose(probs.sum(axis=1), 1.0)
        assert selection.rule == "few labels: default"
        assert selection.chosen == ("spreading" if use_prior else "head")
    assert selection.classes.size == len(per_class)  # without a prior, only the labelled classes


def test_singleton_classes_are_never_held_out_and_others_spread_over_folds():
    codes = np.array([0, 1, 1, 2, 2, 2, 2, 2, 3])
    folds = assign_folds(codes, cv=5, random_state=0)
    assert folds[0] == -1 and folds[8] == -1
    assert folds[1] != folds[2]
    assert len(set(folds[3:8].tolist())) == 5


def test_no_labels_is_the_transductive_zero_shot_or_the_prior_alone():
    x, y, prior, graph = problem()
    nothing = np.zeros(y.size, dtype=bool)
    selection = select_proposer(x, nothing, y, prior=prior, graph=graph)
    assert (selection.chosen, selection.rule) == ("spreading", "no labels: zero-shot")
    probs = selection.fit_predict(x, nothing, y, prior=prior, graph=graph)
    assert (selection.classes[probs.argmax(axis=1)] == y).mean() > 0.8
    assert select_proposer(x, nothing, y, prior=prior).chosen == "zero_shot"
    with pytest.raises(ValueError, match="need a prior or labels"):
        select_proposer(x, nothing, y, graph=graph)


def test_multilabel_falls_back_to_the_head():
    x, y, prior, graph = problem()
    labelled = label_mask(y, {c: 8 for c in CLASSES})
    y_multi = [[label, "urgent"] if i % 3 == 0 else [label] for i, label in enumerate(y)]
    selection = select_proposer(x, labelled, y_multi, prior=prior, graph=graph)
    assert (selection.chosen, selection.rule) == ("head", "multi-label: head")
    probs = selection.fit_predict(x, labelled, y_multi, prior=prior, graph=graph)
    assert probs.shape == (y.size, CLASSES.size + 1)
    assert selection.classes.tolist() == sorted([*CLASSES, "urgent"])


def test_bad_arguments_raise():
    x, y, prior, graph = problem()
    labelled = label_mask(y, {c: 3 for c in CLASSES})
    with pytest.raises(ValueError, match="candidates"):
        select_proposer(x, labelled, y, candidates=("magic",))
    with pytest.raises(ValueError, match="bool mask"):
        select_proposer(x, labelled.astype(int), y)
    with pytest.raises(ValueError, match="cv"):
        select_proposer(x, labelled, y, cv=1)
    with pytest.raises(ValueError, match="no candidate"):
        select_proposer(x, labelled, y, candidates=("spreading",))


def test_a_label_the_taxonomy_lacks_gets_a_column_and_the_prior_ones_keep_theirs():
    x, y, _, graph = problem()
    rng = np.random.default_rng(0)
    # the prior knows three classes; "transfer" was added after the taxonomy was embedded
    prior = TaxonomyZeroShot().fit(3.0 * np.eye(3, x.shape[1]) + 0.1 * rng.normal(size=(3, x.shape[1])),
                                   CLASSES[:3])
    labelled = label_mask(y, {c: 8 for c in CLASSES})
    selection = select_proposer(x, labelled, y, prior=prior, graph=graph, random_state=0)
    assert selection.classes.tolist() == CLASSES.tolist()
    probs = selection.fit_predict(x, labelled, y, prior=prior, graph=graph)
    assert np.isfinite(probs).all() and probs.shape == (y.size, 4)
    assert (selection.classes[probs.argmax(axis=1)] == y).mean() > 0.8


def test_the_out_of_fold_outcomes_cover_the_held_out_rows_and_match_the_scores():
    from ssl_engine.proposals.selection import select_proposer

    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, 8)) * 3
    y = np.repeat(np.array(["a", "b", "c"], dtype=object), 30)
    X = centres[np.searchsorted(["a", "b", "c"], y)] + rng.normal(size=(90, 8))
    labelled = np.zeros(90, dtype=bool)
    labelled[::2] = True
    selection = select_proposer(X, labelled, y, candidates=("head",), random_state=0)
    assert set(selection.held_out_rows) <= set(np.flatnonzero(labelled))
    assert (selection.held_out_labels == y[selection.held_out_rows]).all()
    right = selection.right_out_of_fold()
    assert right.shape == selection.held_out_rows.shape
    assert right.mean() == pytest.approx(selection.scores["head"]["accuracy"])
