"""Streaming, stratified holdout assignment.

An import sees each item once, in file order, and cannot look ahead, yet the
holdout must be a fixed share of every label (stratified) and reproducible.
Systematic sampling does both with one counter per stratum:

    item k (0-based) of stratum s goes to the holdout
    iff floor((k + 1) * f + u_s) > floor(k * f + u_s)

where f is the holdout fraction and u_s in [0, 1) is a random phase drawn
per stratum from the seed. After n items of a stratum the holdout holds
floor(n * f + u_s) of them, so it is always within one item of n * f, at
every point of the stream, for every stratum. The phase makes *which* items
are chosen depend on the seed (with u = 0 the first item of every stratum
would never be held out), and deriving it from a hash of (seed, stratum)
makes it independent of the order in which strata first appear.

Example::

    >>> holdout = StratifiedHoldout(fraction=0.25, seed=0)
    >>> picks = [holdout.assign("cat") for _ in range(8)]
    >>> sum(picks)
    2
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Hashable

__all__ = ["StratifiedHoldout", "stratum_of"]


def stratum_of(labels) -> str | None:
    """The stratum of an item: its label, its sorted label set for multi-label
    items ("a|b"), or None for unlabelled items (which form one stratum).

    Stratifying multi-label items by their label *set* keeps each set within
    one item of the fraction; a single label shared by several sets can then
    drift by up to one item per set it appears in.
    """
    if not labels:
        return None
    if isinstance(labels, str):
        return labels
    return "|".join(sorted(labels))


class StratifiedHoldout:
    """Decides, item by item, whether an item goes to the holdout.

    Parameters
    ----------
    fraction:
        Share of each stratum to hold out, in [0, 1).
    seed:
        Integer seed; the same seed and the same stream give the same picks.

    Memory is one counter and one phase per stratum, whatever the stream length.
    """

    def __init__(self, fraction: float, seed: int = 0):
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
            raise ValueError(f"fraction must be a number in [0, 1), got {fraction!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        self.fraction = float(fraction)
        self.seed = seed
        # stratum -> [items seen, phase]
        self._strata: dict[Hashable, list] = {}

    def _phase(self, stratum: Hashable) -> float:
        digest = hashlib.sha256(f"{self.seed}\x1f{stratum!r}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def assign(self, stratum: Hashable = None) -> bool:
        """True if the next item of `stratum` belongs in the holdout."""
        state = self._strata.get(stratum)
        if state is None:
            state = self._strata[stratum] = [0, self._phase(stratum)]
        seen, phase = state
        state[0] = seen + 1
        return math.floor((seen + 1) * self.fraction + phase) > math.floor(seen * self.fraction + phase)

    def seen(self, stratum: Hashable = None) -> int:
        """How many items of `stratum` have been assigned so far."""
        state = self._strata.get(stratum)
        return state[0] if state else 0
