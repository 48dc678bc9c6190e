"""Dawid-Skene refinement of a project's consensus: `recompute_dawid_skene`
(when it runs: `schedule`).

Majority vote treats every annotator alike; Dawid-Skene (Dawid & Skene,
1979, "Maximum likelihood estimation of observer error-rates using the EM
algorithm") estimates a confusion matrix per annotator by EM and weights
their answers by it. We use crowd-kit's implementation
(`crowdkit.aggregation.DawidSkene`, initialised from the majority vote, so
it is deterministic for the same annotations).

- Single-label projects: one model over the project's labels; each item
  gets its most probable label.
- Multi-label projects: one binary model per label of the taxonomy (was it
  chosen: present or absent), fitted on every eligible item's annotations,
  so each annotator gets a confusion matrix per label (one may over-apply a
  label and be reliable on the others). An item's labels are those whose
  posterior probability of being present is above 0.5, in taxonomy order;
  exactly 0.5 (the evidence is balanced) leaves the label out, as majority
  vote leaves out a label chosen by exactly half. A label chosen by nobody
  (or by everybody) in the fitted annotations needs no model: it is absent
  (present) everywhere. An item left with no label is `disputed`, as
  majority vote would have it.

It runs over the whole project, so it is a batch job (the Celery task
`labelops.quality.tasks.recompute_dawid_skene`, `default` queue), not a
per-submit step. It settles again (see `consensus.settle`) every item that:

- is a pool or holdout item with a consensus by majority or Dawid-Skene
  that no reviewer accepted or fixed (`Consensus.review`), and is not in
  review;
- whose Dawid-Skene labels differ from its consensus, or whose consensus
  method is still `majority`.

Only annotations in the active taxonomy version take part (agreement is
computed within one version); an item that also has live annotations of an
older version is left as it is (its annotations differ from those fitted).

Safe to run twice, or twice at once: each item is settled in its own short
transaction under its row lock, after checking that its annotations are
still the ones the model was fitted on and that its consensus is still
open to Dawid-Skene and not already these labels by Dawid-Skene (otherwise
it is left alone: the second of two runs finds nothing to change).

When a pass runs is `labelops.quality.services.schedule`'s business: after
submits, once enough new annotations have come in, or when a lead asks
(`consensus/dawid-skene/`). Each pass tells the schedule what it covered and
records `consensus.dawid_skene` on the project (the newest annotation id it
saw, how many annotations it fitted, how many items it settled).
"""

from __future__ import annotations

import warnings
from collections import defaultdict

import pandas as pd
from crowdkit.aggregation import DawidSkene
from django.db import transaction
from django.db.models import Max

from labelops.annotation.models import Annotation, Consensus, ConsensusMethod, RecomputeKind
from labelops.audit.services import record
from labelops.items.models import Item, ItemState, Split
from labelops.projects.models import Project, TaskType
from labelops.quality.services import schedule
from labelops.quality.services.consensus import settle

EM_ITERATIONS = 100

RUN_VERB = "consensus.dawid_skene"

Rows = list[tuple[int, int, list[str]]]  # (item id, annotator id, labels)


def recompute_dawid_skene(project: Project) -> int:
    """Refine the project's consensus by Dawid-Skene (module docstring);
    returns how many items were settled again. Records the pass."""
    last_seen = Annotation.objects.active().filter(item__project=project).aggregate(m=Max("id"))["m"] or 0
    settled, fitted = _recompute(project)
    record(actor=None, verb=RUN_VERB, obj=project, project=project,
           after={"last_annotation_id": last_seen, "annotations": fitted, "settled": settled})
    schedule.finished(project.pk, RecomputeKind.DAWID_SKENE, last_annotation_id=last_seen, size=fitted)
    return settled


def _recompute(project: Project) -> tuple[int, int]:
    """(items settled, annotations fitted)."""
    version = project.active_taxonomy()
    if version is None:
        return 0, 0
    eligible = Consensus.objects.filter(
        item__project=project, item__split__in=[Split.POOL, Split.HOLDOUT],
        method__in=[ConsensusMethod.MAJORITY, ConsensusMethod.DAWID_SKENE], review__isnull=True,
    ).exclude(item__state=ItemState.IN_REVIEW)
    current = {item_id: (method, labels) for item_id, method, labels in eligible.values_list("item_id", "method",
                                                                                          "labels")}
    if not current:
        return 0, 0
    rows: Rows = list(
        Annotation.objects.active().filter(item_id__in=current, taxonomy_version=version)
        .values_list("item_id", "annotator_id", "labels").order_by("item_id", "id")
    )
    if not rows:
        return 0, 0
    if project.task == TaskType.MULTI_LABEL:
        estimated = fit_multi_label(rows, list(version.labels.values_list("key", flat=True)))
    else:
        estimated = fit_single_label(rows)
    seen: dict[int, list[tuple[int, list[str]]]] = defaultdict(list)
    for item_id, annotator_id, labels in rows:
        seen[item_id].append((annotator_id, labels))

    settled = 0
    for item_id, labels in estimated.items():
        if current[item_id] == (ConsensusMethod.DAWID_SKENE, labels):
            continue
        settled += _settle_one(project, version, item_id, labels, seen[item_id])
    return settled, len(rows)


def _fit(frame: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """crowd-kit's fit of (task, worker, label) rows: each task's most
    probable label, and the posterior of each label (one column each)."""
    with warnings.catch_warnings():  # crowd-kit 1.4 uses pandas arguments that pandas 3 deprecates
        warnings.filterwarnings("ignore", module=r"crowdkit\.")
        model = DawidSkene(n_iter=EM_ITERATIONS).fit(frame)
    if model.labels_ is None or model.probas_ is None:  # fit sets both: a crowd-kit change would land here
        raise RuntimeError("crowd-kit's DawidSkene.fit left labels_ or probas_ unset")
    return model.labels_, model.probas_


def fit_single_label(rows: Rows) -> dict[int, list[str]]:
    """Each item's most probable label, from one model over all labels."""
    frame = pd.DataFrame({"task": [r[0] for r in rows], "worker": [r[1] for r in rows],
                          "label": [r[2][0] for r in rows]})
    labels, _ = _fit(frame)
    return {int(item_id): [label] for item_id, label in labels.items()}


def fit_multi_label(rows: Rows, keys: list[str]) -> dict[int, list[str]]:
    """Each item's labels: one binary model per label of `keys` (taxonomy
    order), present when its posterior is above 0.5."""
    tasks = [r[0] for r in rows]
    workers = [r[1] for r in rows]
    chosen = [set(r[2]) for r in rows]
    result: dict[int, list[str]] = {item_id: [] for item_id in tasks}
    for key in keys:
        present = [int(key in labels) for labels in chosen]
        if len(set(present)) == 1:  # nobody disagrees about this label: nothing to weigh
            if present[0]:
                for item_id in result:
                    result[item_id].append(key)
            continue
        _, probas = _fit(pd.DataFrame({"task": tasks, "worker": workers, "label": present}))
        for item_id, probability in probas[1].items():
            if probability > 0.5:
                result[int(item_id)].append(key)
    return result


@transaction.atomic
def _settle_one(project, version, item_id: int, labels: list[str],
                fitted_on: list[tuple[int, list[str]]]) -> int:
    """Settle one item by Dawid-Skene under its row lock, unless it changed
    since the fit or a run already did (module docstring); 1 if settled."""
    item = Item.objects.lock(item_id)
    answers = Annotation.objects.answers(item)
    if item.state == ItemState.IN_REVIEW or sorted(answers) != sorted(fitted_on):
        return 0  # changed since the fit: the next run sees it
    consensus = Consensus.objects.filter(item=item).first()
    if (consensus is None or consensus.review_id is not None
            or consensus.method not in (ConsensusMethod.MAJORITY, ConsensusMethod.DAWID_SKENE)):
        return 0  # a reviewer decided it meanwhile: final
    if consensus.method == ConsensusMethod.DAWID_SKENE and consensus.labels == labels:
        return 0  # another run settled it the same way
    settle(item, project, version, answers, labels, ConsensusMethod.DAWID_SKENE)
    return 1
