"""The candidate pool every strategy selects from: input checks and ordering.

A strategy receives the whole pool (labelled and unlabelled items, in one
order) and returns positions into it. This module holds the checks and the
final ordering step that all strategies share, so each strategy module only
says how it scores or picks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..index import as_float32_matrix

# Softmax outputs summed in float32 over many classes drift from 1 by ~1e-6;
# logits passed by mistake miss by far more.
_SUM_TOLERANCE = 1e-3


@dataclass(frozen=True)
class Pool:
    """Checked inputs of one selection call.

    ``candidates`` are the unlabelled positions (ascending); ``n_select`` is
    how many the strategy must return: ``min(batch_size, len(candidates))``.
    """

    probs: np.ndarray | None
    embeddings: np.ndarray | None
    labelled_mask: np.ndarray
    candidates: np.ndarray
    n_select: int

    @property
    def n_samples(self) -> int:
        return self.labelled_mask.shape[0]

    @property
    def n_labelled(self) -> int:
        return int(self.labelled_mask.sum())

    @property
    def required_probs(self) -> np.ndarray:
        """``probs``, for a strategy that called ``check_pool(need_probs=True)``."""
        if self.probs is None:
            raise ValueError("probs are required here; check_pool(need_probs=True) rejects a call without them")
        return self.probs

    @property
    def required_embeddings(self) -> np.ndarray:
        """``embeddings``, for a strategy that called ``check_pool(need_embeddings=True)``."""
        if self.embeddings is None:
            raise ValueError("embeddings are required here; check_pool(need_embeddings=True) rejects a call "
                             "without them")
        return self.embeddings


def check_pool(
    *,
    probs,
    embeddings,
    labelled_mask,
    batch_size,
    multilabel: bool = False,
    need_probs: bool = False,
    need_embeddings: bool = False,
    strategy: str = "strategy",
) -> Pool:
    """Validate the common arguments of ``select`` and return a :class:`Pool`.

    ``labelled_mask`` must be a boolean array: an integer array is far more
    likely to be a list of labelled indices passed by mistake than a mask.
    Single-label ``probs`` rows must sum to 1 (within 1e-3); multi-label
    ``probs`` are independent sigmoids and only need to lie in [0, 1].
    """
    mask = np.asarray(labelled_mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"labelled_mask must be a boolean array, got dtype {mask.dtype}")
    if mask.ndim != 1:
        raise ValueError(f"labelled_mask must be 1-D, got shape {mask.shape}")
    n = mask.shape[0]
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")

    if probs is None:
        if need_probs:
            raise ValueError(f"{strategy} needs probs (the model's predicted probabilities)")
    else:
        probs = _check_probs(probs, n=n, multilabel=multilabel)
    if embeddings is None:
        if need_embeddings:
            raise ValueError(f"{strategy} needs embeddings")
    else:
        embeddings = _check_embeddings(embeddings, n=n)

    candidates = np.flatnonzero(~mask)
    return Pool(
        probs=probs,
        embeddings=embeddings,
        labelled_mask=mask,
        candidates=candidates,
        n_select=int(min(batch_size, candidates.size)),
    )


def _check_probs(probs, *, n: int, multilabel: bool) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != n:
        raise ValueError(f"probs must have shape ({n}, n_classes), got {p.shape}")
    if not multilabel and p.shape[1] < 2:
        raise ValueError("single-label probs need at least 2 classes")
    if not np.isfinite(p).all():
        raise ValueError("probs contain NaN or infinite values")
    if (p < 0).any() or (p > 1).any():
        raise ValueError("probs must lie in [0, 1]; were logits passed?")
    if not multilabel and not np.allclose(p.sum(axis=1), 1.0, atol=_SUM_TOLERANCE):
        raise ValueError("single-label probs rows must sum to 1; pass multilabel=True for independent sigmoids")
    return p


def _check_embeddings(embeddings, *, n: int) -> np.ndarray:
    e = as_float32_matrix(embeddings, name="embeddings")  # FAISS's input contract
    if e.shape[0] != n:
        raise ValueError(f"embeddings must have shape ({n}, dim), got {e.shape}")
    return e


def rank_by_score(scores: np.ndarray, candidates: np.ndarray, n_select: int, rng: np.random.RandomState) -> np.ndarray:
    """The ``n_select`` candidates with the highest ``scores``, highest first.

    ``scores`` has one entry per pool item. Ties are broken by a random
    permutation from ``rng`` rather than by position, because position
    follows ingestion order and would bias equal-score picks (e.g. a cold
    model's uniform probabilities) toward the oldest items.
    """
    cand_scores = scores[candidates]
    tiebreak = rng.permutation(candidates.size)
    # lexsort sorts by the last key first: descending score, then the random key.
    order = np.lexsort((tiebreak, -cand_scores))
    return candidates[order[:n_select]].astype(np.int64)
