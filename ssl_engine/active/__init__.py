"""Active-learning strategies: which unlabelled items to label next.

Every strategy is one module with a ``select`` function of the same shape::

    select(*, probs, embeddings, labelled_mask, batch_size, random_state,
           multilabel=False, **context) -> np.ndarray

- ``probs``: (N, C) predicted probabilities for every pool item, or ``None``;
  rows sum to 1, or with ``multilabel=True`` are independent sigmoids.
- ``embeddings``: (N, D) item embeddings, or ``None``.
- ``labelled_mask``: (N,) bool, True for items that already have labels.
- ``batch_size``: how many items to return.
- ``random_state``: int, ``RandomState`` or ``None``; the same seed gives the
  same batch.
- ``**context``: strategy-specific keywords (``metric``, ``clusters``,
  ``n_classes``, ...). A strategy ignores the ones it does not know, so one
  call site can drive any strategy by name.

It returns int64 positions into the pool, most wanted first, never a labelled
position, never twice, ``min(batch_size, n_unlabelled)`` of them. Which inputs
a strategy needs is in its module docstring; a missing one raises
``ValueError``.

Example::

    >>> from ssl_engine.active import get_strategy
    >>> select = get_strategy("margin")
    >>> # picks = select(probs=p, embeddings=None, labelled_mask=mask, batch_size=50, random_state=0)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import (
    auto,
    cluster_margin,
    entropy,
    kcenter,
    least_confidence,
    margin,
    probcover,
    random_sampling,
    typiclust,
)

Strategy = Callable[..., np.ndarray]

STRATEGIES: dict[str, Strategy] = {
    "random": random_sampling.select,
    "least_confidence": least_confidence.select,
    "margin": margin.select,
    "entropy": entropy.select,
    "kcenter": kcenter.select,
    "cluster_margin": cluster_margin.select,
    "typiclust": typiclust.select,
    "probcover": probcover.select,
    "auto": auto.select,
}


def get_strategy(name: str) -> Strategy:
    """The ``select`` function registered under ``name``."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; choose one of {sorted(STRATEGIES)}") from None


__all__ = ["STRATEGIES", "Strategy", "get_strategy"]
