"""Checking that uploaded bytes really are an image we accept.

Pillow decides what the file is from its content, never from its name, and
only among the formats listed here: opening is restricted to them, so an EPS
or PSD renamed to .png is refused instead of reaching a richer (and riskier)
decoder. The stored file's extension comes from the format Pillow verified.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from labelops.items.importing.errors import ImportFailed

# Pillow format -> file extension we store under.
ACCEPTED_FORMATS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp", "BMP": "bmp", "TIFF": "tif"}


@dataclass(frozen=True, slots=True)
class VerifiedImage:
    format: str
    extension: str
    content_type: str
    width: int
    height: int


def verify_image(data: bytes, where: str, *, max_pixels: int) -> VerifiedImage:
    """Open, size-check and `verify()` the image, then re-open it to read its
    size for the record (`verify()` leaves the image object unusable).

    Raises ImportFailed naming `where` if the bytes are not an accepted image,
    are damaged, or have more than `max_pixels` pixels (checked from the
    header, before any pixel is decoded, so a decompression bomb never
    expands). Pillow's own DecompressionBombWarning is raised as an error too.
    """
    formats = list(ACCEPTED_FORMATS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=formats) as image:
                _check_pixels(image.size, where, max_pixels)
                image.verify()
            with Image.open(io.BytesIO(data), formats=formats) as image:
                fmt = image.format
                width, height = image.size
    except ImportFailed:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImportFailed(f"{where} is refused as a decompression bomb: {exc}", where=where) from None
    except UnidentifiedImageError:
        raise ImportFailed(
            f"{where} is not an image (accepted: {', '.join(ACCEPTED_FORMATS)})", where=where
        ) from None
    except Exception as exc:  # noqa: BLE001 - Pillow's decoders raise many types for damaged files
        raise ImportFailed(f"{where} is a damaged image: {type(exc).__name__}: {exc}", where=where) from None
    return VerifiedImage(
        format=fmt,
        extension=ACCEPTED_FORMATS[fmt],
        content_type=Image.MIME.get(fmt, "application/octet-stream"),
        width=width,
        height=height,
    )


def _check_pixels(size: tuple[int, int], where: str, max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImportFailed(
            f"{where} is {width}x{height} = {width * height} pixels, more than IMAGE_MAX_PIXELS ({max_pixels})",
            where=where,
        )
