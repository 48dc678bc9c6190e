"""Margin sampling: ask about the items whose two best classes are closest.

Scheffer, Decomain & Wrobel (2001); Settles, "Active Learning Literature
Survey" (2009), section 3.1. The margin of an item is ``p(top1) - p(top2)``;
the smallest margin is the most wanted. ``uncertainty`` returns
``1 - margin`` so that, as for every uncertainty module, higher is more
uncertain.

Multi-label (``multilabel=True``, independent sigmoids): each label's margin is
between "on" and "off", ``|p - (1 - p)| = |2p - 1|``; the item's margin is the
mean over labels.

Arguments: the common ``select`` signature (see ``ssl_engine.active``);
``probs`` is required; ties are broken at random by ``random_state``.

Example::

    >>> import numpy as np
    >>> from ssl_engine.active import margin
    >>> probs = np.array([[0.6, 0.3, 0.1], [0.4, 0.35, 0.25], [0.8, 0.1, 0.1]])
    >>> margin.select(probs=probs, embeddings=None, labelled_mask=np.zeros(3, bool),
    ...               batch_size=2, random_state=0)
    array([1, 0])
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from .pool import check_pool, rank_by_score


def margins(probs: np.ndarray, *, multilabel: bool = False) -> np.ndarray:
    """(N,) margin in [0, 1]: top-1 minus top-2 probability (mean |2p - 1| if multi-label)."""
    probs = np.asarray(probs, dtype=np.float64)
    if multilabel:
        return np.abs(2.0 * probs - 1.0).mean(axis=1)
    top2 = np.partition(probs, -2, axis=1)[:, -2:]  # (N, 2): second-best, best
    return top2[:, 1] - top2[:, 0]


def uncertainty(probs: np.ndarray, *, multilabel: bool = False) -> np.ndarray:
    """(N,) ``1 - margin``, higher is more uncertain."""
    return 1.0 - margins(probs, multilabel=multilabel)


def select(*, probs, embeddings=None, labelled_mask, batch_size, random_state, multilabel=False,
           **context) -> np.ndarray:
    pool = check_pool(probs=probs, embeddings=embeddings, labelled_mask=labelled_mask, batch_size=batch_size,
                      multilabel=multilabel, need_probs=True, strategy="margin")
    scores = uncertainty(pool.required_probs, multilabel=multilabel)
    return rank_by_score(scores, pool.candidates, pool.n_select, check_random_state(random_state))
