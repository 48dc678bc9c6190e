"""Random sampling: the baseline every other strategy must beat.

Uniform sampling without replacement from the unlabelled pool (Settles,
"Active Learning Literature Survey", 2009, uses it as the passive-learning
baseline). It is also the right choice for an unbiased estimate of model
quality on the pool, because every item is equally likely to be picked.

Arguments are the common ``select`` signature (see ``ssl_engine.active``);
``probs`` and ``embeddings`` are not used.

Example::

    >>> import numpy as np
    >>> from ssl_engine.active import random_sampling
    >>> mask = np.array([True, False, False, False])
    >>> random_sampling.select(probs=None, embeddings=None, labelled_mask=mask,
    ...                        batch_size=2, random_state=0)   # two of 1, 2, 3
    array([3, 2])
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from .pool import check_pool


def select(*, probs=None, embeddings=None, labelled_mask, batch_size, random_state, multilabel=False,
           **context) -> np.ndarray:
    pool = check_pool(probs=probs, embeddings=embeddings, labelled_mask=labelled_mask,
                      batch_size=batch_size, multilabel=multilabel, strategy="random")
    rng = check_random_state(random_state)
    return rng.permutation(pool.candidates)[: pool.n_select].astype(np.int64)
