"""Cosine learning-rate schedule with linear warm-up, precomputed per step.

Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts"
(ICLR 2017) for the cosine; Goyal et al., "Accurate, Large Minibatch SGD"
(2017) for the linear warm-up. Shaped like DINO's ``utils.cosine_scheduler``:
one value per optimisation step, so the trainer sets ``lr`` from an array
index and the schedule's whole state is the step number (which is what a
checkpoint stores).

Values, for ``W = warmup_steps`` and ``T = total_steps``::

    step s < W:   start_warmup_value + (base_value - start_warmup_value) * s / W
    step s >= W:  final_value + (base_value - final_value) * (1 + cos(pi * t)) / 2,
                  t = (s - W) / (T - W - 1)      (t = 0 when T - W == 1)

so the warm-up climbs towards ``base_value``, the first step after it is exactly
``base_value`` and the last step is exactly ``final_value`` (DINO's version
stops one cosine step short of it).

Example::

    >>> from ssl_engine.ssl.schedule import cosine_schedule
    >>> cosine_schedule(1.0, 0.0, total_steps=5, warmup_steps=2).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
"""

from __future__ import annotations

import math

import numpy as np


def cosine_schedule(base_value: float, final_value: float, total_steps: int, warmup_steps: int = 0,
                    start_warmup_value: float = 0.0) -> np.ndarray:
    """(total_steps,) float64 array: the value to use at each step.

    Arguments:
        base_value: the peak, reached when warm-up ends.
        final_value: the value at the last step.
        total_steps: how many optimisation steps the run has (0 gives an empty array).
        warmup_steps: steps of linear warm-up, at most ``total_steps``.
        start_warmup_value: the value at step 0 when there is a warm-up.
    """
    if total_steps < 0 or warmup_steps < 0:
        raise ValueError(f"steps must be non-negative, got total_steps={total_steps}, warmup_steps={warmup_steps}")
    if warmup_steps > total_steps:
        raise ValueError(f"warmup_steps ({warmup_steps}) exceeds total_steps ({total_steps})")
    for name, value in (("base_value", base_value), ("final_value", final_value),
                        ("start_warmup_value", start_warmup_value)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")

    warmup = start_warmup_value + (base_value - start_warmup_value) * np.arange(warmup_steps) / max(warmup_steps, 1)
    n_cosine = total_steps - warmup_steps
    t = np.arange(n_cosine) / max(n_cosine - 1, 1)
    cosine = final_value + 0.5 * (base_value - final_value) * (1.0 + np.cos(math.pi * t))
    return np.concatenate([warmup, cosine]).astype(np.float64)
