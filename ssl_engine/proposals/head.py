"""A calibrated logistic-regression head on frozen embeddings.

The linear probe of representation learning (e.g. SimCLR, Chen et al., ICML
2020, section 4): a multinomial logistic regression on the encoder's
embeddings, with L2 penalty ``1 / C``. With ``multilabel=True`` it is one
binary logistic regression per label (one-vs-rest sigmoids, independent
probabilities) and ``y`` is a list of label lists, as
``sklearn.preprocessing.MultiLabelBinarizer`` takes it.

Calibration: temperature scaling (Guo et al., ICML 2017; see
``temperature.py``) fitted on *out-of-fold* logits. The data is split into
``cv`` stratified folds; each fold's logits come from a head trained on the
other folds; one temperature is fitted to all of them; the final head is then
trained on every example and its logits divided by that temperature. So no
label is spent on a held-out slice, and one scalar (unlike isotonic or
per-class Platt scaling, or ``CalibratedClassifierCV``'s per-fold ensemble)
is all the few labels of an early round have to support.

Small classes. A class with fewer than ``cv`` examples is never held out: its
examples stay in every fold's training set (so every fold's head knows every
class) and it contributes no calibration rows. If fewer than two classes have
``cv`` examples, folds drop to 2 and every class with 2 or more examples is
used. If fewer than two classes have 2 examples, there is nothing held out to
calibrate on: the head is left uncalibrated (``temperature_ = 1.0``) and
``calibrated_`` is False, so a caller can tell. Multi-label heads use plain
(unstratified) folds and one temperature shared by all labels; a label that
is constant in the training data gets no model and the smoothed base rate
``(positives + 1) / (n + 2)`` as its probability, unscaled.

``fit(..., calibration_rows=mask)`` restricts the held-out rows to ``mask``
(the rest are always trained on): self-training passes its human labels, so
the temperature is never fitted on the model's own pseudo-labels.

Example::

    >>> head = CalibratedHead(C=10.0, random_state=0).fit(x_labelled, y)   # x: (N, d)
    >>> probs = head.predict_proba(x_pool)                                # (M, C), rows sum to 1
    >>> head.classes_[probs.argmax(axis=1)]                               # == head.predict(x_pool)
"""

from __future__ import annotations

import numpy as np
from scipy.special import logit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import MultiLabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._labels import encode_labels
from .temperature import fit_temperature, sigmoid, softmax


class CalibratedHead(ClassifierMixin, BaseEstimator):
    """Logistic regression on embeddings with out-of-fold temperature scaling.

    Parameters
    ----------
    C : float
        Inverse L2 regularisation strength. Embeddings are unit vectors whose
        coordinates are small, so the useful range is high (about 1-100). Of
        1, 10, 30 and 100 on banking77 with MiniLM embeddings, 10 was best
        with 10 labels per class and within 0.1 point of the best (30) with
        all labels (see ``ssl_engine/bench/quick_head.py``).
    class_weight : dict, "balanced" or None
        As in ``LogisticRegression``; a dict maps labels (single-label) or
        ``{0: w_neg, 1: w_pos}`` (each label of a multi-label head) to weights.
    multilabel : bool
        One-vs-rest sigmoids; ``y`` is a list of label lists.
    calibration : {"temperature", None}
        ``None`` skips calibration (``temperature_ = 1``).
    cv : int
        Folds for the out-of-fold logits the temperature is fitted on (>= 2).
    max_iter, tol : int, float
        Passed to the lbfgs solver.
    random_state : int, RandomState or None
        Shuffles the calibration folds.

    Attributes
    ----------
    classes_ : ndarray (C,)
    estimators_ : list of LogisticRegression or None
        One multinomial model (single-label), or one per label with ``None``
        for a label that is constant in the training data (multi-label).
    temperature_ : float
    calibrated_ : bool
        False when calibration was asked for but not possible (see above).
    n_calibration_ : int
        Examples whose out-of-fold logits fitted the temperature.
    constant_logits_ : ndarray (C,)
        Multi-label only: the logit used for labels with no model.
    n_iter_ : int
        lbfgs iterations of the final fit (the most over labels for a
        multi-label head; 0 if no label has a model); ``max_iter`` means it
        stopped before converging.
    n_features_in_ : int
    """

    def __init__(
        self,
        C: float = 10.0,
        class_weight=None,
        multilabel: bool = False,
        calibration: str | None = "temperature",
        cv: int = 5,
        max_iter: int = 1000,
        tol: float = 1e-4,
        random_state=None,
    ):
        self.C = C
        self.class_weight = class_weight
        self.multilabel = multilabel
        self.calibration = calibration
        self.cv = cv
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    # -- fitting ----------------------------------------------------------
    def fit(self, X, y, calibration_rows=None) -> CalibratedHead:
        """Fit on embeddings ``X`` (N, d) and labels ``y`` ((N,) labels, or N label lists).

        ``calibration_rows`` is an optional (N,) bool mask of the rows the
        temperature may be fitted on (default: all). Rows outside it are
        always trained on and never held out, e.g. pseudo-labels, which would
        teach the temperature that the model is always right.
        """
        if self.calibration not in ("temperature", None):
            raise ValueError(f"calibration must be 'temperature' or None, got {self.calibration!r}")
        if not isinstance(self.cv, (int, np.integer)) or self.cv < 2:
            raise ValueError(f"cv must be an integer >= 2, got {self.cv!r}")
        if self.multilabel:  # y is a list of label lists, which scikit-learn's y checks would refuse
            if y is None:
                raise ValueError("CalibratedHead requires y to be passed, but the target y is None")
            X = validate_data(self, X, dtype=[np.float64, np.float32], reset=True)
            if len(y) != X.shape[0]:
                raise ValueError(f"X has {X.shape[0]} rows but y has {len(y)} labels")
        else:
            # y of shape (N, 1) is flattened with a warning; None or another length is an error.
            X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], reset=True)
        if calibration_rows is None:
            calibration_rows = np.ones(X.shape[0], dtype=bool)
        calibration_rows = np.asarray(calibration_rows)
        if calibration_rows.dtype != bool or calibration_rows.shape != (X.shape[0],):
            raise ValueError(f"calibration_rows must be a bool mask of shape ({X.shape[0]},)")
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        if self.multilabel:
            self._fit_multilabel(X, y, calibration_rows, seed)
        else:
            self._fit_multiclass(X, y, calibration_rows, seed)
        self.n_iter_ = max((int(np.max(m.n_iter_)) for m in self.estimators_ if m is not None), default=0)
        return self

    def _base(self, class_weight) -> LogisticRegression:
        return LogisticRegression(C=self.C, class_weight=class_weight, max_iter=self.max_iter, tol=self.tol)

    def _fit_multiclass(self, X: np.ndarray, y, calibration_rows: np.ndarray, seed: int) -> None:
        self.classes_, codes = encode_labels(y)
        class_weight = self.class_weight
        if isinstance(class_weight, dict):  # keyed by label; the models see class positions
            unknown = set(class_weight) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(f"class_weight names labels not in y: {sorted(map(str, unknown))}")
            class_weight = {int(np.searchsorted(self.classes_, k)): w for k, w in class_weight.items()}
        base = self._base(class_weight)
        self.estimators_ = [clone(base).fit(X, codes)]
        self.temperature_, self.calibrated_, self.n_calibration_ = 1.0, False, 0
        if self.calibration is None:
            return

        n_classes = self.classes_.size
        counts = np.bincount(codes[calibration_rows], minlength=n_classes)
        n_splits = self.cv
        held_out_classes = counts >= n_splits
        if held_out_classes.sum() < 2:
            n_splits = 2
            held_out_classes = counts >= 2
        if held_out_classes.sum() < 2:
            return  # nothing can be held out: stay uncalibrated (documented fallback)
        can_hold_out = calibration_rows & held_out_classes[codes]
        rows = np.flatnonzero(can_hold_out)
        always_train = np.flatnonzero(~can_hold_out)
        oof = np.empty((rows.size, n_classes))  # (n_calibration, C) out-of-fold logits
        folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        for train, test in folds.split(rows, codes[rows]):
            train_rows = np.concatenate([rows[train], always_train])
            model = clone(base).fit(X[train_rows], codes[train_rows])
            if model.classes_.size != n_classes:  # cannot happen with the fold rules above
                raise RuntimeError("a calibration fold lost a class")
            oof[test] = _multiclass_logits(model, X[rows[test]])
        self.temperature_ = fit_temperature(oof, codes[rows])
        self.calibrated_, self.n_calibration_ = True, int(rows.size)

    def _fit_multilabel(self, X: np.ndarray, y, calibration_rows: np.ndarray, seed: int) -> None:
        if isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype.kind != "O":
            raise ValueError("multilabel=True takes y as a list of label lists, one per row")
        binarizer = MultiLabelBinarizer()
        indicator = binarizer.fit_transform(y)  # (N, L) 0/1
        self.classes_ = binarizer.classes_
        if self.classes_.size < 1:
            raise ValueError("y holds no labels at all")
        base = self._base(self.class_weight)
        self.estimators_, self.constant_logits_ = _fit_one_vs_rest(base, X, indicator)
        self.temperature_, self.calibrated_, self.n_calibration_ = 1.0, False, 0
        # Only labels with a model are temperature-scaled; a constant label
        # keeps its smoothed base rate.
        modelled = np.array([m is not None for m in self.estimators_])
        rows = np.flatnonzero(calibration_rows)
        always_train = np.flatnonzero(~calibration_rows)
        if self.calibration is None or rows.size < 2 or not modelled.any():
            return
        oof = np.empty((rows.size, indicator.shape[1]))  # (n_calibration, L) out-of-fold logits
        folds = KFold(n_splits=min(self.cv, rows.size), shuffle=True, random_state=seed)
        for train, test in folds.split(rows):
            train_rows = np.concatenate([rows[train], always_train])
            models, constants = _fit_one_vs_rest(base, X[train_rows], indicator[train_rows])
            oof[test] = _one_vs_rest_logits(models, constants, X[rows[test]])
        self.temperature_ = fit_temperature(oof[:, modelled], indicator[rows][:, modelled], multilabel=True)
        self.calibrated_, self.n_calibration_ = True, int(rows.size)

    # -- predicting -------------------------------------------------------
    def logits(self, X) -> np.ndarray:
        """Uncalibrated logits, (N, C) for every C: a binary head gives ``[0, z]``,
        so ``softmax(logits)`` is the uncalibrated (T = 1) ``predict_proba``."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        if self.multilabel:
            return _one_vs_rest_logits(self.estimators_, self.constant_logits_, X)
        return _multiclass_logits(self.estimators_[0], X)

    def decision_function(self, X) -> np.ndarray:
        """Uncalibrated scores in scikit-learn's shape: (N, C), except (N,) for a
        single-label binary head, the logit of ``classes_[1]`` (as scorers such as
        ROC AUC expect). :meth:`logits` has (N, C) for every head."""
        z = self.logits(X)
        if not self.multilabel and self.classes_.size == 2:
            return z[:, 1] - z[:, 0]
        return z

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probabilities (N, C) in ``classes_`` order: rows sum to 1,
        or independent per-label probabilities when ``multilabel``."""
        z = self.logits(X)
        if not self.multilabel:
            return softmax(z / self.temperature_)
        modelled = np.array([m is not None for m in self.estimators_])
        z[:, modelled] /= self.temperature_
        return sigmoid(z)

    def predict(self, X):
        """Labels (N,), or for a multi-label head a list of label lists (p >= 0.5)."""
        probs = self.predict_proba(X)
        if self.multilabel:
            return [self.classes_[row >= 0.5].tolist() for row in probs]
        return self.classes_[probs.argmax(axis=1)]


def _multiclass_logits(model: LogisticRegression, X: np.ndarray) -> np.ndarray:
    z = model.decision_function(X)
    if z.ndim == 1:  # binary: one logit for class 1; softmax([0, z]) == sigmoid(z)
        z = np.column_stack([np.zeros_like(z), z])
    return z


def _fit_one_vs_rest(base: LogisticRegression, X: np.ndarray, indicator: np.ndarray):
    """One binary model per label column, or None plus a constant logit where
    the column has a single value."""
    models: list[LogisticRegression | None] = []
    constants = np.zeros(indicator.shape[1])
    n = indicator.shape[0]
    for j in range(indicator.shape[1]):
        column = indicator[:, j]
        if column.min() == column.max():
            models.append(None)
            constants[j] = logit((column.sum() + 1.0) / (n + 2.0))
        else:
            models.append(clone(base).fit(X, column))
    return models, constants


def _one_vs_rest_logits(models, constants: np.ndarray, X: np.ndarray) -> np.ndarray:
    z = np.empty((X.shape[0], len(models)))  # (N, L)
    for j, model in enumerate(models):
        z[:, j] = constants[j] if model is None else model.decision_function(X)
    return z
