"""Queue load benchmark: simulated annotators doing next + submit over real HTTP.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        python -m labelops.bench queue --items 1000000 --annotators 50 --seconds 60 --repeat 2

What it does:

1. runs `migrate`, then creates a fresh project (10-label single-label
   taxonomy, overlap 2, no gold mixed in) with N pool items written by one
   set-based `INSERT ... SELECT generate_series` on PostgreSQL (a batched
   `bulk_create` elsewhere), and `--annotators` annotator users with tokens;
2. starts gunicorn on `labelops.wsgi:application` as in production (DEBUG
   off, a SECRET_KEY, gthread workers, no browsable API) on a free port of
   127.0.0.1 and waits until it answers;
3. each repeat: a baseline, then the queue. Baseline: every annotator loops a
   trivial authenticated `GET projects/<pk>/` for `--baseline-seconds`. Queue:
   every annotator loops `POST queue/next/` then `POST queue/leases/<id>/submit/`
   with a random valid label (after `--think-ms`, if given), until `--seconds` have passed (checked before
   each `next`, so no lease is left open) or `--max-per-annotator` items.
   Baseline and queue alternate, so a busy spell on this shared machine
   slows both and the ratio stays meaningful;
4. reports requests, throughput, p50/p95/p99 per endpoint, errors by status,
   the load average, and checks the invariants in SQL (`check_invariants`);
5. stops gunicorn and deletes the project's rows with set-based SQL (unless
   --keep). Audit events stay (append-only).

Only 127.0.0.1 is ever contacted. Point DATABASE_URL at a scratch database.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from labelops.bench.processes import HOST, start_server, stop_server

LABELS = ["billing", "refund", "login", "crash", "shipping", "account", "fraud", "feature", "praise", "other"]
OVERLAP = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--items", type=int, default=100_000, help="pool items (default 100000)")
    parser.add_argument("--annotators", type=int, default=50, help="concurrent annotators (default 50)")
    parser.add_argument("--seconds", type=float, default=60, help="queue phase per repeat (default 60)")
    parser.add_argument("--baseline-seconds", type=float, default=15, help="baseline phase per repeat (default 15)")
    parser.add_argument("--max-per-annotator", type=int, default=100_000,
                        help="items each annotator submits per repeat at most (default 100000)")
    parser.add_argument("--think-ms", type=float, default=0,
                        help="mean pause between receiving an item and submitting it, as a person labelling "
                             "(uniform in 0.5x..1.5x; default 0: back-to-back requests, the server's saturation)")
    parser.add_argument("--repeat", type=int, default=1, help="runs; medians are reported (default 1)")
    # 8 x 2 was the best of 4x4, 3x2, 2x8, 8x1, 12x1, 16x1 and 12x2 on this 2-core machine (see docker-compose.yml).
    parser.add_argument("--workers", type=int, default=8, help="gunicorn worker processes (default 8)")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark project")


# --- Data ------------------------------------------------------------------------


@dataclass
class Setup:
    project_id: int
    tokens: list[str]
    seconds: float


def create_project(items: int, annotators: int) -> Setup:
    """A fresh project with `items` pool items and `annotators` annotators
    (each with an API token). Returns their tokens."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
    from labelops.projects import services as project_services
    from labelops.projects.models import Membership, QualityRules, Role

    started = time.perf_counter()
    User = get_user_model()
    lead, _ = User.objects.get_or_create(username="bench-queue-lead")
    project = project_services.create_project(actor=lead, name=f"Queue benchmark {time.strftime('%H:%M:%S')}")
    create_taxonomy_version(actor=lead, project=project, labels=[{"key": k} for k in LABELS])
    project_services.update_rules(actor=lead, project=project, overlap=OVERLAP, gold_ratio=0.0)
    insert_items(project.pk, items)
    tokens = []
    for number in range(annotators):
        user, _ = User.objects.get_or_create(username=f"bench-queue-annotator-{number}")
        tokens.append(Token.objects.get_or_create(user=user)[0].key)
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
    assert QualityRules.objects.get(project=project).overlap == OVERLAP
    return Setup(project_id=project.pk, tokens=tokens, seconds=time.perf_counter() - started)


def insert_items(project_id: int, count: int) -> None:
    """`count` pool text items, set-based on PostgreSQL (the fastest path: no
    rows travel from Python), in `bulk_create` batches elsewhere."""
    from django.db import connection, transaction

    from labelops.items.models import Item

    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {Item._meta.db_table} (project_id, text, file, content_type, content_hash, "  # noqa: S608
                "external_id, metadata, split, state, annotation_count, active_lease_count, created_at) "
                "SELECT %s, 'Generated ticket number ' || n || ': the app keeps crashing when I pay.', '', "
                "'text/plain', md5(n::text), 't' || n, '{}'::jsonb, 'pool', 'unlabelled', 0, 0, now() "
                "FROM generate_series(1, %s) AS n",
                [project_id, count],
            )
            cursor.execute(f"ANALYZE {Item._meta.db_table}")
        return
    for start in range(0, count, 5000):
        Item.objects.bulk_create(
            Item(project_id=project_id, text=f"Generated ticket number {n}", content_type="text/plain",
                 content_hash=f"{n:064x}", external_id=f"t{n}")
            for n in range(start + 1, min(start + 5000, count) + 1)
        )


def delete_project_rows(project_id: int) -> None:
    """Remove the project with set-based SQL (the ORM's cascade would load
    every item first). Audit events stay (append-only)."""
    from django.db import connection, transaction

    from labelops.annotation.models import Annotation, BulkBatchItem, Consensus, FinalLabel, Lease, Review, ReviewTask
    from labelops.items.models import Item
    from labelops.learning.models import Proposal, TrainingRound
    from labelops.projects.models import Project

    item_table = Item._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        # Referencing rows before what they reference: tasks, consensus and
        # annotations point at reviews.
        for model in (ReviewTask, FinalLabel, Consensus, Annotation, Lease, Proposal, Review, BulkBatchItem):
            cursor.execute(
                f"DELETE FROM {model._meta.db_table} WHERE item_id IN "  # noqa: S608 - table names from models
                f"(SELECT id FROM {item_table} WHERE project_id = %s)", [project_id]
            )
        cursor.execute(f"DELETE FROM {item_table} WHERE project_id = %s", [project_id])  # noqa: S608
        # Rounds protect their taxonomy version; they go (with clusters and models) first.
        TrainingRound.objects.filter(project_id=project_id).delete()
        Project.objects.get(pk=project_id).delete()
    if connection.vendor == "postgresql":
        # A million dead rows per run: without this (and with autovacuum off,
        # as on the machine these figures come from) every later run reads a
        # bloated table and its indexes. After 20 runs the item table held 15
        # million dead rows (6.7 GB), and the trivial GET's median had crept
        # from 7.3 to 9.6 ms. VACUUM cannot run in a transaction; Django is in
        # autocommit here.
        with connection.cursor() as cursor:
            for model in (Item, Lease, Annotation, Consensus, FinalLabel, ReviewTask):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def check_invariants(project_id: int, overlap: int, submitted: int | None = None) -> dict[str, int]:
    """Violations of the queue's invariants in the project, counted in SQL
    (all zero when the queue is correct):

    - `over_overlap`: pool/holdout items whose live annotations plus open
      leases exceed the overlap target;
    - `twice_for_annotator`: (item, annotator) pairs with more than one live
      annotation, or more than one lease row;
    - `annotation_counter` / `lease_counter`: items whose denormalised
      counters differ from the real counts;
    - `lost_submissions`: |live annotations - `submitted`| (successful
      submits the client saw), when `submitted` is given.
    """
    from django.db import connection

    from labelops.annotation.models import Annotation, Lease
    from labelops.items.models import Item

    items, annotations, leases = Item._meta.db_table, Annotation._meta.db_table, Lease._meta.db_table
    # Per-item real counts, only for items the queue has touched.
    real = (
        f"SELECT i.id, i.split, i.annotation_count, i.active_lease_count, "  # noqa: S608
        f"(SELECT count(*) FROM {annotations} a WHERE a.item_id = i.id AND NOT a.discarded) AS annotated, "
        f"(SELECT count(*) FROM {leases} l WHERE l.item_id = i.id AND l.closed_at IS NULL) AS open_leases "
        f"FROM {items} i WHERE i.project_id = %(p)s AND (i.annotation_count > 0 OR i.active_lease_count > 0 "
        f"OR EXISTS (SELECT 1 FROM {leases} l WHERE l.item_id = i.id))"
    )
    queries = {
        "over_overlap": f"SELECT count(*) FROM ({real}) r WHERE r.split IN ('pool', 'holdout') "
                        f"AND r.annotated + r.open_leases > %(overlap)s",
        "twice_for_annotator": (
            f"SELECT (SELECT count(*) FROM (SELECT 1 FROM {annotations} a JOIN {items} i ON i.id = a.item_id "  # noqa: S608
            f"WHERE i.project_id = %(p)s AND NOT a.discarded GROUP BY a.item_id, a.annotator_id "
            f"HAVING count(*) > 1) d) + (SELECT count(*) FROM (SELECT 1 FROM {leases} l JOIN {items} i "
            f"ON i.id = l.item_id WHERE i.project_id = %(p)s GROUP BY l.item_id, l.annotator_id "
            f"HAVING count(*) > 1) e)"
        ),
        "annotation_counter": f"SELECT count(*) FROM ({real}) r WHERE r.annotation_count <> r.annotated",
        "lease_counter": f"SELECT count(*) FROM ({real}) r WHERE r.active_lease_count <> r.open_leases",
        "live_annotations": f"SELECT count(*) FROM {annotations} a JOIN {items} i ON i.id = a.item_id "  # noqa: S608
                            f"WHERE i.project_id = %(p)s AND NOT a.discarded",
        "open_leases": f"SELECT count(*) FROM {leases} l JOIN {items} i ON i.id = l.item_id "  # noqa: S608
                       f"WHERE i.project_id = %(p)s AND l.closed_at IS NULL",
    }
    result = {}
    with connection.cursor() as cursor:
        for name, sql in queries.items():
            cursor.execute(sql, {"p": project_id, "overlap": overlap})
            result[name] = cursor.fetchone()[0]
    if submitted is not None:
        result["lost_submissions"] = abs(result["live_annotations"] - submitted)
    return result


# --- The simulated annotators ------------------------------------------------------


@dataclass
class Tally:
    """What the annotators saw: latencies (seconds) and statuses by endpoint."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    submitted: int = 0
    exhausted: int = 0  # annotators who got a 204 (nothing left for them)

    def merge(self, other: Tally) -> None:
        for name, values in other.latencies.items():
            self.latencies[name].extend(values)
        for name, counts in other.statuses.items():
            self.statuses[name].update(counts)
        self.submitted += other.submitted
        self.exhausted += other.exhausted


class Client:
    """One keep-alive HTTP connection with an annotator's token."""

    def __init__(self, port: int, token: str):
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json",
                        "Accept": "application/json"}

    def call(self, tally: Tally, name: str, method: str, path: str, body: dict | None = None):
        payload = json.dumps(body) if body is not None else None
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=payload, headers=self.headers)
            response = self.conn.getresponse()
            data = response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            self.conn.close()  # reconnects on the next request
            data, status = b"", 0
        tally.latencies[name].append(time.perf_counter() - started)
        tally.statuses[name][status] += 1
        return status, data

    def close(self) -> None:
        self.conn.close()


def _annotate(port: int, token: str, project_id: int, stop_at: float, limit: int, seed: int, tally: Tally,
              think_ms: float = 0, labels: list[str] = LABELS, choose=None) -> None:
    """Loop next + submit until `stop_at`. The label is `choose(item, rng)`
    for the served item's JSON, or a random one of `labels`."""
    client, rng = Client(port, token), random.Random(seed)
    base = f"/api/v1/projects/{project_id}/queue"
    if think_ms:
        _arrive(rng, think_ms)
    try:
        for _ in range(limit):
            if time.perf_counter() >= stop_at:
                break
            status, data = client.call(tally, "next", "POST", f"{base}/next/")
            if status == 204:
                tally.exhausted += 1
                break
            if status != 200:
                continue
            served = json.loads(data)
            lease = served["lease"]
            if think_ms:
                time.sleep(think_ms * rng.uniform(0.5, 1.5) / 1000)
            status, _ = client.call(tally, "submit", "POST", f"{base}/leases/{lease}/submit/",
                                    {"labels": [choose(served["item"], rng) if choose else rng.choice(labels)],
                                     "time_spent_ms": rng.randint(500, 5000)})
            if status == 201:
                tally.submitted += 1
    finally:
        client.close()


def _browse(port: int, token: str, project_id: int, stop_at: float, tally: Tally, think_ms: float = 0,
            seed: int = 0) -> None:
    """GET the project until `stop_at`; with `think_ms`, pausing half of it
    between requests (the queue makes two requests per think)."""
    client, rng = Client(port, token), random.Random(seed)
    if think_ms:
        _arrive(rng, think_ms / 2)
    try:
        while time.perf_counter() < stop_at:
            client.call(tally, "baseline", "GET", f"/api/v1/projects/{project_id}/")
            if think_ms:
                time.sleep(think_ms / 2 * rng.uniform(0.5, 1.5) / 1000)
    finally:
        client.close()


def _arrive(rng: random.Random, think_ms: float) -> None:
    """Wait a random part of one think time before the first request. People
    paced by think time do not all press a key in the same millisecond: with
    every thread starting at once, the first request of all 50 lands as one
    burst, which then made up 5% of the samples and most of the tail (up to
    350 ms server-side, measured from gunicorn's access log), a start-up
    artefact rather than the steady state being measured. Without think time
    (the saturation run) there is no pacing to spread, and none is added."""
    time.sleep(rng.uniform(0, think_ms / 1000))


def warm_up(port: int, tokens: list[str], project_id: int) -> None:
    """A few unmeasured requests from every annotator, so each gunicorn
    worker has loaded the URL configuration and the views' imports (about
    1.6 s, once per worker) before anything is timed."""
    until = time.perf_counter() + 3
    run_phase(lambda n, tally: _browse(port, tokens[n], project_id, until, tally), len(tokens))


def run_phase(work, count: int) -> tuple[Tally, float]:
    """Run `work(n, tally)` for n in range(count), one thread each; returns
    the merged tally and the wall time."""
    tallies = [Tally() for _ in range(count)]
    threads = [threading.Thread(target=work, args=(n, tallies[n])) for n in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    total = Tally()
    for tally in tallies:
        total.merge(tally)
    return total, seconds


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds (nearest rank)."""
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan")}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99)}


def _one_repeat(number: int, port: int, setup: Setup, args: argparse.Namespace, submitted_before: int) -> dict:
    tokens, project_id = setup.tokens, setup.project_id
    browse_until = time.perf_counter() + args.baseline_seconds
    baseline, baseline_seconds = run_phase(
        lambda n, tally: _browse(port, tokens[n], project_id, browse_until, tally, getattr(args, "think_ms", 0), n),
        len(tokens))
    stop_at = time.perf_counter() + args.seconds
    queue, seconds = run_phase(
        lambda n, tally: _annotate(port, tokens[n], project_id, stop_at, args.max_per_annotator,
                                   args.seed * 100_000 + number * 1000 + n, tally, getattr(args, "think_ms", 0)),
        len(tokens))
    load = os.getloadavg()
    invariants = check_invariants(setup.project_id, OVERLAP, submitted_before + queue.submitted)
    everything = [v for name in ("next", "submit") for v in queue.latencies[name]]
    result = {
        "run": number, "seconds": seconds, "submitted": queue.submitted, "exhausted": queue.exhausted,
        "requests": len(everything), "throughput": len(everything) / seconds,
        "by_endpoint": {name: {"requests": len(queue.latencies[name]), **percentiles(queue.latencies[name])}
                        for name in ("next", "submit")},
        "overall": percentiles(everything),
        "baseline": {"requests": len(baseline.latencies["baseline"]),
                     "throughput": len(baseline.latencies["baseline"]) / baseline_seconds,
                     **percentiles(baseline.latencies["baseline"])},
        "errors": {name: {status: count for status, count in counts.items() if status not in (200, 201, 204)}
                   for name, counts in {**queue.statuses, **baseline.statuses}.items()},
        "load": load, "invariants": invariants,
    }
    result["ratio_p95"] = result["overall"]["p95"] / result["baseline"]["p95"]
    return result


def _print_repeat(r: dict) -> None:
    ends = "; ".join(f"{name} n={e['requests']} p50 {e['p50']:.1f} p95 {e['p95']:.1f} p99 {e['p99']:.1f} ms"
                     for name, e in r["by_endpoint"].items())
    b, o = r["baseline"], r["overall"]
    errors = {name: counts for name, counts in r["errors"].items() if counts}
    violations = {k: v for k, v in r["invariants"].items() if k not in ("live_annotations", "open_leases")}
    print(f"run {r['run']}: {r['requests']} requests in {r['seconds']:.1f} s = {r['throughput']:.0f} req/s, "
          f"{r['submitted']} submitted; {ends}; overall p50 {o['p50']:.1f} p95 {o['p95']:.1f} p99 {o['p99']:.1f} ms; "
          f"baseline GET n={b['requests']} ({b['throughput']:.0f} req/s) p50 {b['p50']:.1f} p95 {b['p95']:.1f} "
          f"p99 {b['p99']:.1f} ms, queue p95 = {r['ratio_p95']:.1f}x baseline; errors {errors or 'none'}; "
          f"invariant violations {violations}; open leases {r['invariants']['open_leases']}; "
          f"load average {r['load'][0]:.2f} {r['load'][1]:.2f} {r['load'][2]:.2f}")


def run(args: argparse.Namespace) -> int:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    print(f"database: {connection.vendor} {settings.DATABASES['default'].get('NAME')}; running migrate first",
          file=sys.stderr)
    call_command("migrate", interactive=False, verbosity=0)
    setup = create_project(args.items, args.annotators)
    print(f"project {setup.project_id}: {args.items} items and {args.annotators} annotators in "
          f"{setup.seconds:.1f} s", file=sys.stderr)
    connection.close()  # the server's workers do the work; keep no idle transaction open
    results: list[dict] = []
    try:
        server, port = start_server(args.workers, args.threads)
        try:
            print(f"gunicorn on {HOST}:{port}: {args.workers} workers x {args.threads} threads", file=sys.stderr)
            warm_up(port, setup.tokens, setup.project_id)
            for number in range(1, args.repeat + 1):
                submitted = sum(r["submitted"] for r in results)
                results.append(_one_repeat(number, port, setup, args, submitted))
                _print_repeat(results[-1])
        finally:
            stop_server(server)
    finally:
        if not args.keep:
            delete_project_rows(setup.project_id)
    med = lambda values: statistics.median(values)  # noqa: E731
    print(f"\n{args.items} items, {args.annotators} annotators, {len(results)} run(s) of {args.seconds:.0f} s on "
          f"{connection.vendor}, medians: {med(r['throughput'] for r in results):.0f} req/s; "
          + "; ".join(f"{name} p50 {med(r['by_endpoint'][name]['p50'] for r in results):.1f} "
                      f"p95 {med(r['by_endpoint'][name]['p95'] for r in results):.1f} "
                      f"p99 {med(r['by_endpoint'][name]['p99'] for r in results):.1f} ms" for name in ("next", "submit"))
          + f"; overall p95 {med(r['overall']['p95'] for r in results):.1f} "
            f"p99 {med(r['overall']['p99'] for r in results):.1f} ms; baseline GET p95 "
            f"{med(r['baseline']['p95'] for r in results):.1f} ms (queue p95 "
            f"{med(r['ratio_p95'] for r in results):.1f}x); invariant violations "
          + ("none" if all(v == 0 for r in results for k, v in r["invariants"].items()
                           if k not in ("live_annotations", "open_leases")) else "SEE ABOVE"))
    return 0
