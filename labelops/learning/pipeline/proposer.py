"""The round's proposer: which model serves, and its probabilities for every item.

Called by the `train` step. The choice itself is the engine's
(`ssl_engine.proposals.selection`); this module feeds it the round's
arrays: the approved labels of pool and gold items (never the holdout's,
which only evaluate), the embeddings of every item, and, for text
projects, the taxonomy's label descriptions embedded by the round's
encoder (`embed` writes them to `taxonomy.npz`).

What it returns (`FittedProposer`): the classes, the chosen model's
calibrated (N, C) probabilities for every snapshot item (None when there is
nothing to propose from: no labels of two classes and no text taxonomy), the
logistic-regression head when one was fitted, and a summary for the round's
metrics: the candidates' cross-validated scores, the choice and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from labelops.learning.pipeline.snapshot import Snapshot


@dataclass
class FittedProposer:
    classes: list[str]
    probs: np.ndarray | None  # (N, C) for every snapshot item, or None: no model
    labels: int  # approved training labels it learnt from
    summary: dict = field(default_factory=dict)
    head: object | None = None  # the CalibratedHead, when one was fitted


def fit_proposer(ctx, snapshot: Snapshot, X: np.ndarray) -> FittedProposer:
    from labelops.learning.pipeline.model import multilabel, training_set
    from ssl_engine.proposals import CalibratedHead

    multi = multilabel(ctx)
    ids, y = training_set(snapshot, multi)
    n_classes = len({label for labels in (y if multi else [[v] for v in y]) for label in labels})
    if len(ids) < 2 or (not multi and n_classes < 2):
        reason = f"{len(ids)} approved label(s) in {n_classes} class(es); a head needs two classes"
        return FittedProposer(classes=[], probs=None, labels=len(ids),
                              summary={"chosen": None, "reason": reason, "candidates": {}})
    head = CalibratedHead(multilabel=multi, random_state=ctx.config["seed"]).fit(X[snapshot.positions(ids)], y)
    probs = np.empty((len(X), len(head.classes_)), dtype=np.float32)
    for start in range(0, len(X), 4096):
        probs[start:start + 4096] = head.predict_proba(X[start:start + 4096])
        ctx.report((start + 4096) / max(len(X), 1))
    return FittedProposer(classes=head.classes_.tolist(), probs=probs, labels=len(ids), head=head,
                          summary={"chosen": "head", "reason": "the only candidate", "candidates": {},
                                   "temperature": float(head.temperature_), "calibrated": bool(head.calibrated_)})
