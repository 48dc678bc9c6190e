"""Step 1, `snapshot`: freeze the items and the approved labels of the round.

Reads once what the later steps use, so a label approved while the round
runs changes nothing in it, and the round is reproducible from its folder:

- every item of the project: id, content hash, split and state, in id order;
- the approved labels of pool and gold items (training) and of holdout items
  (evaluation only), restricted to the round's taxonomy version;
- their digest (`TrainingRound.labels_hash`) and count.

Written to `snapshot.npz` (plain arrays; labels as JSON text).
"""

from __future__ import annotations

import json

import numpy as np

from labelops.annotation.models import Consensus, ConsensusStatus
from labelops.items.models import Item, Split
from labelops.learning import artifacts
from labelops.learning.services.rounds import labels_digest
from labelops.projects.models import Label

SNAPSHOT = "snapshot.npz"


class Snapshot:
    """The frozen inputs of a round, loaded from `snapshot.npz`."""

    def __init__(self, data: dict[str, np.ndarray]):
        self.ids = data["ids"]  # (N,) int64, ascending
        self.hashes = data["hashes"].tolist()  # (N,) content hashes
        self.splits = data["splits"]  # (N,) str
        self.states = data["states"]  # (N,) str
        self.classes: list[str] = json.loads(str(data["classes"]))
        self.train_labels: dict[int, list[str]] = {int(k): v for k, v in json.loads(str(data["train"])).items()}
        self.holdout_labels: dict[int, list[str]] = {int(k): v for k, v in json.loads(str(data["holdout"])).items()}

    @classmethod
    def load(cls, ctx) -> Snapshot:
        return cls(artifacts.load_arrays(ctx.path(SNAPSHOT)))

    def positions(self, item_ids) -> np.ndarray:
        """Positions of `item_ids` in `ids`."""
        return np.searchsorted(self.ids, np.asarray(list(item_ids), dtype=np.int64))

    def pool_mask(self) -> np.ndarray:
        return self.splits == Split.POOL


def run(ctx) -> None:
    version = ctx.round.taxonomy_version
    keys = set(Label.objects.filter(version=version).values_list("key", flat=True))
    rows = Item.objects.filter(project=ctx.project).order_by("id").values_list("id", "content_hash", "split", "state")
    ids, hashes, splits, states = [], [], [], []
    for item_id, content_hash, split, state in rows.iterator(chunk_size=5000):
        ids.append(item_id)
        hashes.append(content_hash)
        splits.append(split)
        states.append(state)
    ctx.report(0.5, f"{len(ids)} items")

    train, holdout, off_taxonomy = {}, {}, 0
    approved = Consensus.objects.filter(item__project=ctx.project, status=ConsensusStatus.APPROVED)
    for item_id, split, labels in approved.values_list("item_id", "item__split", "labels").iterator(chunk_size=5000):
        if not labels or not set(labels) <= keys:
            off_taxonomy += 1  # labels of another taxonomy version: not trained on until migrated
            continue
        (holdout if split == Split.HOLDOUT else train)[item_id] = sorted(labels)

    path = artifacts.save_arrays(
        ctx.path(SNAPSHOT),
        ids=np.asarray(ids, dtype=np.int64), hashes=np.asarray(hashes, dtype=str),
        splits=np.asarray(splits, dtype=str), states=np.asarray(states, dtype=str),
        classes=np.asarray(json.dumps(sorted(keys))),
        train=np.asarray(json.dumps({str(k): v for k, v in train.items()})),
        holdout=np.asarray(json.dumps({str(k): v for k, v in holdout.items()})),
    )
    ctx.add_artifact("snapshot", path)
    ctx.update_round(labels_hash=labels_digest(train, version.pk), labels_count=len(train))
    ctx.add_metrics(items=len(ids), train_labels=len(train), holdout_labels=len(holdout),
                    skipped_off_taxonomy=off_taxonomy)
