"""ProbCover: greedy maximum coverage of delta-balls, for low budgets.

Yehuda, Dekel, Hacohen & Weinshall, "Active Learning Through a Covering Lens",
NeurIPS 2022. Every item "covers" the items within distance ``delta`` of it.
ProbCover builds that graph over the pool and greedily picks the item that
covers the most not-yet-covered items, starting from what the labelled items
already cover (Algorithm 1). When everything is covered, the rest of the
batch is drawn at random, as in the paper.

Choosing ``delta`` (section 4 of the paper): cluster the embeddings into
``n_classes`` k-means clusters as stand-in labels; a ball is *pure* when all
items in it share its centre's cluster. Purity falls as ``delta`` grows, and
ProbCover takes the largest ``delta`` whose purity is at least
``purity_threshold`` (alpha = 0.95 in the paper). With ``d_x`` the distance
from ``x`` to the nearest item of another cluster, ``x``'s ball is pure iff
``delta <= d_x``, so that ``delta`` is a quantile of ``d_x``, computed here
exactly on up to ``purity_sample`` items.

Cost: the graph needs a radius search of every item against the pool,
O(N^2 d) with an exact index (a minute or so for 100k x 384 on a few cores)
and memory proportional to its edges; ``max_edges`` stops with an error
(pass a smaller ``delta``) rather than exhausting memory.

Arguments: the common ``select`` signature (see ``ssl_engine.active``);
``embeddings`` is required. ``n_classes`` defaults to ``probs.shape[1]``;
``delta`` skips the purity search. ``metric="cosine"`` (default) measures
Euclidean distance between L2-normalised embeddings.

Example::

    >>> import numpy as np
    >>> from ssl_engine.active import probcover
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(0, 1, (60, 2)), rng.normal(20, 1, (30, 2))])
    >>> picks = probcover.select(probs=None, embeddings=x, labelled_mask=np.zeros(90, bool),
    ...                          batch_size=2, random_state=0, metric="l2", n_classes=2)
    >>> sorted(int(i) >= 60 for i in picks)   # the big blob first, then the small one
    [False, True]
"""

from __future__ import annotations

from typing import Literal

import faiss
import numpy as np
from scipy import sparse
from sklearn.utils import check_random_state

from ..index import kmeans, l2_normalise
from .pool import check_pool

# Queries per FAISS range search: bounds the temporary result buffers.
_CHUNK = 4096


def purity_delta(
    x: np.ndarray,
    clusters: np.ndarray,
    *,
    purity_threshold: float,
    max_samples: int,
    rng: np.random.RandomState,
) -> float:
    """The largest ball radius whose purity is at least ``purity_threshold``.

    ``x`` (n, d) float32, ``clusters`` (n,) pseudo-labels. Purity is measured
    on a random subset of at most ``max_samples`` ball centres.
    """
    n, d = x.shape
    centres = np.arange(n) if n <= max_samples else np.sort(rng.choice(n, max_samples, replace=False))
    # (m,) distance from each centre to the nearest item of another cluster.
    to_other = np.full(centres.size, np.inf)
    for cluster in np.unique(clusters[centres]):
        others = np.flatnonzero(clusters != cluster)
        if others.size == 0:
            continue  # one cluster only: every ball is pure
        index = faiss.IndexFlatL2(d)
        index.add(x[others])
        mine = np.flatnonzero(clusters[centres] == cluster)
        sq_dist, _ = index.search(x[centres[mine]], 1)
        to_other[mine] = np.sqrt(np.clip(sq_dist[:, 0], 0.0, None))
    # A ball of radius delta is pure iff delta <= d_x, so purity(delta) =
    # mean(d_x >= delta); the largest delta keeping it >= alpha is the order
    # statistic at floor((1 - alpha) * m).
    position = int(np.floor((1.0 - purity_threshold) * centres.size))
    return float(np.sort(to_other)[min(position, centres.size - 1)])


def coverage_graph(x: np.ndarray, delta: float, *, max_edges: int) -> sparse.csr_matrix:
    """(n, n) boolean adjacency: ``[i, j]`` iff ``|x_i - x_j| < delta``; symmetric, with self-loops."""
    n, d = x.shape
    index = faiss.IndexFlatL2(d)
    index.add(x)
    radius = float(delta) ** 2  # IndexFlatL2 works in squared distances
    indptr = [np.zeros(1, dtype=np.int64)]
    indices = []
    n_edges = 0
    for start in range(0, n, _CHUNK):
        lims, _, ids = index.range_search(x[start:start + _CHUNK], radius)
        n_edges += int(lims[-1])
        if n_edges > max_edges:
            raise ValueError(f"delta={delta:.4g} links more than max_edges={max_edges} pairs; "
                             f"pass a smaller delta or raise max_edges")
        indptr.append(lims[1:].astype(np.int64) + indptr[-1][-1])
        indices.append(ids)
    graph = sparse.csr_matrix(
        (np.ones(n_edges, dtype=bool), np.concatenate(indices), np.concatenate(indptr)), shape=(n, n)
    )
    # Symmetrise (float round-off can break |a-b| = |b-a| at the boundary)
    # and make sure every item covers itself.
    graph = graph.maximum(graph.T).maximum(sparse.identity(n, dtype=bool, format="csr"))
    return graph.tocsr()


def select(
    *,
    probs=None,
    embeddings,
    labelled_mask,
    batch_size,
    random_state,
    multilabel=False,
    metric: Literal["cosine", "l2"] = "cosine",
    delta: float | None = None,
    n_classes: int | None = None,
    purity_threshold: float = 0.95,
    purity_sample: int = 10_000,
    max_edges: int = 20_000_000,
    **context,
) -> np.ndarray:
    pool = check_pool(probs=probs, embeddings=embeddings, labelled_mask=labelled_mask, batch_size=batch_size,
                      multilabel=multilabel, need_embeddings=True, strategy="probcover")
    if metric not in ("cosine", "l2"):
        raise ValueError(f"metric must be 'cosine' or 'l2', got {metric!r}")
    if not 0 < purity_threshold <= 1:
        raise ValueError(f"purity_threshold must be in (0, 1], got {purity_threshold}")
    rng = check_random_state(random_state)
    if pool.n_select == 0:
        return np.empty(0, dtype=np.int64)
    x = l2_normalise(pool.required_embeddings, name="embeddings") if metric == "cosine" else pool.required_embeddings

    if delta is None:
        if n_classes is None:
            if pool.probs is None:
                raise ValueError("probcover needs delta, n_classes or probs to choose the ball radius")
            n_classes = pool.probs.shape[1]
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2 to measure purity, got {n_classes}")
        _, clusters, _ = kmeans(x, min(n_classes, pool.n_samples), random_state=rng,
                                spherical=metric == "cosine")
        delta = purity_delta(x, clusters, purity_threshold=purity_threshold, max_samples=purity_sample, rng=rng)
    if not delta > 0:
        raise ValueError(f"delta must be positive, got {delta} (duplicate embeddings across clusters?)")

    graph = coverage_graph(x, delta, max_edges=max_edges)  # (N, N) bool, symmetric
    covered = np.zeros(pool.n_samples, dtype=bool)
    labelled = np.flatnonzero(pool.labelled_mask)
    if labelled.size:
        covered[graph[labelled].indices] = True
    # (N,) how many still-uncovered items each item would cover.
    gain = graph @ (~covered).astype(np.int64)

    available = ~pool.labelled_mask
    # Visiting candidates in a random order makes argmax break ties at random.
    order = rng.permutation(pool.n_samples)
    picks: list[int] = []
    while len(picks) < pool.n_select:
        scores = np.where(available[order], gain[order], -1)
        best = int(np.argmax(scores))
        if scores[best] <= 0:
            break  # everything is covered
        chosen = int(order[best])
        picks.append(chosen)
        available[chosen] = False
        newly = graph[chosen].indices[~covered[graph[chosen].indices]]
        covered[newly] = True
        # Each newly covered item stops counting for every item whose ball holds it
        # (the graph is symmetric, so those are its own neighbours).
        gain -= np.asarray(graph[newly].sum(axis=0)).ravel().astype(np.int64)

    if len(picks) < pool.n_select:
        rest = rng.permutation(np.flatnonzero(available))[: pool.n_select - len(picks)]
        picks.extend(int(i) for i in rest)
    return np.asarray(picks, dtype=np.int64)
