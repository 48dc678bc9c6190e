"""Dawid-Skene refinement of a project's consensus: `recompute_dawid_skene`,
and when it runs (`schedule_after_submit`).

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

Scheduling mirrors the agreement snapshot (`metrics.snapshot_for_request`):
a pass is queued once enough new annotations have come in since the last
one, and at most once per `REQUEUE_AFTER` while one is waiting to run. The
trigger is `submit` (`schedule_after_submit`, after its transaction
commits): enough means `RECOMPUTE_EVERY` live annotations of the project
newer than the newest one the last pass saw, or a tenth
(`1 / RECOMPUTE_GROWTH`) of the annotations it fitted if that is more: a
pass refits the whole project, so passes grow further apart as the project
grows and their total cost stays proportional to its size. A lead can
also queue a pass at any time (`consensus/dawid-skene/`).

What the schedule needs to remember is kept in the audit trail, where
every pass belongs anyway: each pass records `consensus.dawid_skene` on the
project (the newest annotation id it saw, how many annotations it fitted,
how many items it settled) and each automatic queueing
`consensus.dawid_skene.queue`. Two submits that cross the threshold at the
same moment may both queue a pass; that is harmless (see above).
"""

from __future__ import annotations

import logging
import warnings
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pandas as pd
from crowdkit.aggregation import DawidSkene
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from labelops.annotation.models import Annotation, Consensus, ConsensusMethod
from labelops.audit.models import AuditEvent
from labelops.audit.services import record
from labelops.items.models import Item, ItemState, Split
from labelops.projects.models import Project, TaskType
from labelops.quality.services.consensus import settle

logger = logging.getLogger(__name__)

EM_ITERATIONS = 100
RECOMPUTE_EVERY = 100
RECOMPUTE_GROWTH = 10
REQUEUE_AFTER = timedelta(minutes=10)

RUN_VERB = "consensus.dawid_skene"
QUEUE_VERB = "consensus.dawid_skene.queue"

Rows = list[tuple[int, int, list[str]]]  # (item id, annotator id, labels)


def recompute_dawid_skene(project: Project) -> int:
    """Refine the project's consensus by Dawid-Skene (module docstring);
    returns how many items were settled again. Records the pass."""
    last_seen = Annotation.objects.active().filter(item__project=project).aggregate(m=Max("id"))["m"] or 0
    settled, fitted = _recompute(project)
    record(actor=None, verb=RUN_VERB, obj=project, project=project,
           after={"last_annotation_id": last_seen, "annotations": fitted, "settled": settled})
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


def _fit(frame: pd.DataFrame) -> DawidSkene:
    with warnings.catch_warnings():  # crowd-kit 1.4 uses pandas arguments that pandas 3 deprecates
        warnings.filterwarnings("ignore", module=r"crowdkit\.")
        return DawidSkene(n_iter=EM_ITERATIONS).fit(frame)


def fit_single_label(rows: Rows) -> dict[int, list[str]]:
    """Each item's most probable label, from one model over all labels."""
    frame = pd.DataFrame({"task": [r[0] for r in rows], "worker": [r[1] for r in rows],
                          "label": [r[2][0] for r in rows]})
    return {int(item_id): [label] for item_id, label in _fit(frame).labels_.items()}


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
        probas = _fit(pd.DataFrame({"task": tasks, "worker": workers, "label": present})).probas_
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


# --- scheduling ------------------------------------------------------------------------


def _last(project_id: int, *verbs: str) -> AuditEvent | None:
    """The project's newest event with one of `verbs`: off the (object_type,
    object_id) index, which holds only the few events recorded on the
    project itself."""
    return (AuditEvent.objects.filter(object_type=Project._meta.label_lower, object_id=str(project_id),
                                      verb__in=verbs)
            .order_by("-id").first())


# Per process: project id -> (annotation id, time). Until a submit brings an
# annotation whose id reaches the first, or the time comes, no pass is due and
# `schedule_after_submit` answers without a query. The bounds come from the
# audit trail as the last check here read it, and the facts behind them only
# grow (annotation ids, a pass's `last_annotation_id`), so another process's
# newer events can make an entry too low (a query more), not too high. One
# case delays a pass a little: a pass already running when a submit found it
# queued read its annotations before that submit, so the next one may fall
# due up to that many annotations before the entry lets a check through.
_NOT_DUE: dict[int, tuple[int, datetime]] = {}
NO_TIME_LIMIT = datetime.max.replace(tzinfo=UTC)


def schedule_after_submit(project_id: int, annotation_id: int) -> bool:
    """Queue a Dawid-Skene pass of the project if enough annotations came in
    since the last one (module docstring); True if this call queued one.

    Called by `submit` once its transaction has committed, with the new
    annotation's id. Most calls cost no query (`_NOT_DUE`), the rest one
    indexed query: annotation ids only grow, so `annotation_id -
    last_annotation_id` bounds the new annotations of the project, and the
    exact count (bounded by the threshold) is only taken once that bound
    reaches it.

    If the broker cannot be reached the error is logged and nothing is
    recorded, so the next submit tries again: the annotation is saved
    by then, and failing its request would only make the annotator send it
    twice."""
    from labelops.quality.tasks import recompute_dawid_skene as task

    now = timezone.now()
    below, until = _NOT_DUE.get(project_id, (0, now))
    if annotation_id < below and now < until:
        return False
    # One query in the common cases: the newest of the two events is either
    # the last run, or a queued pass newer than it.
    newest = _last(project_id, RUN_VERB, QUEUE_VERB)
    if newest is not None and newest.verb == QUEUE_VERB:
        if newest.created_at > now - REQUEUE_AFTER:
            # A pass is queued and has not run yet: ask again once it could be due after it ran.
            _NOT_DUE[project_id] = (annotation_id + RECOMPUTE_EVERY, newest.created_at + REQUEUE_AFTER)
            return False
        last_run = _last(project_id, RUN_VERB)  # queued long ago and never run: queue again if due
    else:
        last_run = newest
    after = last_run.after if last_run is not None else {}
    last_seen, fitted = after.get("last_annotation_id", 0), after.get("annotations", 0)
    threshold = max(RECOMPUTE_EVERY, fitted // RECOMPUTE_GROWTH)
    if annotation_id - last_seen < threshold:
        _NOT_DUE[project_id] = (last_seen + threshold, NO_TIME_LIMIT)
        return False
    pending = (Annotation.objects.active().filter(item__project_id=project_id, id__gt=last_seen)
               .values("id")[:threshold].count())
    if pending < threshold:
        # Each new annotation adds at most one.
        _NOT_DUE[project_id] = (annotation_id + threshold - pending, NO_TIME_LIMIT)
        return False
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return False
    try:
        task.delay(project_id)
    except BrokerError:
        logger.exception("could not queue a Dawid-Skene pass of project %s; the next submit tries again",
                         project_id)
        return False
    record(actor=None, verb=QUEUE_VERB, obj=project, project=project,
           after={"pending": pending, "threshold": threshold, "last_annotation_id": last_seen})
    _NOT_DUE[project_id] = (annotation_id + RECOMPUTE_EVERY, now + REQUEUE_AFTER)
    return True
