"""NT-Xent, the normalised temperature-scaled cross-entropy of two views.

Chen, Kornblith, Norouzi & Hinton, "A Simple Framework for Contrastive
Learning of Visual Representations" (SimCLR, ICML 2020), eq. 1. Each of the
``2B`` embeddings has its other view as the positive and the remaining
``2B - 2`` embeddings as negatives::

    l(i, j) = -log( exp(sim(z_i, z_j) / t) / sum_{k != i} exp(sim(z_i, z_k) / t) )

averaged over all ``2B`` anchors, with ``sim`` the cosine similarity.

``negatives="cross"`` is the InfoNCE form that unsupervised SimCSE uses (Gao,
Yao & Chen, "SimCSE", EMNLP 2021, eq. 1): anchors come from the first view
only and the candidates are the ``B`` embeddings of the second view, i.e. a
cross-entropy over the ``(B, B)`` cross-view similarity matrix with the
diagonal as targets.

Arguments:
    z1, z2: ``(B, d)`` embeddings of the two views; row ``i`` of each comes
        from the same item. They need not be normalised (the loss does it).
    temperature: ``t > 0``; SimCLR uses 0.5 on CIFAR-10, SimCSE 0.05.
    negatives: ``"all"`` (SimCLR, ``2B - 2`` negatives) or ``"cross"`` (SimCSE).

Example::

    >>> import torch
    >>> from ssl_engine.ssl.ntxent import nt_xent_loss
    >>> e = torch.eye(2)
    >>> round(nt_xent_loss(e, e, temperature=1.0).item(), 4)   # log(1 + 2/e)
    0.5514
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5, *,
                 negatives: Literal["all", "cross"] = "all") -> torch.Tensor:
    """Scalar NT-Xent (or, with ``negatives="cross"``, SimCSE's InfoNCE) loss."""
    if z1.ndim != 2 or z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must both be (B, d) of the same shape, "
                         f"got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if z1.shape[0] == 0:
        raise ValueError("empty batch")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    batch = z1.shape[0]
    z1 = F.normalize(z1, dim=1)  # (B, d), unit rows
    z2 = F.normalize(z2, dim=1)  # (B, d)

    if negatives == "cross":
        logits = z1 @ z2.T / temperature  # (B, B): anchor i of view 1 against every item of view 2
        targets = torch.arange(batch, device=z1.device)
        return F.cross_entropy(logits, targets)
    if negatives != "all":
        raise ValueError(f"negatives must be 'all' or 'cross', got {negatives!r}")

    z = torch.cat([z1, z2], dim=0)  # (2B, d)
    logits = z @ z.T / temperature  # (2B, 2B)
    self_mask = torch.eye(2 * batch, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))  # an anchor is never its own candidate
    # Row i < B has its positive at i + B, row i >= B at i - B.
    targets = torch.cat([torch.arange(batch, 2 * batch), torch.arange(0, batch)]).to(z.device)  # (2B,)
    return F.cross_entropy(logits, targets)
