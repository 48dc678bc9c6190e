"""Automatic training rounds: one after every N newly approved labels.

A project opts in with the setting `auto_round_every = N`. Celery beat calls
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

from labelops.annotation.models import Consensus, ConsensusStatus
from labelops.items.models import Split
from labelops.learning.errors import RoundConflict
from labelops.learning.models import RoundState, TrainingRound
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
