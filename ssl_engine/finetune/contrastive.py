"""Contrastive fine-tuning of a text encoder on approved labels, then a calibrated head.

The round's step 5 "optionally full fine-tuning" (DESIGN, "The round"). The
head alone (``CalibratedHead`` on frozen embeddings) cannot move the
embeddings; fine-tuning the encoder so that items with the same label sit
together usually helps most when there are many classes and few labels each.

Method: batch-contrastive SupCon (Khosla et al., NeurIPS 2020; see
``supcon.py``) on class-balanced batches, the many-class counterpart of
SetFit's pair generation (Tunstall et al., "Efficient Few-Shot Learning
Without Prompts", 2022): SetFit draws positive and negative *pairs*, which for
77 classes needs many pairs to see every class; a SupCon batch of
``batch_size // per_class`` classes with ``per_class`` items each gives every
anchor ``per_class - 1`` positives and all other classes as negatives in one
forward pass. With ``views=2`` every text is encoded twice with dropout on
(SimCSE's views, Gao et al., EMNLP 2021), so an anchor always has at least one
positive, even with one label per class.

Training: AdamW (no decay on biases and norms), linear warm-up then linear
decay, gradient clipping, a wall-clock budget (``max_minutes``, stops at a
step boundary) and an abort on a non-finite loss (``NonFiniteLossError``,
raised before the step touches the weights). ``fit`` works on a deep copy of
the encoder unless ``copy=False``: the fine-tuned encoder is ``encoder_``, and
its ``version`` differs from the original's, so its embeddings never share
cache entries with the frozen ones.

Then :class:`ContrastiveClassifier` fits ``CalibratedHead`` on the fine-tuned
embeddings of the same labels.

Any encoder works that has ``encode_tensors(texts, train) -> (N, D)`` tensor
with gradients, ``embed``, ``version`` and its weights as ``parameters()`` or
on a ``module`` attribute (``SentenceEncoder``).

Example::

    >>> from ssl_engine.encoders.text_pretrained import SentenceEncoder
    >>> from ssl_engine.finetune.contrastive import ContrastiveClassifier, ContrastiveConfig
    >>> clf = ContrastiveClassifier(SentenceEncoder(), ContrastiveConfig(epochs=3, max_minutes=20))
    >>> # clf.fit(texts, labels).predict_proba(pool_texts)     # (M, C)
    >>> # clf.tuner_.encoder_.save("artifacts/round-4/encoder")
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ssl_engine.finetune.supcon import supcon_loss
from ssl_engine.proposals import CalibratedHead


class NonFiniteLossError(RuntimeError):
    """Fine-tuning produced a NaN or infinite loss; the weights were not updated by it."""


@dataclass
class ContrastiveConfig:
    epochs: int = 1
    batch_size: int = 64  # texts per batch (before views)
    per_class: int = 4  # texts of one class per batch (its positives); fewer if the class has fewer
    views: int = 2  # dropout views per text; 2 guarantees a positive for every anchor
    lr: float = 2e-5  # peak learning rate
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    temperature: float = 0.1
    max_grad_norm: float | None = 1.0
    max_steps: int | None = None
    max_minutes: float | None = None  # wall-clock budget; training stops at a step boundary
    seed: int = 0

    def __post_init__(self):
        for name in ("epochs", "batch_size", "per_class", "views"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be positive and finite, got {self.lr}")
        if not 0 <= self.warmup_fraction < 1:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {self.max_steps}")
        if self.max_minutes is not None and self.max_minutes < 0:
            raise ValueError(f"max_minutes must be non-negative, got {self.max_minutes}")


def class_balanced_batches(y_idx: np.ndarray, batch_size: int, per_class: int,
                           rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of batches: every item once, grouped ``per_class`` items of a class at a time.

    Each class's items are shuffled and cut into chunks of ``per_class``; the
    chunks are shuffled and packed into batches of about ``batch_size`` items
    (the "m per class" sampler of metric learning). Returns positions into ``y_idx``.
    """
    chunks = []
    for c in np.unique(y_idx):
        members = rng.permutation(np.flatnonzero(y_idx == c))
        chunks += [members[i:i + per_class] for i in range(0, members.size, per_class)]
    order = rng.permutation(len(chunks))
    batches, current, size = [], [], 0
    for i in order:
        current.append(chunks[i])
        size += chunks[i].size
        if size >= batch_size:
            batches.append(np.concatenate(current))
            current, size = [], 0
    if current:
        batches.append(np.concatenate(current))
    return batches


def _weights(encoder) -> torch.nn.Module:
    if isinstance(encoder, torch.nn.Module):
        return encoder
    module = getattr(encoder, "module", None)
    if isinstance(module, torch.nn.Module):
        return module
    raise TypeError(f"{type(encoder).__name__} is neither an nn.Module nor has a .module one")


def _lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * max(0.0, (total - step) / max(1, total - warmup))


class ContrastiveFineTuner(BaseEstimator):
    """Fine-tune ``encoder`` with SupCon on labelled texts (see the module docstring).

    Parameters
    ----------
    encoder : text encoder with ``encode_tensors`` (e.g. ``SentenceEncoder``)
    config : ContrastiveConfig or None (defaults)
    copy : bool
        Fine-tune a deep copy (default) rather than ``encoder`` itself.

    Attributes
    ----------
    encoder_ : the fine-tuned encoder
    classes_ : ndarray (C,)
    history_ : list of dict, one per step: step, epoch, loss, lr, seconds
    n_steps_ : int
    stopped_reason_ : "completed" or "budget"
    elapsed_seconds_ : float
    """

    def __init__(self, encoder=None, config: ContrastiveConfig | None = None, copy: bool = True):
        self.encoder = encoder
        self.config = config
        self.copy = copy

    def fit(self, X: Sequence[str], y, *, on_step: Callable[[int, int, float], None] | None = None,
            clock: Callable[[], float] = time.monotonic) -> ContrastiveFineTuner:
        """Fine-tune on texts ``X`` with labels ``y``; returns self."""
        config = self.config or ContrastiveConfig()
        if self.encoder is None:
            raise ValueError("encoder is required")
        texts = list(X)
        y = np.asarray(y)
        if len(texts) != len(y):
            raise ValueError(f"{len(texts)} texts but {len(y)} labels")
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError("contrastive fine-tuning needs at least two classes")
        encoder = copy.deepcopy(self.encoder) if self.copy else self.encoder
        weights = _weights(encoder)
        params = [p for p in weights.parameters() if p.requires_grad]
        groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
                  {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
        optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=config.lr)

        rng = np.random.default_rng(config.seed)
        epochs = [class_balanced_batches(y_idx, config.batch_size, config.per_class, rng)
                  for _ in range(config.epochs)]
        total = sum(len(e) for e in epochs)
        if config.max_steps is not None:
            total = min(total, config.max_steps)
        warmup = int(config.warmup_fraction * total)
        budget = None if config.max_minutes is None else 60.0 * config.max_minutes
        started = clock()
        history, step, stopped = [], 0, "completed"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)  # dropout masks
            for epoch, batches in enumerate(epochs):
                for batch in batches:
                    if step >= total:
                        break
                    if budget is not None and clock() - started >= budget:
                        stopped = "budget"
                        break
                    lr = _lr_at(step, total, warmup, config.lr)
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                    batch_texts = [texts[i] for i in batch]
                    z = torch.cat([encoder.encode_tensors(batch_texts, train=True)
                                   for _ in range(config.views)])  # (views * B, D)
                    labels = torch.from_numpy(np.tile(y_idx[batch], config.views))  # (views * B,)
                    loss = supcon_loss(z, labels, temperature=config.temperature)
                    if not torch.isfinite(loss):
                        raise NonFiniteLossError(
                            f"non-finite loss ({loss.item()}) at step {step} (lr {lr:.3g}); the weights were "
                            "not updated by it. Lower lr or check the texts.")
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    if config.max_grad_norm is not None:
                        torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                    optimizer.step()
                    step += 1
                    history.append({"step": step, "epoch": epoch, "loss": float(loss.detach()), "lr": lr,
                                    "seconds": round(clock() - started, 2)})
                    if on_step is not None:
                        on_step(step, total, history[-1]["loss"])
                if stopped == "budget" or step >= total:
                    break
        weights.eval()
        self.encoder_ = encoder
        self.history_ = history
        self.n_steps_ = step
        self.total_steps_ = total
        self.stopped_reason_ = stopped
        self.elapsed_seconds_ = clock() - started
        return self

    def summary(self) -> dict[str, Any]:
        """What a training round records: config, steps, losses, time, the new version."""
        check_is_fitted(self, "encoder_")
        losses = [h["loss"] for h in self.history_]
        return {"config": asdict(self.config or ContrastiveConfig()), "steps": self.n_steps_,
                "total_steps": self.total_steps_, "stopped_reason": self.stopped_reason_,
                "seconds": round(self.elapsed_seconds_, 1),
                "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None,
                "encoder_version": self.encoder_.version}


class ContrastiveClassifier(ClassifierMixin, BaseEstimator):
    """Contrastive fine-tuning of the encoder, then ``CalibratedHead`` on its embeddings.

    ``fit(texts, y)`` fine-tunes a copy of ``encoder`` (``tuner_``), embeds the
    texts with it and fits the head (``head_``); ``predict_proba(texts)``
    embeds with the fine-tuned encoder and applies the head.

    Parameters
    ----------
    encoder, config : see :class:`ContrastiveFineTuner`
    head : CalibratedHead or None
        An unfitted head (cloned); default ``CalibratedHead(random_state=config.seed)``.
    """

    def __init__(self, encoder=None, config: ContrastiveConfig | None = None, head: CalibratedHead | None = None):
        self.encoder = encoder
        self.config = config
        self.head = head

    def fit(self, X: Sequence[str], y) -> ContrastiveClassifier:
        from sklearn.base import clone

        texts = list(X)
        self.tuner_ = ContrastiveFineTuner(self.encoder, self.config).fit(texts, y)
        seed = (self.config or ContrastiveConfig()).seed
        self.head_ = clone(self.head) if self.head is not None else CalibratedHead(random_state=seed)
        self.head_.fit(self.tuner_.encoder_.embed(texts), np.asarray(y))
        self.classes_ = self.head_.classes_
        return self

    @property
    def encoder_(self):
        check_is_fitted(self, "tuner_")
        return self.tuner_.encoder_

    def embed(self, X: Sequence[str]) -> np.ndarray:
        """(N, D) embeddings from the fine-tuned encoder."""
        return self.encoder_.embed(list(X))

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        check_is_fitted(self, "head_")
        return self.head_.predict_proba(self.embed(X))

    def predict(self, X: Sequence[str]) -> np.ndarray:
        probs = self.predict_proba(X)  # first: it raises NotFittedError before classes_ exists
        return self.classes_[probs.argmax(axis=1)]
