"""TypiClust: typical representatives of uncovered clusters, for cold start.

Hacohen, Dekel & Weinshall, "Active Learning on a Budget: Opposite Strategies
Suit High and Low Budgets", ICML 2022. With very few labels, uncertainty is
meaningless (the model is barely trained) and the best items to label are the
ones that *represent* the data. TypiClust:

1. clusters the embeddings into ``min(|L| + B, max_clusters)`` clusters with
   k-means, so each new label can land in a cluster no label covers yet;
2. repeatedly takes the cluster with the fewest labelled items, the largest
   first among equals, ignoring clusters smaller than ``min_cluster_size``
   (they are outliers, not modes; used only when nothing else is left);
3. picks its most *typical* unlabelled item, typicality being the inverse
   mean distance to the item's ``K = min(n_neighbours, |cluster| // 2)``
   nearest neighbours within the cluster, and counts the cluster as covered
   once more.

The defaults (``max_clusters=500``, ``min_cluster_size=5``,
``n_neighbours=20``) are the paper's. ``n_init=3`` k-means restarts keep the
best clustering: with few clusters, one bad initialisation merges two modes
and TypiClust would then sample one of them twice (the paper used
scikit-learn's ``KMeans``, which restarted 10 times). Neighbours are found
with a FAISS flat index per cluster, so memory stays O(|cluster| * K).

Arguments: the common ``select`` signature (see ``ssl_engine.active``);
``embeddings`` is required, ``probs`` is not used. ``metric="cosine"``
(default) L2-normalises the embeddings and uses spherical k-means.

Example::

    >>> import numpy as np
    >>> from ssl_engine.active import typiclust
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(0, 1, (50, 2)), rng.normal(20, 1, (50, 2))])
    >>> picks = typiclust.select(probs=None, embeddings=x, labelled_mask=np.zeros(100, bool),
    ...                          batch_size=2, random_state=0, metric="l2")
    >>> sorted(int(i) // 50 for i in picks)   # one typical item from each blob
    [0, 1]
"""

from __future__ import annotations

from typing import Literal

import faiss
import numpy as np
from sklearn.utils import check_random_state

from ..index import kmeans, l2_normalise
from .pool import check_pool


def typicality(x: np.ndarray, n_neighbours: int) -> np.ndarray:
    """(n,) inverse mean Euclidean distance of each row of ``x`` to its
    ``n_neighbours`` nearest other rows (Hacohen et al. 2022, eq. 3)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    k = min(n_neighbours, x.shape[0] - 1)
    if k < 1:
        return np.zeros(x.shape[0])  # a lone item has no neighbourhood to be typical of
    index = faiss.IndexFlatL2(x.shape[1])
    index.add(x)
    sq_dist, _ = index.search(x, k + 1)  # (n, k + 1); column 0 is the item itself
    mean_dist = np.sqrt(np.clip(sq_dist[:, 1:], 0.0, None)).mean(axis=1, dtype=np.float64)
    # Exact duplicates give a zero mean distance: infinitely typical, which is right.
    with np.errstate(divide="ignore"):
        return 1.0 / mean_dist


def select(
    *,
    probs=None,
    embeddings,
    labelled_mask,
    batch_size,
    random_state,
    multilabel=False,
    metric: Literal["cosine", "l2"] = "cosine",
    max_clusters: int = 500,
    min_cluster_size: int = 5,
    n_neighbours: int = 20,
    n_init: int = 3,
    **context,
) -> np.ndarray:
    pool = check_pool(probs=probs, embeddings=embeddings, labelled_mask=labelled_mask, batch_size=batch_size,
                      multilabel=multilabel, need_embeddings=True, strategy="typiclust")
    if metric not in ("cosine", "l2"):
        raise ValueError(f"metric must be 'cosine' or 'l2', got {metric!r}")
    if pool.n_select == 0:
        return np.empty(0, dtype=np.int64)
    x = l2_normalise(pool.required_embeddings, name="embeddings") if metric == "cosine" else pool.required_embeddings

    n_clusters = min(pool.n_labelled + pool.n_select, max_clusters, pool.n_samples)
    _, clusters, _ = kmeans(x, n_clusters, random_state=check_random_state(random_state),
                            n_init=n_init, spherical=metric == "cosine")
    sizes = np.bincount(clusters, minlength=n_clusters)
    covered = np.bincount(clusters[pool.labelled_mask], minlength=n_clusters)
    available = ~pool.labelled_mask
    typical: dict[int, np.ndarray] = {}  # cluster -> (|cluster|,) typicality, computed once

    picks = np.empty(pool.n_select, dtype=np.int64)
    for step in range(pool.n_select):
        open_counts = np.bincount(clusters[available], minlength=n_clusters)
        eligible = open_counts > 0
        if (eligible & (sizes >= min_cluster_size)).any():
            eligible &= sizes >= min_cluster_size
        # Fewest labels first, then largest: lexsort's last key is the primary one.
        order = np.lexsort((-sizes, covered))
        cluster = int(order[eligible[order]][0])

        members = np.flatnonzero(clusters == cluster)
        if cluster not in typical:
            typical[cluster] = typicality(x[members], min(n_neighbours, members.size // 2))
        scores = np.where(available[members], typical[cluster], -np.inf)
        chosen = int(members[np.argmax(scores)])
        picks[step] = chosen
        available[chosen] = False
        covered[cluster] += 1
    return picks
