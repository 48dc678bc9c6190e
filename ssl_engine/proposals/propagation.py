"""Label spreading over a cosine k-nearest-neighbour graph of all items.

Zhou, Bousquet, Lal, Weston & Schölkopf, "Learning with Local and Global
Consistency", NIPS 2004 (scikit-learn's ``LabelSpreading``). Every item,
labelled or not, is a node; each is joined to its ``n_neighbors`` most
cosine-similar items. With ``W`` the symmetrised 0/1 adjacency, ``D`` its
degrees and ``Y`` the one-hot labels (zero rows for unlabelled items)::

    S = D^-1/2 W D^-1/2
    F <- alpha * S F + (1 - alpha) * Y        until F stops changing

and each item's label distribution is its row of ``F`` normalised to sum to 1.
``alpha`` is how far labels travel: 0 keeps only the given labels, near 1
trusts the graph. A labelled item's own distribution can move away from its
label when its neighbours disagree, which is a hint of a label error.

Why this and not cluster-then-label (k-means clusters voting with their
labelled members), the other option considered: on banking77 with MiniLM
embeddings and 10 labels per class (``ssl_engine/bench/quick_head.py``),
cluster-then-label reached 69-75% test accuracy depending on k (a cluster
straddling two intents proposes one of them for all its members), label
spreading 87%, above the calibrated head on the same labels (84.5%). Its
scores are not calibrated, though: normalised ``F`` is underconfident
(ECE 0.17 there, against the head's 0.015). The graph is built with
``ssl_engine.index.VectorIndex`` (FAISS): exact below its IVF threshold,
IVF above, so it scales to large pools where scikit-learn's
``LabelSpreading`` brute-forces the neighbours.

``fit(X, y)`` follows scikit-learn's semi-supervised convention: unlabelled
rows have ``y = -1``; ``label_distributions_`` is the (N, C) result for every
fitted row. ``predict_proba(X)`` averages the distributions of each row's
``n_neighbors`` nearest fitted rows (a fitted row finds itself among them), so
it serves new rows and gives fitted rows one more smoothing step; that is
what :func:`ssl_engine.proposals.propose` returns for the pool.

Example::

    >>> y = np.array(["a", -1, "b", -1, -1], dtype=object)
    >>> model = GraphLabelSpreading(n_neighbors=2).fit(x, y)  # x: (5, d)
    >>> model.label_distributions_                            # (5, 2), rows sum to 1

Calibrating the result: :func:`fit_distribution_temperature` chooses one
temperature ``T`` on held-out rows and :func:`temper_distributions` applies it,
``P ** (1/T)`` renormalised (``T < 1`` sharpens the underconfident ``F``)::

    >>> t = fit_distribution_temperature(held_out_p, held_out_codes)  # (M, C), (M,)
    >>> calibrated = temper_distributions(model.predict_proba(x_new), t)
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ssl_engine.index import VectorIndex

from ._labels import encode_labels, labelled_mask
from .temperature import fit_temperature


class GraphLabelSpreading(ClassifierMixin, BaseEstimator):
    """Label spreading (Zhou et al. 2004) on a cosine kNN graph built with FAISS.

    Parameters
    ----------
    n_neighbors : int
        Neighbours per item in the graph (and for ``predict_proba`` on new rows).
    alpha : float
        In [0, 1): weight of the neighbours against the item's own label.
    max_iter : int
        Iteration cap; each iteration is one sparse (N, N) @ (N, C) product.
    tol : float
        Stop when no entry of ``F`` changes by more than this.
    ivf_threshold : int
        Passed to ``VectorIndex``: exact search below this many items, IVF above.
    random_state : int, RandomState or None
        Seeds the IVF quantiser (only used above ``ivf_threshold``).

    Attributes
    ----------
    classes_ : ndarray (C,)
    index_ : VectorIndex over the fitted rows
    label_distributions_ : ndarray (N, C) — per fitted row, rows sum to 1
        (uniform for an item no label reaches)
    transduction_ : ndarray (N,) — the argmax label of each fitted row
    n_iter_ : int
    n_features_in_ : int
    """

    def __init__(
        self,
        n_neighbors: int = 15,
        alpha: float = 0.8,
        max_iter: int = 100,
        tol: float = 1e-4,
        ivf_threshold: int = 100_000,
        random_state=None,
    ):
        self.n_neighbors = n_neighbors
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.ivf_threshold = ivf_threshold
        self.random_state = random_state

    def fit(self, X, y) -> GraphLabelSpreading:
        """Spread the labels of ``y`` (N,), -1 for unlabelled, over the graph of ``X`` (N, d)."""
        if not isinstance(self.n_neighbors, (int, np.integer)) or self.n_neighbors < 1:
            raise ValueError(f"n_neighbors must be a positive integer, got {self.n_neighbors!r}")
        if not 0 <= self.alpha < 1:
            raise ValueError(f"alpha must be in [0, 1), got {self.alpha!r}")
        # y of shape (N, 1) is flattened with a warning; None or another length is an error.
        X, y = validate_data(self, X, y, dtype=np.float32, reset=True)
        labelled = labelled_mask(y)
        self.classes_, codes = encode_labels(y[labelled])
        n, n_classes = X.shape[0], self.classes_.size

        self.index_ = VectorIndex(
            metric="cosine", ivf_threshold=self.ivf_threshold, random_state=self.random_state
        ).fit(X)
        spread = normalised_knn_graph(self.index_, X, int(self.n_neighbors))

        seeds = np.zeros((n, n_classes))  # Y, (N, C)
        seeds[np.flatnonzero(labelled), codes] = 1.0
        f, iterations = spread_labels(spread, seeds, self.alpha, max_iter=int(self.max_iter), tol=self.tol)
        self.n_iter_ = iterations
        self.label_distributions_ = normalise_rows(f)
        self.transduction_ = self.classes_[self.label_distributions_.argmax(axis=1)]
        return self

    def predict_proba(self, X) -> np.ndarray:
        """(M, C): the mean label distribution of each row's ``n_neighbors`` nearest fitted rows."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        k = min(int(self.n_neighbors), self.index_.ntotal)
        _, ids = self.index_.search(X, k)  # (M, k)
        found = ids >= 0
        summed = (self.label_distributions_[np.where(found, ids, 0)] * found[..., None]).sum(axis=1)
        return normalise_rows(summed)

    def predict(self, X) -> np.ndarray:
        """The most likely label of each row, (M,)."""
        probs = self.predict_proba(X)  # first: it raises NotFittedError before classes_ exists
        return self.classes_[probs.argmax(axis=1)]


def normalised_knn_graph(index: VectorIndex, X: np.ndarray, n_neighbors: int) -> sparse.csr_matrix:
    """``S = D^-1/2 W D^-1/2`` (N, N) for the rows ``X`` that ``index`` holds.

    ``W`` is the symmetrised 0/1 graph joining each row to its ``n_neighbors``
    nearest other rows. The graph does not depend on the labels, so a caller
    spreading several label sets over the same rows can build it once.
    """
    n = X.shape[0]
    k = min(n_neighbors + 1, n)  # +1: every item finds itself first
    _, ids = index.search(X, k)  # (N, k)
    rows = np.repeat(np.arange(n), k)
    keep = (ids.ravel() >= 0) & (ids.ravel() != rows)  # drop self-loops and IVF misses
    adjacency = sparse.csr_matrix(
        (np.ones(int(keep.sum())), (rows[keep], ids.ravel()[keep])), shape=(n, n)
    )
    adjacency = adjacency.maximum(adjacency.T)  # symmetric 0/1, (N, N)
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    inv_sqrt = np.zeros(n)
    inv_sqrt[degree > 0] = degree[degree > 0] ** -0.5
    return (sparse.diags(inv_sqrt) @ adjacency @ sparse.diags(inv_sqrt)).tocsr()


def cosine_knn_graph(X, n_neighbors: int, *, ivf_threshold: int = 100_000) -> sparse.csr_matrix:
    """:func:`normalised_knn_graph` of the rows of ``X`` (N, d) over a cosine
    ``VectorIndex`` built here: exact search below ``ivf_threshold`` rows,
    IVF above (``ivf_threshold=len(X) + 1`` forces exact search)."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    index = VectorIndex(metric="cosine", ivf_threshold=ivf_threshold).fit(X)
    return normalised_knn_graph(index, X, n_neighbors)


def spread_labels(spread, seeds: np.ndarray, alpha: float, *, max_iter: int = 100,
                  tol: float = 1e-4) -> tuple[np.ndarray, int]:
    """Iterate ``F <- alpha S F + (1 - alpha) Y`` from ``F = Y``; ``(F, iterations)``.

    ``spread`` is ``S`` (N, N), ``seeds`` is ``Y`` (N, C); ``F`` is returned
    unnormalised (see :func:`normalise_rows`).
    """
    f = seeds.copy()
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is returned
        f_next = alpha * (spread @ f) + (1.0 - alpha) * seeds
        change = np.abs(f_next - f).max()
        f = f_next
        if change < tol:
            break
    return f, iterations


def normalise_rows(f: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to 1; an all-zero row (no label reached it) becomes uniform."""
    total = f.sum(axis=1, keepdims=True)
    return np.where(total > 0, f / np.where(total > 0, total, 1.0), 1.0 / f.shape[1])


def temper_distributions(distributions: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log P / T)`` of each row: ``P ** (1/T)`` renormalised, (N, C) -> (N, C).

    Temperature scaling (Guo et al., ICML 2017, :mod:`ssl_engine.proposals.temperature`)
    applied to a distribution rather than to logits, ``log P`` playing the
    logits. ``T < 1`` sharpens, ``T > 1`` flattens; a zero stays zero and the
    order within a row (so the argmax) never changes. Rows of ``distributions``
    are non-negative with at least one positive entry (:func:`normalise_rows`
    guarantees it). Worked in the log domain so a small ``T`` cannot underflow.

    Example: ``P = [[0.75, 0.25]]``, ``T = 0.5``: ``[0.5625, 0.0625] / 0.625 = [0.9, 0.1]``.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature!r}")
    p = np.asarray(distributions, dtype=np.float64)
    with np.errstate(divide="ignore"):
        logits = np.log(p)  # (N, C), -inf where P is 0
    logits = logits / temperature
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=1, keepdims=True)


def fit_distribution_temperature(distributions: np.ndarray, y: np.ndarray) -> float:
    """The ``T`` in [0.01, 100] minimising the held-out NLL of :func:`temper_distributions`.

    ``distributions`` (M, C) are a model's predictions for held-out rows whose
    class positions are ``y`` (M,). A row giving its true class probability 0
    is left out: tempering keeps a zero at zero, so its likelihood is 0 for
    every ``T`` and says nothing about ``T`` (with label spreading that is an
    item no label of its class reached, or a class no label was bought for).
    """
    p = np.asarray(distributions, dtype=np.float64)
    y = np.asarray(y)
    if p.ndim != 2 or y.shape != (p.shape[0],):
        raise ValueError(f"need (M, C) distributions and (M,) labels, got {p.shape} and {y.shape}")
    reachable = p[np.arange(len(y)), y] > 0
    if not reachable.any():
        raise ValueError("no held-out row gives its true class a positive probability")
    with np.errstate(divide="ignore"):
        logits = np.log(p[reachable])  # (M', C)
    return fit_temperature(logits, y[reachable])
