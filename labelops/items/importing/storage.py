"""Uploaded import files under ARTIFACT_ROOT.

An upload is stored as `uploads/<random hex>.<ext>`: the client's file name
never becomes part of a path. (Item files: `labelops.items.files`.)
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile

UPLOADS_DIR = "uploads"


def save_upload(root: Path, upload: UploadedFile, extension: str) -> str:
    """Copy an uploaded file to `uploads/<random>.<extension>` under `root`,
    chunk by chunk, and return the relative path. The client's file name is
    never used."""
    relative = Path(UPLOADS_DIR) / f"{secrets.token_hex(16)}.{extension}"
    path = Path(root) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "xb") as handle:
            for chunk in upload.chunks():
                handle.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return relative.as_posix()


def resolve_source(root: Path, source: str) -> Path:
    """The file an ImportJob reads. Uploads are stored relative to the root
    (and must stay inside it); the `import_items` command records the
    absolute path a server admin gave."""
    path = Path(source)
    if path.is_absolute():
        return path
    resolved = (Path(root) / path).resolve()
    if not resolved.is_relative_to(Path(root).resolve()):
        raise ValueError(f"import source {source!r} points outside ARTIFACT_ROOT")
    return resolved
