"""Holdout metrics: known values and edge cases."""

import doctest

import numpy as np
import pytest

from ssl_engine.evaluation import (
    accuracy,
    drift,
    expected_calibration_error,
    learning_curve_area,
    macro_f1,
    metrics,
    per_class_report,
)


def test_accuracy_and_macro_f1_known_values():
    y_true = [0, 0, 0, 0, 1, 1]
    y_pred = [0, 0, 0, 0, 0, 1]
    assert accuracy(y_true, y_pred) == pytest.approx(5 / 6)
    # class 0: P = 4/5, R = 1 -> F1 = 8/9; class 1: P = 1, R = 1/2 -> F1 = 2/3
    assert macro_f1(y_true, y_pred) == pytest.approx((8 / 9 + 2 / 3) / 2)


def test_macro_f1_counts_a_class_missing_from_the_holdout_when_labels_are_given():
    assert macro_f1([0, 1], [0, 1]) == 1.0
    assert macro_f1([0, 1], [0, 1], labels=[0, 1, 2]) == pytest.approx(2 / 3)


def test_multilabel_indicator_matrices():
    y_true = np.array([[1, 0, 1], [0, 1, 0]])
    y_pred = np.array([[1, 0, 1], [0, 1, 1]])
    assert accuracy(y_true, y_pred) == 0.5  # exact-match
    assert macro_f1(y_true, y_pred) == pytest.approx((1 + 1 + 2 / 3) / 3)


def test_per_class_report():
    report = per_class_report([0, 1, 1, 2], [0, 1, 0, 2], target_names=["billing", "bug", "other"])
    assert report["bug"] == {"precision": 1.0, "recall": 0.5, "f1-score": pytest.approx(2 / 3), "support": 2.0}
    assert report["billing"]["precision"] == 0.5
    assert report["accuracy"] == 0.75
    assert "macro avg" in report


def test_per_class_report_scores_a_never_predicted_class_as_zero():
    report = per_class_report([0, 1], [0, 0], labels=[0, 1])
    assert report["1"]["precision"] == 0.0 and report["1"]["recall"] == 0.0


def test_ece_of_a_perfectly_calibrated_toy_is_zero():
    # 10 items at confidence 0.8, 8 right; 4 at 0.5, 2 right.
    probs = np.array([[0.8, 0.2]] * 10 + [[0.5, 0.5]] * 4)
    y = np.array([0] * 8 + [1] * 2 + [0, 0, 1, 1])
    assert expected_calibration_error(probs, y, n_bins=10) == pytest.approx(0.0, abs=1e-12)


def test_ece_hand_computed():
    probs = np.array([
        [0.95, 0.05],  # bin (0.9, 1.0], right
        [0.91, 0.09],  # bin (0.9, 1.0], wrong
        [0.6, 0.4],    # bin (0.5, 0.6], right
        [0.3, 0.7],    # bin (0.6, 0.7], predicts 1, right
        [0.2, 0.8],    # bin (0.7, 0.8], predicts 1, wrong
    ])
    y = np.array([0, 1, 0, 1, 0])
    # (0.9, 1.0]: n=2, acc 0.5, conf 0.93 -> 2/5 * 0.43
    # (0.5, 0.6]: n=1, acc 1, conf 0.6 -> 1/5 * 0.4
    # (0.6, 0.7]: n=1, acc 1, conf 0.7 -> 1/5 * 0.3
    # (0.7, 0.8]: n=1, acc 0, conf 0.8 -> 1/5 * 0.8
    expected = (2 * 0.43 + 0.4 + 0.3 + 0.8) / 5
    assert expected_calibration_error(probs, y, n_bins=10) == pytest.approx(expected)


def test_ece_bins_are_right_closed():
    # 0.7 belongs to (0.6, 0.7] and 0.8 to (0.7, 0.8]; one bin each, so no averaging.
    probs = np.array([[0.7, 0.3], [0.8, 0.2]])
    assert expected_calibration_error(probs, [0, 1], n_bins=10) == pytest.approx((0.3 + 0.8) / 2)
    # With one bin everything is averaged: acc 0.5, conf 0.75.
    assert expected_calibration_error(probs, [0, 1], n_bins=1) == pytest.approx(0.25)


def test_ece_multilabel_treats_each_label_as_a_forecast():
    probs = np.array([[0.9, 0.1], [0.9, 0.1]])
    y = np.array([[1, 0], [0, 0]])
    # bin (0.8, 0.9]: 2 pairs, half positive, p 0.9 -> 2/4 * 0.4
    # bin (0.0, 0.1]: 2 pairs, none positive, p 0.1 -> 2/4 * 0.1
    assert expected_calibration_error(probs, y, n_bins=10, multilabel=True) == pytest.approx(0.25)


@pytest.mark.parametrize("n,c", [(1, 2), (50, 3), (200, 10)])
def test_ece_is_between_zero_and_one(n, c):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(n, c))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert 0.0 <= expected_calibration_error(probs, rng.integers(0, c, n)) <= 1.0


def test_ece_rejects_bad_input():
    with pytest.raises(ValueError):
        expected_calibration_error(np.ones((2, 2)) / 2, [0, 1], n_bins=0)
    with pytest.raises(ValueError):
        expected_calibration_error(np.ones((2, 2)) / 2, [0, 1, 1])


def test_learning_curve_area():
    assert learning_curve_area([10, 20, 40], [0.7, 0.7, 0.7]) == pytest.approx(0.7)
    assert learning_curve_area([0, 100], [0.0, 1.0]) == pytest.approx(0.5)
    # trapezoids: 10 * (0.5 + 0.7) / 2 + 20 * (0.7 + 0.8) / 2 = 21, over a span of 30
    assert learning_curve_area([10, 20, 40], [0.5, 0.7, 0.8]) == pytest.approx(21 / 30)
    with pytest.raises(ValueError, match="increasing"):
        learning_curve_area([10, 10], [0.5, 0.6])
    with pytest.raises(ValueError):
        learning_curve_area([10], [0.5])


@pytest.mark.parametrize("module", [metrics, drift], ids=["metrics", "drift"])
def test_docstring_examples(module):
    failures, attempted = doctest.testmod(module)
    assert attempted and not failures


def test_a_bootstrap_interval_narrows_with_more_items_and_holds_the_estimate():
    from ssl_engine.evaluation.metrics import accuracy, bootstrap_interval

    rng = np.random.default_rng(0)
    widths = []
    for n in (20, 2000):
        y = rng.integers(0, 5, n)
        predicted = np.where(rng.random(n) < 0.8, y, (y + 1) % 5)
        low, high = bootstrap_interval(accuracy, y, predicted, random_state=0)
        assert low <= accuracy(y, predicted) <= high
        widths.append(high - low)
    assert widths[1] < widths[0] / 4  # about 1/sqrt(100) as wide
    assert bootstrap_interval(accuracy, y, predicted, random_state=0) == (low, high)  # seeded


def test_a_bootstrap_interval_of_a_degenerate_holdout_is_the_value():
    from ssl_engine.evaluation.metrics import accuracy, bootstrap_interval

    assert bootstrap_interval(accuracy, [1, 1, 1], [1, 1, 1]) == (1.0, 1.0)
    assert bootstrap_interval(accuracy, [2], [1]) == (0.0, 0.0)
    with pytest.raises(ValueError, match="as many predictions"):
        bootstrap_interval(accuracy, [1, 2], [1])
