"""Evaluation of a round: holdout metrics (:mod:`.metrics`), drift between
embedding sets (:mod:`.drift`) and suspected label errors
(:mod:`.label_errors`), re-exported here as one flat surface."""

from .drift import domain_classifier_auc, median_heuristic_bandwidth, mmd_rbf
from .label_errors import SuspectedLabelError, find_label_errors, out_of_fold_probabilities
from .metrics import (
    accuracy,
    expected_calibration_error,
    learning_curve_area,
    macro_f1,
    per_class_report,
)

__all__ = [
    "SuspectedLabelError",
    "accuracy",
    "domain_classifier_auc",
    "expected_calibration_error",
    "find_label_errors",
    "learning_curve_area",
    "macro_f1",
    "median_heuristic_bandwidth",
    "mmd_rbf",
    "out_of_fold_probabilities",
    "per_class_report",
]
