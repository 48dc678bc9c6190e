"""What a running step has at hand: its round, its folder, and a heartbeat.

`StepContext` is entered by the task that runs a step. While it is open a
background thread writes the round's `heartbeat_at` and `progress` every
`ROUND_HEARTBEAT_SECONDS`; the step itself only calls `report(fraction)`,
which is cheap (no database write) and raises `RoundStopped` once the
heartbeat has found the round cancelled, failed or handed to another attempt.
So a step that computes for minutes without reporting is still known to be
alive, and a worker that dies stops beating, which is how
`recover_stalled_rounds` tells the two apart.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from labelops.learning import artifacts
from labelops.learning.errors import RoundStopped
from labelops.learning.models import FINISHED_STATES, TrainingRound

logger = logging.getLogger(__name__)


class StepContext:
    def __init__(self, training_round: TrainingRound, step: str, *, steps: list[str], weights: dict[str, float]):
        self.round = training_round
        self.project = training_round.project
        self.config = training_round.config
        self.step = step
        self.dir: Path = artifacts.round_dir(training_round)
        self._steps = steps
        self._weights = weights
        self._fraction = 0.0
        self._message = ""
        self._stopped = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._step_started = time.monotonic()

    # -- used by steps --------------------------------------------------------
    def report(self, fraction: float, message: str = "") -> None:
        """Progress within this step (0..1); raises RoundStopped if the round stopped."""
        self._fraction = min(max(float(fraction), 0.0), 1.0)
        if message:
            self._message = message
        self.check()

    def check(self) -> None:
        if self._stopped.is_set():
            raise RoundStopped(f"round {self.round.pk} stopped during {self.step}")

    def path(self, name: str) -> Path:
        return self.dir / name

    def add_artifact(self, name: str, path: Path) -> None:
        """Reference an artifact from the round row (merged, so re-runs overwrite their own key)."""
        self.round.refresh_from_db(fields=["artifacts"])
        stored = dict(self.round.artifacts)
        stored[name] = artifacts.relative(path)
        self.update_round(artifacts=stored)
        self.round.artifacts = stored

    def add_metrics(self, **values) -> None:
        self.round.refresh_from_db(fields=["metrics"])
        merged = {**self.round.metrics, **values}
        self.update_round(metrics=merged)
        self.round.metrics = merged

    def update_round(self, **fields) -> None:
        updated = (
            TrainingRound.objects.filter(pk=self.round.pk, attempt=self.round.attempt)
            .exclude(state__in=FINISHED_STATES).update(**fields)
        )
        if not updated:
            self._stopped.set()
            self.check()

    # -- progress -------------------------------------------------------------
    def progress(self) -> dict:
        """Overall progress of the round: the steps before this one are done,
        this one is `fraction` done; the time left extrapolates the round's
        elapsed time over the share of work done (steps weighted by cost)."""
        total = sum(self._weights[s] for s in self._steps) or 1.0
        before = sum(self._weights[s] for s in self._steps[: self._steps.index(self.step)])
        done = (before + self._weights[self.step] * self._fraction) / total
        started = self.round.started_at or timezone.now()
        elapsed = (timezone.now() - started).total_seconds()
        eta = elapsed * (1 - done) / done if done > 0.02 else None
        return {
            "step": self.step, "step_percent": round(100 * self._fraction, 1),
            "percent": round(100 * done, 1), "eta_seconds": None if eta is None else round(eta),
            "message": self._message,
        }

    # -- the heartbeat --------------------------------------------------------
    def __enter__(self) -> StepContext:
        self._thread = threading.Thread(target=self._beat, name=f"round-{self.round.pk}-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self) -> None:
        interval = settings.ROUND_HEARTBEAT_SECONDS
        try:
            while not self._done.wait(interval):
                self.beat()
                if self._stopped.is_set():
                    return
        finally:
            connection.close()  # this thread's own connection

    def beat(self) -> None:
        """Write heartbeat and progress now; mark the step stopped if the row
        is no longer ours."""
        try:
            close_old_connections()
            alive = (
                TrainingRound.objects.filter(pk=self.round.pk, attempt=self.round.attempt)
                .exclude(state__in=FINISHED_STATES)
                .update(heartbeat_at=timezone.now(), progress=self.progress())
            )
        except Exception:  # a missed beat is survivable; the next one retries
            logger.exception("round %s: heartbeat failed", self.round.pk)
            return
        if not alive:
            self._stopped.set()
