"""Self-training: grow the labelled set with the model's own confident predictions.

Yarowsky, ACL 1995; "pseudo-labelling" in Lee, ICML 2013 workshop. Fit the
wrapped proposer on the labelled rows, predict the unlabelled ones, adopt
every prediction whose top probability reaches ``threshold`` as a label,
refit, and repeat until nothing new passes the threshold or ``max_iter``
rounds have run. The same loop as scikit-learn's ``SelfTrainingClassifier``
(threshold criterion), written out so that it defaults to the calibrated
head, accepts string labels in an object array, and keeps pseudo-labels
apart from human ones (``pseudo_labelled_``).

Optional and off by default in a round: pseudo-labels feed the model's own
mistakes back to it (confirmation bias), and the classes it already predicts
confidently grow fastest. A proposer whose ``fit`` takes ``calibration_rows``
(the calibrated head) is told which rows are human labels, so it never fits
its temperature on pseudo-labels, which by construction agree with the model.
Pseudo-labels never become annotations; they only shape this round's proposals.

Example::

    >>> y = np.array(["a", "b", -1, -1], dtype=object)           # -1: unlabelled
    >>> st = SelfTraining(threshold=0.9).fit(x, y)                # x: (4, d)
    >>> st.pseudo_labelled_                                        # rows adopted as labels
"""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from ._labels import encode_labels, labelled_mask
from .head import CalibratedHead


class SelfTraining(ClassifierMixin, BaseEstimator):
    """Self-training around any proposer with ``fit``/``predict_proba``/``classes_``.

    Parameters
    ----------
    estimator : estimator or None
        The proposer to wrap (cloned); ``None`` is ``CalibratedHead``. A given
        estimator keeps its own ``random_state``.
    threshold : float
        In (0, 1]: the top probability an unlabelled row needs to be adopted.
        With calibrated probabilities it is roughly the expected accuracy of
        the adopted labels.
    max_iter : int
        Refits on pseudo-labels at most this many times (>= 1).
    random_state : int, RandomState or None
        Seeds the default ``CalibratedHead`` (ignored when ``estimator`` is given).

    Attributes
    ----------
    estimator_ : the final fitted proposer
    classes_ : ndarray (C,)
    transduction_ : ndarray (N,) — labels used in the final fit, -1 where none
    pseudo_labelled_ : bool ndarray (N,) — rows whose label was adopted
    labeled_iter_ : int ndarray (N,) — 0 for given labels, i for rows adopted
        in iteration i, -1 for rows never labelled
    n_iter_ : int
    termination_condition_ : {"no_change", "max_iter", "all_labeled"}
    n_features_in_ : int
    """

    def __init__(self, estimator=None, threshold: float = 0.9, max_iter: int = 5, random_state=None):
        self.estimator = estimator
        self.threshold = threshold
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X, y) -> SelfTraining:
        """``X`` (N, d); ``y`` (N,) with -1 for unlabelled rows."""
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold!r}")
        if not isinstance(self.max_iter, (int, np.integer)) or self.max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {self.max_iter!r}")
        # y of shape (N, 1) is flattened with a warning; None or another length is an error.
        X, y = validate_data(self, X, y, reset=True)
        has_label = labelled_mask(y)
        encode_labels(y[has_label])  # the same checks as the wrapped proposers, up front
        template = CalibratedHead(random_state=self.random_state) if self.estimator is None else self.estimator
        # A proposer that can keep pseudo-labels out of its calibration is told which rows are human.
        takes_mask = "calibration_rows" in inspect.signature(template.fit).parameters
        human = has_label.copy()

        transduction = y.astype(object) if y.dtype.kind == "O" else y.copy()
        self.labeled_iter_ = np.where(has_label, 0, -1)
        self.n_iter_ = 0
        self.termination_condition_ = "max_iter"
        while True:
            extra = {"calibration_rows": human[has_label]} if takes_mask else {}
            self.estimator_ = clone(template).fit(X[has_label], transduction[has_label], **extra)
            if has_label.all():
                self.termination_condition_ = "all_labeled"
                break
            if self.n_iter_ == self.max_iter:
                break
            self.n_iter_ += 1
            pool = np.flatnonzero(~has_label)
            probs = self.estimator_.predict_proba(X[pool])
            adopt = probs.max(axis=1) >= self.threshold
            if not adopt.any():
                self.termination_condition_ = "no_change"
                break
            chosen = pool[adopt]
            transduction[chosen] = self.estimator_.classes_[probs[adopt].argmax(axis=1)]
            has_label[chosen] = True
            self.labeled_iter_[chosen] = self.n_iter_

        self.transduction_ = transduction
        self.pseudo_labelled_ = self.labeled_iter_ > 0
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X) -> np.ndarray:
        """The final proposer's probabilities, (M, C) in ``classes_`` order."""
        check_is_fitted(self)
        return self.estimator_.predict_proba(validate_data(self, X, reset=False))

    def predict(self, X) -> np.ndarray:
        """The most likely label of each row, (M,)."""
        probs = self.predict_proba(X)  # first: it raises NotFittedError before classes_ exists
        return self.classes_[probs.argmax(axis=1)]
