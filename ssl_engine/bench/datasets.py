"""Labelled datasets for the benches: texts or image paths, labels, a train and a test split.

Layouts recognised by :func:`load_labelled` (``path`` is a file or a folder):

- a folder with ``train.csv`` and ``test.csv`` (or ``.jsonl``), e.g. banking77;
- an SMS Spam Collection file (``SMSSpamCollection``: ``label<TAB>text`` lines),
  or a folder holding one;
- one CSV or JSONL file with a text and a label column;
- an image folder: ``train/<class>/*.jpg`` and ``test/<class>/*.jpg`` (e.g.
  cifar10-mini), or just ``<class>/*.jpg``.

The text column is ``text`` (else ``sentence``, ``content``, ``message``) and
the label column ``label`` (else ``category``, ``intent``, ``class``,
``target``), unless named. A dataset without a test split gets a stratified
seeded one (``test_fraction``), so every run of the same seed sees the same split.

Items are identified by content hash (sha256 of the text's UTF-8 bytes, or of
the image file's bytes), the key of the embedding cache.

Example::

    >>> from ssl_engine.bench.datasets import load_labelled
    >>> data = load_labelled("../shared/data/banking77")
    >>> len(data.train_items), len(data.test_items), data.modality      # (10003, 3080, 'text')
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

TEXT_COLUMNS = ("text", "sentence", "content", "message")
LABEL_COLUMNS = ("label", "category", "intent", "class", "target")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass
class LabelledData:
    """Items (texts, or image file paths as str) with labels (object arrays), split."""

    name: str
    modality: str  # "text" or "image"
    train_items: list[str]
    train_labels: np.ndarray
    test_items: list[str]
    test_labels: np.ndarray
    test_split: str  # "given" or "stratified <fraction>, seed <seed>"

    def hashes(self, items: list[str]) -> list[str]:
        """Content hashes of ``items`` (the embedding cache key)."""
        if self.modality == "text":
            return [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in items]
        return [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in items]

    def summary(self) -> dict:
        return {"name": self.name, "modality": self.modality, "train": len(self.train_items),
                "test": len(self.test_items), "classes": int(np.unique(self.train_labels).size),
                "test_split": self.test_split}


def load_labelled(path, *, text_column: str | None = None, label_column: str | None = None,
                  test_fraction: float = 0.2, seed: int = 0) -> LabelledData:
    """Load ``path`` (see the module docstring for the layouts)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(path)
    name = path.name
    if path.is_dir():
        if (path / "SMSSpamCollection").is_file():
            return load_labelled(path / "SMSSpamCollection", test_fraction=test_fraction, seed=seed)
        for suffix in (".csv", ".jsonl"):
            train, test = path / f"train{suffix}", path / f"test{suffix}"
            if train.is_file() and test.is_file():
                x_tr, y_tr = read_table(train, text_column, label_column)
                x_te, y_te = read_table(test, text_column, label_column)
                return LabelledData(name, "text", x_tr, y_tr, x_te, y_te, "given")
        if (path / "train").is_dir() and (path / "test").is_dir():
            x_tr, y_tr = read_image_folder(path / "train")
            x_te, y_te = read_image_folder(path / "test")
            return LabelledData(name, "image", x_tr, y_tr, x_te, y_te, "given")
        items, labels = read_image_folder(path)
        return _split(name, "image", items, labels, test_fraction, seed)
    if path.name == "SMSSpamCollection" or path.suffix in (".tsv", ".txt"):
        items, labels = read_tab_separated(path)
    elif path.suffix in (".csv", ".jsonl", ".json"):
        items, labels = read_table(path, text_column, label_column)
    else:
        raise ValueError(f"do not know how to read {path}: expected a folder, .csv, .jsonl or SMSSpamCollection")
    return _split(name, "text", items, labels, test_fraction, seed)


def read_table(path: Path, text_column: str | None = None, label_column: str | None = None
               ) -> tuple[list[str], np.ndarray]:
    """Texts and labels from a CSV (with a header) or JSONL file."""
    path = Path(path)
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    else:
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
    if not rows:
        raise ValueError(f"{path} holds no rows")
    columns = list(rows[0])
    text_key = _pick(columns, text_column, TEXT_COLUMNS, "text", path)
    label_key = _pick(columns, label_column, LABEL_COLUMNS, "label", path)
    return [str(row[text_key]) for row in rows], np.array([str(row[label_key]) for row in rows], dtype=object)


def read_texts(path, text_column: str | None = None) -> list[str]:
    """Just the text column of a CSV or JSONL file (for ``embed``)."""
    path = Path(path)
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    else:
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
    if not rows:
        return []
    key = _pick(list(rows[0]), text_column, TEXT_COLUMNS, "text", path)
    return [str(row[key]) for row in rows]


def read_tab_separated(path: Path) -> tuple[list[str], np.ndarray]:
    """``label<TAB>text`` lines (the SMS Spam Collection format)."""
    items, labels = [], []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            label, sep, text = line.partition("\t")
            if not sep:
                raise ValueError(f"{path}:{number}: expected 'label<TAB>text'")
            items.append(text)
            labels.append(label)
    return items, np.array(labels, dtype=object)


def read_image_folder(root: Path) -> tuple[list[str], np.ndarray]:
    """Image paths and their class (the sub-folder name), in sorted order."""
    items, labels = [], []
    for class_dir in sorted(p for p in Path(root).iterdir() if p.is_dir()):
        for file in sorted(class_dir.iterdir()):
            if file.suffix.lower() in IMAGE_SUFFIXES:
                items.append(str(file))
                labels.append(class_dir.name)
    if not items:
        raise ValueError(f"{root} holds no <class>/<image> files")
    return items, np.array(labels, dtype=object)


def _pick(columns: list[str], asked: str | None, candidates: tuple[str, ...], what: str, path) -> str:
    if asked is not None:
        if asked not in columns:
            raise ValueError(f"{path} has no column {asked!r}; columns: {columns}")
        return asked
    for name in candidates:
        if name in columns:
            return name
    raise ValueError(f"{path}: no {what} column among {columns}; name it with --{what}-column")


def _split(name, modality, items, labels, test_fraction, seed) -> LabelledData:
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    idx = np.arange(len(items))
    _, counts = np.unique(labels, return_counts=True)
    stratify = labels if counts.min() >= 2 else None
    train, test = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=stratify)
    train, test = np.sort(train), np.sort(test)
    return LabelledData(name, modality, [items[i] for i in train], labels[train], [items[i] for i in test],
                        labels[test], f"stratified {test_fraction}, seed {seed}")
