"""Drift between embedding sets: domain-classifier AUC and RBF MMD."""

import numpy as np
import pytest

from ssl_engine.evaluation import domain_classifier_auc, median_heuristic_bandwidth, mmd_rbf


def samples(n, d, shift=0.0, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)) + shift


@pytest.mark.parametrize("n,d", [(60, 2), (150, 8)])
def test_mmd_of_identical_sets_is_about_zero(n, d):
    x = samples(n, d)
    # For x == y the unbiased estimate is -2 (1 - mean off-diagonal kernel) / n.
    assert abs(mmd_rbf(x, x, random_state=0)) < 2.0 / n


@pytest.mark.parametrize("n,d", [(60, 2), (150, 8)])
def test_mmd_is_near_zero_for_one_distribution_and_positive_for_a_shift(n, d):
    same = mmd_rbf(samples(n, d, seed=1), samples(n, d, seed=2), random_state=0)
    shifted = mmd_rbf(samples(n, d, seed=1), samples(n, d, shift=1.5, seed=2), random_state=0)
    assert abs(same) < 0.03
    assert shifted > 0.1 > same


def test_mmd_hand_computed_on_two_points_each():
    x = np.array([[0.0], [1.0]])
    y = np.array([[0.0], [2.0]])

    def k(a, b):  # RBF with sigma = 1
        return np.exp(-((a - b) ** 2) / 2.0)

    expected = k(0, 1) + k(0, 2) - 2 * np.mean([k(0, 0), k(0, 2), k(1, 0), k(1, 2)])
    assert mmd_rbf(x, y, bandwidth=1.0, random_state=0) == pytest.approx(expected)


def test_mmd_grows_with_the_shift_at_a_fixed_bandwidth():
    base = samples(100, 4, seed=3)
    values = [mmd_rbf(base, samples(100, 4, shift=s, seed=4), bandwidth=2.0, random_state=0) for s in (0.5, 1.0, 2.0)]
    assert values == sorted(values)


def test_median_heuristic_bandwidth():
    x = np.array([[0.0], [1.0]])
    y = np.array([[3.0]])
    # pairwise distances 1, 3, 2 -> median 2
    assert median_heuristic_bandwidth(x, y) == 2.0
    with pytest.raises(ValueError, match="bandwidth"):
        median_heuristic_bandwidth(np.zeros((3, 2)), np.zeros((3, 2)))


def test_mmd_subsamples_deterministically():
    x, y = samples(300, 3, seed=5), samples(300, 3, shift=0.5, seed=6)
    first = mmd_rbf(x, y, max_samples=100, random_state=1)
    assert first == mmd_rbf(x, y, max_samples=100, random_state=1)


def test_domain_auc_is_about_half_for_the_same_distribution():
    auc = domain_classifier_auc(samples(200, 8, seed=7), samples(200, 8, seed=8), random_state=0)
    assert 0.35 < auc < 0.65


def test_domain_auc_is_about_one_for_shifted_sets():
    auc = domain_classifier_auc(samples(150, 8, seed=7), samples(100, 8, shift=2.0, seed=8), random_state=0)
    assert auc > 0.95


def test_domain_auc_is_deterministic_under_random_state():
    a, b = samples(80, 4, seed=9), samples(80, 4, shift=0.3, seed=10)
    assert domain_classifier_auc(a, b, random_state=3) == domain_classifier_auc(a, b, random_state=3)


def test_drift_rejects_mismatched_or_bad_input():
    with pytest.raises(ValueError, match="width"):
        mmd_rbf(samples(10, 2), samples(10, 3), random_state=0)
    with pytest.raises(ValueError, match="NaN"):
        domain_classifier_auc(np.full((10, 2), np.nan), samples(10, 2), random_state=0)
    with pytest.raises(ValueError, match="n_splits"):
        domain_classifier_auc(samples(3, 2), samples(10, 2), random_state=0)
