"""SimCLR image augmentations in plain torch, batched, seeded by a ``torch.Generator``.

Chen, Kornblith, Norouzi & Hinton, "A Simple Framework for Contrastive
Learning of Visual Representations" (SimCLR, ICML 2020), appendix A: random
resized crop (then resize back), horizontal flip, colour distortion (colour
jitter with probability 0.8, grayscale with probability 0.2) and, on ImageNet,
Gaussian blur. For CIFAR-10 the paper uses colour strength 0.5 (brightness,
contrast and saturation 0.4, hue 0.1) and no blur, which are the defaults here.

Input and output are float tensors ``(B, C, H, W)`` with values in [0, 1];
``C`` must be 3 for the colour operations. Every image gets its own random
parameters, drawn from the ``generator`` argument in a fixed amount per call,
so the same generator state always gives the same views (the trainer saves
that state in its checkpoints). No torchvision: it cannot be installed next to
this torch build.

Deviations from torchvision, each documented where it happens: the crop box
is drawn once and clamped into the image instead of torchvision's ten retries;
colour jitter applies brightness, contrast, saturation, hue in that fixed
order instead of a random order per image.

Example::

    >>> import torch
    >>> from ssl_engine.ssl.augment import SimCLRAugment
    >>> augment = SimCLRAugment()
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.rand(4, 3, 32, 32)
    >>> v1, v2 = augment(x, g), augment(x, g)   # two views, (4, 3, 32, 32) each
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# ITU-R 601-2 luma weights, as PIL and torchvision convert RGB to grayscale.
_LUMA = (0.299, 0.587, 0.114)


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    """(n,) samples of U(low, high)."""
    return low + (high - low) * torch.rand(n, generator=generator)


def _per_image(values: torch.Tensor) -> torch.Tensor:
    """(B,) -> (B, 1, 1, 1), to broadcast over an image batch."""
    return values.view(-1, 1, 1, 1)


def _check_images(x: torch.Tensor, *, rgb: bool = False) -> None:
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"expected a float tensor (B, C, H, W), got {tuple(x.shape)} {x.dtype}")
    if rgb and x.shape[1] != 3:
        raise ValueError(f"colour operations need 3 channels, got {x.shape[1]}")


def random_resized_crop(x: torch.Tensor, generator: torch.Generator, *, size: tuple[int, int] | None = None,
                        scale: tuple[float, float] = (0.08, 1.0),
                        ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> torch.Tensor:
    """Crop a random box of each image and resize it (bilinear) to ``size`` (default: the input size).

    The box covers a fraction ``U(scale)`` of the image area with aspect ratio
    (width / height) log-uniform in ``ratio``; a box wider or taller than the
    image is clamped to it. Done for the whole batch with one ``affine_grid``
    and ``grid_sample``: the box is an affine map of the output's [-1, 1]
    coordinates into the input's.
    """
    _check_images(x)
    b, c, h, w = x.shape
    out_h, out_w = size if size is not None else (h, w)
    area = _uniform(b, scale[0], scale[1], generator)  # (B,) fraction of the image area
    aspect = torch.exp(_uniform(b, math.log(ratio[0]), math.log(ratio[1]), generator))  # (B,) width / height
    u_x, u_y = torch.rand(b, generator=generator), torch.rand(b, generator=generator)
    box_w = torch.sqrt(area * aspect * h / w).clamp(max=1.0)  # (B,) fraction of the width
    box_h = torch.sqrt(area / aspect * w / h).clamp(max=1.0)  # (B,) fraction of the height
    centre_x = box_w / 2 + (1 - box_w) * u_x  # (B,) in [box_w / 2, 1 - box_w / 2]
    centre_y = box_h / 2 + (1 - box_h) * u_y

    theta = torch.zeros(b, 2, 3, dtype=x.dtype)  # (B, 2, 3): input coords = theta @ (out_x, out_y, 1)
    theta[:, 0, 0] = box_w
    theta[:, 0, 2] = 2 * centre_x - 1
    theta[:, 1, 1] = box_h
    theta[:, 1, 2] = 2 * centre_y - 1
    grid = F.affine_grid(theta, [b, c, out_h, out_w], align_corners=False)  # (B, out_h, out_w, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)  # (B, C, out_h, out_w)


def horizontal_flip(x: torch.Tensor, generator: torch.Generator, *, p: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``."""
    _check_images(x)
    flip = torch.rand(x.shape[0], generator=generator) < p  # (B,)
    return torch.where(_per_image(flip), x.flip(-1), x)


def rgb_to_grayscale(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) luma."""
    r, g, b = x.unbind(dim=1)
    return (_LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b).unsqueeze(1)


def adjust_brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Scale intensities by ``factor`` (B,); 1 leaves the image unchanged."""
    return (x * _per_image(factor)).clamp(0.0, 1.0)


def adjust_contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with the image's mean gray level; ``factor`` (B,) 0 gives flat gray, 1 the image."""
    mean = rgb_to_grayscale(x).mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    f = _per_image(factor)
    return (f * x + (1 - f) * mean).clamp(0.0, 1.0)


def adjust_saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Blend with the grayscale image; ``factor`` (B,) 0 gives grayscale, 1 the image."""
    gray = rgb_to_grayscale(x)  # (B, 1, H, W)
    f = _per_image(factor)
    return (f * x + (1 - f) * gray).clamp(0.0, 1.0)


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> HSV in [0, 1] (hue as a fraction of a turn)."""
    r, g, b = x.unbind(dim=1)  # (B, H, W) each
    maxc, minc = x.amax(dim=1), x.amin(dim=1)
    delta = maxc - minc
    gray = delta == 0
    s = delta / torch.where(gray, torch.ones_like(maxc), maxc)
    d = torch.where(gray, torch.ones_like(delta), delta)
    rc, gc, bc = (maxc - r) / d, (maxc - g) / d, (maxc - b) / d
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(gray, torch.zeros_like(h), h)
    h = torch.remainder(h / 6.0, 1.0)
    return torch.stack([h, s, maxc], dim=1)


def hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) HSV in [0, 1] -> RGB in [0, 1]."""
    h, s, v = x.unbind(dim=1)  # (B, H, W) each
    h6 = h * 6.0
    sector = torch.floor(h6)
    f = h6 - sector
    sector = sector.long().remainder(6).unsqueeze(1)  # (B, 1, H, W), which sixth of the hue circle
    p = (v * (1 - s)).clamp(0, 1)
    q = (v * (1 - s * f)).clamp(0, 1)
    t = (v * (1 - s * (1 - f))).clamp(0, 1)
    r = torch.stack([v, q, p, p, t, v], dim=1).gather(1, sector)  # (B, 1, H, W)
    g = torch.stack([t, v, v, q, p, p], dim=1).gather(1, sector)
    b = torch.stack([p, p, t, v, v, q], dim=1).gather(1, sector)
    return torch.cat([r, g, b], dim=1)


def adjust_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the hue by ``shift`` (B,) turns, in [-0.5, 0.5]."""
    hsv = rgb_to_hsv(x)
    hue = torch.remainder(hsv[:, :1] + _per_image(shift), 1.0)
    return hsv_to_rgb(torch.cat([hue, hsv[:, 1:]], dim=1))


def color_jitter(x: torch.Tensor, generator: torch.Generator, *, p: float = 0.8, brightness: float = 0.4,
                 contrast: float = 0.4, saturation: float = 0.4, hue: float = 0.1) -> torch.Tensor:
    """With probability ``p`` per image, jitter brightness, contrast, saturation and hue.

    Factors are ``U(max(0, 1 - a), 1 + a)`` for the first three and the hue
    shift is ``U(-hue, hue)`` turns, as torchvision's ``ColorJitter``; the
    order is fixed (torchvision shuffles it per call).
    """
    _check_images(x, rgb=True)
    b = x.shape[0]
    apply = torch.rand(b, generator=generator) < p  # (B,)
    f_brightness = _uniform(b, max(0.0, 1 - brightness), 1 + brightness, generator)
    f_contrast = _uniform(b, max(0.0, 1 - contrast), 1 + contrast, generator)
    f_saturation = _uniform(b, max(0.0, 1 - saturation), 1 + saturation, generator)
    f_hue = _uniform(b, -hue, hue, generator)
    y = adjust_brightness(x, f_brightness)
    y = adjust_contrast(y, f_contrast)
    y = adjust_saturation(y, f_saturation)
    if hue > 0:
        y = adjust_hue(y, f_hue)
    return torch.where(_per_image(apply), y, x)


def random_grayscale(x: torch.Tensor, generator: torch.Generator, *, p: float = 0.2) -> torch.Tensor:
    """Replace each image by its grayscale (on all 3 channels) with probability ``p``."""
    _check_images(x, rgb=True)
    apply = torch.rand(x.shape[0], generator=generator) < p  # (B,)
    return torch.where(_per_image(apply), rgb_to_grayscale(x).expand_as(x), x)


def gaussian_blur(x: torch.Tensor, generator: torch.Generator, *, p: float = 0.5,
                  sigma: tuple[float, float] = (0.1, 2.0), kernel_size: int | None = None) -> torch.Tensor:
    """Blur each image with probability ``p`` by a Gaussian of ``sigma ~ U(sigma)`` pixels.

    The kernel side defaults to 10% of the image side (SimCLR), made odd and
    at least 3; edges are reflected. Separable: one grouped convolution per
    axis with a kernel per image.
    """
    _check_images(x)
    b, c, h, w = x.shape
    if kernel_size is None:
        kernel_size = max(3, int(0.1 * min(h, w)) // 2 * 2 + 1)
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd, got {kernel_size}")
    apply = torch.rand(b, generator=generator) < p  # (B,)
    s = _uniform(b, sigma[0], sigma[1], generator).to(x.dtype)  # (B,)
    radius = kernel_size // 2
    offsets = torch.arange(-radius, radius + 1, dtype=x.dtype)  # (k,)
    kernel = torch.exp(-(offsets[None, :] ** 2) / (2 * s[:, None] ** 2))  # (B, k)
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)  # (B*C, k)
    y = x.reshape(1, b * c, h, w)  # (1, B*C, H, W): one group per image channel
    y = F.pad(y, (radius, radius, radius, radius), mode="reflect")
    y = F.conv2d(y, kernel.view(b * c, 1, kernel_size, 1), groups=b * c)  # vertical pass
    y = F.conv2d(y, kernel.view(b * c, 1, 1, kernel_size), groups=b * c)  # horizontal pass
    y = y.view(b, c, h, w)
    return torch.where(_per_image(apply), y, x)


@dataclass(frozen=True)
class SimCLRAugment:
    """The SimCLR pipeline as a config: call it on a batch to get one random view.

    Defaults are the paper's CIFAR-10 settings (crop scale 0.08-1, colour
    strength 0.5, no blur); set ``blur_p=0.5`` for ImageNet-like images.
    """

    size: int | None = None  # output side; None keeps the input's H and W
    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter_p: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    grayscale_p: float = 0.2
    blur_p: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)

    def __post_init__(self):
        # JSON round trips turn tuples into lists; keep the dataclass hashable and equal.
        for name in ("crop_scale", "crop_ratio", "blur_sigma"):
            value = tuple(getattr(self, name))
            if len(value) != 2 or not value[0] <= value[1]:
                raise ValueError(f"{name} must be a (low, high) pair, got {value}")
            object.__setattr__(self, name, value)
        for name in ("flip_p", "jitter_p", "grayscale_p", "blur_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability, got {getattr(self, name)}")

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> one augmented view, (B, 3, size, size) in [0, 1]."""
        size = None if self.size is None else (self.size, self.size)
        x = random_resized_crop(x, generator, size=size, scale=self.crop_scale, ratio=self.crop_ratio)
        x = horizontal_flip(x, generator, p=self.flip_p)
        x = color_jitter(x, generator, p=self.jitter_p, brightness=self.brightness, contrast=self.contrast,
                         saturation=self.saturation, hue=self.hue)
        x = random_grayscale(x, generator, p=self.grayscale_p)
        if self.blur_p > 0:
            x = gaussian_blur(x, generator, p=self.blur_p, sigma=self.blur_sigma)
        return x.clamp(0.0, 1.0)
