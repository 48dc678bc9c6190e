"""Files under ARTIFACT_ROOT: item images and uploaded import files.

Names are always generated here: an item image is stored by content hash as
`items/<project id>/<hash[:2]>/<hash>.<ext>`, where the extension comes from
the format Pillow verified; an upload as `uploads/<random hex>.<ext>`. No
name from a client or an archive ever becomes part of a path.
"""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile

from ssl_engine.files import atomic_write

ITEMS_DIR = "items"
UPLOADS_DIR = "uploads"


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
