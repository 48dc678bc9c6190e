"""When a project's batch recomputations run: one scheduler for the
Dawid-Skene pass (`dawid_skene`) and the agreement metrics (`metrics`).

Both are recomputed over the whole project by a Celery task, so neither
runs per annotation: a run is queued once enough new annotations have come
in since the last one, and at most once per `requeue_after` while one waits
to run. Enough is `Policy.every` live annotations of the project newer than
the newest one the last run included, or, with `Policy.growth`, that
fraction of the annotations the last run used if more: a run refits the
whole project, so runs grow further apart as the project grows and their
total cost stays proportional to its size.

The state is one `Recompute` row per project and kind (created by the first
check): what the last run covered (`last_annotation_id`, `last_size`), when
a run was queued (`queued_at`), and `due_at`, an annotation id no run can be
due before. Annotation ids only grow, so `newest - last_annotation_id`
bounds the new annotations from above: the exact count (bounded by the
threshold) is only taken once that bound reaches it, and a check that finds
too few raises `due_at` by what is missing. Every change to a row is a
conditional update, so two checks at once queue one run.

The triggers:

- Dawid-Skene after each submit (`after_submit`, once the submit has
  committed). The queue's context statement reads the row's `due_at` and
  `queued_at` with the project, so a submit that cannot make a pass due
  costs no query at all. While a pass waits to run, `due_at` is set
  `every` annotations ahead; past `requeue_after` a pass that never ran
  (a lost message) is checked again at the next submit. A lead can also
  queue a pass at any time (`queue_now`).
- Agreement when the metrics are read (`for_read`: the agreement endpoint
  and the dashboard); a request never computes them.

A finished run reports what it covered (`finished`), which resets the row.
The audit trail keeps the evidence (`consensus.dawid_skene.queue` when a
pass is queued, `consensus.dawid_skene` for each pass) and is never read to
decide.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from labelops.annotation.models import Annotation, Recompute, RecomputeKind
from labelops.audit.services import record
from labelops.celery import app
from labelops.projects.models import Project

logger = logging.getLogger(__name__)

QUEUE_VERB = "consensus.dawid_skene.queue"


@dataclass(frozen=True)
class Policy:
    # The Celery task that runs it, by name (`labelops.quality.tasks`).
    task: str
    every: int
    # With `growth` g, a run is due after max(every, last_size // g) new annotations.
    growth: int | None
    requeue_after: timedelta


POLICIES: dict[str, Policy] = {
    RecomputeKind.DAWID_SKENE: Policy(task="labelops.quality.tasks.recompute_dawid_skene", every=100, growth=10,
                                      requeue_after=timedelta(minutes=10)),
    RecomputeKind.AGREEMENT: Policy(task="labelops.quality.tasks.refresh_agreement", every=50, growth=None,
                                    requeue_after=timedelta(minutes=5)),
}


def threshold(kind: str, row: Recompute) -> int:
    """New annotations after which a run of `kind` is due."""
    policy = POLICIES[kind]
    return max(policy.every, row.last_size // policy.growth if policy.growth else 0)


def row_of(project_id: int, kind: str) -> Recompute:
    row, _ = Recompute.objects.get_or_create(project_id=project_id, kind=kind)
    return row


def pending(project_id: int, row: Recompute, limit: int | None = None) -> int:
    """Live annotations of the project newer than the last run (at most `limit`)."""
    newer = Annotation.objects.active().filter(item__project_id=project_id, id__gt=row.last_annotation_id)
    return newer.values("id")[:limit].count() if limit is not None else newer.count()


def _waiting(row: Recompute, kind: str, now: datetime) -> bool:
    """A run was queued recently and has not finished: another would be a duplicate."""
    return row.queued_at is not None and row.queued_at > now - POLICIES[kind].requeue_after


def _raise_due_at(row: Recompute, due_at: int) -> None:
    Recompute.objects.filter(pk=row.pk, due_at__lt=due_at).update(due_at=due_at)


def _claim(row: Recompute, kind: str, now: datetime, due_at: int) -> bool:
    """Mark a run of `kind` queued, unless another check did since `row` was read."""
    stale = Q(queued_at__isnull=True) | Q(queued_at__lte=now - POLICIES[kind].requeue_after)
    return bool(Recompute.objects.filter(stale, pk=row.pk, queued_at=row.queued_at)
                .update(queued_at=now, due_at=due_at))


def _unclaim(row: Recompute) -> None:
    """The broker refused the task: let the next check try again."""
    Recompute.objects.filter(pk=row.pk).update(queued_at=row.queued_at, due_at=row.due_at)


def _send(kind: str, project_id: int) -> None:
    app.send_task(POLICIES[kind].task, args=(project_id,))


def _below_due(row_due_at: int, queued_at: datetime | None, annotation_id: int, kind: str, now: datetime) -> bool:
    """No run can be due at `annotation_id`: below the row's mark, unless a
    run queued at `queued_at` is overdue (its message may be lost)."""
    overdue = queued_at is not None and queued_at <= now - POLICIES[kind].requeue_after
    return annotation_id < row_due_at and not overdue


def after_submit(project_id: int, annotation_id: int, due_at: int = 0, queued_at: datetime | None = None) -> bool:
    """Queue a Dawid-Skene pass of the project if enough annotations came in
    (module docstring); True if this call queued one. Called once a submit
    has committed, with its annotation's id and the row's `due_at` and
    `queued_at` as its context read them: below the mark, no query.

    If the broker cannot be reached the error is logged and the row left as
    it was, so the next submit tries again: the annotation is saved by
    then, and failing its request would only make the annotator send it
    twice."""
    kind = RecomputeKind.DAWID_SKENE
    now = timezone.now()
    if _below_due(due_at, queued_at, annotation_id, kind, now):
        return False
    row = row_of(project_id, kind)
    if _below_due(row.due_at, row.queued_at, annotation_id, kind, now):
        return False
    every = POLICIES[kind].every
    if _waiting(row, kind, now):  # ask again once it could be due after that run
        _raise_due_at(row, annotation_id + every)
        return False
    needed = threshold(kind, row)
    if annotation_id - row.last_annotation_id < needed:
        _raise_due_at(row, row.last_annotation_id + needed)
        return False
    new = pending(project_id, row, limit=needed)
    if new < needed:  # each new annotation adds at most one
        _raise_due_at(row, annotation_id + needed - new)
        return False
    project = Project.objects.filter(pk=project_id).first()
    if project is None or not _claim(row, kind, now, due_at=annotation_id + every):
        return False
    try:
        _send(kind, project_id)
    except BrokerError:
        _unclaim(row)
        logger.exception("could not queue a Dawid-Skene pass of project %s; the next submit tries again",
                         project_id)
        return False
    record(actor=None, verb=QUEUE_VERB, obj=project, project=project,
           after={"pending": new, "threshold": needed, "last_annotation_id": row.last_annotation_id})
    return True


def queue_now(project: Project, kind: str) -> None:
    """Queue a run now, whatever is due (a lead asked). Broker errors propagate."""
    row = row_of(project.pk, kind)
    now = timezone.now()
    Recompute.objects.filter(pk=row.pk).update(queued_at=now)
    try:
        _send(kind, project.pk)
    except Exception:
        _unclaim(row)
        raise


def for_read(project: Project, kind: str) -> tuple[Recompute, int, bool]:
    """The row, the annotations pending, and whether this call queued a run
    (never run yet, or enough pending, and none queued recently). A broker
    that is down raises, with the row left as it was, so the next read
    tries again."""
    row = row_of(project.pk, kind)
    new = pending(project.pk, row)
    now = timezone.now()
    due = row.finished_at is None or new >= threshold(kind, row)
    if not due or _waiting(row, kind, now) or not _claim(row, kind, now, due_at=row.due_at):
        return row, new, False
    try:
        _send(kind, project.pk)
    except Exception:
        _unclaim(row)
        raise
    row.queued_at = now
    return row, new, True


def finished(project_id: int, kind: str, *, last_annotation_id: int, size: int) -> None:
    """A run of `kind` finished, having included annotations up to
    `last_annotation_id` (`size` of them): the count starts again."""
    row = row_of(project_id, kind)
    row.last_annotation_id, row.last_size = last_annotation_id, size
    Recompute.objects.filter(pk=row.pk).update(
        last_annotation_id=last_annotation_id, last_size=size, finished_at=timezone.now(), queued_at=None,
        due_at=last_annotation_id + threshold(kind, row))

