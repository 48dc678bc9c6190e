"""Label-array checks the proposers share.

Semi-supervised proposers take scikit-learn's convention: ``y`` has one entry
per row of ``X`` and unlabelled rows hold ``-1``. String labels need an
object array so that ``-1`` can sit among them (``np.array(["a", -1])``
would turn the marker into the string ``"-1"``).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.multiclass import check_classification_targets

UNLABELLED = -1


def _is_marker(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and value == UNLABELLED


def labelled_mask(y) -> np.ndarray:
    """(N,) bool, False where ``y`` holds the unlabelled marker ``-1``."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    if y.dtype.kind in "iuf":
        return y != UNLABELLED
    if y.dtype.kind == "O":
        return np.array([not _is_marker(v) for v in y], dtype=bool)
    if y.dtype.kind == "b":
        raise ValueError("y is boolean; use 0/1 integers with -1 for unlabelled rows")
    raise ValueError(
        f"y has dtype {y.dtype}, which cannot hold the -1 unlabelled marker; "
        "use an object array for string labels"
    )


def encode_labels(y) -> tuple[np.ndarray, np.ndarray]:
    """``(classes, codes)`` for a fully labelled 1-D ``y``: sorted distinct labels
    and each row's position in them. At least two classes are required."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    check_classification_targets(y)
    classes, codes = np.unique(y, return_inverse=True)
    if classes.size < 2:
        got = "1 class" if classes.size == 1 else f"{classes.size} classes"
        raise ValueError(f"need labels of at least 2 classes, got {got}")
    return classes, codes.astype(np.int64)
