"""Starting, advancing, cancelling and recovering training rounds.

A round is a chain of steps (`labelops.learning.steps`), each run by one Celery task
on its own queue. The database, not the broker, says which step is in
flight: `TrainingRound.step` and `.attempt`. Every hand-over is a
conditional update on those two columns, so:

- a duplicated or redelivered message whose (step, attempt) no longer
  matches the row does nothing (`claim_step`);
- the next step is enqueued by exactly one worker (`advance`);
- a worker that died mid-step (kill -9) stops heart-beating; after
  `ROUND_STALL_SECONDS` `recover_stalled_rounds` bumps the attempt and sends
  the same step again, which redoes or resumes it (steps write their files
  atomically and their rows in one transaction, so a redo leaves no
  duplicates); a worker presumed dead that was only slow finds its attempt
  superseded at its next heartbeat and stops;
- cancelling or failing is a conditional update to a finished state; the
  running step notices at its next heartbeat.

Only `publish`, the last step, touches what annotators see (proposals,
queue order, the active model), in one transaction; a round that fails or is
cancelled before it leaves the last good model serving.

One round per project at a time: `start_round` refuses a second with
`RoundConflict`, and a partial unique constraint backs that up in the
database.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from labelops.audit.services import record
from labelops.celery import app
from labelops.learning.errors import BrokerUnavailable, RoundConflict
from labelops.learning.models import FINISHED_STATES, RoundState, TrainingRound
from labelops.learning.steps import RUN_STEP_TASK, STEP_QUEUES, STEP_STATES, STEPS, next_step
from labelops.projects.models import Modality, Project
from labelops.projects.project_settings import ProjectSettings

logger = logging.getLogger(__name__)

# Project settings that configure a round; a round may override each of them.
ROUND_SETTINGS = (
    "strategy", "batch_size", "pretraining", "pretraining_epochs", "pretraining_minutes",
    "fine_tune", "n_clusters", "text_encoder",
)


def round_config(project: Project, overrides: dict | None) -> dict:
    """The frozen configuration of a new round: the project's settings with
    `overrides` applied, validated as a whole."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(ROUND_SETTINGS))
    if unknown:
        raise ValidationError(
            {"config": f"unknown round setting(s): {', '.join(unknown)}; "
                       f"a round may set {', '.join(ROUND_SETTINGS)}"}
        )
    merged = ProjectSettings.from_dict({**(project.settings or {}), **overrides})
    check_text_encoder(merged.text_encoder)
    config = {name: getattr(merged, name) for name in ROUND_SETTINGS}
    if config["pretraining"] is None:  # the setting's default: see ProjectSettings.pretraining
        config["pretraining"] = project.modality == Modality.IMAGE
    config.update(modality=project.modality, task=project.task, seed=0)
    return config


def check_text_encoder(name: str) -> None:
    """A round loads its text encoder in a worker: a model name (the packaged
    one, or one in the local model cache), or a folder under one of
    `TEXT_ENCODER_DIRS`. Any other path on the server is refused, so a
    project setting cannot make a worker read arbitrary folders."""
    if not name.startswith(("/", ".", "~")):
        if ".." in name.split("/"):
            raise ValidationError({"text_encoder": f"{name!r} is not a model name"})
        return
    path = Path(name).expanduser().resolve()
    allowed = [Path(d).resolve() for d in settings.TEXT_ENCODER_DIRS]
    if not any(path == root or root in path.parents for root in allowed):
        raise ValidationError({"text_encoder": f"{name!r} is not under an allowed encoder folder "
                                               f"(TEXT_ENCODER_DIRS: {', '.join(map(str, allowed)) or 'none'})"})


def start_round(*, project: Project, actor, overrides: dict | None = None, trigger: str = "manual") -> TrainingRound:
    """Create round N+1 of `project` in state `queued` and send its first step.

    Locks the project row so two concurrent starts serialise; the second gets
    `RoundConflict` naming the round in flight. The first task is sent after
    the transaction commits, so the worker always finds the row.
    """
    config = round_config(project, overrides)
    version = project.active_taxonomy()
    if version is None:
        raise ValidationError({"taxonomy": "the project has no active taxonomy version; create one first"})
    with transaction.atomic():
        Project.objects.select_for_update().get(pk=project.pk)
        running = TrainingRound.objects.for_project(project).running().first()
        if running is not None:
            raise RoundConflict(
                f"round {running.number} of this project is still {running.state}; "
                "wait for it to finish or cancel it before starting another"
            )
        number = (TrainingRound.objects.for_project(project).aggregate(n=Max("number"))["n"] or 0) + 1
        try:
            with transaction.atomic():
                training_round = TrainingRound.objects.create(
                    project=project, number=number, config=config, taxonomy_version=version,
                    created_by=actor if actor is not None and actor.is_authenticated else None,
                    step=STEPS[0], attempt=1, progress=initial_progress(), step_sent_at=timezone.now(),
                )
        except IntegrityError as error:  # the constraint caught a race the lock did not
            raise RoundConflict("another round of this project started at the same moment") from error
        record(actor=actor, verb="round.start", obj=training_round, project=project,
               after={**training_round.to_dict(), "trigger": trigger})
        transaction.on_commit(lambda: _send_first_step(training_round))
    return training_round


def _send_first_step(training_round: TrainingRound) -> None:
    try:
        send_step(training_round.pk, STEPS[0], 1)
    except Exception as error:  # the broker is down or misconfigured: say so, leave nothing stuck
        message = f"could not hand the round to a worker: the task broker is unavailable ({error})"
        fail_round(training_round, message)
        raise BrokerUnavailable(message) from error


def initial_progress() -> dict:
    return {"step": "queued", "percent": 0.0, "eta_seconds": None, "message": "waiting for a worker"}


def send_step(round_id: int, step: str, attempt: int) -> None:
    """Publish the task that runs `step` of a round, on the step's queue."""
    # Sent by name through the project's app, so it never depends on which
    # Celery apps a web process happens to have registered the task with.
    app.send_task(RUN_STEP_TASK, args=[round_id, step, attempt], queue=STEP_QUEUES[step])


def claim_step(round_id: int, step: str, attempt: int) -> TrainingRound | None:
    """The round, if (step, attempt) is still the one in flight and no live
    worker holds it; else None (a stale or duplicate message)."""
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.ROUND_STALL_SECONDS)
    claimed = (
        TrainingRound.objects.filter(pk=round_id, step=step, attempt=attempt)
        .exclude(state__in=FINISHED_STATES)
        # A message redelivered while the first worker still beats is left alone.
        .filter(_heartbeat_free(stale_before))
        .update(state=STEP_STATES[step], heartbeat_at=now)
    )
    if not claimed:
        return None
    TrainingRound.objects.filter(pk=round_id, started_at__isnull=True).update(started_at=now)
    return TrainingRound.objects.select_related("project").get(pk=round_id)


def _heartbeat_free(stale_before):
    return Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale_before)


def release_step(training_round: TrainingRound) -> None:
    """Mark the step as not held (heartbeat cleared), e.g. before the next is sent."""
    TrainingRound.objects.filter(pk=training_round.pk, attempt=training_round.attempt).update(heartbeat_at=None)


def advance(training_round: TrainingRound, finished_step: str) -> str | None:
    """Hand the round from `finished_step` to the next step; returns it, or
    None when another worker already advanced it or the round stopped."""
    nxt = next_step(finished_step)
    if nxt is None:
        return None
    moved = (
        TrainingRound.objects.filter(pk=training_round.pk, step=finished_step, attempt=training_round.attempt)
        .exclude(state__in=FINISHED_STATES)
        .update(step=nxt, attempt=F("attempt") + 1, heartbeat_at=None, step_sent_at=timezone.now())
    )
    if not moved:
        return None
    attempt = TrainingRound.objects.values_list("attempt", flat=True).get(pk=training_round.pk)
    send_step(training_round.pk, nxt, attempt)
    return nxt


def fail_round(training_round: TrainingRound, error: str) -> bool:
    """Record a step's error and finish the round as failed (if this attempt
    still holds it). The active model and queue order are untouched."""
    failed = (
        TrainingRound.objects.filter(pk=training_round.pk, attempt=training_round.attempt)
        .exclude(state__in=FINISHED_STATES)
        .update(state=RoundState.FAILED, error=error[:10_000], finished_at=timezone.now(), heartbeat_at=None)
    )
    if failed:
        training_round.refresh_from_db()
        record(actor=None, verb="round.fail", obj=training_round, project=training_round.project,
               after=training_round.to_dict())
    return bool(failed)


def cancel_round(*, training_round: TrainingRound, actor) -> TrainingRound:
    """Cancel a round in flight. The running step stops at its next heartbeat;
    what it wrote stays in the round's artifact folder until retention removes
    it, and nothing reaches the queue."""
    with transaction.atomic():
        cancelled = (
            TrainingRound.objects.filter(pk=training_round.pk).exclude(state__in=FINISHED_STATES)
            .update(state=RoundState.CANCELLED, finished_at=timezone.now(), heartbeat_at=None)
        )
        training_round.refresh_from_db()
        if not cancelled:
            raise RoundConflict(f"round {training_round.number} is already {training_round.state}",
                                code="round_finished")
        record(actor=actor, verb="round.cancel", obj=training_round, project=training_round.project,
               after=training_round.to_dict())
    return training_round


def recover_stalled_rounds() -> list[int]:
    """Re-send the step of every round whose worker stopped heart-beating
    (killed, machine lost) more than `ROUND_STALL_SECONDS` ago, and of rounds
    whose step was handed over that long ago and never picked up (a message
    lost, or never sent because the broker was down when a worker finished
    the step before). A busy worker's backlog can look the same; re-sending
    then only adds a message that finds its attempt stale and does nothing.
    Safe to run twice and concurrently: each re-send is a conditional update
    of the attempt."""
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.ROUND_STALL_SECONDS)
    stalled = Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True, step_sent_at__lt=stale_before)
    resent = []
    for training_round in TrainingRound.objects.running().filter(stalled):
        moved = (
            TrainingRound.objects.filter(pk=training_round.pk, step=training_round.step,
                                         attempt=training_round.attempt).filter(stalled)
            .exclude(state__in=FINISHED_STATES)
            .update(attempt=F("attempt") + 1, heartbeat_at=None, step_sent_at=now)
        )
        if moved:
            logger.warning("round %s: step %s stalled (worker lost); sending it again", training_round.pk,
                           training_round.step)
            send_step(training_round.pk, training_round.step, training_round.attempt + 1)
            resent.append(training_round.pk)
    return resent


def labels_digest(labels: dict[int, list[str]], taxonomy_version_id: int) -> str:
    """SHA-256 of the frozen labels and taxonomy version: equal digests mean
    the rounds trained on the same approved labels."""
    canonical = json.dumps(
        {"taxonomy_version": taxonomy_version_id, "labels": sorted((int(k), sorted(v)) for k, v in labels.items())},
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
