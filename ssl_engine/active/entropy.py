"""Entropy sampling: ask about the items whose predicted distribution is flattest.

Shannon entropy of the predictive distribution, ``-sum_c p_c log p_c`` (natural
log, so a uniform row over C classes scores ``log C``); Settles, "Active
Learning Literature Survey" (2009), section 3.1.

Multi-label (``multilabel=True``, independent sigmoids): the mean over labels
of the binary entropy ``-p log p - (1 - p) log(1 - p)``, so the score stays in
[0, log 2] whatever the number of labels.

Arguments: the common ``select`` signature (see ``ssl_engine.active``);
``probs`` is required; ties are broken at random by ``random_state``.

Example::

    >>> import numpy as np
    >>> from ssl_engine.active import entropy
    >>> probs = np.array([[0.98, 0.01, 0.01], [1/3, 1/3, 1/3], [0.5, 0.5, 0.0]])
    >>> entropy.select(probs=probs, embeddings=None, labelled_mask=np.zeros(3, bool),
    ...                batch_size=3, random_state=0)
    array([1, 2, 0])
"""

from __future__ import annotations

import numpy as np
from scipy.special import entr
from sklearn.utils import check_random_state

from .pool import check_pool, rank_by_score


def uncertainty(probs: np.ndarray, *, multilabel: bool = False) -> np.ndarray:
    """(N,) entropy in nats, higher is more uncertain."""
    probs = np.asarray(probs, dtype=np.float64)
    # scipy's entr is -p log p with the 0 log 0 = 0 convention, no warnings.
    if multilabel:
        return (entr(probs) + entr(1.0 - probs)).mean(axis=1)
    return entr(probs).sum(axis=1)


def select(*, probs, embeddings=None, labelled_mask, batch_size, random_state, multilabel=False,
           **context) -> np.ndarray:
    pool = check_pool(probs=probs, embeddings=embeddings, labelled_mask=labelled_mask, batch_size=batch_size,
                      multilabel=multilabel, need_probs=True, strategy="entropy")
    scores = uncertainty(pool.required_probs, multilabel=multilabel)
    return rank_by_score(scores, pool.candidates, pool.n_select, check_random_state(random_state))
