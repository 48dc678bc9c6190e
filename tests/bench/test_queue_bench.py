"""The queue benchmark's pieces run end to end on a tiny project: data set-up,
a real gunicorn, simulated annotators, the SQL invariant checks, clean-up.

Needs PostgreSQL: the bench is meant for it, and its item writer and the
race-free claim it measures are PostgreSQL's."""

import argparse

import pytest
from django.db import connection

from labelops.bench import queue as bench
from labelops.items.models import Item
from labelops.projects.models import Project
from tests.conftest import _worker_database_url, require


@pytest.mark.postgres
def test_tiny_queue_bench_runs_and_keeps_the_invariants(transactional_db):
    require(connection.vendor == "postgresql", "DATABASE_URL is not PostgreSQL")
    setup = bench.create_project(items=200, annotators=4)
    assert Item.objects.filter(project_id=setup.project_id).count() == 200
    server, port = bench.start_server(workers=2, threads=2, database_url=_worker_database_url(connection))
    try:
        args = argparse.Namespace(baseline_seconds=1, seconds=3, max_per_annotator=1000, seed=0)
        result = bench._one_repeat(1, port, setup, args, submitted_before=0)
    finally:
        bench.stop_server(server)

    assert result["submitted"] > 0
    assert result["baseline"]["requests"] > 0
    assert result["errors"] == {"next": {}, "submit": {}, "baseline": {}}
    violations = {k: v for k, v in result["invariants"].items() if k not in ("live_annotations", "open_leases")}
    assert violations == dict.fromkeys(violations, 0)
    assert result["invariants"]["live_annotations"] == result["submitted"]

    bench.delete_project_rows(setup.project_id)
    assert not Project.objects.filter(pk=setup.project_id).exists()
    assert not Item.objects.filter(project_id=setup.project_id).exists()


@pytest.mark.postgres
def test_invariant_check_finds_a_broken_counter(transactional_db):
    require(connection.vendor == "postgresql", "DATABASE_URL is not PostgreSQL")
    setup = bench.create_project(items=10, annotators=1)
    Item.objects.filter(project_id=setup.project_id, external_id="t1").update(annotation_count=1)
    found = bench.check_invariants(setup.project_id, overlap=2, submitted=0)
    assert found["annotation_counter"] == 1
    assert found["lost_submissions"] == 0
