"""Unsupervised SimCSE: the same sentences encoded twice, dropout as the augmentation.

Gao, Yao & Chen, "SimCSE: Simple Contrastive Learning of Sentence
Embeddings" (EMNLP 2021), section 3. A batch of texts goes through the encoder
twice with dropout on; the two dropout masks make two slightly different
views of each sentence. Each first-view embedding must pick out its own
second-view embedding among the ``B`` second-view embeddings of the batch
(in-batch negatives): InfoNCE over the ``(B, B)`` cosine-similarity matrix,
``ntxent.nt_xent_loss(..., negatives="cross")``, temperature 0.05 as in the
paper.

The encoder is any callable ``encode(texts, train=True) -> (B, d) tensor``
whose output depends on dropout when ``train`` is true (the from-scratch
``TextTransformerEncoder.encode_tensors`` or the pretrained
``SentenceEncoder.encode_tensors``). With dropout off both views are equal
and the loss only pushes sentences apart, which is not SimCSE.

Arguments:
    encode: the callable above.
    texts: ``B >= 2`` strings (a single text has no in-batch negative).
    temperature: softmax temperature, 0.05 in the paper.

Example::

    >>> from ssl_engine.ssl.simcse import simcse_loss
    >>> # loss = simcse_loss(encoder.encode_tensors, ["card lost", "refund please"])
    >>> # loss.backward()
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ssl_engine.ssl.ntxent import nt_xent_loss

EncodeFn = Callable[..., torch.Tensor]

DEFAULT_TEMPERATURE = 0.05


def simcse_loss(encode: EncodeFn, texts: Sequence[str], temperature: float = DEFAULT_TEMPERATURE) -> torch.Tensor:
    """Scalar SimCSE loss for one batch of texts."""
    if len(texts) < 2:
        raise ValueError(f"SimCSE needs at least two texts (in-batch negatives), got {len(texts)}")
    z1 = encode(texts, train=True)  # (B, d), dropout mask 1
    z2 = encode(texts, train=True)  # (B, d), dropout mask 2
    if z1.ndim != 2 or z1.shape[0] != len(texts):
        raise ValueError(f"encode must return (B, d) with B = {len(texts)}, got {tuple(z1.shape)}")
    return nt_xent_loss(z1, z2, temperature, negatives="cross")
