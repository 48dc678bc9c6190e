"""Supervised contrastive loss (SupCon).

Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020, equation 2
(the "L_out" form, which the paper found better than averaging inside the
log). Every anchor ``i`` in a batch pulls together all other items with its
label (its positives ``P(i)``) and pushes away everything else::

    L = mean_{i with |P(i)| > 0}  -1/|P(i)| * sum_{p in P(i)} log softmax_{a != i}(z_i . z_a / tau)[p]

with ``z`` the L2-normalised embeddings. With exactly one positive per anchor
(two views of each item, labels = item ids) it is NT-Xent / InfoNCE (SimCLR).
Anchors with no positive in the batch contribute nothing; a batch with no
positive pair at all has loss 0 (and no gradient), so samplers should put at
least two items of each class in a batch (see ``contrastive.py``).

Arguments:
    embeddings: (N, D) float tensor, not necessarily normalised.
    labels: (N,) integer tensor; equal values are positives of each other.
    temperature: tau > 0 (the paper: 0.1; SetFit-style fine-tuning of
        sentence encoders works well with 0.05-0.1).

Example::

    >>> import torch
    >>> from ssl_engine.finetune.supcon import supcon_loss
    >>> z = torch.randn(8, 16, requires_grad=True)
    >>> y = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    >>> loss = supcon_loss(z, y, temperature=0.1)   # scalar
    >>> loss.backward()
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def supcon_loss(embeddings: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Mean SupCon loss over the anchors that have at least one positive (a scalar)."""
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must be (N, D), got shape {tuple(embeddings.shape)}")
    labels = torch.as_tensor(labels, device=embeddings.device)
    if labels.shape != (embeddings.shape[0],):
        raise ValueError(f"labels must be ({embeddings.shape[0]},), got shape {tuple(labels.shape)}")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    n = embeddings.shape[0]
    z = F.normalize(embeddings.float(), p=2, dim=1)  # (N, D) unit rows
    logits = z @ z.T / temperature  # (N, N)
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))  # an anchor is never its own candidate
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)  # (N, N), row i: log softmax over a != i
    positives = (labels[:, None] == labels[None, :]) & ~self_mask  # (N, N)
    n_pos = positives.sum(dim=1)  # (N,)
    has_pos = n_pos > 0
    if not has_pos.any():
        return embeddings.sum() * 0.0  # keeps the graph (and the device) without a gradient
    pos_log_prob = log_prob.masked_fill(~positives, 0.0).sum(dim=1)  # (N,) sum over P(i)
    return -(pos_log_prob[has_pos] / n_pos[has_pos]).mean()
