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

The registry. :data:`STRATEGIES` maps each name to a :class:`StrategyInfo`
that says which inputs the strategy needs, so a caller with no model yet (no
``probs``) can tell which strategies it can run without trying them. It is
the one list of strategies: the platform's project settings offer its names,
in its order. Importing this package is cheap (no numpy, FAISS or
scikit-learn): a strategy's module is imported the first time its ``select``
is asked for, so the web process can read the names without loading the
engine.

Example::

    >>> from ssl_engine.active import STRATEGIES, get_strategy
    >>> STRATEGIES["margin"].needs_probs
    True
    >>> select = get_strategy("margin")
    >>> # picks = select(probs=p, embeddings=None, labelled_mask=mask, batch_size=50, random_state=0)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

Strategy = Callable[..., "np.ndarray"]


@dataclass(frozen=True)
class StrategyInfo:
    """What the registry knows about one strategy.

    ``needs_probs``: ``select`` raises ``ValueError`` without ``probs``, so
    with no model yet a caller must run another strategy.
    ``needs_embeddings``: ``select`` raises ``ValueError`` without
    ``embeddings``; ``cluster_margin`` (and ``auto`` once it runs
    cluster_margin) accepts the round's ``clusters`` in their stead.
    """

    name: str
    module: str  # the submodule of ssl_engine.active whose ``select`` this is
    needs_probs: bool
    needs_embeddings: bool

    @property
    def select(self) -> Strategy:
        """The strategy's ``select`` function (its module is imported on first use)."""
        return importlib.import_module(f"{__name__}.{self.module}").select


# The order is the platform's: project settings list the names in it, and so
# does the API schema's enum.
_REGISTRY = (
    StrategyInfo("auto", "auto", needs_probs=False, needs_embeddings=True),
    StrategyInfo("random", "random_sampling", needs_probs=False, needs_embeddings=False),
    StrategyInfo("least_confidence", "least_confidence", needs_probs=True, needs_embeddings=False),
    StrategyInfo("margin", "margin", needs_probs=True, needs_embeddings=False),
    StrategyInfo("entropy", "entropy", needs_probs=True, needs_embeddings=False),
    StrategyInfo("kcenter", "kcenter", needs_probs=False, needs_embeddings=True),
    StrategyInfo("cluster_margin", "cluster_margin", needs_probs=True, needs_embeddings=True),
    StrategyInfo("typiclust", "typiclust", needs_probs=False, needs_embeddings=True),
    StrategyInfo("probcover", "probcover", needs_probs=False, needs_embeddings=True),
)

STRATEGIES: dict[str, StrategyInfo] = {info.name: info for info in _REGISTRY}


def strategy_info(name: str) -> StrategyInfo:
    """The registry entry for ``name``; ``ValueError`` naming the choices if there is none."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; choose one of {sorted(STRATEGIES)}") from None


def get_strategy(name: str) -> Strategy:
    """The ``select`` function registered under ``name``."""
    return strategy_info(name).select


__all__ = ["STRATEGIES", "Strategy", "StrategyInfo", "get_strategy", "strategy_info"]
