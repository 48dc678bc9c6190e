"""Cluster-balanced margin: uncertain items, spread across clusters.

After Citovsky et al., "Batch Active Learning at Scale" (Cluster-Margin),
NeurIPS 2021. Margin sampling alone fills a batch with near-duplicates from
the one region the model finds hardest; Cluster-Margin keeps the uncertainty
signal but spreads the batch over clusters of the embedding space:

1. keep the ``candidate_factor * batch_size`` unlabelled items with the
   smallest margin (the paper's ``k_m``, 10x the batch by default);
2. group them by cluster and visit the clusters round-robin, smallest
   cluster first (as the paper does, so rare regions are not crowded out);
3. within a cluster, take items in order of margin, smallest first.

Deviations from the paper, both for a labelling queue: clusters come from
spherical k-means (``ssl_engine.index.kmeans``, or the round's own clusters
passed as ``clusters``) instead of hierarchical agglomerative clustering, and
items within a cluster are taken by margin rather than at random, so the
queue order stays meaningful. Multi-label probabilities use the mean per-label
margin of :mod:`ssl_engine.active.margin`.

Arguments: the common ``select`` signature (see ``ssl_engine.active``);
``probs`` is required, and ``embeddings`` unless ``clusters`` is given.

- ``clusters``: (N,) int cluster of each pool item (reuses the round's k-means).
- ``n_clusters``: for the internal k-means; ``None`` uses
  :func:`ssl_engine.index.suggest_n_clusters`.
- ``candidate_factor``: ``k_m / batch_size``.

Example::

    >>> import numpy as np
    >>> from ssl_engine.active import cluster_margin
    >>> probs = np.array([[0.5, 0.5], [0.52, 0.48], [0.9, 0.1], [0.6, 0.4]])
    >>> cluster_margin.select(probs=probs, embeddings=None, labelled_mask=np.zeros(4, bool),
    ...                       batch_size=2, random_state=0, clusters=np.array([0, 0, 1, 1]))
    array([0, 3])
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from ..index import kmeans
from .margin import uncertainty as margin_uncertainty
from .pool import check_pool, rank_by_score


def select(
    *,
    probs,
    embeddings=None,
    labelled_mask,
    batch_size,
    random_state,
    multilabel=False,
    clusters=None,
    n_clusters: int | None = None,
    candidate_factor: float = 10.0,
    **context,
) -> np.ndarray:
    pool = check_pool(probs=probs, embeddings=embeddings, labelled_mask=labelled_mask, batch_size=batch_size,
                      multilabel=multilabel, need_probs=True, need_embeddings=clusters is None,
                      strategy="cluster_margin")
    if candidate_factor < 1:
        raise ValueError(f"candidate_factor must be >= 1, got {candidate_factor}")
    rng = check_random_state(random_state)
    if pool.n_select == 0:
        return np.empty(0, dtype=np.int64)

    if clusters is None:
        _, clusters, _ = kmeans(pool.required_embeddings, n_clusters, random_state=rng)
    else:
        clusters = np.asarray(clusters)
        if clusters.shape != (pool.n_samples,) or not np.issubdtype(clusters.dtype, np.integer):
            raise ValueError(f"clusters must be an integer array of shape ({pool.n_samples},)")

    # Step 1: the k_m most uncertain candidates, most uncertain first.
    n_candidates = max(pool.n_select, int(np.ceil(candidate_factor * batch_size)))
    ranked = rank_by_score(margin_uncertainty(pool.required_probs, multilabel=multilabel),
                           pool.candidates, n_candidates, rng)

    # Step 2: per-cluster queues; `ranked` order is kept inside each queue.
    queue_of: dict[int, list[int]] = {}
    for item in ranked:
        queue_of.setdefault(int(clusters[item]), []).append(int(item))
    # Smallest cluster first; ties by the cluster's most uncertain item.
    queues = sorted(queue_of.values(), key=len)

    # Step 3: round-robin across clusters.
    picks: list[int] = []
    depth = 0
    while len(picks) < pool.n_select:
        for queue in queues:
            if depth < len(queue):
                picks.append(queue[depth])
                if len(picks) == pool.n_select:
                    break
        depth += 1
    return np.asarray(picks, dtype=np.int64)
