"""Temperature scaling: one scalar that softens or sharpens a classifier's logits.

Guo, Pleiss, Sun & Weinberger, "On Calibration of Modern Neural Networks",
ICML 2017. Probabilities become ``softmax(z / T)`` (or ``sigmoid(z / T)``
for independent labels) with ``T > 0`` chosen to minimise the negative
log-likelihood on held-out logits. Dividing by one positive number never
changes the argmax, so accuracy is untouched; only confidence moves. One
parameter cannot overfit a small calibration set the way isotonic
regression or per-class Platt scaling can, which is why the engine uses it
with the few labels a labelling project has.

Example::

    >>> import numpy as np
    >>> z = np.array([[4.0, 0.0], [3.0, 0.0], [0.0, 2.0]])   # (N, C) logits
    >>> t = fit_temperature(z, np.array([0, 1, 1]))         # one mistake -> T > 1 (softer)
    >>> p = softmax(z / t)                                  # (N, C), rows sum to 1
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_expit, log_softmax

# T is searched in [1/100, 100]; beyond that the probabilities are 0/1 or uniform anyway.
_LOG_T_BOUNDS = (np.log(1e-2), np.log(1e2))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, (N, C) -> (N, C), computed stably in float64."""
    return np.exp(log_softmax(np.asarray(logits, dtype=np.float64), axis=1))


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Element-wise logistic function."""
    return expit(np.asarray(logits, dtype=np.float64))


def nll(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0, *, multilabel: bool = False) -> float:
    """Mean negative log-likelihood of ``y`` under ``logits / temperature``.

    ``y`` is (N,) class positions for softmax, or an (N, L) 0/1 indicator
    matrix for ``multilabel=True`` (then the binary cross-entropy summed over
    labels, averaged over rows).
    """
    z = np.asarray(logits, dtype=np.float64) / temperature
    if multilabel:
        y = np.asarray(y, dtype=np.float64)
        # -[y log s(z) + (1 - y) log s(-z)]
        return float(-(y * log_expit(z) + (1.0 - y) * log_expit(-z)).sum(axis=1).mean())
    return float(-log_softmax(z, axis=1)[np.arange(z.shape[0]), np.asarray(y)].mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray, *, multilabel: bool = False) -> float:
    """The ``T`` in [0.01, 100] minimising :func:`nll` of held-out ``logits`` (N, C).

    Bounded 1-D search over ``log T`` (Brent's method), deterministic.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] == 0:
        raise ValueError(f"logits must be a non-empty (N, C) matrix, got shape {logits.shape}")
    result = minimize_scalar(
        lambda log_t: nll(logits, y, float(np.exp(log_t)), multilabel=multilabel),
        bounds=_LOG_T_BOUNDS,
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(result.x))
