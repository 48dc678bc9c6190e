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
