"""Evaluation of a round: holdout metrics (:mod:`.metrics`) and drift between
embedding sets (:mod:`.drift`), re-exported here as one flat surface."""

from .drift import domain_classifier_auc, median_heuristic_bandwidth, mmd_rbf
from .metrics import (
    accuracy,
    expected_calibration_error,
    learning_curve_area,
    macro_f1,
    per_class_report,
)

__all__ = [
    "accuracy",
    "domain_classifier_auc",
    "expected_calibration_error",
    "learning_curve_area",
    "macro_f1",
    "median_heuristic_bandwidth",
    "mmd_rbf",
    "per_class_report",
]
