"""The loop benchmark end to end on a tiny slice of the BANKING77 fixture:
8 intents x 15 queries (32 held out, 4 gold), one annotator who never
errs nor leans on proposals, a round every 16 approved labels, 48 labels.

Real gunicorn and a real Celery worker, started by the benchmark itself, on
the test database; on the configured broker when it is Redis (CI), else
on a private embedded filesystem broker, as the round worker tests do."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from django.db import connection

from labelops.bench import loop
from tests.conftest import _worker_database_url, filesystem_broker_options

pytestmark = [pytest.mark.broker]

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "banking77"


@pytest.fixture
def child_env(transactional_db, settings, use_broker, tmp_path):
    """What gunicorn and the worker need to share this test's database, broker and files."""
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    env = {"DATABASE_URL": _worker_database_url(connection), "ARTIFACT_ROOT": str(settings.ARTIFACT_ROOT),
           "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        var_dir = tmp_path / "var"
        use_broker("filesystem://", filesystem_broker_options(var_dir))
        env.update(CELERY_BROKER_URL="filesystem://", LABELOPS_VAR_DIR=str(var_dir))
    return env


def test_a_tiny_loop_run_reports_both_projects_and_learns(child_env, tmp_path):
    parser = argparse.ArgumentParser()
    loop.add_arguments(parser)
    args = parser.parse_args([
        "--data", str(FIXTURE), "--classes", "8", "--subset", "15", "--holdout-fraction", "0.3", "--gold", "4",
        "--annotators", "1", "--error-rate", "0", "--accept-proposal", "0", "--labels", "48",
        "--round-every", "16", "--tick", "0.5", "--round-timeout", "120", "--workers", "1", "--threads", "4",
        "--out", str(tmp_path / "out"), "--keep",
    ])
    report = loop.execute(args, child_env=child_env)

    assert json.loads((tmp_path / "out" / "loop.json").read_text())["config"]["labels"] == 48
    assert (tmp_path / "out" / "loop.png").read_bytes()[:4] == b"\x89PNG"
    [seed] = report["seeds"]
    assert seed["data"] == {"classes": 8, "pool": 84, "gold": 4, "holdout": 32,
                            "holdout_source": "30% of train.csv per class"}

    main, baseline = seed["main"], seed["baseline"]
    assert main["submits"] == baseline["submits"] == 48
    assert main["imports"]["holdout"]["holdout"] == 32
    rounds = [row for row in main["rows"] if row["evaluated"]]
    assert len(rounds) >= 3
    # The first round starts by itself after the import, before any human
    # label (the 4 gold answers are its only labels), proposing with the
    # taxonomy's names as a prior; then auto_round_every.
    assert rounds[0]["trigger"] == "cold_start" and rounds[0]["human_labels"] == 0
    assert rounds[0]["proposer"]["labels"] == 4 and rounds[0]["proposer"]["zero_shot_prior"] is True
    assert rounds[0]["after_import_seconds"] > 0
    # (The lead's last round, if approved labels are left over, is "manual".)
    assert {row["trigger"] for row in rounds[1:-1]} == {"auto"} and rounds[-1]["trigger"] in ("auto", "manual")
    for row in rounds:
        assert row["holdout_items"] == 32
        assert 0 <= row["macro_f1"] <= 1 and row["seconds"] > 0
        assert "proposer" in row and "acceptance_rate" in row and "gold_accuracy" in row
    assert [row["human_labels"] for row in rounds] == sorted(row["human_labels"] for row in rounds)
    assert rounds[-1]["human_labels"] == 48
    assert rounds[-1]["holdout_accuracy"] > rounds[0]["holdout_accuracy"]
    assert rounds[-1]["proposal_shown"] > 0  # proposals reached the annotator

    # The baseline ran no round until the lead's last one, and its replayed
    # curve reproduces that round's own accuracy.
    assert [row["trigger"] for row in baseline["rows"]] == ["manual"]
    assert baseline["overall"]["proposal_shown"] == 0
    assert baseline["replay_check"]["replayed_accuracy"] == pytest.approx(baseline["replay_check"]["round_accuracy"])
    assert len(baseline["curve"]) >= 3

    comparison = seed["comparison"]
    assert comparison["baseline_human_labels"] == 48
    assert set(report["summary"]["median"]) == {"main_final_accuracy", "baseline_final_accuracy",
                                                "labels_to_reach_baseline", "ratio"}
