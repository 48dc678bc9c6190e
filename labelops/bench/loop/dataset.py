"""The loop benchmark's data: a benchmark CSV folder read into a pool, gold
items and a holdout, and written back as the three files the team imports.

The layout is the engine benchmarks' (`ssl_engine.bench`): `train.csv`
(columns `text` and `label` or `category`) is the pool; `test.csv`, when
there is one, the holdout, else a stratified `holdout_fraction` of the pool;
an optional `categories.json` lists the labels in their order. Image folders
(`train/<class>/*.png`) are refused: the benchmark simulates text teams only.

Every item carries an id of ours (`p…`, `g…`, `h…`) in the CSV's `id`
column, which the importer keeps as the item's `external_id`: that is how a
simulated annotator looks up the truth of the item it is served, whatever
the importer did to the text (PII scrubbing, whitespace).
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Row:
    id: str
    text: str
    label: str


@dataclass(frozen=True)
class Dataset:
    classes: list[str]
    pool: list[Row]  # in the order of the pool file: the baseline's order
    gold: list[Row]
    holdout: list[Row]
    holdout_source: str

    def truth(self) -> dict[str, str]:
        """external id -> the dataset's label, for every row."""
        return {row.id: row.label for row in (*self.pool, *self.gold, *self.holdout)}

    def write(self, folder: Path) -> dict[str, Path]:
        """`pool.csv` (id, text: the labels withheld, as in a real project),
        `gold.csv` and `holdout.csv` (id, text, label) in `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name, rows, labelled in (("pool", self.pool, False), ("gold", self.gold, True),
                                     ("holdout", self.holdout, True)):
            paths[name] = folder / f"{name}.csv"
            with open(paths[name], "w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(["id", "text", "label"] if labelled else ["id", "text"])
                for row in rows:
                    writer.writerow([row.id, row.text, row.label] if labelled else [row.id, row.text])
        return paths


def read_csv(path: Path) -> list[tuple[str, str]]:
    """(text, label) rows of a benchmark CSV (`text,label` or `text,category`)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        label_column = next((c for c in ("label", "category") if c in columns), None)
        if "text" not in columns or label_column is None:
            raise SystemExit(f"{path}: needs a `text` column and a `label` or `category` column, has {columns}")
        return [(row["text"], row[label_column]) for row in reader if row["text"].strip()]


def _per_class(rows: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    by_class: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in rows:
        by_class[row[1]].append(row)
    return by_class


def _sample(rows: list[tuple[str, str]], per_class: int | None, rng: random.Random) -> list[tuple[str, str]]:
    """At most `per_class` rows of each class, chosen at random, in file order."""
    if per_class is None:
        return list(rows)
    keep = set()
    for members in _per_class(rows).values():
        keep.update(rng.sample(members, min(per_class, len(members))))
    return [row for row in rows if row in keep]


def load(folder: Path, *, subset: int | None = None, classes: int | None = None, holdout_fraction: float = 0.2,
         holdout_per_class: int | None = None, gold: int = 0, seed: int = 0) -> Dataset:
    """Read `folder` and split it for one seed.

    subset: pool items per class (before gold is taken out); classes: keep
    the first N labels only; holdout_per_class: cap on test.csv's items per
    class; gold: items moved from the pool to gold, spread over the classes.
    The pool is shuffled with `seed`: BANKING77's train.csv is sorted by
    intent, and labelling it in file order would make a straw-man baseline.
    """
    folder = Path(folder)
    train = folder / "train.csv"
    if not train.exists():
        if (folder / "train").is_dir():
            raise SystemExit(f"{folder}: image folders (train/<class>/*) are not supported by the loop benchmark; "
                             "give a folder with train.csv (text,label)")
        raise SystemExit(f"{folder}: no train.csv")
    rng = random.Random(seed)
    rows = read_csv(train)
    categories = folder / "categories.json"
    names = json.loads(categories.read_text()) if categories.exists() else sorted({label for _, label in rows})
    if classes is not None:
        names = names[:classes]
    wanted = set(names)
    rows = [row for row in rows if row[1] in wanted]
    pool = _sample(rows, subset, rng)

    test = folder / "test.csv"
    if test.exists():
        holdout = _sample([row for row in read_csv(test) if row[1] in wanted], holdout_per_class, rng)
        source = "test.csv" + (f", {holdout_per_class} per class" if holdout_per_class else "")
    else:
        holdout = []
        for members in _per_class(pool).values():
            holdout.extend(rng.sample(members, round(len(members) * holdout_fraction)))
        taken = set(holdout)
        pool = [row for row in pool if row not in taken]
        source = f"{holdout_fraction:.0%} of train.csv per class"

    gold_rows: list[tuple[str, str]] = []
    by_class = _per_class(pool)
    for position in range(gold):  # round-robin over the classes, so gold covers as many as it can
        members = by_class[names[position % len(names)]]
        if len(members) > 1:
            gold_rows.append(members.pop(rng.randrange(len(members))))
    taken = set(gold_rows)
    pool = [row for row in pool if row not in taken]
    rng.shuffle(pool)
    return Dataset(
        classes=list(names),
        pool=[Row(f"p{n}", text, label) for n, (text, label) in enumerate(pool)],
        gold=[Row(f"g{n}", text, label) for n, (text, label) in enumerate(gold_rows)],
        holdout=[Row(f"h{n}", text, label) for n, (text, label) in enumerate(holdout)],
        holdout_source=source,
    )
