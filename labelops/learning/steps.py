"""The steps of a training round (DESIGN.md, "The round"), in order: the
table the round services, the task runner and the progress report share.

A leaf module (it imports nothing of the platform but the round states),
so `labelops.learning.services.rounds` reads it without importing the
steps' code, and the steps import the services without a circle. What each
step does is `labelops.learning.pipeline`; which function runs it is
`pipeline.run_step`.
"""

from __future__ import annotations

from dataclasses import dataclass

from labelops.learning.models import RoundState


@dataclass(frozen=True)
class Step:
    name: str
    # The Celery queue its task runs on: `train` for the heavy learning,
    # `embed` for encoding and indexing, `default` for database work.
    queue: str
    # The round's state while it runs.
    state: str
    # Its relative cost, for the round's progress and time left.
    weight: float


STEP_TABLE = (
    Step("snapshot", "default", RoundState.QUEUED, 1),
    Step("pretrain", "train", RoundState.PRETRAINING, 40),
    Step("embed", "embed", RoundState.EMBEDDING, 25),
    Step("cluster", "embed", RoundState.CLUSTERING, 5),
    Step("train", "train", RoundState.TRAINING, 10),
    Step("propose", "train", RoundState.PROPOSING, 5),
    Step("rank", "default", RoundState.RANKING, 4),
    Step("evaluate", "default", RoundState.EVALUATING, 5),
    Step("publish", "default", RoundState.EVALUATING, 5),
)

STEPS = [step.name for step in STEP_TABLE]
STEP_QUEUES = {step.name: step.queue for step in STEP_TABLE}
STEP_STATES = {step.name: step.state for step in STEP_TABLE}
STEP_WEIGHTS = {step.name: step.weight for step in STEP_TABLE}

# The task that runs one step (`labelops.learning.tasks.run_round_step`), by
# name: the services send it without importing the task module.
RUN_STEP_TASK = "labelops.learning.tasks.run_round_step"
# The task an import sends as it finishes (`labelops.learning.tasks.start_cold_start_round`).
START_COLD_START_TASK = "labelops.learning.tasks.start_cold_start_round"


def next_step(step: str) -> str | None:
    position = STEPS.index(step)
    return STEPS[position + 1] if position + 1 < len(STEPS) else None
