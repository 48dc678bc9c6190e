"""Round benchmark: training rounds on the BANKING77 demo data in a real worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres CELERY_BROKER_URL=redis://127.0.0.1:6379/5 \\
        python -m labelops.bench round --repeat 3 --pretrain-minutes 10 --load-seconds 60

What it does (issue 5's targets):

1. runs `migrate` and loads the demo data into a fresh project of its own
   (77 intents; 154 gold items, 9,845 unlabelled, 10% of them held out)
   through the import service. To give rounds something to learn from and
   to evaluate on, it then approves the dataset's own labels for `--approved`
   random pool items and for every holdout item (a simulated labelling
   history, written directly as approved consensus);
2. starts one Celery worker (concurrency 1, `WORKER_TORCH_THREADS` threads,
   as `make demo` runs it) on the configured broker;
3. a warm-up round without pretraining (it embeds all 10k items once, into
   the embedding cache), then `--repeat` rounds without pretraining, timed
   from `start_round` (the click) to the round being `done` (the new queue
   order and model active; publishing is atomic, so that is the moment the
   queue switches): the "at most 60 s" target;
4. with `--pretrain-minutes M`: one round with self-supervised adaptation
   (SimCSE on the pool, budget M minutes), timed the same way: "at most 15
   minutes";
5. with `--load-seconds S`: gunicorn as in production and `--annotators`
   simulated annotators doing next + submit with think time, for S seconds
   while the worker is idle and S seconds while a pretraining round runs; the
   ratio of the two p95s is the "within 2x" target.

Prints one line per round and a summary with medians; deletes the project
(unless --keep). Point DATABASE_URL at a scratch database.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import sys
import threading
import time

from django.conf import settings

HOST = "127.0.0.1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds without pretraining (default 3)")
    parser.add_argument("--approved", type=int, default=770, help="pool items given approved labels (default 770)")
    parser.add_argument("--pretrain-minutes", type=float, default=0,
                        help="also time one round with this much self-supervised adaptation (default: skip)")
    parser.add_argument("--load-seconds", type=float, default=0,
                        help="measure API latency idle and during a round for this long each (default: skip)")
    parser.add_argument("--annotators", type=int, default=10, help="simulated annotators for --load-seconds")
    parser.add_argument("--think-ms", type=float, default=3000, help="annotators' mean think time (default 3000)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the project afterwards")


def create_project(approved: int, seed: int):
    """The demo data in a new project, with `approved` pool items and every
    holdout item labelled as the dataset says."""
    from django.contrib.auth import get_user_model

    from labelops.annotation.models import Consensus, ConsensusMethod, ConsensusStatus
    from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
    from labelops.demo.management.commands.load_demo import FIXTURE, Command, intent_name
    from labelops.items.models import Item, ItemState, Split
    from labelops.projects import services as project_services

    lead, _ = get_user_model().objects.get_or_create(username="bench-round-lead")
    intents = [row for row in csv.DictReader(open(FIXTURE / "train.csv", encoding="utf-8"))]
    keys = sorted({row["category"] for row in intents})
    project = project_services.create_project(actor=lead, name=f"Round benchmark {time.strftime('%H:%M:%S')}",
                                              settings={"pretraining": False})
    create_taxonomy_version(actor=lead, project=project,
                                             labels=[{"key": k, "name": intent_name(k)} for k in keys])
    loader = Command()
    gold_path, pool_path = loader.split_fixture()
    loader.import_csv(project, lead, gold_path, label_field="category", labels_as="gold", holdout_fraction=0.0)
    loader.import_csv(project, lead, pool_path, labels_as="ignore")

    truth = {}
    for row in intents:  # the importer normalises whitespace; so does this lookup
        truth.setdefault(" ".join(row["text"].split()), row["category"])
    version = project.active_taxonomy()
    items = list(Item.objects.filter(project=project, split__in=[Split.POOL, Split.HOLDOUT]).values_list(
        "id", "text", "split"))
    rng = random.Random(seed)
    pool = [i for i in items if i[2] == Split.POOL]
    chosen = {i[0] for i in rng.sample(pool, min(approved, len(pool)))}
    chosen |= {i[0] for i in items if i[2] == Split.HOLDOUT}
    consensus = []
    for item_id, text, _ in items:
        label = truth.get(" ".join(text.split()))
        if item_id in chosen and label is not None:
            consensus.append(Consensus(item_id=item_id, labels=[label], method=ConsensusMethod.MAJORITY,
                                       agreement=1.0, status=ConsensusStatus.APPROVED, taxonomy_version=version))
    Consensus.objects.put_new(consensus, batch_size=2000)
    Item.objects.filter(pk__in=[c.item_id for c in consensus]).update(state=ItemState.APPROVED)
    # The dataset's answer for every item whose text survived import unchanged
    # (PII scrubbing rewrites a few), for the simulated annotators.
    by_id = {}
    for item_id, text in Item.objects.filter(project=project).values_list("id", "text"):
        label = truth.get(" ".join(text.split()))
        if label is not None:
            by_id[item_id] = label
    return project, lead, keys, by_id


def timed_round(project, lead, worker, overrides: dict, timeout: float = 3600) -> dict:
    from labelops.learning.services.rounds import start_round

    # The previous round's suspects: by now its worker has finished sending
    # them to review (that happens just after the round is marked done).
    accept_suspects(project, lead)
    started = time.perf_counter()
    training_round = start_round(project=project, actor=lead, overrides=overrides)
    while True:
        training_round.refresh_from_db()
        if training_round.is_finished:
            break
        if worker.poll() is not None:
            raise RuntimeError(f"the worker died (exit {worker.returncode})")
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"round {training_round.number} still {training_round.state} after {timeout} s")
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    if training_round.state != "done":
        raise RuntimeError(f"round {training_round.number} {training_round.state}: {training_round.error}")
    m = training_round.metrics
    return {"round": training_round.number, "seconds": seconds, "overrides": overrides,
            "newly_embedded": m["embedding"]["newly_embedded"], "train_labels": m["train_labels"],
            "holdout_accuracy": m["holdout"].get("accuracy"), "macro_f1": m["holdout"].get("macro_f1"),
            "ece": m["holdout"].get("ece"), "pretraining": m.get("pretraining"),
            "strategy": m["ranking"]["used"]}


def accept_suspects(project, reviewer) -> int:
    """Play the reviewer for the suspected label errors a round sent to
    review: the dataset's labels are the truth here, so each is accepted and
    goes back into training (otherwise every round would train on fewer)."""
    from labelops.annotation.models import ReviewDecision, ReviewReason, ReviewTask
    from labelops.quality.services.review import decide

    accepted = 0
    for task in ReviewTask.objects.open().filter(item__project=project).select_related("item"):
        if ReviewReason.SUSPECTED_ERROR in task.reasons:
            decide(project=project, item=task.item, reviewer=reviewer, decision=ReviewDecision.ACCEPT)
            accepted += 1
    return accepted


def print_round(r: dict) -> None:
    acc = "n/a" if r["holdout_accuracy"] is None else f"{100 * r['holdout_accuracy']:.1f}%"
    print(f"round {r['round']} {r['overrides']}: {r['seconds']:.1f} s from start to new queue order; "
          f"{r['newly_embedded']} newly embedded; {r['train_labels']} training labels; holdout accuracy {acc}; "
          f"ranked by {r['strategy']}", flush=True)


def latency_phase(port: int, tokens: list[str], project_id: int, truth: dict[int, str], seconds: float,
                  think_ms: float, seed: int) -> dict:
    """Annotators who answer with the dataset's label (so the rounds that
    follow train on clean labels, like a real team's)."""
    from labelops.bench.queue import _annotate, percentiles, run_phase

    keys = sorted(set(truth.values()))

    def choose(item, rng):
        return truth.get(item["id"]) or rng.choice(keys)  # a scrubbed text: a guess, as a tired annotator would

    stop_at = time.perf_counter() + seconds
    tally, wall = run_phase(lambda n, t: _annotate(port, tokens[n], project_id, stop_at, 100_000, seed + n, t,
                                                   think_ms, choose=choose), len(tokens))
    everything = [v for name in ("next", "submit") for v in tally.latencies[name]]
    return {"requests": len(everything), "seconds": wall, **percentiles(everything),
            "errors": {name: {s: c for s, c in counts.items() if s not in (200, 201, 204)}
                       for name, counts in tally.statuses.items()}}


def annotator_tokens(project, count: int) -> list[str]:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from labelops.projects.models import Membership, Role

    tokens = []
    for n in range(count):
        user, _ = get_user_model().objects.get_or_create(username=f"bench-round-annotator-{n}")
        Membership.objects.get_or_create(project=project, user=user, defaults={"role": Role.ANNOTATOR})
        tokens.append(Token.objects.get_or_create(user=user)[0].key)
    return tokens


def run(args: argparse.Namespace) -> int:
    from django.core.management import call_command
    from django.db import connection

    from labelops.bench.processes import start_server, start_worker, stop, stop_server
    from labelops.bench.queue import delete_project_rows, warm_up

    print(f"database: {connection.vendor}; broker: {settings.CELERY_BROKER_URL.split('://')[0]}; "
          f"worker threads: {settings.WORKER_TORCH_THREADS}; cores: {os.cpu_count()}", file=sys.stderr)
    call_command("migrate", interactive=False, verbosity=0)
    started = time.perf_counter()
    project, lead, keys, truth = create_project(args.approved, args.seed)
    print(f"project {project.pk} loaded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    worker = start_worker()
    results: dict = {"rounds": []}
    try:
        warm = timed_round(project, lead, worker, {"pretraining": False})
        print_round(warm)
        results["warm_up"] = warm
        for _ in range(args.repeat):
            results["rounds"].append(timed_round(project, lead, worker, {"pretraining": False}))
            print_round(results["rounds"][-1])
        if args.load_seconds:
            tokens = annotator_tokens(project, args.annotators)
            connection.close()
            server, port = start_server(args.workers, args.threads)
            try:
                warm_up(port, tokens, project.pk)
                idle = latency_phase(port, tokens, project.pk, truth, args.load_seconds, args.think_ms, args.seed)
                busy_result: dict = {}
                minutes = args.pretrain_minutes or 2.0
                runner = threading.Thread(target=lambda: busy_result.update(timed_round(
                    project, lead, worker, {"pretraining": True, "pretraining_epochs": 100,
                                            "pretraining_minutes": minutes})))
                runner.start()
                time.sleep(15)  # let the round reach its pretraining step
                busy = latency_phase(port, tokens, project.pk, truth, args.load_seconds, args.think_ms,
                                     args.seed + 1000)
                runner.join()
            finally:
                stop_server(server)
            results["latency"] = {"idle": idle, "during_round": busy, "ratio_p95": busy["p95"] / idle["p95"]}
            print(f"API next+submit, {args.annotators} annotators, think {args.think_ms:.0f} ms: idle p50 "
                  f"{idle['p50']:.1f} p95 {idle['p95']:.1f} p99 {idle['p99']:.1f} ms ({idle['requests']} requests); "
                  f"during a pretraining round p50 {busy['p50']:.1f} p95 {busy['p95']:.1f} p99 {busy['p99']:.1f} ms "
                  f"({busy['requests']}); p95 ratio {results['latency']['ratio_p95']:.2f}x; errors "
                  f"{idle['errors']} / {busy['errors']}", flush=True)
            if busy_result:
                print_round(busy_result)
                results["pretraining_round"] = busy_result
        elif args.pretrain_minutes:
            results["pretraining_round"] = timed_round(
                project, lead, worker, {"pretraining": True, "pretraining_epochs": 100,
                                        "pretraining_minutes": args.pretrain_minutes})
            print_round(results["pretraining_round"])
    finally:
        stop(worker, grace=60)
        if not args.keep:
            import shutil

            from labelops.learning.artifacts import project_dir

            delete_project_rows(project.pk)
            # Its rounds' files and embedding cache too: a later project may get the same id.
            shutil.rmtree(project_dir(project.pk), ignore_errors=True)
    seconds = [r["seconds"] for r in results["rounds"]]
    if seconds:
        print(f"\nrounds without pretraining (embeddings cached): median {statistics.median(seconds):.1f} s over "
              f"{len(seconds)} (all: {', '.join(f'{s:.1f}' for s in seconds)}); warm-up round embedding all "
              f"items: {results['warm_up']['seconds']:.1f} s")
    if "pretraining_round" in results:
        print(f"round with self-supervised adaptation: {results['pretraining_round']['seconds']:.1f} s")
    return 0
