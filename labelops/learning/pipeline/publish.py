"""Step 9, `publish`: the round's results go live, all at once.

In one transaction, holding the round's row:

1. the round's clusters (size, centroid, labelled coverage, purity, top
   labels) and proposals (the five most probable labels with their
   probabilities, confidence, uncertainty = 1 - margin, cluster, and the
   active-learning rank of the chosen batch) replace any rows an earlier
   attempt of this step wrote, in batches;
2. the round's `ModelVersion` becomes the project's only active one, which
   is what switches the queue to the new order and the new proposals
   (`labelops.annotation.services.queue` reads both through it);
3. the round is `done`.

A failure anywhere rolls all of it back: the previous model keeps serving.
A cold-start round (no classifier yet) publishes its clusters and its
ranking, with ranked rows that carry no labels, so the queue still follows
the cold-start order.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from django.db import transaction
from django.utils import timezone

from labelops.annotation.models import Consensus, ConsensusStatus, ReviewReason
from labelops.audit.services import record
from labelops.items.models import Item
from labelops.learning import artifacts
from labelops.learning.errors import RoundStopped
from labelops.learning.models import FINISHED_STATES, Cluster, ModelVersion, Proposal, RoundState, TrainingRound
from labelops.learning.pipeline.model import has_model, multilabel
from labelops.learning.pipeline.snapshot import Snapshot
from labelops.quality.services.review import send_to_review

BATCH = 2000
TOP_K = 5


def run(ctx) -> None:
    snapshot = Snapshot.load(ctx)
    clusters = artifacts.load_arrays(ctx.path("clusters.npz"))
    ranking = artifacts.load_array(ctx.path("ranking.npy"))
    proposals = artifacts.load_arrays(ctx.path("proposals.npz")) if has_model(ctx) else None
    ctx.report(0.1, "writing results")
    with transaction.atomic():
        locked = (
            TrainingRound.objects.select_for_update().filter(pk=ctx.round.pk, attempt=ctx.round.attempt)
            .exclude(state__in=FINISHED_STATES).first()
        )
        if locked is None:
            raise RoundStopped(f"round {ctx.round.pk} stopped before publishing")
        cluster_rows = write_clusters(ctx, snapshot, clusters)
        count = write_proposals(ctx, snapshot, clusters["assignments"], cluster_rows, proposals, ranking)
        ModelVersion.objects.filter(project=ctx.project, is_active=True).exclude(round=locked).update(is_active=False)
        version, _ = ModelVersion.objects.update_or_create(
            round=locked, defaults={"project": ctx.project, "is_active": True, "metrics": locked.metrics},
        )
        progress = {"step": "done", "step_percent": 100.0, "percent": 100.0, "eta_seconds": 0, "message": ""}
        TrainingRound.objects.filter(pk=locked.pk).update(
            state=RoundState.DONE, finished_at=timezone.now(), heartbeat_at=None, progress=progress, error="",
        )
        locked.refresh_from_db()
        record(actor=None, verb="round.done", obj=locked, project=ctx.project,
               after={**locked.to_dict(), "proposals": count, "clusters": len(cluster_rows),
                      "model_version": version.pk})
    send_suspects_to_review(ctx)


def send_suspects_to_review(ctx) -> int:
    """Open a review task (`suspected_error`) for each suspected label error
    the round found, one item per transaction under its row lock; items
    whose labels changed since the snapshot are skipped. Runs after the
    round is done: a crash here loses some review tasks, never the round,
    and a re-run opens no task twice (`send_to_review` adds to an open one)."""
    if "label_errors" not in ctx.round.artifacts:
        return 0
    sent = 0
    for suspect in artifacts.load_json(ctx.path("label_errors.json")):
        with transaction.atomic():
            item = Item.objects.lock(suspect["item"])
            consensus = Consensus.objects.filter(item=item, status=ConsensusStatus.APPROVED).first()
            if consensus is not None and consensus.labels == [suspect["given"]]:
                send_to_review(item, ReviewReason.SUSPECTED_ERROR, details={**suspect, "round": ctx.round.number})
                sent += 1
    return sent


def write_clusters(ctx, snapshot: Snapshot, clusters: dict) -> list[Cluster]:
    Cluster.objects.filter(round=ctx.round).delete()
    assignments, centroids = clusters["assignments"], clusters["centroids"]
    labels_by_position = {int(p): snapshot.train_labels[int(i)]
                          for p, i in zip(snapshot.positions(snapshot.train_labels), snapshot.train_labels)}
    rows = []
    for index, centroid in enumerate(centroids):
        members = np.flatnonzero(assignments == index)
        counts = Counter(label for p in members if int(p) in labels_by_position for label in labels_by_position[int(p)])
        labelled = sum(1 for p in members if int(p) in labels_by_position)
        rows.append(Cluster(
            round=ctx.round, index=index, size=int(len(members)),
            centroid=np.ascontiguousarray(centroid, dtype=np.float32).tobytes(),
            labelled_coverage=labelled / len(members) if len(members) else 0.0,
            purity=(counts.most_common(1)[0][1] / labelled) if labelled else None,
            top_labels=[{"label": label, "count": n} for label, n in counts.most_common(3)],
        ))
    return Cluster.objects.bulk_create(rows, batch_size=BATCH)


def write_proposals(ctx, snapshot: Snapshot, assignments, cluster_rows, proposals, ranking) -> int:
    Proposal.objects.filter(round=ctx.round).delete()
    cluster_ids = [row.pk for row in cluster_rows]
    ranks = {int(item_id): rank for rank, item_id in enumerate(ranking.tolist())}
    multi = multilabel(ctx)
    created = 0
    batch = []

    def flush():
        nonlocal created, batch
        Proposal.objects.bulk_create(batch, batch_size=BATCH)
        created += len(batch)
        batch = []

    seen = set()
    if proposals is not None:
        classes = proposals["classes"].tolist()
        positions = snapshot.positions(proposals["item_ids"])
        neighbours = zip(proposals["neighbour_ids"].tolist(), proposals["neighbour_similarities"].tolist())
        for item_id, position, p, (n_ids, n_sims) in zip(proposals["item_ids"].tolist(), positions,
                                                         proposals["probs"], neighbours):
            order = np.argsort(-p)
            top = order[:TOP_K]
            labels = [classes[j] for j in np.flatnonzero(p >= 0.5)] if multi else [classes[order[0]]]
            margin = float(p[order[0]] - p[order[1]]) if len(order) > 1 else 1.0
            batch.append(Proposal(
                item_id=item_id, round=ctx.round, labels=labels,
                probabilities={classes[j]: round(float(p[j]), 4) for j in top},
                confidence=float(p[order[0]]), uncertainty=1.0 - margin,
                cluster_id=cluster_ids[int(assignments[position])], rank=ranks.get(item_id),
                neighbours=[{"item": n, "labels": snapshot.train_labels[n], "similarity": round(sim, 4)}
                            for n, sim in zip(n_ids, n_sims) if n >= 0],
            ))
            seen.add(item_id)
            if len(batch) >= BATCH:
                flush()
                ctx.check()
    # Ranked items with no proposal (a cold-start round): a row for the order only.
    for item_id, rank in ranks.items():
        if item_id not in seen:
            position = int(snapshot.positions([item_id])[0])
            batch.append(Proposal(item_id=item_id, round=ctx.round, labels=[], rank=rank,
                                  cluster_id=cluster_ids[int(assignments[position])]))
    flush()
    return created
