"""The one protocol every encoder follows.

    embed(batch) -> np.ndarray of float32, shape (N, dim), each row L2-normalised

`version` names the weights exactly (model name plus a digest of the
parameters, or a checkpoint hash): embeddings are cached by
(content hash, encoder version), so two encoders with different weights must
never share a version string.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Encoder(Protocol):
    #: Width of the vectors `embed` returns.
    dim: int

    @property
    def version(self) -> str:
        """Identifies the weights; part of every embedding cache key (an attribute or a property)."""
        ...

    def embed(self, batch: Sequence[Any]) -> np.ndarray:
        """(N,) items -> (N, dim) float32, rows of unit L2 norm."""
        ...


def l2_normalise(vectors: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows scaled to unit length, as contiguous float32 (what FAISS wants)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, eps), dtype=np.float32)
