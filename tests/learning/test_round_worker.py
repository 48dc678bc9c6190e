"""Training rounds in a real Celery worker process (no eager mode).

On the configured broker when it is Redis (CI), else on a private embedded
filesystem broker, so other test runs on this machine cannot take our
messages. The worker beats every second and a step is presumed dead after
3 s without a beat, so recovery is quick enough to test.
"""

from __future__ import annotations

import signal
import time

import pytest

from labelops.annotation.services import next_item
from labelops.learning.models import Cluster, ModelVersion, Proposal, RoundState, TrainingRound
from labelops.learning.services import rounds
from tests.conftest import filesystem_broker_options

pytestmark = [pytest.mark.broker, pytest.mark.usefixtures("artifact_root")]

TIMINGS = {"ROUND_HEARTBEAT_SECONDS": "1", "ROUND_STALL_SECONDS": "3"}


@pytest.fixture
def round_worker(start_worker, use_broker, settings, tmp_path):
    """`round_worker()` starts a worker for rounds; call it again for a second one."""
    settings.ROUND_HEARTBEAT_SECONDS, settings.ROUND_STALL_SECONDS = 1, 3
    overrides = dict(TIMINGS)
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        var_dir = tmp_path / "var"
        use_broker("filesystem://", filesystem_broker_options(var_dir))
        overrides.update(CELERY_BROKER_URL="filesystem://", LABELOPS_VAR_DIR=str(var_dir))
    return lambda: start_worker(**overrides)


def wait_for(training_round, worker, until, seconds: float = 120, what: str = "") -> TrainingRound:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        training_round.refresh_from_db()
        if until(training_round):
            return training_round
        if worker.poll() is not None:
            pytest.fail("the worker died:\n" + "".join(worker.output[-40:]), pytrace=False)
        time.sleep(0.2)
    pytest.fail(f"round {training_round.number} still {training_round.state}/{training_round.step} after "
                f"{seconds} s waiting for {what}; worker log:\n" + "".join(worker.output[-40:]), pytrace=False)


def finished(r):
    return r.is_finished


def test_a_round_runs_in_the_worker_and_switches_the_queue(round_worker, round_project, lead, annotator):
    worker = round_worker()
    before = next_item(project=round_project, annotator=annotator).item  # pool order: the lowest id
    from labelops.annotation.services import release

    release(lease_id=before.leases.get(annotator=annotator).pk, annotator=annotator)

    done = wait_for(rounds.start_round(project=round_project, actor=lead), worker, finished, what="done")
    assert done.state == RoundState.DONE, done.error
    assert any("run_round_step[" in line for line in worker.output), "the round did not run in the worker"
    assert Proposal.objects.filter(round=done).count() == 72
    first_ranked = Proposal.objects.get(round=done, rank=0)
    assert next_item(project=round_project, annotator=annotator).item.pk == first_ranked.item_id
    assert done.metrics["holdout"]["evaluated"] is True


def test_a_worker_killed_mid_step_is_recovered_without_duplicates(round_worker, round_project, lead):
    first = round_worker()
    training_round = rounds.start_round(project=round_project, actor=lead, overrides={
        "pretraining": True, "pretraining_epochs": 1000, "pretraining_minutes": 0.15})
    wait_for(training_round, first, lambda r: r.step == "pretrain" and r.heartbeat_at is not None,
             what="pretraining to start")
    time.sleep(2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    attempt = TrainingRound.objects.get(pk=training_round.pk).attempt

    second = round_worker()
    time.sleep(4)  # > ROUND_STALL_SECONDS without a heartbeat
    assert rounds.recover_stalled_rounds() == [training_round.pk]
    assert rounds.recover_stalled_rounds() == []  # a second sweep finds nothing more to do
    done = wait_for(training_round, second, finished, what="done after recovery")
    assert done.state == RoundState.DONE, done.error
    assert done.attempt > attempt
    assert done.metrics["pretraining"]["ran"] is True
    assert Proposal.objects.filter(round=done).count() == 72
    assert Cluster.objects.filter(round=done).count() == 6
    assert ModelVersion.objects.filter(project=round_project).count() == 1


def test_a_cancelled_round_stops_in_the_worker(round_worker, round_project, lead):
    worker = round_worker()
    training_round = rounds.start_round(project=round_project, actor=lead, overrides={
        "pretraining": True, "pretraining_epochs": 1000, "pretraining_minutes": 5})
    wait_for(training_round, worker, lambda r: r.step == "pretrain" and r.heartbeat_at is not None,
             what="pretraining to start")
    rounds.cancel_round(training_round=training_round, actor=lead)
    deadline = time.monotonic() + 30
    while not any("stopped during pretrain" in line for line in worker.output):
        assert time.monotonic() < deadline, "the worker never noticed:\n" + "".join(worker.output[-30:])
        time.sleep(0.2)
    training_round.refresh_from_db()
    assert training_round.state == RoundState.CANCELLED
    assert not ModelVersion.objects.filter(project=round_project).exists()
    assert not Proposal.objects.filter(round=training_round).exists()


def test_a_failing_step_leaves_the_last_good_model_serving(round_worker, round_project, lead):
    worker = round_worker()
    good = wait_for(rounds.start_round(project=round_project, actor=lead), worker, finished, what="round 1")
    assert good.state == RoundState.DONE, good.error
    bad = rounds.start_round(project=round_project, actor=lead, overrides={"text_encoder": "no-such-org/no-such-encoder"})
    failed = wait_for(bad, worker, finished, what="round 2 to fail")
    assert failed.state == RoundState.FAILED and "no-such-org/no-such-encoder" in failed.error
    assert ModelVersion.objects.get(project=round_project, is_active=True).round_id == good.pk


def test_an_import_brings_a_cold_start_round_whose_first_item_has_a_zero_shot_proposal(
        round_worker, project, lead, annotator):
    """The whole cold start in the worker: the import job, the round it asks
    for as it finishes, and the queue that round publishes, before any label."""
    from labelops.celery import app
    from labelops.items.importing.jobs import RUN_IMPORT_TASK
    from tests.items.import_helpers import csv_bytes, make_job
    from tests.learning.conftest import TEMPLATES, WORDS

    worker = round_worker()
    texts = [t.format(w) for templates in TEMPLATES.values() for t in templates for w in WORDS]
    job = make_job(project, lead, csv_bytes("text", *texts), "csv")
    app.send_task(RUN_IMPORT_TASK, args=(job.pk,))
    deadline = time.monotonic() + 120
    while not TrainingRound.objects.filter(project=project).exists():
        assert time.monotonic() < deadline, "no cold-start round after the import:\n" + "".join(worker.output[-40:])
        assert worker.poll() is None, "the worker died:\n" + "".join(worker.output[-40:])
        time.sleep(0.2)
    done = wait_for(TrainingRound.objects.get(project=project), worker, finished, what="the cold-start round")
    assert done.state == RoundState.DONE, done.error
    assert done.labels_count == 0 and done.metrics["model"]["trained"] is True
    assert done.metrics["proposer"]["rule"] == "no labels: zero-shot"
    assert done.metrics["ranking"]["used"] == "auto (typiclust)"

    first = next_item(project=project, annotator=annotator)
    proposal = Proposal.objects.get(round=done, item=first.item)
    assert proposal.rank == 0 and proposal.labels and proposal.labels[0] in {"billing", "bug", "other"}
    # The wording is distinctive: the taxonomy's names alone get most items right.
    right = sum(p.labels == [label] for label, templates in TEMPLATES.items()
                for p in Proposal.objects.filter(round=done, item__text__in=[t.format(w) for t in templates
                                                                             for w in WORDS]))
    assert right / Proposal.objects.filter(round=done).exclude(labels=[]).count() >= 0.6
