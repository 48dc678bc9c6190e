"""Item files under ARTIFACT_ROOT: how an import stores them, and how the
API, exports and training rounds read them back.

Names are always generated here: an item image is stored by content hash as
`items/<project id>/<hash[:2]>/<hash>.<ext>`, where the extension comes from
the format Pillow verified. No name from a client or an archive ever becomes
part of a path. An item's `file` is that path, relative to ARTIFACT_ROOT; it
is still resolved and checked on every read (`item_file_path`), so a bad row
(or a symlink planted under the root) can never serve a file from
elsewhere. The content type served is the one verified at import, and only
if it is one of a few raster image types a browser renders without running
anything (no SVG: it can carry script).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings

from ssl_engine.files import atomic_write

ITEMS_DIR = "items"

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


# --- Storing an import's item files --------------------------------------------------


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary sibling, then rename, so no reader ever sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as handle:
        handle.write(data)


class ItemFileStore:
    """Stores one import's item files and can take them all back.

    The files an import creates are listed in a journal file next to them
    (not in memory, which would grow with the import): `discard()` deletes
    every file in the journal when the import fails, `keep()` just removes
    the journal once the import has committed. A journal left behind by a
    killed worker names the orphaned files.

    Files are content-addressed, so a file that already exists (an identical
    image imported before) is reused and never journaled: discarding this
    import cannot delete another item's file.
    """

    def __init__(self, root: Path, project_id: int):
        self.root = Path(root)
        self.project_dir = self.root / ITEMS_DIR / str(project_id)
        self._journal_path = self.project_dir / f".import-{uuid.uuid4().hex}.journal"
        self._journal = None
        self.created = 0

    def save(self, data: bytes, content_hash: str, extension: str) -> str:
        """Store `data` and return its path relative to the root."""
        relative = Path(ITEMS_DIR) / self.project_dir.name / content_hash[:2] / f"{content_hash}.{extension}"
        path = self.root / relative
        if path.exists():
            return relative.as_posix()
        if self._journal is None:
            self.project_dir.mkdir(parents=True, exist_ok=True)
            self._journal = open(self._journal_path, "a", encoding="utf-8")
        # Journal first: a crash between the two lines leaves a name without a
        # file (harmless), never a file without a name.
        self._journal.write(relative.as_posix() + "\n")
        self._journal.flush()
        _write_atomically(path, data)
        self.created += 1
        return relative.as_posix()

    def keep(self) -> None:
        """The import committed: its files stay; forget the journal."""
        self._close_journal()
        self._journal_path.unlink(missing_ok=True)

    def discard(self) -> None:
        """The import failed: delete every file it created, then the journal."""
        self._close_journal()
        if not self._journal_path.exists():
            return
        with open(self._journal_path, encoding="utf-8") as journal:
            for line in journal:
                relative = line.strip()
                if relative:
                    (self.root / relative).unlink(missing_ok=True)
        self._journal_path.unlink(missing_ok=True)
        self.created = 0

    def _close_journal(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None
