"""k-center greedy (core-set) selection: cover the embedding space.

Sener & Savarese, "Active Learning for Convolutional Neural Networks: A
Core-Set Approach", ICLR 2018, Algorithm 1. Treat the labelled items as
centres; repeatedly pick the unlabelled item farthest from its nearest centre
and make it a centre. The batch then covers the pool with the smallest radius
the greedy 2-approximation can find, which favours diversity and outliers.

Memory stays linear in the pool (100k x 384 float32 is about 150 MB): the
initial nearest-centre distances come from a FAISS flat index, which blocks
its distance computations, and each greedy step needs one matrix-vector
product, ``|x - c|^2 = |x|^2 - 2 x.c + |c|^2``, never an (N, N) matrix.

Arguments: the common ``select`` signature (see ``ssl_engine.active``);
``embeddings`` is required. ``metric="cosine"`` (default) L2-normalises the
embeddings first, so distances follow cosine similarity like the rest of the
engine; ``"l2"`` uses them as given. With no labelled item the first centre
is drawn at random by ``random_state``; ties later fall to the lowest position.

Example::

    >>> import numpy as np
    >>> from ssl_engine.active import kcenter
    >>> x = np.array([[0.0], [1.0], [2.0], [10.0]])
    >>> kcenter.select(probs=None, embeddings=x, labelled_mask=np.array([True, False, False, False]),
    ...                batch_size=2, random_state=0, metric="l2")
    array([3, 2])
"""

from __future__ import annotations

from typing import Literal

import faiss
import numpy as np
from sklearn.utils import check_random_state

from ..index import l2_normalise
from .pool import check_pool


def select(
    *,
    probs=None,
    embeddings,
    labelled_mask,
    batch_size,
    random_state,
    multilabel=False,
    metric: Literal["cosine", "l2"] = "cosine",
    **context,
) -> np.ndarray:
    pool = check_pool(probs=probs, embeddings=embeddings, labelled_mask=labelled_mask, batch_size=batch_size,
                      multilabel=multilabel, need_embeddings=True, strategy="kcenter")
    if metric not in ("cosine", "l2"):
        raise ValueError(f"metric must be 'cosine' or 'l2', got {metric!r}")
    if pool.n_select == 0:
        return np.empty(0, dtype=np.int64)
    x = l2_normalise(pool.required_embeddings, name="embeddings") if metric == "cosine" else pool.required_embeddings
    sq_norms = np.einsum("ij,ij->i", x, x, dtype=np.float64)  # (N,)

    # (N,) squared distance from every item to its nearest centre.
    labelled = np.flatnonzero(pool.labelled_mask)
    if labelled.size:
        centres = faiss.IndexFlatL2(x.shape[1])
        centres.add(x[labelled])
        nearest, _ = centres.search(x, 1)
        min_dist = nearest[:, 0].astype(np.float64)
    else:
        min_dist = np.full(pool.n_samples, np.inf)

    available = ~pool.labelled_mask
    # Labelled and already-picked items can never win the argmax, even when
    # every remaining distance is 0 (duplicates).
    min_dist[~available] = -np.inf

    picks = np.empty(pool.n_select, dtype=np.int64)
    rng = check_random_state(random_state)
    for step in range(pool.n_select):
        if np.isinf(min_dist[available]).all():
            chosen = int(rng.choice(np.flatnonzero(available)))  # no centre yet
        else:
            chosen = int(np.argmax(min_dist))
        picks[step] = chosen
        available[chosen] = False
        # (N,) squared distance to the new centre; clip float round-off below 0.
        to_new = np.clip(sq_norms - 2.0 * (x @ x[chosen]) + sq_norms[chosen], 0.0, None)
        np.minimum(min_dist, to_new, out=min_dist)
        min_dist[chosen] = -np.inf
    return picks
