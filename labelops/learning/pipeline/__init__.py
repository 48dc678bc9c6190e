"""The code of each step of a training round; their order, queues and
weights are the table in `labelops.learning.steps`.

Each step is a function of a `StepContext` that reads the artifacts of the
steps before it from the round's folder and writes its own; only `publish`
writes what annotators see. `labelops.learning.tasks.run_round_step` runs
one step in a worker, on the step's queue. The services in
`labelops.learning.services.rounds` hand the round from step to step.
"""

from __future__ import annotations

from labelops.learning.pipeline import encoder, evaluate, model, publish, snapshot
from labelops.learning.steps import STEPS

_RUN = {
    "snapshot": snapshot.run,
    "pretrain": encoder.pretrain,
    "embed": encoder.embed,
    "cluster": model.cluster,
    "train": model.train,
    "propose": model.propose,
    "rank": model.rank,
    "evaluate": evaluate.run,
    "publish": publish.run,
}
assert list(_RUN) == STEPS, "every step in the table has its function, in order"


def run_step(ctx) -> None:
    _RUN[ctx.step](ctx)
