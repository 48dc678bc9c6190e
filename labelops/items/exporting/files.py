"""Reading stored item files safely, for the item-file endpoint and for
exports that embed images.

An item's `file` is a path relative to ARTIFACT_ROOT that the import wrote
with a generated name. It is still resolved and checked on every read, so a
bad row (or a symlink planted under the root) can never serve a file from
elsewhere. The content type served is the one verified at import, and only
if it is one of a few raster image types a browser renders without running
anything (no SVG: it can carry script).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

# Content type -> file extension. Anything else is served as octet-stream.
SAFE_IMAGE_TYPES: dict[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
}
FALLBACK_TYPE = ("application/octet-stream", "bin")


def served_type(item) -> tuple[str, str]:
    """The (content type, extension) to serve `item`'s file with."""
    extension = SAFE_IMAGE_TYPES.get(item.content_type)
    return (item.content_type, extension) if extension else FALLBACK_TYPE


def item_file_path(item) -> Path | None:
    """The absolute path of `item`'s stored file, or None if it has none, the
    file is missing, or the path resolves (through `..` or a symlink) to
    anywhere outside ARTIFACT_ROOT."""
    if not item.file:
        return None
    root = Path(settings.ARTIFACT_ROOT).resolve()
    path = (root / item.file).resolve()
    if not path.is_relative_to(root) or path == root or not path.is_file():
        return None
    return path


def read_item_file(item) -> bytes | None:
    """The bytes of `item`'s stored file, with the same checks as `item_file_path`."""
    path = item_file_path(item)
    return path.read_bytes() if path is not None else None
