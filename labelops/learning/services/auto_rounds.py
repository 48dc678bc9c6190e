"""Automatic training rounds: a cold-start round, then one after every N newly approved labels.

Cold start (setting `cold_start_round`, on by default): a project with items
and no model gets a round by itself, so its queue starts in TypiClust order
with zero-shot proposals from the taxonomy rather than in file order; so
does one whose model predates a later import while nobody has answered yet. The
import that brings items sends `start_cold_start_round` as it finishes
(`labelops.items.tasks`); celery beat's `start_due_rounds` catches any
project it missed (a broker hiccup at the end of an import, a model
deleted, the setting turned back on).

Retraining: a project opts in with the setting `auto_round_every = N`. Celery beat calls
`start_due_rounds` every minute; a project is due when no round of it is
running and it has at least N more approved training labels (approved
consensus on pool and gold items; holdout labels only evaluate) than its
newest `done` round trained on (`labels_count`), or, before any round has
finished, at least N in all.

A project whose newest round failed or was cancelled is not due: a failed
automatic round would otherwise be started again at every beat, failing the
same way each minute, and a round a lead cancelled would come straight
back. It becomes due again once a round (started by a lead) finishes.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError

from labelops.annotation.models import Annotation, Consensus, ConsensusStatus
from labelops.items.models import Item, Split
from labelops.learning.errors import RoundConflict
from labelops.learning.models import ModelVersion, RoundState, TrainingRound
from labelops.learning.services.rounds import start_round
from labelops.projects.models import Project
from labelops.projects.project_settings import ProjectSettings

logger = logging.getLogger(__name__)


def approved_training_labels(project: Project) -> int:
    """Approved labels a round would train on: pool and gold items, not holdout."""
    return (
        Consensus.objects.filter(item__project=project, status=ConsensusStatus.APPROVED)
        .exclude(item__split=Split.HOLDOUT).count()
    )


def new_labels_since_last_round(project: Project) -> int | None:
    """Approved training labels added since the newest done round, or None
    when the project is not due whatever the count (a round is running, or
    the newest round failed or was cancelled)."""
    newest = TrainingRound.objects.for_project(project).order_by("-number").first()
    if newest is not None and newest.state != RoundState.DONE:
        return None
    return approved_training_labels(project) - (newest.labels_count if newest is not None else 0)


def needs_cold_start(project: Project) -> bool:
    """True when `project` wants a cold-start round now: the setting is on,
    it has pool items, no round is in flight, and either no model serves or
    the one that serves was made before items imported since, while nobody
    has answered yet (a project imported in several files: the queue's
    first order must cover them all). A newest round that failed or was
    cancelled says no, as for retraining rounds: a lead's next round (or
    turning the setting off and on) decides."""
    if not ProjectSettings.from_dict(project.settings).cold_start_round:
        return False
    newest = TrainingRound.objects.for_project(project).order_by("-number").first()
    if newest is not None and newest.state != RoundState.DONE:
        return False
    if not Item.objects.filter(project=project, split=Split.POOL).exists():
        return False
    active = ModelVersion.objects.filter(project=project, is_active=True).select_related("round").first()
    if active is None:
        return True
    if Annotation.objects.filter(item__project=project).exists():
        return False  # past the cold start: new items wait for the next retraining round
    seen = active.round.metrics.get("items")
    return isinstance(seen, int) and Item.objects.filter(project=project).count() > seen


def start_cold_start_round(project_id: int) -> int | None:
    """Start the cold-start round of a project that needs one (see
    `needs_cold_start`); the round's id, or None. Safe to call twice, and
    for a project that is gone."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return None
    try:
        if not needs_cold_start(project):
            return None
        training_round = start_round(project=project, actor=None, trigger="cold_start")
    except RoundConflict:
        return None
    except ValidationError as error:
        logger.warning("project %s: no cold-start round: %s", project.pk, "; ".join(error.messages))
        return None
    logger.info("project %s: cold-start round %s started", project.pk, training_round.number)
    return training_round.pk


def start_due_rounds() -> list[int]:
    """Start a round (trigger "auto", no actor) of every project that is due.
    Returns the ids of the rounds started.

    Safe to run twice and beside a lead's click: `start_round` locks the
    project and refuses a second round (`RoundConflict`), which here just
    means someone else started one first. A project whose settings cannot
    make a round (no taxonomy yet, say) is logged and skipped, so one
    project never stops the others.
    """
    started = []
    # Projects without a model first: their queue is in file order until then.
    # (A later import into a project nobody has answered yet asks for its own
    # round as it finishes; beat does not look for those.)
    modelless = Project.objects.exclude(pk__in=ModelVersion.objects.filter(is_active=True).values("project_id"))
    for project_id in modelless.order_by("pk").values_list("pk", flat=True):
        round_id = start_cold_start_round(project_id)
        if round_id is not None:
            started.append(round_id)
    for project in Project.objects.filter(settings__has_key="auto_round_every").order_by("pk"):
        try:
            every = ProjectSettings.from_dict(project.settings).auto_round_every
            if every is None:
                continue
            new = new_labels_since_last_round(project)
            if new is None or new < every:
                continue
            training_round = start_round(project=project, actor=None, trigger="auto")
        except RoundConflict:
            continue
        except ValidationError as error:
            logger.warning("project %s: no automatic round: %s", project.pk, "; ".join(error.messages))
            continue
        logger.info("project %s: round %s started automatically after %s new approved labels",
                    project.pk, training_round.number, new)
        started.append(training_round.pk)
    return started
