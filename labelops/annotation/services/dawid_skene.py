"""Dawid-Skene refinement of a project's consensus: `recompute_dawid_skene`.

Majority vote treats every annotator alike; Dawid-Skene (Dawid & Skene,
1979, "Maximum likelihood estimation of observer error-rates using the EM
algorithm") estimates a confusion matrix per annotator by EM and weights
their answers by it. We use crowd-kit's implementation
(`crowdkit.aggregation.DawidSkene`, initialised from the majority vote, so
it is deterministic for the same annotations).

It runs over the whole project, so it is a batch job (the Celery task
`labelops.annotation.tasks.recompute_dawid_skene`, `default` queue), not a
per-submit step. It settles again (see `consensus.settle`) every item that:

- is a pool or holdout item with a consensus by majority or Dawid-Skene
  that no reviewer accepted or fixed (`Consensus.review`), and is not in
  review;
- whose Dawid-Skene label differs from its consensus, or whose consensus
  method is still `majority`.

Single-label projects only: crowd-kit's Dawid-Skene models one class per
answer; for multi-label projects this does nothing (majority stays).
Only annotations in the active taxonomy version take part (agreement is
computed within one version); an item that also has live annotations of an
older version is left as it is (its annotations differ from those fitted).

Idempotent: a second run on the same annotations finds nothing to change.
Each item is settled in its own short transaction under its row lock, after
checking that its annotations are still the ones the model was fitted on
(otherwise it is left for the next run).
"""

from __future__ import annotations

import warnings
from collections import defaultdict

import pandas as pd
from crowdkit.aggregation import DawidSkene
from django.db import transaction

from labelops.annotation.models import Annotation, Consensus, ConsensusMethod
from labelops.annotation.services.consensus import _answers, settle
from labelops.annotation.services.leases import lock_item
from labelops.items.models import ItemState, Split
from labelops.projects.models import Project, TaskType

EM_ITERATIONS = 100


def recompute_dawid_skene(project: Project) -> int:
    """Refine the project's consensus by Dawid-Skene; returns how many items
    were settled again."""
    if project.task != TaskType.SINGLE_LABEL:
        return 0
    version = project.active_taxonomy()
    if version is None:
        return 0
    eligible = Consensus.objects.filter(
        item__project=project, item__split__in=[Split.POOL, Split.HOLDOUT],
        method__in=[ConsensusMethod.MAJORITY, ConsensusMethod.DAWID_SKENE], review__isnull=True,
    ).exclude(item__state=ItemState.IN_REVIEW)
    current = dict(eligible.values_list("item_id", "method"))
    if not current:
        return 0
    rows = list(
        Annotation.objects.active().filter(item_id__in=current, taxonomy_version=version)
        .values_list("item_id", "annotator_id", "labels").order_by("item_id", "id")
    )
    if not rows:
        return 0
    frame = pd.DataFrame({"task": [r[0] for r in rows], "worker": [r[1] for r in rows],
                          "label": [r[2][0] for r in rows]})
    with warnings.catch_warnings():  # crowd-kit 1.4 uses pandas arguments that pandas 3 deprecates
        warnings.filterwarnings("ignore", module=r"crowdkit\.")
        estimated = DawidSkene(n_iter=EM_ITERATIONS).fit(frame).labels_
    seen: dict[int, list[tuple[int, list[str]]]] = defaultdict(list)
    for item_id, annotator_id, labels in rows:
        seen[item_id].append((annotator_id, labels))
    consensus_labels = dict(eligible.values_list("item_id", "labels"))

    settled = 0
    for item_id, label in estimated.items():
        item_id = int(item_id)
        if consensus_labels.get(item_id) == [label] and current[item_id] == ConsensusMethod.DAWID_SKENE:
            continue
        settled += _settle_one(project, version, item_id, label, seen[item_id])
    return settled


@transaction.atomic
def _settle_one(project, version, item_id: int, label: str, fitted_on: list[tuple[int, list[str]]]) -> int:
    item = lock_item(item_id)
    answers = _answers(item)
    if item.state == ItemState.IN_REVIEW or sorted(answers) != sorted(fitted_on):
        return 0  # changed since the fit: the next run sees it
    settle(item, project, version, answers, [label], ConsensusMethod.DAWID_SKENE)
    return 1
