"""An on-disk embedding cache keyed by (content hash, encoder version).

A round embeds every item (DESIGN, "The round", step 3), but an item whose
content and encoder weights are unchanged has the same embedding as last
time. :func:`embed_with_cache` looks every item up and runs the encoder only
on the misses, so a round without new pretraining embeds only new items.

Layout, one directory per encoder version::

    root/
      <readable version>-<sha256(version)[:10]>/
        index.sqlite3     meta(key, value): version, dim
                          vectors(hash PRIMARY KEY, shard, row)
        shards/<uuid>.npy float32 (n, dim), one per put_many call, read memory-mapped

Crash safety: a shard is written to a temporary file, fsynced and renamed
into place (atomic on POSIX), and only then are its rows entered in the
index in one SQLite transaction. A crash before the rename leaves a temporary
file nobody reads; a crash between the rename and the commit leaves a shard no
index row points to. Either way readers see all of a put or none of it.
Several processes may share a root: SQLite serialises the index writes, and
shard names are random so writers never collide. Shards are read with
``allow_pickle=False``: the cache never unpickles.

Example::

    >>> from ssl_engine.encoders.cache import EmbeddingCache, embed_with_cache
    >>> cache = EmbeddingCache("var/embeddings")
    >>> x = embed_with_cache(encoder, texts, hashes, cache)   # (N, encoder.dim)
    >>> x = embed_with_cache(encoder, texts, hashes, cache)   # no encoder call this time
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from ssl_engine.encoders.base import Encoder
from ssl_engine.files import atomic_write

_INDEX = "index.sqlite3"
_SHARDS = "shards"
# SQLite's default limit on bound parameters is 32766 (999 before 3.32).
_QUERY_CHUNK = 900

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS vectors (hash TEXT PRIMARY KEY, shard TEXT NOT NULL, row INTEGER NOT NULL) WITHOUT ROWID",
)


class EmbeddingCache:
    """Embeddings on disk under ``root``, keyed by (content hash, encoder version).

    Hashes are strings (the item's content hash); versions are an encoder's
    ``version``. Vectors are stored and returned as float32.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    # -- reading ----------------------------------------------------------
    def get_many(self, hashes: Sequence[str], *, version: str) -> tuple[np.ndarray, np.ndarray]:
        """Look ``hashes`` up under ``version``.

        Returns ``(vectors, found)``: ``found`` is a (N,) bool mask, ``vectors``
        is float32 (found.sum(), dim) holding the found ones in input order.
        For a version never stored, ``vectors`` has shape (0, 0).
        """
        hashes = _check_hashes(hashes)
        found = np.zeros(len(hashes), dtype=bool)
        empty = np.empty((0, 0), dtype=np.float32), found
        directory = self._directory(version)
        if not (directory / _INDEX).is_file():
            return empty
        with self._index(directory, version) as db:
            if db is None:  # created by a writer that has not finished
                return empty
            dim = int(_meta(db, "dim"))
            where: dict[str, tuple[str, int]] = {}
            for chunk in _chunks(sorted(set(hashes)), _QUERY_CHUNK):
                marks = ",".join("?" * len(chunk))
                for h, shard, row in db.execute(f"SELECT hash, shard, row FROM vectors WHERE hash IN ({marks})", chunk):
                    where[h] = (shard, row)
        found[:] = [h in where for h in hashes]
        by_shard: dict[str, tuple[list[int], list[int]]] = {}  # shard -> (output slots, shard rows)
        for slot, h in enumerate(h for h in hashes if h in where):
            shard, row = where[h]
            slots, rows = by_shard.setdefault(shard, ([], []))
            slots.append(slot)
            rows.append(row)
        vectors = np.empty((int(found.sum()), dim), dtype=np.float32)
        for shard, (slots, rows) in by_shard.items():
            data = self._open_shard(directory / _SHARDS / shard, dim)
            vectors[slots] = data[rows]
        return vectors, found

    def count(self, version: str) -> int:
        """How many hashes are stored under ``version``."""
        directory = self._directory(version)
        if not (directory / _INDEX).is_file():
            return 0
        with self._index(directory, version) as db:
            return 0 if db is None else int(db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    # -- writing ----------------------------------------------------------
    def put_many(self, hashes: Sequence[str], vectors, *, version: str) -> int:
        """Store ``vectors`` (N, dim) for ``hashes`` under ``version``.

        Hashes already stored keep their first vector (same content and
        weights give the same embedding); a hash repeated within the call is
        stored once. Returns how many hashes were new. All or nothing: on any
        error, including a crash, none of this call's vectors become visible.
        """
        hashes = _check_hashes(hashes)
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(hashes) or vectors.shape[1] == 0:
            raise ValueError(f"vectors must have shape ({len(hashes)}, dim), got {vectors.shape}")
        if not np.issubdtype(vectors.dtype, np.number):
            raise TypeError(f"vectors must be numeric, got dtype {vectors.dtype}")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if not np.isfinite(vectors).all():
            raise ValueError("vectors contain NaN or infinite values")
        if not hashes:
            return 0
        directory = self._directory(version)
        (directory / _SHARDS).mkdir(parents=True, exist_ok=True)
        with self._index(directory, version, create_dim=vectors.shape[1]) as db:
            present: set[str] = set()
            unique = list(dict.fromkeys(hashes))
            for chunk in _chunks(unique, _QUERY_CHUNK):
                marks = ",".join("?" * len(chunk))
                present.update(h for (h,) in db.execute(f"SELECT hash FROM vectors WHERE hash IN ({marks})", chunk))
        first = {}
        for i, h in enumerate(hashes):
            if h not in present and h not in first:
                first[h] = i
        if not first:
            return 0
        new_hashes = list(first)
        shard = f"{uuid.uuid4().hex}.npy"
        # fsync the shard and its directory: the index rows committed next must never point at lost bytes.
        with atomic_write(directory / _SHARDS / shard, fsync=True) as f:
            np.save(f, vectors[list(first.values())], allow_pickle=False)
        with self._index(directory, version) as db:
            if db is None:  # its schema was committed above; only deleting the index undoes that
                raise RuntimeError(f"{directory / _INDEX} lost its schema while a shard was written")
            with _transaction(db):
                inserted = db.executemany(
                    "INSERT OR IGNORE INTO vectors (hash, shard, row) VALUES (?, ?, ?)",
                    [(h, shard, row) for row, h in enumerate(new_hashes)],
                ).rowcount
        return int(inserted)

    # -- internals --------------------------------------------------------
    def _directory(self, version: str) -> Path:
        if not isinstance(version, str) or not version:
            raise ValueError(f"version must be a non-empty string, got {version!r}")
        readable = re.sub(r"[^A-Za-z0-9._-]+", "_", version)[:80]
        return self.root / f"{readable}-{hashlib.sha256(version.encode()).hexdigest()[:10]}"

    @overload
    def _index(
        self, directory: Path, version: str, create_dim: int
    ) -> contextlib.AbstractContextManager[sqlite3.Connection]: ...

    @overload
    def _index(
        self, directory: Path, version: str, create_dim: None = None
    ) -> contextlib.AbstractContextManager[sqlite3.Connection | None]: ...

    # mypy cannot match a generator-based context manager against overloads that differ only in
    # what they yield; the overloads above are the contract (None only without create_dim).
    @contextlib.contextmanager  # type: ignore[misc]
    def _index(
        self, directory: Path, version: str, create_dim: int | None = None
    ) -> Iterator[sqlite3.Connection | None]:
        """An open connection (autocommit; use :func:`_transaction`) to
        ``directory``'s index, checked to belong to ``version``. With
        ``create_dim`` the schema is created if missing and the stored width
        checked against it; without, ``None`` is yielded for an index whose
        schema no writer has committed yet."""
        db = sqlite3.connect(directory / _INDEX, timeout=60, isolation_level=None)
        try:
            if create_dim is not None:
                with _transaction(db):
                    for statement in _SCHEMA:
                        db.execute(statement)
                    db.execute("INSERT OR IGNORE INTO meta VALUES ('version', ?)", (version,))
                    db.execute("INSERT OR IGNORE INTO meta VALUES ('dim', ?)", (str(create_dim),))
            elif db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is None:
                yield None
                return
            stored = _meta(db, "version")
            if stored != version:
                raise RuntimeError(f"{directory} holds version {stored!r}, not {version!r}")
            if create_dim is not None and int(_meta(db, "dim")) != create_dim:
                raise ValueError(f"version {version!r} stores {_meta(db, 'dim')}-d vectors, got {create_dim}-d")
            yield db
        finally:
            db.close()

    @staticmethod
    def _open_shard(path: Path, dim: int) -> np.ndarray:
        data = np.load(path, mmap_mode="r", allow_pickle=False)
        if data.dtype != np.float32 or data.ndim != 2 or data.shape[1] != dim:
            raise RuntimeError(f"shard {path} holds {data.dtype} {data.shape}, expected float32 (n, {dim})")
        return data


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One SQLite write transaction on an autocommit connection: committed on
    success, rolled back on any exception (a crash rolls back by itself)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _meta(db: sqlite3.Connection, key: str) -> str:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    if row is None:
        raise RuntimeError(f"embedding cache index has no {key!r}")
    return row[0]


def _check_hashes(hashes: Sequence[str]) -> list[str]:
    if isinstance(hashes, str):
        raise TypeError("pass a sequence of hashes, not a single string")
    hashes = list(hashes)
    if not all(isinstance(h, str) and h for h in hashes):
        raise TypeError("hashes must be non-empty strings")
    return hashes


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def embed_with_cache(
    encoder: Encoder,
    items: Sequence[Any],
    hashes: Sequence[str],
    cache: EmbeddingCache,
    *,
    chunk_size: int = 4096,
) -> np.ndarray:
    """Embeddings of ``items`` (N, encoder.dim), computing only those not cached.

    ``hashes[i]`` is the content hash of ``items[i]``; items with equal hashes
    are embedded once. Misses are embedded ``chunk_size`` at a time and each
    chunk is stored as soon as it is computed, so an interrupted run keeps
    what it finished. The encoder's ``version`` is read once, at the start.
    """
    hashes = _check_hashes(hashes)
    if len(items) != len(hashes):
        raise ValueError(f"{len(items)} items but {len(hashes)} hashes")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    version, dim = encoder.version, int(encoder.dim)
    out = np.empty((len(hashes), dim), dtype=np.float32)
    cached, found = cache.get_many(hashes, version=version)
    if found.any():
        if cached.shape[1] != dim:
            raise RuntimeError(f"cache holds {cached.shape[1]}-d vectors for {version!r}, the encoder has dim {dim}")
        out[found] = cached
    # First position of each missing hash, and every position that shares it.
    slots: dict[str, list[int]] = {}
    for i in np.flatnonzero(~found):
        slots.setdefault(hashes[i], []).append(int(i))
    missing = list(slots)
    for chunk in _chunks(missing, chunk_size):
        vectors = np.asarray(encoder.embed([items[slots[h][0]] for h in chunk]), dtype=np.float32)
        if vectors.shape != (len(chunk), dim):
            raise RuntimeError(f"encoder returned shape {vectors.shape} for {len(chunk)} items of dim {dim}")
        cache.put_many(chunk, vectors, version=version)
        for h, vector in zip(chunk, vectors):
            out[slots[h]] = vector
    return out
