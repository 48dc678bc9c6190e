"""Atomic file and directory writes: readers see the old content or the new, never half of one.

The classic recipe (as in ``git``'s lock files or SQLite's journal): write to a
temporary name beside the target, in the same directory so the rename stays on
one file system, then ``os.replace`` it over the target, which POSIX makes
atomic. A write that fails (an exception, ``KeyboardInterrupt``) removes its
temporary and leaves the target as it was. A process killed outright can leave
a temporary behind; temporaries are hidden (``.<name>.<random>.tmp``) and no
reader looks for them.

Three shapes of writer, one implementation:

- :func:`atomic_write` yields an open file (``np.save(f, ...)``, ``f.write(...)``);
- :func:`atomic_write_path` yields the temporary's path, for writers that only
  take a path (``faiss.write_index``, ``safetensors``' ``save_file``,
  ``Figure.savefig``);
- :func:`atomic_directory` yields a temporary directory path for a writer that
  fills a whole directory (an encoder's ``save``, a checkpoint), then swaps it
  in for the target directory.

Durability is a separate promise. The rename alone survives the process
dying; ``fsync=True`` also flushes the file, and after the rename its
directory, to the disk, so the new file survives a power cut too. That costs a
disk round trip per file: ask for it where something else will point at the
file (the embedding cache's SQLite index points at its shards).

Permissions are those of a plain ``open`` (``0o666`` less the umask, unlike
``tempfile.mkstemp``'s ``0o600``), and the target's directory must exist: no
parent is created here.

Example::

    >>> import json, tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "metrics.json"
    >>> with atomic_write(target, "w") as f:
    ...     json.dump({"accuracy": 0.9}, f)
    >>> json.loads(target.read_text())
    {'accuracy': 0.9}
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

__all__ = ["atomic_directory", "atomic_write", "atomic_write_path"]


def _temporary_beside(path: Path, suffix: str = "tmp") -> Path:
    """A fresh hidden name in ``path``'s directory: ``.<name>.<random hex>.<suffix>``."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.{suffix}")


def _fsync_directory(directory: Path) -> None:
    """Make a rename inside ``directory`` durable (POSIX: fsync the directory itself)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write_path(path: str | os.PathLike[str], *, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends normally it replaces ``path``.

    The writer must create the file at the yielded path (it does not exist
    yet). On an exception the temporary is removed and ``path`` is untouched.
    ``fsync=True`` flushes the written file before the rename and the
    directory after it.
    """
    target = Path(path)
    tmp = _temporary_beside(target)
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb") as written:
                os.fsync(written.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        _fsync_directory(target.parent)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: Literal["wb", "w"] = "wb", *,
                 fsync: bool = False) -> Iterator[IO[Any]]:
    """Yield a new file open for writing (``"wb"``, or ``"w"`` for UTF-8 text)
    that replaces ``path`` when the block ends normally.

    The file is created exclusively (never someone else's temporary) and
    closed before the rename. On an exception it is removed and ``path`` is
    untouched. ``fsync=True``: see :func:`atomic_write_path`.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    with atomic_write_path(path, fsync=False) as tmp:
        encoding = "utf-8" if mode == "w" else None
        with open(tmp, mode.replace("w", "x"), encoding=encoding) as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
    if fsync:
        _fsync_directory(Path(path).parent)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory path beside ``path``; when the block ends
    normally the directory written there becomes ``path``, replacing any old one whole.

    The writer creates the directory (it does not exist yet), e.g. with
    ``mkdir`` or a ``save(directory)`` that creates it. A directory cannot be
    renamed over a non-empty one, so an existing ``path`` is first renamed
    aside, the new one renamed in, and only then is the old one deleted: a
    crash in between leaves the old tree under a hidden ``.<name>.<hex>.old``
    name and no torn ``path``. On an exception the temporary tree is removed
    and ``path`` is untouched.
    """
    target = Path(path)
    tmp, old = _temporary_beside(target), _temporary_beside(target, "old")
    moved_aside = False
    try:
        yield tmp
        if target.exists():
            target.rename(old)
            moved_aside = True
        tmp.rename(target)
    except BaseException:
        if moved_aside and not target.exists():
            old.rename(target)  # the new tree could not be renamed in: put the old one back
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
