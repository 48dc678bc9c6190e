"""The adoption guard: an adapted encoder serves only when it measurably beats the one it came from.

Self-supervised adaptation (SimCSE on the project's texts, SimCLR on its
images) and contrastive fine-tuning on its labels can help or hurt: on
BANKING77 SimCSE lowered the packaged MiniLM's accuracy by 6 to 11 points
(``ssl_engine/bench/results/label_efficiency_banking77_simcse.json``),
while an image encoder trained from scratch gains from every minute of
SimCLR. Which one a project is cannot be known in advance, so a round
measures it: both encoders' embeddings go through the same
cross-validation on the approved labels (same folds, same candidates, the
round's proposer selection), and each labelled item is either predicted
right out of fold or not, under each encoder.

The decision is a paired one-sided test on those per-item outcomes (the
normal approximation to McNemar's test for paired proportions): with
``d_i = right_after_i - right_before_i``, the gain is ``mean(d)`` and its
standard error ``std(d) / sqrt(n)``. The adapted encoder is adopted when

- at least :data:`MIN_ROWS` labelled items were scored (below that, one
  item moves the accuracy by more than any gain worth having), and
- the gain is at least :data:`MIN_GAIN` (a point of accuracy: smaller gains
  do not pay for an encoder that every later round inherits), and
- the gain exceeds ``Z`` standard errors (one-sided 95%): more than the
  noise of which items happened to be labelled.

Otherwise the round keeps the encoder it started from and says why. The
guard never reads a holdout: only the rows the caller scored out of fold.

Example::

    >>> decide(np.array([1, 0, 1, 1] * 20), np.array([1, 1, 1, 1] * 20)).adopt
    True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: Fewest scored labelled items the guard judges on.
MIN_ROWS = 30
#: Smallest out-of-fold accuracy gain that adopts an adapted encoder.
MIN_GAIN = 0.01
#: One-sided 95% normal quantile.
Z = 1.645


@dataclass(frozen=True)
class Adoption:
    adopt: bool
    reason: str
    rows: int
    accuracy_before: float | None = None
    accuracy_after: float | None = None
    gain: float | None = None
    stderr: float | None = None

    def to_dict(self) -> dict:
        return {key: (round(value, 4) if isinstance(value, float) else value) for key, value in asdict(self).items()}


def decide(right_before, right_after, *, min_rows: int = MIN_ROWS, min_gain: float = MIN_GAIN,
           z: float = Z) -> Adoption:
    """Adopt the adapted encoder? ``right_before`` and ``right_after`` are (n,)
    booleans: whether each scored labelled item was predicted right out of
    fold with the starting and with the adapted encoder (same items, same
    order, same folds)."""
    before = np.asarray(right_before, dtype=float)
    after = np.asarray(right_after, dtype=float)
    if before.shape != after.shape or before.ndim != 1:
        raise ValueError(f"need two (n,) outcome vectors of the same items, got {before.shape} and {after.shape}")
    n = before.size
    if n < min_rows:
        return Adoption(False, f"{n} labelled item(s) scored out of fold; the guard needs {min_rows} to judge, "
                               "so the starting encoder stays", rows=n)
    diff = after - before
    gain = float(diff.mean())
    stderr = float(diff.std(ddof=1) / np.sqrt(n))
    figures: dict[str, Any] = dict(rows=n, accuracy_before=float(before.mean()),
                                   accuracy_after=float(after.mean()), gain=gain, stderr=stderr)
    if gain < min_gain:
        return Adoption(False, f"the adapted encoder gained {100 * gain:+.1f} points out of fold "
                               f"(needs {100 * min_gain:.1f}): the starting encoder stays", **figures)
    if gain <= z * stderr:
        return Adoption(False, f"the adapted encoder gained {100 * gain:+.1f} points, within the noise "
                               f"({z:g} standard errors = {100 * z * stderr:.1f}): the starting encoder stays",
                        **figures)
    return Adoption(True, f"the adapted encoder gained {100 * gain:+.1f} points out of fold "
                          f"(standard error {100 * stderr:.1f}): adopted", **figures)
