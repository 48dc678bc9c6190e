"""A similarity-weighted k-nearest-neighbour vote over labelled embeddings.

Each query's ``k`` most cosine-similar labelled items vote for their labels
with weights ``softmax(similarity / temperature)`` over the ``k`` neighbours
(the weighted kNN classifier of Wu et al., "Unsupervised Feature Learning
via Non-Parametric Instance Discrimination", CVPR 2018, used there to
evaluate embeddings; DINO uses the same protocol). A low temperature lets the
nearest neighbour dominate; a high one approaches a plain majority vote.

It needs no training, so it is useful from the first few labels on, and its
proposal is explained by the neighbours the annotator sees next to the item.
Its probabilities are not calibrated: a class absent from the neighbourhood
gets only the ``smoothing`` share.

Example::

    >>> knn = KNNVote(n_neighbors=10, temperature=0.05).fit(x_labelled, y)  # x: (N, d)
    >>> probs = knn.predict_proba(x_pool)                                  # (M, C), rows sum to 1
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ssl_engine.index import VectorIndex

from ._labels import encode_labels


class KNNVote(ClassifierMixin, BaseEstimator):
    """Cosine kNN vote with softmax-of-similarity weights.

    Deterministic (exact search over the labelled set), so it has no
    ``random_state``.

    Parameters
    ----------
    n_neighbors : int
        Neighbours per query; capped at the number of labelled items.
    temperature : float
        Softmax temperature on cosine similarities (> 0).
    smoothing : float
        In [0, 1): probabilities are ``(1 - smoothing) * vote + smoothing / C``,
        so no class is ever given exactly 0.

    Attributes
    ----------
    classes_ : ndarray (C,)
    index_ : VectorIndex
        Cosine index over the labelled embeddings, ids = row positions.
    y_ : ndarray (N,)
        Class position of each labelled row.
    n_features_in_ : int
    """

    def __init__(self, n_neighbors: int = 10, temperature: float = 0.05, smoothing: float = 0.01):
        self.n_neighbors = n_neighbors
        self.temperature = temperature
        self.smoothing = smoothing

    def fit(self, X, y) -> KNNVote:
        """Index the labelled embeddings ``X`` (N, d) with labels ``y`` (N,)."""
        if not isinstance(self.n_neighbors, (int, np.integer)) or self.n_neighbors < 1:
            raise ValueError(f"n_neighbors must be a positive integer, got {self.n_neighbors!r}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature!r}")
        if not 0 <= self.smoothing < 1:
            raise ValueError(f"smoothing must be in [0, 1), got {self.smoothing!r}")
        X, y = validate_data(self, X, y, dtype=np.float32, reset=True)
        self.classes_, self.y_ = encode_labels(y)
        self.index_ = VectorIndex(metric="cosine").fit(X)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """(M, C) vote shares in ``classes_`` order; rows sum to 1."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        k = min(int(self.n_neighbors), self.index_.ntotal)
        similarity, ids = self.index_.search(X, k)  # (M, k) each, nearest first
        weights = softmax(similarity.astype(np.float64) / self.temperature, axis=1)  # (M, k)
        probs = np.zeros((X.shape[0], self.classes_.size))
        rows = np.repeat(np.arange(X.shape[0]), k)
        np.add.at(probs, (rows, self.y_[ids.ravel()]), weights.ravel())
        return (1.0 - self.smoothing) * probs + self.smoothing / self.classes_.size

    def predict(self, X) -> np.ndarray:
        """The top-voted label of each row, (M,)."""
        probs = self.predict_proba(X)  # first: it raises NotFittedError before classes_ exists
        return self.classes_[probs.argmax(axis=1)]
