"""FAISS behind one small wrapper: nearest-neighbour search and k-means.

Everything in the engine that touches FAISS goes through this module, so its
input contract is enforced in one place:

- vectors are C-contiguous float32 matrices of shape (n, d), finite;
- the metric is explicit: ``"cosine"`` is an inner product on L2-normalised
  vectors, ``"l2"`` is the squared Euclidean distance FAISS computes;
- database ids go through ``IndexIDMap2``, so callers search with their own
  item ids and never with FAISS row numbers;
- an IVF index is trained before use and ``is_trained`` is checked.

Follows faiss ``tutorial/python/2-IVFFlat.py`` and ``faiss/python/extra_wrappers.py``
(``faiss.Kmeans``).

Example::

    >>> import numpy as np
    >>> from ssl_engine.index import VectorIndex, kmeans
    >>> x = np.random.default_rng(0).normal(size=(100, 8)).astype("float32")
    >>> index = VectorIndex(metric="cosine").fit(x, ids=np.arange(1000, 1100))
    >>> scores, ids = index.search(x[:2], k=3)   # (2, 3) each; ids[:, 0] == [1000, 1001]
    >>> centroids, assignments, inertia = kmeans(x, 4, random_state=0)
"""

from __future__ import annotations

import math
import os
from typing import Literal

import faiss
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

Metric = Literal["cosine", "l2"]
_METRICS = ("cosine", "l2")

# FAISS warns (on stderr) when an IVF quantizer or k-means gets fewer than this
# many training points per centroid; the nlist heuristic stays above it.
_MIN_POINTS_PER_CENTROID = 39


def as_float32_matrix(x, *, name: str = "vectors", dim: int | None = None) -> np.ndarray:
    """Return ``x`` as the C-contiguous float32 (n, d) matrix FAISS requires.

    Raises ``TypeError`` for non-numeric input and ``ValueError`` for the wrong
    number of dimensions, an unexpected width, an empty matrix or NaN/inf,
    because FAISS itself would crash or silently return garbage on those.
    """
    arr = np.asarray(x)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, d), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {arr.shape}")
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(f"{name} have dimension {arr.shape[1]}, the index has {dim}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contain NaN or infinite values")
    return arr


def l2_normalise(x: np.ndarray, *, name: str = "vectors") -> np.ndarray:
    """Return a row-wise L2-normalised float32 copy of ``x``.

    A zero row has no direction, so it raises instead of becoming a zero
    vector that would silently match nothing (or everything) under cosine.
    """
    x = as_float32_matrix(x, name=name).copy()
    norms = np.linalg.norm(x, axis=1)
    if (norms == 0).any():
        raise ValueError(f"{name} contain {int((norms == 0).sum())} zero rows; cosine is undefined for them")
    faiss.normalize_L2(x)  # in place
    return x


def suggest_nlist(n_vectors: int) -> int:
    """Number of IVF lists for ``n_vectors``: ``4 * sqrt(n)``, the low end of the
    ``4..16 * sqrt(n)`` range the FAISS wiki recommends, capped so every list
    gets at least 39 training points (below that FAISS warns)."""
    return max(1, min(int(4 * math.sqrt(n_vectors)), n_vectors // _MIN_POINTS_PER_CENTROID))


def _check_ids(ids, n: int) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.shape[0] != n:
        raise ValueError(f"ids must have shape ({n},), got {ids.shape}")
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"ids must be integers, got dtype {ids.dtype}")
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    # -1 is FAISS's "no result" marker, so it cannot be a real id.
    if (ids < 0).any():
        raise ValueError("ids must be non-negative")
    if np.unique(ids).size != n:
        raise ValueError("ids must be unique")
    return ids


class VectorIndex(BaseEstimator):
    """A nearest-neighbour index over embeddings, exact or IVF by size.

    Parameters
    ----------
    metric : {"cosine", "l2"}
        ``"cosine"`` stores L2-normalised vectors in an inner-product index and
        returns cosine similarities (higher is nearer); ``"l2"`` returns squared
        Euclidean distances (lower is nearer).
    ivf_threshold : int
        ``fit`` builds an exact ``IndexFlatIP``/``IndexFlatL2`` below this many
        vectors and an ``IndexIVFFlat`` at or above it. Exact search costs
        O(n*d) per query, which is still fast for a single labelling project of
        100k items; IVF pays a k-means training step and loses a little recall.
    nlist : int or None
        IVF lists; ``None`` uses :func:`suggest_nlist`.
    nprobe : int
        IVF lists visited per query (recall/speed trade-off). Read at every
        search, so ``set_params(nprobe=...)`` takes effect without refitting.
    random_state : int, RandomState or None
        Seeds the IVF quantizer's k-means (and its training subsample).

    Attributes
    ----------
    index_ : faiss.IndexIDMap2
        The FAISS index, wrapping the flat or IVF index.
    dim_ : int
        Vector dimension.
    kind_ : {"flat", "ivf"}
        Which index ``fit`` built.
    """

    def __init__(
        self,
        metric: Metric = "cosine",
        ivf_threshold: int = 100_000,
        nlist: int | None = None,
        nprobe: int = 16,
        random_state=None,
    ):
        self.metric = metric
        self.ivf_threshold = ivf_threshold
        self.nlist = nlist
        self.nprobe = nprobe
        self.random_state = random_state

    # -- building ---------------------------------------------------------
    def fit(self, vectors, ids=None) -> VectorIndex:
        """Build (and for IVF, train) a new index on ``vectors`` and add them.

        ``ids`` are the caller's int64 ids (default ``0..n-1``); searches
        return them in place of row numbers.
        """
        if self.metric not in _METRICS:
            raise ValueError(f"metric must be one of {_METRICS}, got {self.metric!r}")
        x = self._prepare(as_float32_matrix(vectors))
        n, d = x.shape
        ids = np.arange(n, dtype=np.int64) if ids is None else _check_ids(ids, n)
        faiss_metric = faiss.METRIC_INNER_PRODUCT if self.metric == "cosine" else faiss.METRIC_L2

        inner: faiss.Index
        if n < self.ivf_threshold:
            inner = faiss.IndexFlatIP(d) if self.metric == "cosine" else faiss.IndexFlatL2(d)
            kind = "flat"
        else:
            nlist = suggest_nlist(n) if self.nlist is None else int(self.nlist)
            if not 1 <= nlist <= n:
                raise ValueError(f"nlist must be in [1, {n}], got {nlist}")
            quantizer = faiss.IndexFlatIP(d) if self.metric == "cosine" else faiss.IndexFlatL2(d)
            # The Python wrapper keeps `quantizer` alive as long as `ivf`.
            ivf = faiss.IndexIVFFlat(quantizer, d, nlist, faiss_metric)
            ivf.cp.seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
            inner, kind = ivf, "ivf"

        index = faiss.IndexIDMap2(inner)
        if not index.is_trained:
            index.train(x)
        if not index.is_trained:  # otherwise add_with_ids fails with a bare C++ assertion
            raise RuntimeError("FAISS index is still untrained after train()")
        index.add_with_ids(x, ids)

        self.index_ = index
        self.dim_ = d
        self.kind_ = kind
        return self

    def add(self, vectors, ids) -> VectorIndex:
        """Add more vectors with their (new, unique) ids to a fitted index."""
        check_is_fitted(self)
        x = self._prepare(as_float32_matrix(vectors, dim=self.dim_))
        ids = _check_ids(ids, x.shape[0])
        existing = faiss.vector_to_array(self.index_.id_map)
        clash = np.isin(ids, existing)
        if clash.any():
            raise ValueError(f"ids already in the index: {ids[clash][:10].tolist()}")
        self.index_.add_with_ids(x, ids)
        return self

    @property
    def ntotal(self) -> int:
        """Number of vectors in the index."""
        check_is_fitted(self)
        return int(self.index_.ntotal)

    # -- querying ---------------------------------------------------------
    def search(self, queries, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest database vectors of each query.

        Returns ``(scores, ids)``, each of shape (n_queries, k), nearest first.
        Scores are cosine similarities (``metric="cosine"``) or squared L2
        distances (``metric="l2"``). An IVF search that probes too few lists
        can find fewer than ``k`` neighbours; those slots have id ``-1`` and
        score ``-inf`` (cosine) or ``+inf`` (l2), so sorting stays correct and
        ``np.isfinite(scores)`` tells which slots are real.
        """
        check_is_fitted(self)
        q = self._prepare(as_float32_matrix(queries, name="queries", dim=self.dim_))
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if k > self.index_.ntotal:
            raise ValueError(f"k={k} is larger than the {self.index_.ntotal} vectors in the index")
        self._apply_nprobe()
        scores, ids = self.index_.search(q, int(k))
        missing = ids < 0
        if missing.any():
            scores[missing] = -np.inf if self.metric == "cosine" else np.inf
        return scores, ids

    # -- persistence ------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the index with ``faiss.write_index`` (FAISS's own format, no pickle)."""
        check_is_fitted(self)
        self._apply_nprobe()  # the file records nprobe, so load() gets it back
        faiss.write_index(self.index_, os.fspath(path))

    @classmethod
    def load(cls, path: str | os.PathLike) -> VectorIndex:
        """Read an index written by :meth:`save`.

        ``metric``, ``nlist`` and ``nprobe`` are recovered from the file;
        ``ivf_threshold`` and ``random_state`` only matter to ``fit`` and take
        their defaults.
        """
        index = faiss.read_index(os.fspath(path))
        if not isinstance(index, faiss.IndexIDMap2):
            raise ValueError(f"{path} does not hold an index written by VectorIndex.save")
        inner = faiss.downcast_index(index.index)
        if isinstance(inner, faiss.IndexIVFFlat):
            kind, nlist, nprobe = "ivf", int(inner.nlist), int(inner.nprobe)
        elif isinstance(inner, (faiss.IndexFlatIP, faiss.IndexFlatL2)):
            kind, nlist, nprobe = "flat", None, cls().nprobe
        else:
            raise ValueError(f"{path} holds an unsupported index type {type(inner).__name__}")
        # Only cosine uses an inner-product index here, so the metric type is unambiguous.
        metric: Metric = "cosine" if index.metric_type == faiss.METRIC_INNER_PRODUCT else "l2"
        loaded = cls(metric=metric, nlist=nlist, nprobe=nprobe)
        loaded.index_ = index
        loaded.dim_ = int(index.d)
        loaded.kind_ = kind
        return loaded

    def _apply_nprobe(self) -> None:
        if self.kind_ == "ivf":
            if not isinstance(self.nprobe, (int, np.integer)) or self.nprobe < 1:
                raise ValueError(f"nprobe must be a positive integer, got {self.nprobe!r}")
            faiss.extract_index_ivf(self.index_).nprobe = int(self.nprobe)

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        return l2_normalise(x) if self.metric == "cosine" else x


def suggest_n_clusters(n_samples: int) -> int:
    """Default number of k-means clusters: ``round(sqrt(n / 2))``.

    The classic rule of thumb (Mardia, Kent & Bibby, *Multivariate Analysis*,
    1979): about 7 clusters for 100 items, 224 for 100k. It grows slowly
    enough that each cluster still holds enough items to be worth reviewing
    as a group, and it needs no extra k-means runs (unlike elbow or silhouette
    searches, which would multiply the clustering cost of a round).
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be positive, got {n_samples}")
    return int(min(n_samples, max(1, round(math.sqrt(n_samples / 2)))))


def kmeans(
    vectors,
    n_clusters: int | None,
    *,
    random_state,
    n_iter: int = 25,
    n_init: int = 1,
    spherical: bool = True,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Cluster ``vectors`` with ``faiss.Kmeans``.

    Parameters
    ----------
    vectors : array of shape (n, d)
    n_clusters : int or None
        ``None`` uses :func:`suggest_n_clusters`.
    random_state : int, RandomState or None
        Seeds FAISS's initialisation and subsampling; the same seed gives the
        same clusters.
    n_iter : int
        Lloyd iterations.
    n_init : int
        Independent runs from different random initialisations (FAISS's
        ``nredo``); the run with the best objective is kept. A single run can
        put two initial centroids in one mode and leave another mode merged
        with outliers; more runs make that unlikely at ``n_init`` times the cost.
    spherical : bool
        Cosine k-means: vectors are L2-normalised, centroids are kept on the
        unit sphere and points are assigned by inner product. ``False`` is
        plain Euclidean k-means on the raw vectors.

    Returns
    -------
    centroids : float32 array (n_clusters, d)
    assignments : int64 array (n,) — the cluster of each vector
    inertia : float — sum of squared Euclidean distances from each (normalised,
        if spherical) vector to its centroid, comparable to scikit-learn's
        ``KMeans.inertia_``.
    """
    x = l2_normalise(vectors) if spherical else as_float32_matrix(vectors)
    n, d = x.shape
    k = suggest_n_clusters(n) if n_clusters is None else n_clusters
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"n_clusters must be an integer in [1, {n}], got {k!r}")
    if n_iter < 1 or n_init < 1:
        raise ValueError(f"n_iter and n_init must be positive, got {n_iter} and {n_init}")
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    km = faiss.Kmeans(
        d, int(k), niter=int(n_iter), nredo=int(n_init), seed=seed, spherical=spherical, verbose=False,
        # Small projects legitimately have few points per cluster; silence the
        # stderr warning FAISS prints below 39.
        min_points_per_centroid=1,
    )
    km.train(x)
    centroids = np.ascontiguousarray(km.centroids, dtype=np.float32)
    scores, assignments = km.assign(x)
    assignments = assignments.astype(np.int64)
    if spherical:
        # assign() scored by inner product; ||x - c||^2 = |x|^2 + |c|^2 - 2<x, c>
        # with |x| = 1, computed without an (n, d) temporary.
        sq = 1.0 + (centroids.astype(np.float64) ** 2).sum(axis=1)[assignments] - 2.0 * scores
    else:
        sq = scores.astype(np.float64)  # already squared L2 distances
    inertia = float(np.clip(sq, 0.0, None).sum())
    return centroids, assignments, inertia
