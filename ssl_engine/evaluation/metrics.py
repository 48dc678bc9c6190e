"""Holdout metrics of a round: accuracy, macro-F1, per class, calibration, learning curve,
and how far to trust each (a bootstrap confidence interval).

Labels are class indices (single-label, shape (N,)) or 0/1 indicator matrices
(multi-label, shape (N, C)), as scikit-learn's metrics take them. Every
function returns plain floats and dicts so a round can store them as JSON.

Example::

    >>> import numpy as np
    >>> from ssl_engine.evaluation import metrics
    >>> metrics.accuracy([0, 1, 1], [0, 1, 0])
    0.6666666666666666
    >>> round(metrics.expected_calibration_error(np.array([[0.8, 0.2], [0.3, 0.7]]), [0, 0], n_bins=10), 6)
    0.45
"""

from __future__ import annotations

import numpy as np
from scipy.stats import bootstrap
from sklearn.metrics import accuracy_score, classification_report, f1_score


def accuracy(y_true, y_pred) -> float:
    """Fraction of items predicted exactly right (all labels, if multi-label)."""
    return float(accuracy_score(y_true, y_pred))


def macro_f1(y_true, y_pred, *, labels=None) -> float:
    """Unweighted mean of per-class F1, so rare classes count as much as common ones.

    ``labels`` fixes the class set, so a class absent from a small holdout
    still counts (as 0) instead of silently dropping out of the mean.
    """
    return float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))


def per_class_report(y_true, y_pred, *, labels=None, target_names=None) -> dict[str, dict[str, float] | float]:
    """``{class: {"precision", "recall", "f1-score", "support"}}`` plus the
    ``"macro avg"`` and ``"weighted avg"`` rows (and ``"accuracy"``, a float,
    when scikit-learn reports it), from ``classification_report``. A class
    with no predictions scores 0, not a warning."""
    report = classification_report(y_true, y_pred, labels=labels, target_names=target_names,
                                   output_dict=True, zero_division=0)
    return {str(name): ({k: float(v) for k, v in row.items()} if isinstance(row, dict) else float(row))
            for name, row in report.items()}


def expected_calibration_error(probs, y_true, *, n_bins: int = 15, multilabel: bool = False) -> float:
    """Expected calibration error with equal-width confidence bins.

    Naeini, Cooper & Hauskrecht, AAAI 2015; Guo et al., "On Calibration of
    Modern Neural Networks", ICML 2017, eq. 3::

        ECE = sum_b |B_b| / N * |accuracy(B_b) - confidence(B_b)|

    Single-label: an item's confidence is its top probability and it is
    correct when the top class is the true one. Bin ``b`` of ``n_bins``
    holds confidences in ``(b / n_bins, (b + 1) / n_bins]`` (the first bin
    also holds 0). Empty bins contribute nothing.

    Multi-label (``multilabel=True``, ``probs`` and ``y_true`` both (N, C)):
    every (item, label) pair is a binary forecast, binned by its probability
    ``p``, and a bin's "accuracy" is the fraction of its pairs that are
    positive — the calibration of each sigmoid as a frequency.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be positive, got {n_bins}")
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y_true)
    if p.ndim != 2 or y.shape[0] != p.shape[0]:
        raise ValueError(f"probs must be (N, C) with one row per label, got {p.shape} and {y.shape}")
    if multilabel:
        if y.shape != p.shape:
            raise ValueError(f"multi-label y_true must have the shape of probs {p.shape}, got {y.shape}")
        confidence, correct = p.ravel(), y.ravel().astype(np.float64)
    else:
        if y.ndim != 1:
            raise ValueError(f"y_true must be 1-D class indices, got shape {y.shape}")
        confidence = p.max(axis=1)
        correct = (p.argmax(axis=1) == y).astype(np.float64)

    # Right-closed bins (lo, hi]: the count of inner edges below a confidence is
    # its bin, so 0.1 lands in the first of ten bins, 1.0 in the last, and 0
    # joins the first. Edges from linspace, like the reference implementations.
    inner_edges = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    bins = np.searchsorted(inner_edges, confidence, side="left")
    counts = np.bincount(bins, minlength=n_bins)
    gap = np.abs(np.bincount(bins, weights=correct, minlength=n_bins)
                 - np.bincount(bins, weights=confidence, minlength=n_bins))
    # sum_b |B_b|/N * |acc_b - conf_b| = sum_b |sum correct - sum conf| / N
    return float(gap.sum() / counts.sum())


def learning_curve_area(label_counts, scores) -> float:
    """Normalised area under a learning curve (score against number of labels).

    Trapezoid rule over the label counts, divided by their span, so the result
    is the curve's average score on the range and reads on the score's own
    scale (1.0 is perfect from the first label). It rewards strategies that
    reach good scores early, which is the point of active learning.
    """
    x = np.asarray(label_counts, dtype=np.float64)
    y = np.asarray(scores, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or x.size < 2:
        raise ValueError("label_counts and scores must be 1-D of the same length, at least 2")
    if not (np.diff(x) > 0).all():
        raise ValueError("label_counts must be strictly increasing")
    return float(np.trapezoid(y, x) / (x[-1] - x[0]))


def bootstrap_interval(metric, y_true, y_pred, *, confidence: float = 0.95, n_resamples: int = 1000,
                       random_state: int = 0) -> tuple[float, float]:
    """A percentile bootstrap interval for ``metric(y_true, y_pred)`` (Efron &
    Tibshirani, "An Introduction to the Bootstrap", 1993): the items are
    resampled with replacement (true and predicted label together) and the
    metric recomputed, ``n_resamples`` times; the interval holds the middle
    ``confidence`` of those values. Made by ``scipy.stats.bootstrap``.

    What a holdout figure needs beside it: 60% on 5 items is anything from
    20% to 100%. Percentile rather than BCa because BCa fails on the
    degenerate case every small holdout meets (every item right, so every
    resample gives the same value); there the interval is the one value.

    Example: ``bootstrap_interval(accuracy, y, predicted)`` -> ``(0.71, 0.83)``.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) == 0 or len(y_true) != len(y_pred):
        raise ValueError(f"need as many predictions as true labels, and some: {len(y_true)} and {len(y_pred)}")
    if len(y_true) == 1:
        value = float(metric(y_true, y_pred))
        return value, value
    result = bootstrap((np.arange(len(y_true)),), lambda rows: metric(y_true[rows], y_pred[rows]),
                       vectorized=False, n_resamples=n_resamples, confidence_level=confidence,
                       method="percentile", random_state=np.random.default_rng(random_state))
    low, high = result.confidence_interval
    return float(low), float(high)
