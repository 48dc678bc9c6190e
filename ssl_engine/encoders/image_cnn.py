"""A small ResNet-style CNN for 32x32-ish images, trained from scratch with SimCLR.

He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition" (CVPR
2016), section 4.2: the CIFAR variant, a 3x3 stem and three stages of basic
blocks at widths ``w, 2w, 4w`` (strides 1, 2, 2), then global average
pooling. The backbone output (``dim = 4 * width``) is the embedding.
Chen et al., "SimCLR" (ICML 2020), section 2.1: a 2-layer MLP projection head
``g(h)`` on top of the backbone during pretraining only; the contrastive loss
is taken on ``g(h)`` and ``embed`` returns ``h``, which transfers better.

Interface for the trainer (``ssl_engine.ssl.trainer``):

- ``encode_tensors(images, train)``: (B, 3, H, W) floats in [0, 1] -> (B, dim) backbone features;
- ``project(features)``: (B, dim) -> (B, projection_dim), the SimCLR head;
- ``parameters()``, ``state_dict()``, ``load_state_dict()`` from ``nn.Module``.

And the ``Encoder`` protocol (``ssl_engine.encoders.base``): ``embed(batch)``
-> (N, dim) float32 L2-normalised, under ``torch.inference_mode`` in batches;
``version`` = ``image-cnn-`` + a digest of config and weights, recomputed on
each access (a few milliseconds) so it follows training.

Per-channel normalisation (CIFAR-10 mean and std by default) is the first
layer of the backbone, so inputs and augmentations stay in [0, 1].

Example::

    >>> import torch
    >>> from ssl_engine.encoders.image_cnn import ImageCNNConfig, ImageCNNEncoder
    >>> encoder = ImageCNNEncoder(ImageCNNConfig(width=8), seed=0)
    >>> encoder.embed(torch.rand(5, 3, 32, 32)).shape   # (N, 4 * width)
    (5, 32)
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ssl_engine.ssl.checkpoint import state_dict_digest, tensors_for_safetensors

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


@dataclass(frozen=True)
class ImageCNNConfig:
    width: int = 32  # channels of the first stage; the stages have width, 2 * width, 4 * width
    blocks_per_stage: int = 1  # 1 gives an 8-layer ResNet, 2 a 14-layer one
    projection_dim: int = 64  # output of the SimCLR head
    projection_hidden: int | None = None  # hidden width of the head; None = dim
    image_size: int = 32  # side that non-tensor inputs to `embed` are resized to
    mean: tuple[float, float, float] = CIFAR10_MEAN
    std: tuple[float, float, float] = CIFAR10_STD

    def __post_init__(self):
        object.__setattr__(self, "mean", tuple(self.mean))
        object.__setattr__(self, "std", tuple(self.std))
        if self.width < 1 or self.blocks_per_stage < 1 or self.projection_dim < 1 or self.image_size < 1:
            raise ValueError(f"sizes must be positive: {self}")

    @property
    def dim(self) -> int:
        return 4 * self.width


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 conv-BN) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))  # (B, out, H / stride, W / stride)
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNetBackbone(nn.Module):
    """(B, 3, H, W) in [0, 1] -> (B, 4 * width)."""

    mean: torch.Tensor  # (1, 3, 1, 1) buffers, registered in __init__
    std: torch.Tensor

    def __init__(self, config: ImageCNNConfig):
        super().__init__()
        w = config.width
        self.register_buffer("mean", torch.tensor(config.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(config.std).view(1, 3, 1, 1))
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
        stages, in_channels = [], w
        for out_channels, stride in ((w, 1), (2 * w, 2), (4 * w, 2)):
            for i in range(config.blocks_per_stage):
                stages.append(BasicBlock(in_channels, out_channels, stride if i == 0 else 1))
                in_channels = out_channels
        self.stages = nn.Sequential(*stages)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std  # (B, 3, H, W)
        x = self.stages(self.stem(x))  # (B, 4w, H / 4, W / 4)
        return x.mean(dim=(2, 3))  # (B, 4w): global average pool


class ProjectionHead(nn.Module):
    """SimCLR's g(h): Linear -> ReLU -> Linear, used only during pretraining."""

    def __init__(self, dim: int, hidden: int, out: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, out))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)  # (B, dim) -> (B, out)


def images_to_tensor(batch: Any, image_size: int) -> torch.Tensor:
    """Images in any usual form -> (N, 3, H, W) float32 in [0, 1].

    Accepts a tensor (N, 3, H, W) (float in [0, 1] or uint8), a numpy array
    (N, H, W, 3) uint8 or float in [0, 1], or a sequence of PIL images, file
    paths or (H, W, 3) arrays; non-tensor images are converted to RGB and
    resized to ``image_size`` (bilinear). Tensors keep their size (the
    network pools globally).
    """
    if torch.is_tensor(batch):
        x = batch
    elif isinstance(batch, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2)  # (N, H, W, 3) -> (N, 3, H, W)
    else:
        from PIL import Image

        arrays = []
        for item in batch:
            if isinstance(item, (str, os.PathLike)):
                with Image.open(item) as img:
                    item = img.convert("RGB").resize((image_size, image_size), Image.Resampling.BILINEAR)
            elif isinstance(item, Image.Image):
                item = item.convert("RGB").resize((image_size, image_size), Image.Resampling.BILINEAR)
            arrays.append(np.asarray(item))
        if not arrays:
            return torch.zeros(0, 3, image_size, image_size)
        x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected images as (N, 3, H, W), got {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x.float().div_(255.0)
    return x.float()


class ImageCNNEncoder(nn.Module):
    """Small CIFAR ResNet + SimCLR projection head; see the module docstring."""

    def __init__(self, config: ImageCNNConfig | None = None, *, seed: int = 0):
        super().__init__()
        self.config = config or ImageCNNConfig()
        with torch.random.fork_rng(devices=[]):  # deterministic init without touching the caller's RNG
            torch.manual_seed(seed)
            self.backbone = ResNetBackbone(self.config)
            hidden = self.config.projection_hidden or self.config.dim
            self.projection_head = ProjectionHead(self.config.dim, hidden, self.config.projection_dim)

    @property
    def dim(self) -> int:
        return self.config.dim

    @property
    def version(self) -> str:
        """``image-cnn-<16 hex>``: digest of the config and every weight and buffer."""
        digest = state_dict_digest(self.state_dict(), json.dumps(asdict(self.config), sort_keys=True))
        return f"image-cnn-{digest[:16]}"

    def encode_tensors(self, images: torch.Tensor, train: bool) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, dim) backbone features (not normalised).

        ``train`` switches BatchNorm to batch statistics (and updates the running ones).
        """
        self.train(train)
        return self.backbone(images)

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """(B, dim) -> (B, projection_dim): the SimCLR head, for the loss only."""
        return self.projection_head(features)

    def embed(self, batch: Any, *, batch_size: int = 256, progress: bool = False) -> np.ndarray:
        """(N,) images -> (N, dim) float32, rows of unit L2 norm (see ``images_to_tensor`` for inputs)."""
        images = batch if torch.is_tensor(batch) or isinstance(batch, np.ndarray) else list(batch)
        n = len(images)
        out = np.zeros((n, self.dim), dtype=np.float32)
        was_training = self.training
        self.eval()
        try:
            starts = range(0, n, batch_size)
            if progress:
                from tqdm.auto import tqdm

                starts = tqdm(starts, desc="embed", unit="batch")
            with torch.inference_mode():
                for start in starts:
                    x = images_to_tensor(images[start:start + batch_size], self.config.image_size)
                    h = F.normalize(self.backbone(x), dim=1)  # (b, dim)
                    out[start:start + len(x)] = h.numpy()
        finally:
            self.train(was_training)
        return out

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.json").write_text(json.dumps({"kind": "image-cnn", **asdict(self.config)}, indent=1))
        save_file(tensors_for_safetensors(self.state_dict()), str(directory / "model.safetensors"))
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike) -> ImageCNNEncoder:
        directory = Path(directory)
        meta = json.loads((directory / "config.json").read_text())
        if meta.pop("kind", None) != "image-cnn":
            raise ValueError(f"{directory} does not hold an image-cnn encoder")
        encoder = cls(ImageCNNConfig(**meta))
        encoder.load_state_dict(load_file(str(directory / "model.safetensors")))
        encoder.eval()
        return encoder


__all__ = ["ImageCNNConfig", "ImageCNNEncoder", "images_to_tensor"]
