"""Active-learning strategies: shared invariants, then each strategy's known behaviour."""

import doctest
import importlib
import subprocess
import sys

import faiss
import numpy as np
import pytest

import ssl_engine.active
from ssl_engine.active import (
    STRATEGIES,
    auto,
    cluster_margin,
    entropy,
    get_strategy,
    kcenter,
    least_confidence,
    margin,
    probcover,
    random_sampling,
    strategy_info,
    typiclust,
)

# Arrays here are tiny: OpenMP start-up and spin-waiting on a busy 2-core
# machine cost far more than a second thread saves.
faiss.omp_set_num_threads(1)

N_CLASSES = 3


def make_pool(n, d=6, n_labelled=0, seed=0, multilabel=False):
    """Probabilities, embeddings and a labelled mask for a pool of n items in 3 blobs."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(N_CLASSES, d))
    truth = rng.integers(0, N_CLASSES, size=n)
    embeddings = centres[truth] + rng.normal(size=(n, d))
    logits = rng.normal(size=(n, N_CLASSES))
    if multilabel:
        probs = 1.0 / (1.0 + np.exp(-logits))
    else:
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, n_labelled, replace=False)] = True
    return probs, embeddings, mask


def run(name, probs, embeddings, mask, batch_size, random_state=0, **context):
    return get_strategy(name)(probs=probs, embeddings=embeddings, labelled_mask=mask,
                              batch_size=batch_size, random_state=random_state, **context)


# -- invariants every strategy keeps -------------------------------------------------------

POOLS = [
    # (n, n_labelled, batch_size)
    (12, 0, 4),       # cold start
    (40, 5, 10),
    (60, 20, 15),     # auto switches to cluster_margin here (20 >= 5 * 3)
    (9, 6, 5),        # batch larger than what is left
    (7, 7, 3),        # nothing left to label
]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@pytest.mark.parametrize("n,n_labelled,batch_size", POOLS)
def test_every_strategy_keeps_the_contract(name, n, n_labelled, batch_size):
    probs, embeddings, mask = make_pool(n, n_labelled=n_labelled)
    picks = run(name, probs, embeddings, mask, batch_size)

    assert picks.dtype == np.int64 and picks.ndim == 1
    assert len(picks) == min(batch_size, n - n_labelled)
    assert len(set(picks.tolist())) == len(picks)
    assert ((picks >= 0) & (picks < n)).all()
    assert not mask[picks].any()


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_is_deterministic_under_random_state(name):
    probs, embeddings, mask = make_pool(50, n_labelled=4, seed=1)
    first = run(name, probs, embeddings, mask, 8, random_state=7)
    second = run(name, probs, embeddings, mask, 8, random_state=7)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_accepts_multilabel_probs(name):
    probs, embeddings, mask = make_pool(30, n_labelled=16, multilabel=True)
    picks = run(name, probs, embeddings, mask, 5, multilabel=True)
    assert len(picks) == 5 and not mask[picks].any()


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_ignores_context_it_does_not_use(name):
    probs, embeddings, mask = make_pool(20, n_labelled=2)
    picks = run(name, probs, embeddings, mask, 3, some_other_strategys_knob=1)
    assert len(picks) == 3


# -- the registry --------------------------------------------------------------------------

def test_the_registry_maps_each_name_to_its_modules_select():
    for name, info in STRATEGIES.items():
        assert info.name == name
        assert info.select is importlib.import_module(f"ssl_engine.active.{info.module}").select
        assert get_strategy(name) is info.select
    assert strategy_info("margin") is STRATEGIES["margin"]
    with pytest.raises(ValueError, match="unknown strategy 'bald'; choose one of"):
        strategy_info("bald")


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_the_registry_says_which_inputs_each_strategy_needs(name):
    info = STRATEGIES[name]
    probs, embeddings, mask = make_pool(40, n_labelled=2)
    # n_classes lets probcover choose its delta without probs.
    if info.needs_probs:
        with pytest.raises(ValueError, match="needs probs"):
            run(name, None, embeddings, mask, 3, n_classes=N_CLASSES)
    else:
        assert len(run(name, None, embeddings, mask, 3, n_classes=N_CLASSES)) == 3
    if info.needs_embeddings:
        with pytest.raises(ValueError, match="needs embeddings"):
            run(name, probs, None, mask, 3, n_classes=N_CLASSES)
    else:
        assert len(run(name, probs, None, mask, 3, n_classes=N_CLASSES)) == 3


def test_reading_the_registry_imports_no_numerical_library():
    # The web process reads the names (project settings) without loading the engine.
    code = ("import sys, ssl_engine.active as a; a.STRATEGIES['margin'].needs_probs; "
            "print(sorted(m for m in ('numpy', 'scipy', 'sklearn', 'faiss', 'torch') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# -- input checks ----------------------------------------------------------------------------

def test_bad_inputs_raise_clear_errors():
    probs, embeddings, mask = make_pool(10)
    with pytest.raises(TypeError, match="boolean"):
        run("margin", probs, None, np.zeros(10, dtype=int), 2)
    with pytest.raises(ValueError, match="needs probs"):
        run("margin", None, embeddings, mask, 2)
    with pytest.raises(ValueError, match="needs embeddings"):
        run("kcenter", probs, None, mask, 2)
    with pytest.raises(ValueError, match="logits"):
        run("entropy", probs * 5 - 2, None, mask, 2)
    with pytest.raises(ValueError, match="sum to 1"):
        run("entropy", probs * 0.5, None, mask, 2)
    with pytest.raises(ValueError, match="shape"):
        run("margin", probs[:5], None, mask, 2)
    with pytest.raises(ValueError, match="batch_size"):
        run("random", None, None, mask, 0)
    with pytest.raises(ValueError, match="NaN"):
        run("kcenter", None, np.full_like(embeddings, np.nan), mask, 2)
    with pytest.raises(ValueError, match="unknown strategy"):
        get_strategy("bald")


# -- uncertainty strategies: known values ------------------------------------------------------

def test_margin_picks_the_smallest_top2_gap():
    probs = np.array([[0.7, 0.2, 0.1], [0.45, 0.1, 0.45], [0.5, 0.3, 0.2], [0.4, 0.35, 0.25]])
    np.testing.assert_allclose(margin.margins(probs), [0.5, 0.0, 0.2, 0.05])
    picks = margin.select(probs=probs, embeddings=None, labelled_mask=np.zeros(4, bool),
                          batch_size=4, random_state=0)
    np.testing.assert_array_equal(picks, [1, 3, 2, 0])


def test_labelled_items_are_skipped_even_when_most_uncertain():
    probs = np.array([[0.5, 0.5], [0.9, 0.1], [0.6, 0.4]])
    picks = margin.select(probs=probs, embeddings=None, labelled_mask=np.array([True, False, False]),
                          batch_size=1, random_state=0)
    np.testing.assert_array_equal(picks, [2])


@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_entropy_of_a_uniform_row_is_log_c(n_classes):
    probs = np.full((2, n_classes), 1.0 / n_classes)
    np.testing.assert_allclose(entropy.uncertainty(probs), np.log(n_classes))


def test_entropy_of_a_one_hot_row_is_zero_and_ranks_flattest_first():
    probs = np.array([[1.0, 0.0, 0.0], [0.6, 0.2, 0.2], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(entropy.uncertainty(probs)[0], 0.0)
    picks = entropy.select(probs=probs, embeddings=None, labelled_mask=np.zeros(3, bool),
                           batch_size=3, random_state=0)
    np.testing.assert_array_equal(picks, [2, 1, 0])


def test_least_confidence_values():
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.5, 0.5]])
    np.testing.assert_allclose(least_confidence.uncertainty(probs), [0.1, 0.4, 0.5])


def test_multilabel_uncertainty_is_the_mean_over_labels():
    probs = np.array([[0.5, 0.5, 0.5], [1.0, 0.0, 0.5], [0.9, 0.1, 0.2]])
    np.testing.assert_allclose(entropy.uncertainty(probs, multilabel=True)[:2], [np.log(2), np.log(2) / 3])
    np.testing.assert_allclose(margin.margins(probs, multilabel=True), [0.0, 2 / 3, (0.8 + 0.8 + 0.6) / 3])
    np.testing.assert_allclose(least_confidence.uncertainty(probs, multilabel=True),
                               [0.5, 0.5 / 3, (0.1 + 0.1 + 0.2) / 3])


def test_ties_are_broken_at_random_not_by_position():
    probs = np.full((200, 2), 0.5)
    firsts = {int(margin.select(probs=probs, embeddings=None, labelled_mask=np.zeros(200, bool),
                                batch_size=1, random_state=seed)[0]) for seed in range(5)}
    assert len(firsts) > 1


# -- diversity and cold-start strategies --------------------------------------------------------

def test_kcenter_picks_the_farthest_point_first_on_a_line():
    x = np.array([[0.0], [1.0], [2.0], [10.0], [4.0]])
    picks = kcenter.select(probs=None, embeddings=x, labelled_mask=np.array([True, False, False, False, False]),
                           batch_size=3, random_state=0, metric="l2")
    # 10 is farthest from 0; then 4 (distance 4 to 0, 6 to 10); then 2 (distance 2 to 0 and 4).
    np.testing.assert_array_equal(picks, [3, 4, 2])


def test_kcenter_covers_every_blob_before_repeating_one():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [50, 0], [0, 50], [50, 50]])
    x = np.repeat(centres, 10, axis=0) + rng.normal(size=(40, 2))
    picks = kcenter.select(probs=None, embeddings=x, labelled_mask=np.zeros(40, bool),
                           batch_size=4, random_state=0, metric="l2")
    assert sorted(picks // 10) == [0, 1, 2, 3]


def test_typiclust_picks_cluster_centres_over_outliers():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [30.0, 0.0], [0.0, 30.0]])
    x = np.concatenate([np.repeat(centres, 40, axis=0) + rng.normal(size=(120, 2)),
                        rng.uniform(-60, 90, size=(6, 2))])  # 6 scattered outliers at the end
    picks = typiclust.select(probs=None, embeddings=x, labelled_mask=np.zeros(126, bool),
                             batch_size=3, random_state=0, metric="l2")
    assert (picks < 120).all()  # no outlier
    assert sorted(picks // 40) == [0, 1, 2]  # one per blob
    assert (np.linalg.norm(x[picks] - centres[picks // 40], axis=1) < 1.0).all()  # near the centre


def test_typiclust_prefers_clusters_without_labels():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 1, (30, 2)), rng.normal(20, 1, (30, 2))])
    mask = np.zeros(60, bool)
    mask[:3] = True  # the first blob is already covered
    picks = typiclust.select(probs=None, embeddings=x, labelled_mask=mask, batch_size=1,
                             random_state=0, metric="l2")
    assert picks[0] >= 30


def test_typicality_is_highest_in_the_dense_middle():
    x = np.array([[0.0], [0.1], [-0.1], [0.2], [-0.2], [5.0]])
    scores = typiclust.typicality(x, 2)
    assert np.argmax(scores) == 0 and np.argmin(scores) == 5


def test_probcover_greedy_matches_a_brute_force_coverage():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(150, 3)).astype(np.float32)
    mask = np.zeros(150, bool)
    mask[:4] = True
    delta = 0.8
    picks = probcover.select(probs=None, embeddings=x, labelled_mask=mask, batch_size=10,
                             random_state=0, metric="l2", delta=delta)

    ball = np.linalg.norm(x[:, None] - x[None], axis=-1) < delta  # (N, N)
    covered = ball[mask].any(axis=0)
    for pick in picks:
        gain = (ball & ~covered).sum(axis=1)
        gain[mask] = -1
        assert gain[pick] == gain.max()
        mask[pick] = True
        covered |= ball[pick]


def test_probcover_covers_the_largest_dense_region_first():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (60, 2)), rng.normal(20, 1, (20, 2))])
    picks = probcover.select(probs=None, embeddings=x, labelled_mask=np.zeros(80, bool),
                             batch_size=2, random_state=0, metric="l2", n_classes=2)
    assert picks[0] < 60 and picks[1] >= 60


def test_probcover_purity_delta_separates_blobs():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (50, 2)), rng.normal(10, 1, (50, 2))]).astype(np.float32)
    clusters = np.repeat([0, 1], 50)
    delta = probcover.purity_delta(x, clusters, purity_threshold=0.95, max_samples=1000,
                                   rng=np.random.RandomState(0))
    gaps = np.linalg.norm(x[:50, None] - x[None, 50:], axis=-1)
    assert 0 < delta <= gaps.min() * 1.5 and delta > 3  # within the gap, far larger than a blob's spacing


def test_probcover_needs_a_way_to_choose_delta():
    _, embeddings, mask = make_pool(10)
    with pytest.raises(ValueError, match="delta, n_classes or probs"):
        probcover.select(probs=None, embeddings=embeddings, labelled_mask=mask, batch_size=2, random_state=0)


def test_probcover_stops_on_too_many_edges():
    _, embeddings, mask = make_pool(30)
    with pytest.raises(ValueError, match="max_edges"):
        probcover.select(probs=None, embeddings=embeddings, labelled_mask=mask, batch_size=2,
                         random_state=0, delta=100.0, max_edges=50, metric="l2")


def test_cluster_margin_round_robins_across_clusters_by_margin():
    probs = np.array([[0.5, 0.5], [0.51, 0.49], [0.55, 0.45], [0.9, 0.1], [0.7, 0.3], [0.99, 0.01]])
    clusters = np.array([0, 0, 0, 1, 1, 1])
    picks = cluster_margin.select(probs=probs, embeddings=None, labelled_mask=np.zeros(6, bool),
                                  batch_size=4, random_state=0, clusters=clusters)
    # Cluster 0 holds the three most uncertain items, but the batch alternates.
    np.testing.assert_array_equal(picks, [0, 4, 1, 3])


def test_cluster_margin_visits_the_smallest_cluster_first():
    probs = np.array([[0.5, 0.5], [0.52, 0.48], [0.54, 0.46], [0.8, 0.2]])
    picks = cluster_margin.select(probs=probs, embeddings=None, labelled_mask=np.zeros(4, bool),
                                  batch_size=2, random_state=0, clusters=np.array([0, 0, 0, 1]))
    np.testing.assert_array_equal(picks, [3, 0])


def test_cluster_margin_only_considers_the_most_uncertain_candidates():
    probs = np.array([[0.5, 0.5], [0.51, 0.49], [0.99, 0.01]])
    picks = cluster_margin.select(probs=probs, embeddings=None, labelled_mask=np.zeros(3, bool), batch_size=2,
                                  random_state=0, clusters=np.array([0, 0, 1]), candidate_factor=1)
    np.testing.assert_array_equal(picks, [0, 1])  # item 2 is certain, so its cluster never enters


@pytest.mark.parametrize("n_labelled,has_probs,expected", [
    (0, True, "typiclust"), (14, True, "typiclust"), (15, True, "cluster_margin"), (100, False, "typiclust"),
])
def test_auto_moves_from_typiclust_to_cluster_margin(n_labelled, has_probs, expected):
    assert auto.choose(n_labelled=n_labelled, n_classes=3, has_probs=has_probs) == expected


def test_auto_runs_the_strategy_it_chooses():
    probs, embeddings, mask = make_pool(60, n_labelled=4)
    cold = run("auto", probs, embeddings, mask, 5)
    np.testing.assert_array_equal(cold, run("typiclust", probs, embeddings, mask, 5))
    probs, embeddings, mask = make_pool(60, n_labelled=30)
    warm = run("auto", probs, embeddings, mask, 5)
    np.testing.assert_array_equal(warm, run("cluster_margin", probs, embeddings, mask, 5))


# -- the examples in the module docstrings stay true ----------------------------------------------

@pytest.mark.parametrize("module", [ssl_engine.active, auto, cluster_margin, entropy, kcenter, least_confidence,
                                    margin, probcover, random_sampling, typiclust],
                         ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_docstring_examples(module):
    failures, attempted = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert attempted and not failures
