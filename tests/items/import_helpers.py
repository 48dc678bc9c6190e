"""Small builders shared by the import tests: files made in the test, and a
way to run the real import service on them. Plain functions, no fixtures."""

from __future__ import annotations

import io
import secrets
import zipfile
from pathlib import Path

from django.conf import settings
from PIL import Image

from labelops.items.importing.pipeline import run_import
from labelops.items.models import ImportJob


def png(color=(200, 30, 30), size=(4, 3), fmt="PNG") -> bytes:
    """A tiny real image, made in memory."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def zip_of(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def store_upload(data: bytes, extension: str) -> str:
    """Write `data` where an upload would be, return its relative source path."""
    relative = f"uploads/{secrets.token_hex(8)}.{extension}"
    path = Path(settings.ARTIFACT_ROOT) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return relative


EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "images_zip": "zip", "label_studio": "json"}


def make_job(project, user, data: bytes | Path, fmt: str, **options) -> ImportJob:
    """A queued ImportJob for `data` (bytes stored as an upload, or a path read in place)."""
    source = str(data) if isinstance(data, Path) else store_upload(data, EXTENSIONS[fmt])
    return ImportJob.objects.create(project=project, created_by=user, format=fmt, source=source, options=options)


def import_data(project, user, data: bytes | Path, fmt: str, **options) -> dict:
    """Run the real import service on `data`; return its report."""
    return run_import(make_job(project, user, data, fmt, **options))


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def stored_files(root) -> list[Path]:
    """Item files under ARTIFACT_ROOT (journals and uploads excluded)."""
    items = Path(root) / "items"
    return sorted(p for p in items.rglob("*") if p.is_file() and not p.name.startswith(".")) if items.exists() else []


