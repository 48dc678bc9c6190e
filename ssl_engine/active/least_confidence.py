"""Least-confidence sampling: ask about the items whose top prediction is weakest.

Settles, "Active Learning Literature Survey" (2009), section 3.1; Culotta &
McCallum (2005). Uncertainty of an item is ``1 - max_c p(c | x)``.

Multi-label (``multilabel=True``, independent sigmoids of shape (N, C)): each
label is a binary decision whose confidence is ``max(p, 1 - p)``; the item's
uncertainty is the mean over labels of ``1 - max(p, 1 - p) = min(p, 1 - p)``.

Arguments: the common ``select`` signature (see ``ssl_engine.active``);
``probs`` is required; ties are broken at random by ``random_state``.

Example::

    >>> import numpy as np
    >>> from ssl_engine.active import least_confidence
    >>> probs = np.array([[0.9, 0.1], [0.55, 0.45], [0.7, 0.3]])
    >>> least_confidence.select(probs=probs, embeddings=None, labelled_mask=np.zeros(3, bool),
    ...                         batch_size=1, random_state=0)
    array([1])
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from .pool import check_pool, rank_by_score


def uncertainty(probs: np.ndarray, *, multilabel: bool = False) -> np.ndarray:
    """(N,) least-confidence uncertainty, higher is more uncertain, in [0, 1)."""
    probs = np.asarray(probs, dtype=np.float64)
    if multilabel:
        return np.minimum(probs, 1.0 - probs).mean(axis=1)
    return 1.0 - probs.max(axis=1)


def select(*, probs, embeddings=None, labelled_mask, batch_size, random_state, multilabel=False,
           **context) -> np.ndarray:
    pool = check_pool(probs=probs, embeddings=embeddings, labelled_mask=labelled_mask, batch_size=batch_size,
                      multilabel=multilabel, need_probs=True, strategy="least_confidence")
    scores = uncertainty(pool.required_probs, multilabel=multilabel)
    return rank_by_score(scores, pool.candidates, pool.n_select, check_random_state(random_state))
