"""Label proposals: probabilities over the taxonomy for every unlabelled item.

One module per method, each a scikit-learn classifier (``fit`` returns self,
fitted attributes end in ``_``, ``classes_``, ``predict_proba``, ``predict``):

============== ====================== ==========================================
name           class                  uses
============== ====================== ==========================================
head           CalibratedHead         labelled rows; calibrated; multi-label too
knn            KNNVote                labelled rows; no training
propagation    GraphLabelSpreading    labelled and unlabelled rows (y = -1)
self_training  SelfTraining           labelled and unlabelled rows (y = -1)
============== ====================== ==========================================

Two more modules work at the round's level rather than as a registered
proposer: :mod:`~ssl_engine.proposals.zero_shot` (``TaxonomyZeroShot``,
fitted on the embedded label texts of the taxonomy, not on labelled items)
and :mod:`~ssl_engine.proposals.selection` (chooses among zero-shot, head,
spreading and their ensemble by cross-validation on the approved labels).

:func:`propose` runs any of them by name on a labelled set and a pool and
returns the pool's probabilities; :func:`confidence` and
:func:`predicted_labels` turn probabilities into what the annotator sees.

Example::

    >>> from ssl_engine.proposals import propose, confidence, predicted_labels
    >>> probs, classes = propose(x_labelled, y, x_pool, method="head", random_state=0)
    >>> confidence(probs)                    # (M,) top probability
    >>> predicted_labels(probs, classes)     # (M,) labels
"""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.base import BaseEstimator

from ._labels import UNLABELLED, labelled_mask
from .head import CalibratedHead
from .knn import KNNVote
from .propagation import GraphLabelSpreading
from .self_training import SelfTraining

PROPOSERS: dict[str, type[BaseEstimator]] = {
    "head": CalibratedHead,
    "knn": KNNVote,
    "propagation": GraphLabelSpreading,
    "self_training": SelfTraining,
}

#: Methods that also learn from the unlabelled pool (fitted on labelled + pool rows).
TRANSDUCTIVE = frozenset({"propagation", "self_training"})


def make_proposer(method: str, **params) -> BaseEstimator:
    """An unfitted proposer registered under ``method``, with ``params``."""
    try:
        cls = PROPOSERS[method]
    except KeyError:
        raise ValueError(f"unknown proposal method {method!r}; choose one of {sorted(PROPOSERS)}") from None
    return cls(**params)


def _without_unused_random_state(method: str, params: dict) -> dict:
    cls = PROPOSERS.get(method)
    if cls is not None and "random_state" in params and "random_state" not in inspect.signature(cls).parameters:
        return {k: v for k, v in params.items() if k != "random_state"}
    return params


def propose(X_labelled, y, X_pool, method: str = "head", **params) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``method`` on the labelled rows (and, if transductive, the pool) and
    return ``(probs, classes)`` for the pool: probs is (M, C) in ``classes``
    order. ``params`` go to the proposer's constructor; ``random_state`` is
    dropped for a proposer that has none (it is deterministic).

    ``y`` holds labels only (no -1 markers); for ``head`` with
    ``multilabel=True`` it is a list of label lists.
    """
    proposer = make_proposer(method, **_without_unused_random_state(method, params))
    X_labelled = np.asarray(X_labelled)
    X_pool = np.asarray(X_pool)
    if method not in TRANSDUCTIVE:
        proposer.fit(X_labelled, y)
        return proposer.predict_proba(X_pool), proposer.classes_

    y = np.asarray(y)
    if y.ndim != 1 or not labelled_mask(y).all():
        raise ValueError(f"y must be 1-D labels without the unlabelled marker {UNLABELLED}")
    y_all = np.empty(y.size + X_pool.shape[0], dtype=y.dtype if y.dtype.kind in "iu" else object)
    y_all[: y.size] = y
    y_all[y.size :] = UNLABELLED
    proposer.fit(np.vstack([X_labelled, X_pool]), y_all)
    return proposer.predict_proba(X_pool), proposer.classes_


def confidence(probs: np.ndarray, *, multilabel: bool = False) -> np.ndarray:
    """How sure the proposal is, (N,) in [0, 1].

    Single-label: the top probability. Multi-label: the least certain of the
    per-label yes/no decisions, ``min_c max(p_c, 1 - p_c)``.
    """
    probs = _check_probs(probs)
    if multilabel:
        return np.maximum(probs, 1.0 - probs).min(axis=1)
    return probs.max(axis=1)


def predicted_labels(probs: np.ndarray, classes, *, multilabel: bool = False, threshold: float = 0.5):
    """The proposed labels: ``classes[argmax]`` (N,), or for multi-label a
    list of label lists with probability >= ``threshold``."""
    probs = _check_probs(probs)
    classes = np.asarray(classes)
    if classes.shape != (probs.shape[1],):
        raise ValueError(f"{probs.shape[1]} probability columns but {classes.size} classes")
    if multilabel:
        return [classes[row >= threshold].tolist() for row in probs]
    return classes[probs.argmax(axis=1)]


def _check_probs(probs) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] == 0:
        raise ValueError(f"probs must be (N, C), got shape {probs.shape}")
    return probs


__all__ = [
    "PROPOSERS",
    "TRANSDUCTIVE",
    "CalibratedHead",
    "GraphLabelSpreading",
    "KNNVote",
    "SelfTraining",
    "confidence",
    "make_proposer",
    "predicted_labels",
    "propose",
]
