"""Masked-token prediction (BERT's masked language model) for the from-scratch text transformer.

Devlin, Chang, Lee & Toutanova, "BERT" (NAACL 2019), section 3.1 and
appendix A.1: pick 15% of the (non-special, non-padding) tokens; of those,
replace 80% by ``[MASK]``, 10% by a random token and keep 10% unchanged; the
model predicts the original token at every picked position and the loss is
the cross-entropy there only.

Why MLM and not TSDAE (Wang, Reimers & Gurevych 2021): TSDAE needs a decoder
that reconstructs the sentence from the pooled vector, which doubles the
model for a small from-scratch encoder; MLM needs only a linear-sized head,
trains every token position, and leaves SimCSE (``simcse.py``) to shape the
pooled sentence vector afterwards if wanted. Either objective is a choice in
``PretrainConfig.objective``.

One deviation: when a batch is so short that no position is picked (possible
with a few tokens at 15%), one eligible position is picked at random, so the
loss is always defined (an empty selection would make a NaN that the trainer
would report as divergence).

Example::

    >>> import torch
    >>> from ssl_engine.ssl.mlm import mask_tokens, mlm_loss
    >>> ids = torch.tensor([[5, 6, 7, 0]]); attention = torch.tensor([[1, 1, 1, 0]]).bool()
    >>> inputs, labels = mask_tokens(ids, attention, mask_token_id=2, vocab_size=10,
    ...                              special_token_ids=(0, 1, 2), generator=torch.Generator().manual_seed(0))
    >>> inputs.shape, labels.shape
    (torch.Size([1, 4]), torch.Size([1, 4]))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


@runtime_checkable
class MaskedLanguageModel(Protocol):
    """What an encoder offers to be trained with MLM (``TextTransformerEncoder`` does)."""

    mask_token_id: int
    vocab_size: int
    special_token_ids: tuple[int, ...]

    def tokenize(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,) texts -> ids (B, T) int64 and attention mask (B, T) bool."""
        ...

    def mlm_logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, train: bool) -> torch.Tensor:
        """ids (B, T) -> vocabulary logits (B, T, V)."""
        ...


def mask_tokens(input_ids: torch.Tensor, attention_mask: torch.Tensor, *, mask_token_id: int, vocab_size: int,
                generator: torch.Generator, special_token_ids: Sequence[int] = (), mlm_probability: float = 0.15,
                mask_fraction: float = 0.8, random_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt ``input_ids`` BERT-style; return ``(inputs, labels)``, both (B, T) int64.

    ``labels`` holds the original id at every picked position and
    ``IGNORE_INDEX`` (-100) elsewhere. Padding (``attention_mask`` false) and
    ``special_token_ids`` are never picked, and random replacements are drawn
    uniformly from the non-special ids. The same ``generator`` state gives
    the same corruption.
    """
    if input_ids.shape != attention_mask.shape or input_ids.ndim != 2:
        raise ValueError(f"input_ids and attention_mask must both be (B, T), got {tuple(input_ids.shape)} "
                         f"and {tuple(attention_mask.shape)}")
    if not 0.0 < mlm_probability <= 1.0:
        raise ValueError(f"mlm_probability must be in (0, 1], got {mlm_probability}")
    if mask_fraction < 0 or random_fraction < 0 or mask_fraction + random_fraction > 1:
        raise ValueError(f"mask_fraction ({mask_fraction}) + random_fraction ({random_fraction}) must be within [0, 1]")
    special = torch.tensor(sorted(set(special_token_ids)), dtype=torch.long)
    allowed = torch.tensor([i for i in range(vocab_size) if i not in set(special_token_ids)], dtype=torch.long)
    if allowed.numel() == 0:
        raise ValueError("every vocabulary id is special; nothing to draw random replacements from")

    eligible = attention_mask.bool() & ~torch.isin(input_ids, special)  # (B, T)
    picked = eligible & (torch.rand(input_ids.shape, generator=generator) < mlm_probability)  # (B, T)
    # Random numbers are always drawn in the same amounts, so the generator
    # advances identically whatever was picked.
    fallback = torch.rand(input_ids.shape, generator=generator)  # (B, T)
    action = torch.rand(input_ids.shape, generator=generator)  # (B, T): which of mask/random/keep
    replacement = allowed[torch.randint(allowed.numel(), input_ids.shape, generator=generator)]  # (B, T)
    if eligible.any() and not picked.any():
        scores = torch.where(eligible, fallback, torch.full_like(fallback, -1.0))
        picked = torch.zeros_like(eligible).view(-1)
        picked[scores.view(-1).argmax()] = True
        picked = picked.view(eligible.shape)

    labels = torch.where(picked, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    to_mask = picked & (action < mask_fraction)
    to_random = picked & (action >= mask_fraction) & (action < mask_fraction + random_fraction)
    inputs = input_ids.clone()
    inputs[to_mask] = mask_token_id
    inputs[to_random] = replacement[to_random]
    return inputs, labels


def mlm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the picked positions; logits (B, T, V), labels (B, T)."""
    if logits.ndim != 3 or logits.shape[:2] != labels.shape:
        raise ValueError(f"logits must be (B, T, V) and labels (B, T), "
                         f"got {tuple(logits.shape)} and {tuple(labels.shape)}")
    if not (labels != IGNORE_INDEX).any():
        raise ValueError("no masked position in the batch: the MLM loss is undefined")
    vocab = logits.shape[-1]
    # (B*T, V) logits against (B*T,) labels
    return F.cross_entropy(logits.reshape(-1, vocab), labels.reshape(-1), ignore_index=IGNORE_INDEX)


def masked_lm_step(model: MaskedLanguageModel, texts: Sequence[str], generator: torch.Generator,
                   mlm_probability: float = 0.15) -> torch.Tensor:
    """Tokenise, corrupt, predict: the scalar MLM loss of one batch of texts."""
    ids, attention = model.tokenize(texts)  # (B, T) each
    inputs, labels = mask_tokens(ids, attention, mask_token_id=model.mask_token_id, vocab_size=model.vocab_size,
                                 special_token_ids=model.special_token_ids, generator=generator,
                                 mlm_probability=mlm_probability)
    logits = model.mlm_logits(inputs, attention, train=True)  # (B, T, V)
    return mlm_loss(logits, labels)
