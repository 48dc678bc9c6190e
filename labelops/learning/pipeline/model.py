"""Steps 4-7: `cluster`, `train`, `propose`, `rank`. The ML is `ssl_engine`'s;
these functions only feed it the round's arrays and store what it returns.

- `cluster`: a FAISS index over all embeddings (`index.faiss`, exact or IVF by
  size; database ids are item ids) and spherical k-means (`clusters.npz`:
  centroids and each item's cluster), `n_clusters` from the round's config or
  about sqrt(n/2).
- `train`: a calibrated logistic-regression head on the approved labels of
  pool and gold items (`head.safetensors`). With fewer than two classes there
  is nothing to learn: the round is a cold-start round, recorded as such,
  and the later steps work without a model.
- `propose`: calibrated probabilities for every pool item that is not yet
  approved (`proposals.npz`). Gold items get none (a model trained on their
  answers would give them away) and holdout items get none (labelled blind).
- `rank`: the next batch by the round's strategy (`ranking.npy`, item ids,
  most wanted first) over the pool items nobody has labelled yet. Without a
  model, strategies that need probabilities cannot run; the round then ranks
  by TypiClust (typical items of uncovered clusters, the cold-start choice)
  and records which strategy it used.
"""

from __future__ import annotations

import numpy as np

from labelops.items.models import ItemState, Split
from labelops.learning import artifacts
from labelops.learning.pipeline.encoder import load_embeddings
from labelops.learning.pipeline.snapshot import Snapshot
from labelops.projects.models import TaskType
from ssl_engine.files import atomic_write_path

PROBA_CHUNK = 4096
# Labelled neighbours stored with each proposal, shown to annotators.
NEIGHBOURS = 3
# Items that already have (or are getting) their labels are not asked for again.
TAKEN_STATES = (ItemState.LABELLED, ItemState.IN_REVIEW, ItemState.APPROVED)


def multilabel(ctx) -> bool:
    return ctx.config["task"] == TaskType.MULTI_LABEL


def cluster(ctx) -> None:
    from ssl_engine.index import VectorIndex, kmeans

    snapshot = Snapshot.load(ctx)
    X = load_embeddings(ctx)
    seed = ctx.config["seed"]
    index = VectorIndex(metric="cosine", random_state=seed).fit(X, ids=snapshot.ids)
    ctx.report(0.3, "index built")
    with atomic_write_path(ctx.path("index.faiss")) as tmp:
        index.save(tmp)
    ctx.add_artifact("index", ctx.path("index.faiss"))

    requested = ctx.config["n_clusters"]
    k = None if requested is None else min(int(requested), len(X))
    centroids, assignments, inertia = kmeans(X, k, random_state=seed)
    path = artifacts.save_arrays(ctx.path("clusters.npz"), centroids=centroids, assignments=assignments)
    ctx.add_artifact("clusters", path)
    ctx.add_metrics(clusters={"k": int(len(centroids)), "inertia": float(inertia), "index": index.kind_})


def training_set(snapshot: Snapshot, multi: bool) -> tuple[np.ndarray, list]:
    ids = np.asarray(sorted(snapshot.train_labels), dtype=np.int64)
    labels = [snapshot.train_labels[int(i)] for i in ids]
    return ids, (labels if multi else [label[0] for label in labels])


def train(ctx) -> None:
    from ssl_engine.proposals import CalibratedHead
    from ssl_engine.proposals.head_io import save_head

    snapshot = Snapshot.load(ctx)
    multi = multilabel(ctx)
    ids, y = training_set(snapshot, multi)
    n_classes = len({label for labels in (y if multi else [[v] for v in y]) for label in labels})
    if len(ids) < 2 or (not multi and n_classes < 2):
        ctx.add_metrics(model={"trained": False, "reason": f"{len(ids)} approved label(s) in {n_classes} class(es); "
                                                           "a head needs two classes", "labels": len(ids)})
        return
    X = load_embeddings(ctx)
    head = CalibratedHead(multilabel=multi, random_state=ctx.config["seed"]).fit(X[snapshot.positions(ids)], y)
    path = save_head(head, ctx.path("head.safetensors"))
    ctx.add_artifact("head", path)
    ctx.add_metrics(model={"trained": True, "labels": len(ids), "classes": int(len(head.classes_)),
                           "temperature": float(head.temperature_), "calibrated": bool(head.calibrated_)})


def has_head(ctx) -> bool:
    return ctx.path("head.safetensors").exists() and "head" in ctx.round.artifacts


def proposal_candidates(snapshot: Snapshot) -> np.ndarray:
    """Positions of pool items without approved labels."""
    labelled = np.isin(snapshot.ids, np.asarray(list(snapshot.train_labels), dtype=np.int64))
    return np.flatnonzero(snapshot.pool_mask() & ~labelled)


def propose(ctx) -> None:
    from ssl_engine.proposals.head_io import load_head

    if not has_head(ctx):
        ctx.add_metrics(proposals={"count": 0, "reason": "no model in a cold-start round"})
        return
    snapshot = Snapshot.load(ctx)
    head = load_head(ctx.path("head.safetensors"))
    X = load_embeddings(ctx)
    rows = proposal_candidates(snapshot)
    probs = np.empty((len(rows), len(head.classes_)), dtype=np.float32)
    for start in range(0, len(rows), PROBA_CHUNK):
        part = rows[start:start + PROBA_CHUNK]
        probs[start:start + len(part)] = head.predict_proba(X[part])
        ctx.report((start + len(part)) / max(len(rows), 1))
    neighbour_ids, similarities = labelled_neighbours(snapshot, X, rows)
    path = artifacts.save_arrays(ctx.path("proposals.npz"), item_ids=snapshot.ids[rows], probs=probs,
                                 classes=np.asarray(head.classes_, dtype=str),
                                 neighbour_ids=neighbour_ids, neighbour_similarities=similarities)
    ctx.add_artifact("proposals", path)
    ctx.add_metrics(proposals={"count": int(len(rows))})


def labelled_neighbours(snapshot: Snapshot, X: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the ids of its `NEIGHBOURS` nearest pool items with
    approved labels and their cosine similarities (-1 pads when fewer exist),
    from an exact FAISS index over those items only. Gold items are left out:
    showing one with its answer would give the gold check away."""
    from ssl_engine.index import VectorIndex

    labelled_ids = np.asarray(sorted(snapshot.train_labels), dtype=np.int64)
    labelled_ids = labelled_ids[snapshot.splits[snapshot.positions(labelled_ids)] == Split.POOL]
    k = min(NEIGHBOURS, len(labelled_ids))
    if k == 0 or len(rows) == 0:
        return np.full((len(rows), NEIGHBOURS), -1, dtype=np.int64), np.zeros((len(rows), NEIGHBOURS), np.float32)
    index = VectorIndex(metric="cosine", ivf_threshold=len(labelled_ids) + 1).fit(
        X[snapshot.positions(labelled_ids)], ids=labelled_ids)
    similarities, ids = index.search(X[rows], k)  # (M, k) each
    pad = NEIGHBOURS - k
    return (np.pad(ids, ((0, 0), (0, pad)), constant_values=-1).astype(np.int64),
            np.pad(similarities, ((0, 0), (0, pad))).astype(np.float32))


def rank(ctx) -> None:
    from ssl_engine.active import get_strategy, strategy_info

    snapshot = Snapshot.load(ctx)
    X = load_embeddings(ctx)
    pool = np.flatnonzero(snapshot.pool_mask())
    labelled = np.isin(snapshot.ids[pool], np.asarray(list(snapshot.train_labels), dtype=np.int64))
    labelled |= np.isin(snapshot.states[pool], TAKEN_STATES)
    probs = None
    if has_head(ctx):
        proposals = artifacts.load_arrays(ctx.path("proposals.npz"))
        n_classes = proposals["probs"].shape[1]
        # Strategies read probabilities for the whole pool; labelled rows are never picked.
        probs = np.full((len(pool), n_classes), 1.0 / n_classes, dtype=np.float32)
        where = np.searchsorted(snapshot.ids[pool], proposals["item_ids"])
        probs[where] = proposals["probs"]
    else:
        n_classes = max(2, len(snapshot.classes))
    strategy = ctx.config["strategy"]
    # With no head yet, a strategy that needs its probabilities gives way to TypiClust.
    used = strategy if probs is not None or not strategy_info(strategy).needs_probs else "typiclust"
    clusters = artifacts.load_arrays(ctx.path("clusters.npz"))["assignments"][pool]
    picks = get_strategy(used)(
        probs=probs, embeddings=X[pool], labelled_mask=labelled, batch_size=ctx.config["batch_size"],
        random_state=ctx.config["seed"], multilabel=multilabel(ctx), clusters=clusters, n_classes=n_classes,
        n_labelled=int(labelled.sum()),
    )
    ranking = snapshot.ids[pool][picks]
    path = artifacts.save_array(ctx.path("ranking.npy"), ranking.astype(np.int64))
    ctx.add_artifact("ranking", path)
    if used == "auto":
        from ssl_engine.active import auto

        used = f"auto ({auto.choose(n_labelled=int(labelled.sum()), n_classes=n_classes, has_probs=probs is not None)})"
    ctx.add_metrics(ranking={"strategy": strategy, "used": used, "batch": int(len(ranking)),
                             "unlabelled_pool": int((~labelled).sum())})
