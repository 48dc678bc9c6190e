"""Celery tasks of training rounds: thin wrappers over the round services.

`run_round_step(round_id, step, attempt)` runs one step of a round on the
step's queue (see `labelops.learning.steps`). It takes ids, re-fetches,
and does nothing when the round is gone, finished, or no longer at that
(step, attempt): a duplicate or redelivered message is harmless. A step
that raises fails the round with its error (the active model keeps
serving; the traceback goes to the worker's log, not to the round, which
every member can read); one that finishes hands the round to the next step.
Whenever a round ends, old rounds' artifact folders are pruned.
"""

from __future__ import annotations

import logging

from celery import shared_task

from labelops.learning.errors import RoundStopped
from labelops.learning.models import FINISHED_STATES, TrainingRound
from labelops.learning.pipeline import run_step
from labelops.learning.pipeline.context import StepContext
from labelops.learning.services import auto_rounds, retention, rounds
from labelops.learning.steps import RUN_STEP_TASK, START_COLD_START_TASK, STEP_WEIGHTS, STEPS

logger = logging.getLogger(__name__)


@shared_task(name=RUN_STEP_TASK)
def run_round_step(round_id: int, step: str, attempt: int) -> str | None:
    training_round = rounds.claim_step(round_id, step, attempt)
    if training_round is None:
        logger.info("round %s: %s attempt %s is not current; nothing to do", round_id, step, attempt)
        return None
    logger.info("round %s: %s (attempt %s) started", round_id, step, attempt)
    try:
        with StepContext(training_round, step, steps=STEPS, weights=STEP_WEIGHTS) as ctx:
            ctx.beat()
            run_step(ctx)
            if step != STEPS[-1]:  # publish finished the round itself; "stopped" would only mean "done"
                ctx.check()
    except RoundStopped:
        logger.info("round %s stopped during %s", round_id, step)
        return None
    except Exception as error:
        logger.exception("round %s: %s failed", round_id, step)
        rounds.fail_round(training_round, f"{step} failed: {type(error).__name__}: {error}")
        return None
    finally:
        # After publish, a failure or a cancel (a heartbeat that waited on
        # publish's lock can report "stopped" for a round that is done).
        if TrainingRound.objects.filter(pk=round_id, state__in=FINISHED_STATES).exists():
            retention.prune_round_artifacts(training_round.project)
    return rounds.advance(training_round, step)


@shared_task
def recover_stalled_rounds() -> list[int]:
    """Periodic (celery beat): re-send the step of rounds whose worker died
    or whose message was lost."""
    return rounds.recover_stalled_rounds()


@shared_task
def start_due_rounds() -> list[int]:
    """Periodic (celery beat): cold-start rounds of projects without a model,
    and automatic rounds of projects with `auto_round_every`."""
    return auto_rounds.start_due_rounds()


@shared_task(name=START_COLD_START_TASK)
def start_cold_start_round(project_id: int) -> int | None:
    """Sent by an import as it finishes: the project's cold-start round, if it needs one."""
    return auto_rounds.start_cold_start_round(project_id)
