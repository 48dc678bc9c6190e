"""A pretrained torchvision classification backbone, from a local weights file, as an image encoder.

The architecture comes from torchvision (``torchvision.models.get_model(arch,
weights=None)``: randomly initialised, nothing downloaded) and its weights from
a file the user already has:

- ``.safetensors`` (preferred: plain tensors, nothing to execute);
- ``.pth`` / ``.pt``: a state dict saved with ``torch.save``, read with
  ``torch.load(..., map_location="cpu", weights_only=True)``, which refuses
  anything but tensors and plain containers. Never a full unpickle.

torchvision's ``weights=`` enums are never used to fetch weights; they are read
only for the architecture's standard evaluation preprocessing (sizes and
interpolation, plain attributes, no network).

The classification head goes: the last ``nn.Linear`` in the model's module
order is replaced by ``nn.Identity``, so ``embed`` returns the penultimate
features, after the model's own pooling. Head weights in the file (``fc.*``,
``classifier.1.*``, ``heads.head.*``, ...) are ignored, so a backbone
fine-tuned for another number of classes loads too; every other tensor of the
architecture must be in the file. Families and their dimension:

=====================  ===================  =====  =======
family                 head replaced        dim    tested
=====================  ===================  =====  =======
resnet18 / 34          ``fc``               512    yes (weights from .safetensors and .pth)
resnet50 / 101 / 152   ``fc``               2048   head only
efficientnet_b0        ``classifier.1``     1280   head only
convnext_tiny          ``classifier.2``     768    head only
mobilenet_v3_small     ``classifier.3``     1024   head only
vit_b_16               ``heads.head``       768    head only
=====================  ===================  =====  =======

"head only": ``tests/ssl_engine/test_image_torchvision.py`` checks, on a
random initialisation, that the generic rule removes exactly the family's
classifier and the output width. MobileNetV3's classifier is two layers
(Linear 576 -> 1024, Hardswish, Dropout, Linear 1024 -> 1000): only the last
goes, so its embedding is the 1024-d hidden layer, as VGG's is its 4096-d one. Other classification models whose last
layer is an ``nn.Linear`` (regnet, densenet, swin, vgg, ...) should work the
same way but are not tested; models without one (squeezenet ends in a
convolution) are refused. Only ``torchvision.models``' classification
builders are accepted (not detection, segmentation or video).

Preprocessing (:class:`ImagePreprocessing`), torchvision's standard
evaluation transform for ImageNet classifiers (``ImageClassification`` in
``torchvision.transforms._presets``), done with public torchvision functions:
resize the shorter side to ``resize_size`` (antialiased), center-crop
``crop_size`` x ``crop_size``, scale to [0, 1], normalise by ``mean``/``std``
(ImageNet's by default). ``preprocessing=None`` takes the sizes and
interpolation of the architecture's default torchvision weights (resnet18:
resize 256, crop 224, bilinear; efficientnet_b0: bicubic; convnext_tiny:
resize 236), which is right for torchvision's own weights files; pass an
``ImagePreprocessing`` for weights trained with another recipe, or smaller
images for speed. ViTs need ``crop_size`` equal to their training size.

``version`` = ``torchvision-<arch>@<first 12 hex of the weights file's
sha256>+pre<8 hex of the preprocessing>``: other weights, or other
preprocessing, never share embedding-cache entries. The encoder is for
inference only (parameters frozen), so the version is fixed at load.

torchvision itself is imported only when an encoder is built, and must match
the installed torch, release line and CPU/CUDA build alike (torchvision 0.29
for torch 2.14, 0.28 for 2.13); where it is missing or does not import (the
PyPI 0.28.0 and 0.29.x wheels fail beside the project's torch 2.13.0 CPU build
with "operator torchvision::nms does not exist"),
:class:`TorchvisionUnavailableError` says so. The rest of ``ssl_engine`` never
needs it.

Example::

    >>> from ssl_engine.encoders.image_torchvision import TorchvisionEncoder
    >>> enc = TorchvisionEncoder("resnet18", "weights/resnet18.safetensors")
    >>> enc.embed(["a.jpg", "b.png"]).shape          # paths, PIL images or arrays; (N, 512) float32
    (2, 512)
    >>> enc.version
    'torchvision-resnet18@5c8d0e4f1a2b+pre3e9a1c07'
    >>> enc = TorchvisionEncoder.from_spec("torchvision:resnet18:weights/resnet18.safetensors")
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Weights file suffixes, and how each is read.
SAFETENSORS_SUFFIXES = (".safetensors",)
TORCH_SUFFIXES = (".pth", ".pt")
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")
#: Prefix of the ``from_spec`` spelling: ``torchvision:<arch>:<weights file>``.
SPEC_PREFIX = "torchvision:"

_DIGEST_CHARS = 12


class TorchvisionUnavailableError(ImportError):
    """torchvision is not installed, or does not import beside the installed torch."""


@dataclass(frozen=True)
class ImagePreprocessing:
    """Resize the shorter side, center-crop a square, scale to [0, 1], normalise per channel."""

    crop_size: int = 224  # side of the square the model sees
    resize_size: int = 256  # the shorter side is resized to this before the crop
    interpolation: str = "bilinear"  # one of INTERPOLATIONS
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self):
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if self.crop_size < 1 or self.resize_size < self.crop_size:
            raise ValueError(f"need 1 <= crop_size <= resize_size, got {self.crop_size} and {self.resize_size}")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {self.interpolation!r}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(f"mean and std need 3 values each, std positive: {self.mean}, {self.std}")

    def digest(self) -> str:
        """sha256 (hex) of the settings: part of the encoder's version."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()


def import_torchvision():
    """The ``torchvision`` module, or :class:`TorchvisionUnavailableError` naming the problem."""
    try:
        import torchvision
        import torchvision.models  # noqa: F401  (registers the model builders)
        import torchvision.transforms.functional  # noqa: F401
    except Exception as error:  # ImportError, or RuntimeError when its C++ operators do not match torch's
        raise TorchvisionUnavailableError(
            f"torchvision is not importable here ({type(error).__name__}: {error}): install a torchvision "
            f"matching your torch {torch.__version__}, same release line and same CPU/CUDA build (0.29 for torch "
            "2.14, 0.28 for 2.13; see the table at https://github.com/pytorch/vision#installation). "
            "Only the torchvision image encoder needs it."
        ) from error
    return torchvision


def read_weights(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], str]:
    """``(state dict, sha256 hex of the file)`` of a local weights file, loaded without unpickling.

    Raises ``FileNotFoundError`` for a missing file, ``ValueError`` for
    anything that is not a state dict of tensors, and ``RuntimeError`` if the
    file changes while it is read (the digest must name the tensors loaded).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist" if not path.exists()
                                else f"weights file {path} is not a file")
    suffix = path.suffix.lower()
    if suffix not in SAFETENSORS_SUFFIXES + TORCH_SUFFIXES:
        raise ValueError(f"{path} is not a weights file: expected a "
                         f"{', '.join(SAFETENSORS_SUFFIXES + TORCH_SUFFIXES)} file holding a state dict")
    before = _file_identity(path)
    sha256 = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha256.update(block)
    if suffix in SAFETENSORS_SUFFIXES:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state = load_file(str(path), device="cpu")
        except SafetensorError as error:
            raise ValueError(f"cannot read weights from {path}: {error}") from error
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as error:
            # torch's message is long and suggests weights_only=False; keep its reason only.
            reason = str(error).split("WeightsUnpickler error:")[-1].strip().splitlines()[0]
            raise ValueError(f"refused {path}: it holds more than tensors and plain containers ({reason}); "
                             "only state dicts are read, never arbitrary pickles") from error
        except (RuntimeError, EOFError) as error:
            raise ValueError(f"cannot read weights from {path}: {error}") from error
    if _file_identity(path) != before:
        raise RuntimeError(f"{path} changed while it was being read; try again")
    if not isinstance(state, dict) or not state:
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict (a dict of tensors)")
    not_tensors = [k for k, v in state.items() if not isinstance(k, str) or not torch.is_tensor(v)]
    if not_tensors:
        raise ValueError(f"{path} is not a plain state dict: entries {not_tensors[:5]} are not tensors "
                         "(a training checkpoint? save model.state_dict() alone)")
    return state, sha256.hexdigest()


def _file_identity(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def remove_classifier(model: nn.Module) -> tuple[str, int]:
    """Replace the model's last ``nn.Linear`` (in module order: the classifier
    of torchvision's classification models) by ``nn.Identity``, in place.

    Returns ``(qualified name of the removed layer, its in_features)``: the
    name is the prefix of the head's keys in a state dict, the width is the
    embedding's.
    """
    linears = [(name, module) for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no nn.Linear classifier to remove; "
                         "this architecture is not supported")
    name, head = linears[-1]
    model.set_submodule(name, nn.Identity())
    return name, int(head.in_features)


def default_preprocessing(arch: str) -> ImagePreprocessing:
    """The sizes and interpolation of ``arch``'s default torchvision weights
    (read from the weights enum, nothing downloaded), with ImageNet's mean and std."""
    models = import_torchvision().models
    preset = models.get_model_weights(arch).DEFAULT.transforms()  # an ImageClassification transform
    return ImagePreprocessing(crop_size=int(preset.crop_size[0]), resize_size=int(preset.resize_size[0]),
                              interpolation=preset.interpolation.value, mean=tuple(preset.mean),
                              std=tuple(preset.std))


def parse_spec(spec: str) -> tuple[str, str]:
    """``"torchvision:<arch>:<weights file>"`` -> ``(arch, weights file)``."""
    if not spec.startswith(SPEC_PREFIX):
        raise ValueError(f"expected {SPEC_PREFIX}<arch>:<weights file>, got {spec!r}")
    arch, sep, weights = spec[len(SPEC_PREFIX):].partition(":")
    if not arch or not sep or not weights:
        raise ValueError(f"expected {SPEC_PREFIX}<arch>:<weights file>, got {spec!r}")
    return arch, weights


def _image_tensor(item: Any) -> torch.Tensor:
    """One image (path, PIL image, (H, W, 3) array, (3, H, W) tensor) -> (3, H, W) uint8 or float tensor."""
    from PIL import Image

    if torch.is_tensor(item):
        x = item
    else:
        if isinstance(item, (str, os.PathLike)):
            with Image.open(item) as img:
                item = np.asarray(img.convert("RGB"))
        elif isinstance(item, Image.Image):
            item = np.asarray(item.convert("RGB"))
        array = np.asarray(item)
        if array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) image, got shape {array.shape}")
        x = torch.tensor(array).permute(2, 0, 1)  # a copy (PIL's arrays are read-only); (H, W, 3) -> (3, H, W)
    if x.ndim != 3 or x.shape[0] != 3:
        raise ValueError(f"expected a (3, H, W) image, got {tuple(x.shape)}")
    return x


class TorchvisionEncoder:
    """A torchvision classification model without its head, following the ``Encoder`` protocol.

    Parameters
    ----------
    arch : str
        A torchvision classification builder name: ``resnet18``, ``resnet50``,
        ``efficientnet_b0``, ``convnext_tiny``, ``vit_b_16``, ...
    weights : path
        Local ``.safetensors`` (preferred), ``.pth`` or ``.pt`` state dict of ``arch``.
    preprocessing : ImagePreprocessing or None
        ``None``: the architecture's standard torchvision evaluation transform.
    batch_size : int
        Images per forward pass in :meth:`embed`.
    device : str
        Torch device.
    progress : bool
        A tqdm bar over images in :meth:`embed`.

    Attributes
    ----------
    dim : int
        Width of the embeddings (512 for resnet18).
    version : str
        ``torchvision-<arch>@<12 hex of the file's sha256>+pre<8 hex>``.
    weights_sha256 : str
        sha256 of the weights file.
    head_name : str
        The layer replaced by ``nn.Identity`` (``fc`` for a ResNet).
    model : nn.Module
        The headless torchvision model, in eval mode, parameters frozen.
    """

    def __init__(
        self,
        arch: str,
        weights: str | os.PathLike,
        *,
        preprocessing: ImagePreprocessing | None = None,
        batch_size: int = 32,
        device: str = "cpu",
        progress: bool = False,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        # The file first (no torchvision needed to report a bad path), then the architecture.
        state, self.weights_sha256 = read_weights(weights)
        torchvision = import_torchvision()
        if arch not in torchvision.models.list_models(module=torchvision.models):
            raise ValueError(f"{arch!r} is not a torchvision classification model; "
                             "see torchvision.models.list_models(module=torchvision.models)")
        self.arch = arch
        self.weights_path = Path(weights)
        self.batch_size = int(batch_size)
        self.device = torch.device(device)
        self.progress = progress
        self.preprocessing = preprocessing or default_preprocessing(arch)
        model = torchvision.models.get_model(arch, weights=None)
        self.head_name, self.dim = remove_classifier(model)
        head_prefix = f"{self.head_name}."
        backbone_state = {k: v for k, v in state.items() if not k.startswith(head_prefix)}
        try:
            result = model.load_state_dict(backbone_state, strict=False)
        except RuntimeError as error:  # shapes that do not match
            raise ValueError(f"{self.weights_path} does not hold {arch} weights: {error}") from error
        if result.missing_keys or result.unexpected_keys:
            raise ValueError(
                f"{self.weights_path} does not hold {arch} weights: {len(result.missing_keys)} of the model's "
                f"tensors are missing (e.g. {result.missing_keys[:3]}), {len(result.unexpected_keys)} in the "
                f"file are unknown to it (e.g. {result.unexpected_keys[:3]})")
        model.requires_grad_(False)
        self.model = model.to(self.device).eval()
        self.version = (f"torchvision-{arch}@{self.weights_sha256[:_DIGEST_CHARS]}"
                        f"+pre{self.preprocessing.digest()[:8]}")

    @classmethod
    def from_spec(cls, spec: str, **kwargs: Any) -> TorchvisionEncoder:
        """Build from ``"torchvision:<arch>:<weights file>"``, e.g. ``torchvision:resnet18:w/r18.safetensors``."""
        arch, weights = parse_spec(spec)
        return cls(arch, weights, **kwargs)

    def preprocess(self, batch: Any) -> torch.Tensor:
        """Images -> (N, 3, crop, crop) float32, resized, cropped and normalised (see the module docstring).

        Accepts a tensor (N, 3, H, W) (uint8, or float in [0, 1]), a numpy
        array (N, H, W, 3) likewise, or a sequence of file paths, PIL images,
        (H, W, 3) arrays or (3, H, W) tensors of any sizes.
        """
        import torchvision.transforms.functional as TF
        from torchvision.transforms import InterpolationMode

        p = self.preprocessing
        interpolation = InterpolationMode(p.interpolation)

        def resize_crop(x: torch.Tensor) -> torch.Tensor:
            x = TF.resize(x, [p.resize_size], interpolation=interpolation, antialias=True)  # shorter side
            return TF.center_crop(x, [p.crop_size])  # (..., 3, crop, crop)

        if isinstance(batch, np.ndarray):
            if batch.ndim != 4 or batch.shape[3] != 3:
                raise ValueError(f"expected an array of images (N, H, W, 3), got shape {batch.shape}")
            batch = torch.tensor(batch).permute(0, 3, 1, 2)  # (N, H, W, 3) -> (N, 3, H, W)
        if torch.is_tensor(batch):
            if batch.ndim != 4 or batch.shape[1] != 3:
                raise ValueError(f"expected images as (N, 3, H, W), got {tuple(batch.shape)}")
            x = resize_crop(batch)
        else:
            images = [resize_crop(_image_tensor(item)) for item in batch]
            if not images:
                return torch.zeros(0, 3, p.crop_size, p.crop_size)
            x = torch.stack(images)  # (N, 3, crop, crop)
        x = TF.convert_image_dtype(x, torch.float32)  # uint8 / 255; floats unchanged
        return TF.normalize(x, mean=list(p.mean), std=list(p.std))

    def embed(self, batch: Any) -> np.ndarray:
        """(N,) images -> (N, dim) float32, rows of unit L2 norm, in input order."""
        images = batch if torch.is_tensor(batch) or isinstance(batch, np.ndarray) else list(batch)
        n = len(images)
        out = np.empty((n, self.dim), dtype=np.float32)
        bar = tqdm(total=n, unit="img", desc="embed", disable=not self.progress)
        with torch.inference_mode(), bar:
            for start in range(0, n, self.batch_size):
                x = self.preprocess(images[start:start + self.batch_size]).to(self.device)  # (b, 3, crop, crop)
                h = self.model(x)  # (b, dim)
                out[start:start + len(x)] = F.normalize(h.float(), dim=1).cpu().numpy()
                bar.update(len(x))
        return out

    def __repr__(self) -> str:
        return (f"TorchvisionEncoder(arch={self.arch!r}, weights={str(self.weights_path)!r}, dim={self.dim}, "
                f"device={str(self.device)!r})")


__all__ = ["ImagePreprocessing", "TorchvisionEncoder", "TorchvisionUnavailableError", "import_torchvision",
           "parse_spec", "read_weights", "remove_classifier"]
