"""The steps of a training round (DESIGN.md, "The round"), in order.

Each step is a function of a `StepContext` that reads the artifacts of the
steps before it from the round's folder and writes its own; only `publish`
writes what annotators see. `labelops.learning.tasks.run_round_step` runs
one step in a worker, on the step's queue: `train` for the heavy learning,
`embed` for encoding and indexing, `default` for database work. The
services in `labelops.learning.services.rounds` hand the round from step
to step.
"""

from __future__ import annotations

from labelops.learning.models import RoundState
from labelops.learning.pipeline import encoder, evaluate, model, publish, snapshot

# name: (function, queue, state shown while it runs, relative cost for progress)
_STEPS = {
    "snapshot": (snapshot.run, "default", RoundState.QUEUED, 1),
    "pretrain": (encoder.pretrain, "train", RoundState.PRETRAINING, 40),
    "embed": (encoder.embed, "embed", RoundState.EMBEDDING, 25),
    "cluster": (model.cluster, "embed", RoundState.CLUSTERING, 5),
    "train": (model.train, "train", RoundState.TRAINING, 10),
    "propose": (model.propose, "train", RoundState.PROPOSING, 5),
    "rank": (model.rank, "default", RoundState.RANKING, 4),
    "evaluate": (evaluate.run, "default", RoundState.EVALUATING, 5),
    "publish": (publish.run, "default", RoundState.EVALUATING, 5),
}

STEPS = list(_STEPS)
STEP_QUEUES = {name: spec[1] for name, spec in _STEPS.items()}
STEP_STATES = {name: spec[2] for name, spec in _STEPS.items()}
STEP_WEIGHTS = {name: spec[3] for name, spec in _STEPS.items()}


def next_step(step: str) -> str | None:
    position = STEPS.index(step)
    return STEPS[position + 1] if position + 1 < len(STEPS) else None


def run_step(ctx) -> None:
    _STEPS[ctx.step][0](ctx)
