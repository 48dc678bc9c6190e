"""Suspected label errors among labelled items, by confident learning.

Confident learning (Northcutt, Jiang & Chuang, "Confident Learning:
Estimating Uncertainty in Dataset Labels", JAIR 2021) compares each item's
given label with *out-of-fold* predicted probabilities: a classifier that
never saw the item during training. Per class ``j`` the threshold ``t_j`` is
the mean probability of ``j`` over items labelled ``j``; an item counts as
confidently belonging to class ``j`` when ``p_j >= t_j``. Those counts form
the confident joint (given label x likely true label), whose off-diagonal
mass estimates how many items of each given class carry each wrong label.
The default ``filter_by="prune_by_class"`` then flags, in every given
class ``i``, as many items as the off-diagonal mass of row ``i`` says, those
with the lowest ``p_i``. cleanlab's own default, ``prune_by_noise_rate``,
prunes each off-diagonal cell ``(i, j)`` separately (largest margin
``p_j - p_i``); with many classes and errors spread thinly over them most
cells round to zero, and on banking77 (77 classes, 2% of labels flipped at
random, 3 seeds; ``ssl_engine/bench/results/label_errors_banking77.json``)
it found 79% of the flips against 90% for ``prune_by_class``, at lower
precision (0.47 against 0.50). The counting and pruning are cleanlab's
(``cleanlab.filter.find_label_issues``, Apache-2.0, by the paper's authors),
so this module only supplies what cleanlab leaves to its caller: the
embeddings' classifier, the cross-validation and the result type.

Out-of-fold probabilities. The items are split into ``cv`` stratified folds
(seeded); each fold's probabilities come from a classifier fitted on the
other folds. Rare classes reduce nothing but are handled by two rules:

- a class with ``2 <= n < cv`` items is spread over ``n`` different folds
  (stratification puts at most one of its items in each), so every fold's
  training part still holds at least one of them;
- a class with a *single* item cannot be both trained on and held out: that
  item is kept in every fold's training part and is not assessed (it is
  listed in :attr:`OutOfFold.unassessed` and never reported as a suspect).

Folds drop below ``cv`` only when even the largest class is smaller than
``cv`` (then ``folds = largest class size``), as stratification needs.

Only single-label data is supported: one label per item. Multi-label data
(a list of labels per item) raises ``ValueError``; cleanlab has a separate
multi-label method that this module does not wrap.

Example::

    >>> from ssl_engine.evaluation.label_errors import find_label_errors
    >>> suspects = find_label_errors(x, labels, random_state=0)      # x: (N, d) float32
    >>> suspects[0]      # the most suspect item first
    SuspectedLabelError(index=412, given_label='card_arrival', suggested_label='card_delivery_estimate',
                        label_quality=0.013, suggested_probability=0.91)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.model_selection import StratifiedKFold

from ssl_engine.proposals.head import CalibratedHead

#: cleanlab's filters (see ``cleanlab.filter.find_label_issues``); the paper's
#: "C_confusion" is ``predicted_neq_given``, its "C_{y~,y*}" is ``confident_learning``.
FILTERS = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given")

ClassifierFactory = Callable[[], ClassifierMixin]


@dataclass(frozen=True)
class SuspectedLabelError:
    """One item whose given label the out-of-fold classifier doubts."""

    #: Row of the item in the inputs.
    index: int
    given_label: Any
    #: The most probable label other than the given one.
    suggested_label: Any
    #: Out-of-fold probability of the given label (cleanlab's "self-confidence"
    #: label-quality score): lower is more suspect, and suspects are sorted by it.
    label_quality: float
    #: Out-of-fold probability of ``suggested_label``.
    suggested_probability: float


@dataclass(frozen=True)
class OutOfFold:
    """Out-of-fold predicted probabilities of every item."""

    #: (N, C) probabilities in ``classes`` order; rows of unassessed items are NaN.
    probabilities: np.ndarray
    #: (C,) sorted distinct labels.
    classes: np.ndarray
    #: (N,) position of each item's given label in ``classes``.
    codes: np.ndarray
    #: Rows of items whose class has a single item (never held out, never assessed).
    unassessed: np.ndarray
    n_splits: int


def default_classifier(random_state: int | None = 0) -> ClassifierFactory:
    """The project's calibrated logistic head on embeddings (``CalibratedHead``)."""
    return lambda: CalibratedHead(random_state=random_state)


def out_of_fold_probabilities(
    embeddings,
    labels: Sequence[Any],
    *,
    classifier: ClassifierFactory | None = None,
    cv: int = 5,
    random_state: int | None = 0,
) -> OutOfFold:
    """Each item's class probabilities from a classifier fitted without it.

    ``classifier`` is a factory returning a fresh unfitted estimator with
    ``fit``/``predict_proba``/``classes_`` (default: :func:`default_classifier`).
    See the module docstring for the fold rules.
    """
    x, classes, codes = _check_inputs(embeddings, labels)
    if not isinstance(cv, (int, np.integer)) or isinstance(cv, bool) or cv < 2:
        raise ValueError(f"cv must be an integer >= 2, got {cv!r}")
    make = classifier if classifier is not None else default_classifier(random_state)
    counts = np.bincount(codes, minlength=classes.size)
    assessable_classes = counts >= 2
    if assessable_classes.sum() < 2:
        raise ValueError(
            "need at least 2 classes with 2 or more items to cross-validate; "
            f"class sizes: {dict(zip(classes.tolist(), counts.tolist()))}"
        )
    assessed = assessable_classes[codes]
    rows = np.flatnonzero(assessed)
    always_train = np.flatnonzero(~assessed)
    n_splits = int(min(cv, counts.max()))
    probs = np.full((x.shape[0], classes.size), np.nan)  # (N, C)
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():
        # "The least populated class in y has only n members": expected and handled (module docstring).
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        splits = list(folds.split(rows, codes[rows]))
    for train, test in splits:
        train_rows = np.concatenate([rows[train], always_train])
        model = make().fit(x[train_rows], classes[codes[train_rows]])
        fitted = np.asarray(model.classes_, dtype=object)
        if fitted.size != classes.size or not np.array_equal(fitted, classes):
            # Cannot happen with the fold rules above; a classifier that drops classes would misalign columns.
            raise RuntimeError(f"a fold's classifier knows {fitted.size} of the {classes.size} classes")
        probs[rows[test]] = model.predict_proba(x[rows[test]])
    return OutOfFold(probs, classes, codes, always_train, n_splits)


def find_label_errors(
    embeddings,
    labels: Sequence[Any],
    *,
    classifier: ClassifierFactory | None = None,
    cv: int = 5,
    filter_by: str = "prune_by_class",
    random_state: int | None = 0,
    out_of_fold: OutOfFold | None = None,
) -> list[SuspectedLabelError]:
    """Suspected label errors among ``labels``, most suspect (lowest label quality) first.

    Parameters
    ----------
    embeddings : array (N, d)
        Finite numbers, e.g. an encoder's float32 embeddings.
    labels : sequence of N labels
        One label key (str or int) per item; multi-label is not supported.
    classifier : callable returning an estimator, optional
        Default: :func:`default_classifier` (``CalibratedHead``).
    cv : int
        Folds for the out-of-fold probabilities (see the module docstring).
    filter_by : str
        cleanlab's filter, one of :data:`FILTERS`.
    random_state : int or None
        Seeds the folds (and the default classifier).
    out_of_fold : OutOfFold, optional
        Probabilities computed earlier by :func:`out_of_fold_probabilities`
        on the same inputs (to try several filters without refitting).
    """
    if filter_by not in FILTERS:
        raise ValueError(f"filter_by must be one of {FILTERS}, got {filter_by!r}")
    if out_of_fold is None:
        out_of_fold = out_of_fold_probabilities(embeddings, labels, classifier=classifier, cv=cv,
                                                random_state=random_state)
    elif len(out_of_fold.codes) != len(labels):
        raise ValueError(f"out_of_fold covers {len(out_of_fold.codes)} items but there are {len(labels)} labels")
    return suspects_from_probabilities(out_of_fold, filter_by=filter_by)


def suspects_from_probabilities(out_of_fold: OutOfFold, *, filter_by: str = "prune_by_class"
                                ) -> list[SuspectedLabelError]:
    """Confident learning on out-of-fold probabilities (cleanlab does the counting)."""
    # Imported here: cleanlab pulls in pandas, which nothing else on the
    # import path of ssl_engine.evaluation needs.
    from cleanlab.filter import find_label_issues

    probs, classes, codes = out_of_fold.probabilities, out_of_fold.classes, out_of_fold.codes
    rows = np.setdiff1d(np.arange(len(codes)), out_of_fold.unassessed)
    p = probs[rows]  # (n_assessed, C)
    # n_jobs=1: cleanlab's default forks one process per core, which only
    # competes with the caller's own threads on a small machine.
    flagged = find_label_issues(codes[rows], p, filter_by=filter_by, n_jobs=1)  # (n_assessed,) bool
    given = codes[rows]
    quality = p[np.arange(len(rows)), given]  # (n_assessed,) self-confidence
    others = p.copy()
    others[np.arange(len(rows)), given] = -np.inf
    suggested = others.argmax(axis=1)
    order = np.flatnonzero(flagged)
    order = order[np.argsort(quality[order], kind="stable")]
    return [
        SuspectedLabelError(index=int(rows[k]), given_label=_plain(classes[given[k]]),
                            suggested_label=_plain(classes[suggested[k]]), label_quality=float(quality[k]),
                            suggested_probability=float(p[k, suggested[k]]))
        for k in order
    ]


def _check_inputs(embeddings, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(embeddings as float, sorted classes as an object array, codes), or ValueError naming the problem."""
    x = np.asarray(embeddings)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"embeddings must be a non-empty 2-D array (N, d), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise ValueError(f"embeddings must be real numbers, got dtype {x.dtype}")
    finite = np.isfinite(x).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(f"embeddings contain NaN or infinite values in {bad.size} rows, e.g. rows {bad[:5].tolist()}")
    if isinstance(labels, (str, bytes)):
        raise ValueError("labels must be a sequence with one label per item, not a single string")
    labels = list(labels)
    if len(labels) != x.shape[0]:
        raise ValueError(f"{x.shape[0]} embedding rows but {len(labels)} labels")
    for i, label in enumerate(labels):
        if isinstance(label, (list, tuple, set, frozenset, np.ndarray)):
            raise ValueError(f"multi-label data is not supported: the label of row {i} is a {type(label).__name__}")
        if not isinstance(label, (str, int, np.integer)) or isinstance(label, (bool, np.bool_)):
            raise ValueError(f"labels must be str or int keys; row {i} holds {label!r}")
    if len({type(label) is str for label in labels}) > 1:
        raise ValueError("labels mix strings and integers; use one kind of label key")
    classes, codes = np.unique(np.array(labels, dtype=object), return_inverse=True)
    if classes.size < 2:
        raise ValueError(f"labels hold a single class ({classes[0]!r}); label errors need at least 2 classes")
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    return x, classes, codes.astype(np.int64)


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones, so suspects compare and serialise plainly."""
    return value.item() if isinstance(value, np.generic) else value
