"""Collapse monitor: is the encoder mapping everything to (nearly) the same point?

Two cheap statistics of an ``(N, d)`` embedding matrix, logged once per epoch
by the trainer:

- Standard deviation of the L2-normalised embeddings, per dimension, averaged
  over dimensions (SimSiam, Chen & He, CVPR 2021, section 4.1). Vectors spread
  evenly over the sphere give about ``1/sqrt(d)``; collapse gives 0. We report
  ``std_ratio = std * sqrt(d)``: about 1 when healthy, 0 when collapsed.
- RankMe (Garrido, Balestriero, Najman & LeCun, "RankMe: Assessing the
  Downstream Performance of Pretrained Self-Supervised Representations by
  Their Rank", ICML 2023, eq. 1): with singular values ``s_k`` of the
  embedding matrix, ``p_k = s_k / sum(s) + eps`` and
  ``RankMe = exp(-sum_k p_k log p_k)``, a smooth effective rank between 1
  (all embeddings on one line) and ``min(N, d)``. It also catches dimensional
  collapse, which the std alone can miss.

The run is flagged as collapsed when ``std_ratio < min_std_ratio`` or
``RankMe < min_rankme``; a constant encoder scores 0 and 1 (or 0 for all-zero
vectors), a random one about 1 and close to ``min(N, d)``.

Example::

    >>> import torch
    >>> from ssl_engine.ssl.collapse import collapse_report
    >>> collapse_report(torch.ones(64, 16)).collapsed
    True
    >>> collapse_report(torch.randn(64, 16, generator=torch.Generator().manual_seed(0))).collapsed
    False
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

RANKME_EPS = 1e-7


def normalised_std(z: torch.Tensor) -> float:
    """Mean over dimensions of the per-dimension std of the L2-normalised rows of z (N, d)."""
    z = F.normalize(z.detach().to(torch.float64), dim=1)  # (N, d), unit rows (zero rows stay zero)
    return float(z.std(dim=0, unbiased=False).mean())


def rankme(z: torch.Tensor, eps: float = RANKME_EPS) -> float:
    """RankMe effective rank of z (N, d); 0 for an all-zero matrix."""
    s = torch.linalg.svdvals(z.detach().to(torch.float64))  # (min(N, d),)
    total = s.sum()
    if total <= 0:
        return 0.0
    p = s / total + eps
    return float(torch.exp(-(p * torch.log(p)).sum()))


@dataclass(frozen=True)
class CollapseReport:
    std: float  # normalised_std
    std_ratio: float  # std * sqrt(d): ~1 healthy, 0 collapsed
    rankme: float
    n: int
    dim: int
    collapsed: bool

    def to_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)


def collapse_report(z: torch.Tensor, *, min_std_ratio: float = 0.1, min_rankme: float = 1.5) -> CollapseReport:
    """Both statistics of z (N, d), N >= 2, and whether they say it collapsed."""
    if z.ndim != 2 or z.shape[0] < 2:
        raise ValueError(f"need an (N, d) matrix with N >= 2, got {tuple(z.shape)}")
    if not torch.isfinite(z).all():
        raise ValueError("embeddings contain NaN or infinite values")
    n, d = z.shape
    std = normalised_std(z)
    ratio = std * math.sqrt(d)
    rank = rankme(z)
    return CollapseReport(std=std, std_ratio=ratio, rankme=rank, n=n, dim=d,
                          collapsed=bool(ratio < min_std_ratio or rank < min_rankme))
