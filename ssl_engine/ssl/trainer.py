"""Self-supervised pretraining of an encoder: one loop for SimCLR, SimCSE and MLM.

``pretrain(encoder, data, config)`` trains in place and returns a
``PretrainResult``. It follows nanoGPT's ``train.py`` and DINO's
``main_dino.py``:

- AdamW (Loshchilov & Hutter, ICLR 2019), no weight decay on biases and norm
  weights (parameters with fewer than 2 dimensions), learning rate from
  ``schedule.cosine_schedule`` (linear warm-up, then cosine to ``min_lr``),
  optional gradient clipping;
- complete checkpoints every ``checkpoint_every_steps`` and when the run stops
  (model, optimizer, step, config, history and RNG states; see
  ``checkpoint.py``), and an automatic resume from the newest checkpoint in
  ``checkpoint_dir``: a resumed run ends at the same weights, bit for bit on
  CPU, as one that was never interrupted. A run that already finished returns
  at once, so calling ``pretrain`` twice is safe;
- a non-finite loss raises ``NonFiniteLossError`` before the bad step touches
  the parameters (BatchNorm running statistics have seen the batch; the last
  checkpoint stays good);
- a collapse monitor at the end of every epoch (``collapse.collapse_report`` on
  the embeddings of the first ``monitor_size`` items), stored in the history
  and logged as a warning when it flags collapse;
- a wall-clock budget (``max_minutes``, per call): the loop stops at a step
  boundary, checkpoints and returns with ``stopped_reason == "budget"``;
- progress through ``on_progress(step, total, loss)`` after every step (throttle
  it on the caller's side if it writes to a database) and an optional tqdm bar.

Objectives and what they need from the encoder (duck-typed). The weights
trained and checkpointed are the encoder's own ``parameters()``,
``state_dict()`` and ``load_state_dict()`` (an ``nn.Module``), or else those of
its ``module`` attribute (``SentenceEncoder`` wraps its ``nn.Module`` that way):

=========  ==========================  ====================================================
objective  data                        encoder
=========  ==========================  ====================================================
simclr     (N, 3, H, W) tensor/array,  ``encode_tensors(images, train)``; the loss is taken on
           float in [0, 1] or uint8    ``project(h)`` when the encoder has a ``project`` head
simcse     sequence of N strings       ``encode_tensors(texts, train)`` with dropout when training
mlm        sequence of N strings       ``mlm.MaskedLanguageModel`` (``tokenize``, ``mlm_logits``, ...)
=========  ==========================  ====================================================

So the same loop trains ``ImageCNNEncoder`` (SimCLR), ``TextTransformerEncoder``
(MLM or SimCSE) and the pretrained ``SentenceEncoder`` (SimCSE adaptation).

Randomness: the encoder's dropout draws from torch's global generator, which
the loop seeds with ``config.seed`` inside ``torch.random.fork_rng`` (the
caller's RNG is left as it was); augmentations and masking draw from a
private ``torch.Generator``; the data order of epoch ``e`` is a permutation
seeded by ``(seed, e)``. Each epoch uses ``N // batch_size`` full batches.

Example::

    >>> from ssl_engine.encoders.image_cnn import ImageCNNEncoder
    >>> from ssl_engine.ssl.trainer import PretrainConfig, pretrain
    >>> # result = pretrain(ImageCNNEncoder(), images_uint8, PretrainConfig(objective="simclr", epochs=20,
    >>> #                   checkpoint_dir="/artifacts/round-3/pretrain", max_minutes=30))
    >>> # result.stopped_reason, result.history[-1]["rankme"]
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import torch

from ssl_engine.ssl.augment import SimCLRAugment
from ssl_engine.ssl.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from ssl_engine.ssl.collapse import collapse_report
from ssl_engine.ssl.mlm import masked_lm_step
from ssl_engine.ssl.ntxent import nt_xent_loss
from ssl_engine.ssl.schedule import cosine_schedule
from ssl_engine.ssl.simcse import simcse_loss

logger = logging.getLogger(__name__)

Objective = Literal["simclr", "simcse", "mlm"]
OBJECTIVES = ("simclr", "simcse", "mlm")
#: SimCLR's CIFAR-10 temperature and SimCSE's.
DEFAULT_TEMPERATURE = {"simclr": 0.5, "simcse": 0.05}
#: Config fields that change the training trajectory: a checkpoint written
#: with other values cannot be resumed under this config.
TRAJECTORY_FIELDS = ("objective", "epochs", "batch_size", "lr", "min_lr", "weight_decay", "warmup_steps",
                     "temperature", "mlm_probability", "augment", "max_grad_norm", "seed", "max_steps")


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite: training diverged (or the data holds NaN)."""


class CheckpointMismatchError(ValueError):
    """The checkpoint in ``checkpoint_dir`` was written by a different run."""


class TrainableEncoder(Protocol):
    """The least an encoder offers to be pretrained: ``encode_tensors``, and weights the loop
    can optimise and checkpoint (``parameters``, ``state_dict``, ``load_state_dict``), which
    an ``nn.Module`` has itself and ``SentenceEncoder`` has on its ``module`` attribute
    (:func:`_weights_of` finds them; a protocol cannot say "here or there")."""

    def encode_tensors(self, batch: Any, train: bool) -> torch.Tensor: ...


@dataclass
class PretrainConfig:
    objective: Objective = "simclr"
    epochs: int = 10
    batch_size: int = 256
    lr: float = 1e-3  # peak learning rate, reached after warm-up
    min_lr: float = 1e-6  # learning rate at the last step
    weight_decay: float = 1e-4  # AdamW's decoupled decay, on weights with >= 2 dims only
    warmup_steps: int = 50  # clipped to the run's total steps
    temperature: float | None = None  # None: DEFAULT_TEMPERATURE[objective]
    mlm_probability: float = 0.15
    augment: SimCLRAugment = field(default_factory=SimCLRAugment)
    max_grad_norm: float | None = None  # clip the global gradient norm; None = no clipping
    seed: int = 0
    max_steps: int | None = None  # cap on total steps (the schedule anneals over the capped run)
    max_minutes: float | None = None  # wall-clock budget of one call; stops at a step boundary
    checkpoint_dir: str | None = None  # None: no checkpoints and no resume
    checkpoint_every_steps: int = 0  # 0: checkpoint only when the run stops
    keep_checkpoints: int = 2  # newest checkpoints kept on disk; 0 keeps them all
    monitor_size: int = 512  # items embedded for the collapse monitor
    collapse_min_std_ratio: float = 0.1
    collapse_min_rankme: float = 1.5

    def __post_init__(self):
        if isinstance(self.augment, dict):
            self.augment = SimCLRAugment(**self.augment)
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "checkpoint_every_steps", "keep_checkpoints"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {self.max_steps}")
        if not (math.isfinite(self.lr) and self.lr >= 0 and math.isfinite(self.min_lr) and self.min_lr >= 0):
            raise ValueError(f"lr and min_lr must be finite and non-negative, got {self.lr}, {self.min_lr}")
        if self.temperature is not None and not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        if self.max_minutes is not None and self.max_minutes < 0:
            raise ValueError(f"max_minutes must be non-negative, got {self.max_minutes}")
        if self.monitor_size < 2:
            raise ValueError(f"monitor_size must be at least 2, got {self.monitor_size}")

    @property
    def effective_temperature(self) -> float:
        return self.temperature if self.temperature is not None else DEFAULT_TEMPERATURE.get(self.objective, 1.0)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PretrainConfig:
        return cls(**values)


@dataclass
class PretrainResult:
    steps: int  # optimisation steps done so far, over every call
    total_steps: int
    steps_per_epoch: int
    stopped_reason: Literal["completed", "budget"]
    history: list[dict[str, Any]]  # one entry per epoch (and one "partial" entry when a run stops mid-epoch)
    losses: list[float]  # loss of every step
    resumed_from_step: int | None = None
    checkpoint: str | None = None  # the checkpoint written last
    elapsed_seconds: float = 0.0  # of this call

    @property
    def completed(self) -> bool:
        return self.steps >= self.total_steps

    @property
    def collapsed(self) -> bool:
        """Whether the last collapse check flagged collapse."""
        return bool(self.history and self.history[-1]["collapsed"])


ProgressCallback = Callable[[int, int, float], None]


def _as_data(data: Any, objective: str) -> Any:
    if objective == "simclr":
        x = torch.from_numpy(np.ascontiguousarray(data)) if isinstance(data, np.ndarray) else data
        if not torch.is_tensor(x) or x.ndim != 4:
            raise ValueError("simclr needs images as an (N, C, H, W) tensor or array")
        return x
    if isinstance(data, str) or not isinstance(data, Sequence):
        raise ValueError(f"{objective} needs a sequence of strings")
    return data


def _take(data: Any, indices: Sequence[int] | torch.Tensor) -> Any:
    """The items at ``indices``: an image tensor as float in [0, 1], or a list of texts."""
    if torch.is_tensor(data):
        x = data[torch.as_tensor(indices, dtype=torch.long)]
        return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
    return [data[int(i)] for i in indices]


def _epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g)


def _weights_of(encoder: Any) -> Any:
    """The object whose parameters the loop optimises and checkpoints."""
    if all(callable(getattr(encoder, name, None)) for name in ("parameters", "state_dict", "load_state_dict")):
        return encoder
    module = getattr(encoder, "module", None)
    if isinstance(module, torch.nn.Module):
        return module
    raise TypeError(f"{type(encoder).__name__} has neither parameters()/state_dict()/load_state_dict() "
                    "nor an nn.Module in `.module`: nothing to train")


def _make_step(encoder: Any, config: PretrainConfig) -> Callable[[Any, torch.Generator], torch.Tensor]:
    """batch, generator -> scalar loss for the configured objective."""
    temperature = config.effective_temperature
    if config.objective == "simclr":
        project = getattr(encoder, "project", None)

        def simclr_step(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
            v1 = config.augment(images, generator)  # (B, 3, H, W)
            v2 = config.augment(images, generator)  # (B, 3, H, W)
            h = encoder.encode_tensors(torch.cat([v1, v2]), train=True)  # (2B, dim): one pass, shared BN stats
            z = project(h) if project is not None else h  # (2B, p)
            z1, z2 = z.chunk(2)  # (B, p) each
            return nt_xent_loss(z1, z2, temperature)

        return simclr_step
    if config.objective == "simcse":
        return lambda texts, generator: simcse_loss(encoder.encode_tensors, texts, temperature)
    for attribute in ("tokenize", "mlm_logits", "mask_token_id", "vocab_size", "special_token_ids"):
        if not hasattr(encoder, attribute):
            raise TypeError(f"objective 'mlm' needs a masked language model; the encoder has no {attribute!r}")
    return lambda texts, generator: masked_lm_step(encoder, texts, generator, config.mlm_probability)


def _monitor(encoder: Any, data: Any, config: PretrainConfig, batch_size: int) -> dict[str, Any]:
    """Collapse statistics of the first ``monitor_size`` items (embeddings, not projections)."""
    n = min(len(data), config.monitor_size)
    with torch.no_grad():
        parts = [encoder.encode_tensors(_take(data, range(s, min(s + batch_size, n))), train=False)
                 for s in range(0, n, batch_size)]
    report = collapse_report(torch.cat(parts), min_std_ratio=config.collapse_min_std_ratio,
                             min_rankme=config.collapse_min_rankme)
    return report.to_dict()


def _check_resumable(saved: dict[str, Any], config: PretrainConfig, n_items: int, saved_n: int) -> None:
    current = config.to_dict()
    differing = [name for name in TRAJECTORY_FIELDS if saved.get(name) != current[name]]
    if saved_n != n_items:
        differing.append(f"data size ({saved_n} -> {n_items})")
    if differing:
        raise CheckpointMismatchError(f"the checkpoint in {config.checkpoint_dir} was written by another run; "
                                      f"differs in: {', '.join(differing)}. Use an empty checkpoint_dir "
                                      "to start over.")


def pretrain(encoder: TrainableEncoder, data: Any, config: PretrainConfig, *,
             on_progress: ProgressCallback | None = None, progress_bar: bool = False,
             clock: Callable[[], float] = time.monotonic) -> PretrainResult:
    """Pretrain ``encoder`` in place on unlabelled ``data``; see the module docstring.

    Arguments:
        encoder: see the objective table above.
        data: images (N, 3, H, W) for ``simclr``, a sequence of texts otherwise.
        config: hyper-parameters, budget and checkpointing.
        on_progress: called as ``on_progress(step, total_steps, loss)`` after each step.
        progress_bar: show a tqdm bar.
        clock: seconds as a float, for the budget (tests inject a fake one).
    """
    started = clock()
    data = _as_data(data, config.objective)
    n = len(data)
    if n < 2:
        raise ValueError(f"need at least 2 items to pretrain, got {n}")
    batch_size = min(config.batch_size, n)
    steps_per_epoch = n // batch_size
    total = config.epochs * steps_per_epoch
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    lrs = cosine_schedule(config.lr, config.min_lr, total, min(config.warmup_steps, total))

    if not callable(getattr(encoder, "encode_tensors", None)):
        raise TypeError(f"{type(encoder).__name__} has no encode_tensors(batch, train)")
    weights = _weights_of(encoder)
    params = [p for p in weights.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the encoder has no trainable parameters")
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=config.lr)
    loss_of_batch = _make_step(encoder, config)
    generator = torch.Generator().manual_seed(config.seed)
    budget = None if config.max_minutes is None else 60.0 * config.max_minutes

    step, history, losses, resumed_from, last_checkpoint = 0, [], [], None, None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if config.checkpoint_dir and (path := latest_checkpoint(config.checkpoint_dir)) is not None:
            ckpt = load_checkpoint(path)
            _check_resumable(ckpt.state["config"], config, n, ckpt.state["n_items"])
            weights.load_state_dict(ckpt.model_state)
            optimizer.load_state_dict(ckpt.optimizer_state)
            torch.set_rng_state(ckpt.rng_states["torch"])
            generator.set_state(ckpt.rng_states["generator"])
            step, history, losses = ckpt.step, ckpt.state["history"], ckpt.state["losses"]
            resumed_from, last_checkpoint = step, str(path)
            logger.info("resuming pretraining from %s (step %d of %d)", path, step, total)

        def checkpoint() -> str | None:
            if not config.checkpoint_dir:
                return None
            state = {"config": config.to_dict(), "n_items": n, "history": history, "losses": losses}
            path = save_checkpoint(config.checkpoint_dir, step, model_state=weights.state_dict(),
                                   optimizer_state=optimizer.state_dict(),
                                   rng_states={"torch": torch.get_rng_state(), "generator": generator.get_state()},
                                   state=state, keep=config.keep_checkpoints or None)
            return str(path)

        def record_epoch(partial: bool) -> None:
            epoch_start = (step - 1) // steps_per_epoch * steps_per_epoch
            entry = {"epoch": step / steps_per_epoch, "step": step, "partial": partial,
                     "loss": float(np.mean(losses[epoch_start:step])),  # mean loss of this epoch's steps
                     "lr": float(lrs[step - 1]) if step else 0.0,
                     **_monitor(encoder, data, config, batch_size)}
            history.append(entry)
            if entry["collapsed"]:
                logger.warning("representation collapse at step %d: std ratio %.3f, RankMe %.2f",
                               step, entry["std_ratio"], entry["rankme"])

        bar = None
        if progress_bar:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=step, desc=f"pretrain ({config.objective})", unit="step")
        stopped_reason: Literal["completed", "budget"] = "completed"
        saved_at = resumed_from
        order, order_epoch = torch.empty(0, dtype=torch.long), -1  # the first step draws epoch 0's order
        try:
            while step < total:
                if budget is not None and clock() - started >= budget:
                    stopped_reason = "budget"
                    break
                epoch, position = divmod(step, steps_per_epoch)
                if epoch != order_epoch:
                    order, order_epoch = _epoch_order(n, config.seed, epoch), epoch
                batch = _take(data, order[position * batch_size:(position + 1) * batch_size])
                for group in optimizer.param_groups:
                    group["lr"] = float(lrs[step])

                loss = loss_of_batch(batch, generator)
                if not torch.isfinite(loss):
                    raise NonFiniteLossError(
                        f"non-finite loss ({loss.item()}) at step {step} (lr {lrs[step]:.3g}); the parameters "
                        f"were not updated. Lower lr, raise warmup_steps or set max_grad_norm, and check the "
                        f"data for NaN. Last checkpoint: {last_checkpoint}")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                step += 1
                losses.append(float(loss.detach()))

                if step % steps_per_epoch == 0:
                    record_epoch(partial=False)
                if config.checkpoint_every_steps and step % config.checkpoint_every_steps == 0 and step < total:
                    last_checkpoint, saved_at = checkpoint(), step
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{losses[-1]:.4f}")
                if on_progress is not None:
                    on_progress(step, total, losses[-1])
        finally:
            if bar is not None:
                bar.close()

        if step % steps_per_epoch != 0 and (not history or history[-1]["step"] != step):
            record_epoch(partial=True)
        if saved_at != step:
            last_checkpoint = checkpoint() or last_checkpoint
    if callable(getattr(weights, "eval", None)):
        weights.eval()
    return PretrainResult(steps=step, total_steps=total, steps_per_epoch=steps_per_epoch,
                          stopped_reason=stopped_reason, history=history, losses=losses,
                          resumed_from_step=resumed_from, checkpoint=last_checkpoint,
                          elapsed_seconds=clock() - started)
