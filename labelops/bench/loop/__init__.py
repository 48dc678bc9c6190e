"""Loop benchmark: a simulated team labels through the real platform, with and without the loop.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/loopbench CELERY_BROKER_URL=redis://127.0.0.1:6379/7 \\
        python -m labelops.bench loop --subset 30 --labels 400 --round-every 50 --seeds 1 --out var/bench/loop

Without DATABASE_URL / CELERY_BROKER_URL it runs on the embedded defaults
(SQLite under var/, the filesystem broker), like `make demo`. Point
DATABASE_URL at a scratch database: it runs `migrate` there.

What it does, per seed (`--seeds N`: seeds 0..N-1, or K..K+N-1 with `--first-seed K`):

1. reads `--data` (the benchmark CSV layout, see `loop.dataset`; BANKING77
   by default; `--subset K` pool items per class, `--classes C` the first C
   labels, `--gold G` pool items moved to gold) and writes pool, gold and
   holdout CSVs with the pool in a seeded random order;
2. starts gunicorn and one Celery worker (both once per run, real
   processes; `loop.session` and `bench.processes`), creates the bench's
   users and, per project, does over HTTP what a lead does: the project with
   its settings, the taxonomy (the data's labels), the quality rules
   (`--overlap`, `--gold-ratio`), the members, and three uploads through
   the import API, imported by the worker;
3. the main project (`auto_round_every = --round-every`; `cold_start_round`
   on where the server has it): `--annotators` threads loop `queue/next` +
   submit, answering from the data's labels with `--error-rate` wrong
   (a random other label), and submitting the shown proposal unchanged with
   probability `--accept-proposal`; a reviewer thread works the review
   queue (accepts a consensus equal to the truth, else fixes it to the
   truth; a failed gold check stands). The project's own overlap, gold and
   review triggers apply;
4. the baseline project, same team and data: cold start off, no rounds
   (so no proposals, and the queue serves the pool in file order);
5. each stops at `--labels` human labels (submits) or `--minutes`; the
   reviewer then drains the review queue, due rounds finish, and the lead
   starts one last round (API) if the serving model lacks approved labels:
   the baseline's only round, the main project's last.

Per round it reports human labels spent (submits before the round
started), the round's training labels, holdout accuracy and macro-F1 of
the model it made (the serving model once it is done) with the holdout
count, proposal acceptance (share of submits equal to the shown proposal)
and gold accuracy over the submits since the previous round, the round's
wall time (created to finished), its ranking strategy, and its proposer or
model when its metrics name one (`metrics["proposer"]`, else null).
`--out DIR` gets `loop.json` (config, machine, both projects' rows per
seed, the comparison and its medians and worst seed) and `loop.png`.

Design choices:

- **The holdout** is a fully labelled set outside the team's work. Its rows
  are uploaded through the import API with `labels_as=gold` and a holdout
  fraction just below 1 (`session.HOLDOUT_ALL`), the documented path by
  which labelled rows land in the holdout split with approved labels
  (method `gold`). So they are never served (approved items are not
  eligible), never counted as human labels, and never trained on (a round
  trains on pool and gold labels only; holdout labels only evaluate). The
  import report is checked: every row must be held out. The holdout is
  `test.csv` when the data has one, else `--holdout-fraction` of the pool.
  The pool is imported first, so a holdout row that repeats a pool text is
  dropped as a duplicate and the holdout never overlaps training data.
- **The accuracy** is the product's: the round's `evaluate` step scores
  the round's model on the holdout, and that model serves once the round
  is done. The baseline runs no round while labelling, so its curve is a
  replay (`report.replay`): its approved labels recorded every
  `--round-every` approved labels, each scored with the model its final
  round would serve on them (the same proposer selection), on that round's
  embeddings; `replay_check` in loop.json
  shows the replay reproduces the final round's own accuracy.
- **The rounds start themselves**: the main project has
  `auto_round_every`, and the bench plays celery beat, sending its
  `start_due_rounds` task to the worker every `--tick` seconds (beat sends
  it every minute) while the product's own rule says a round is due. The
  bench never calls `start_round`, except the lead's last round above.
- **Time is stopped during rounds**: while a round is due or running the
  team pauses (nobody mid-item), as if labelling were slow next to a round
  (a person at several seconds an item labels a few items while a round
  of this size runs). `--think-ms` adds a pause per item; labels per round
  then still follow `--round-every`.
- **The baseline's order**: BANKING77's train.csv is sorted by intent; file
  order on it would be a straw man, so the pool file is shuffled with the
  seed, and "file order" means random sampling.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import time
from pathlib import Path

# The shared data sets sit beside the checkout (../shared/data), as on the build machines.
DEFAULT_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "banking77"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"benchmark folder (default {DEFAULT_DATA})")
    data.add_argument("--subset", type=int, default=None, help="pool items per class (default: all)")
    data.add_argument("--classes", type=int, default=None, help="keep the first N labels only (default: all)")
    data.add_argument("--holdout-fraction", type=float, default=0.2,
                      help="share of train.csv held out when there is no test.csv (default 0.2)")
    data.add_argument("--holdout-per-class", type=int, default=None, help="cap on test.csv items per class")
    data.add_argument("--gold", type=int, default=20, help="pool items made gold (default 20)")
    team = parser.add_argument_group("team")
    team.add_argument("--annotators", type=int, default=3, help="annotator threads (default 3)")
    team.add_argument("--error-rate", type=float, default=0.05, help="share of wrong answers (default 0.05)")
    team.add_argument("--accept-proposal", type=float, default=0.1,
                      help="probability of submitting a shown proposal unchanged (default 0.1)")
    team.add_argument("--think-ms", type=float, default=0, help="mean pause per item (default 0)")
    project = parser.add_argument_group("project")
    project.add_argument("--overlap", type=int, default=1, help="annotations per item (default 1)")
    project.add_argument("--gold-ratio", type=float, default=0.05, help="share of served items that are gold")
    project.add_argument("--round-every", type=int, default=100,
                         help="auto_round_every: a round after this many new approved labels (default 100)")
    project.add_argument("--batch-size", type=int, default=None, help="active-learning batch (default: the project's)")
    run = parser.add_argument_group("run")
    run.add_argument("--labels", type=int, default=770, help="human labels per project at most (default 770)")
    run.add_argument("--minutes", type=float, default=None, help="labelling time per project at most")
    run.add_argument("--seeds", type=int, default=1, help="repeats, seeds 0..N-1 (default 1)")
    run.add_argument("--first-seed", type=int, default=0,
                     help="start the seeds here: K..K+N-1 (default 0; to add seeds to an earlier run)")
    run.add_argument("--tick", type=float, default=2.0, help="seconds between start_due_rounds sends (default 2)")
    run.add_argument("--round-timeout", type=float, default=1800, help="seconds a round may take (default 1800)")
    run.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    run.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (default 4)")
    run.add_argument("--out", type=Path, default=Path("var/bench/loop"), help="output folder (default var/bench/loop)")
    run.add_argument("--keep", action="store_true", help="keep the projects afterwards")


def run(args: argparse.Namespace) -> int:
    # SIGTERM unwinds like Ctrl-C, so gunicorn and the worker are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    report = execute(args)
    summary = report["summary"]
    median, worst = summary["median"], summary["worst_seed"]
    pct = lambda v: "n/a" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    print(f"\nmedians over {summary['seeds']} seed(s): main final accuracy {pct(median['main_final_accuracy'])}, "
          f"baseline {pct(median['baseline_final_accuracy'])}; labels to reach the baseline's final accuracy "
          f"{median['labels_to_reach_baseline']} (ratio {median['ratio']}); reached in {summary['reached_in']}; "
          f"worst seed {worst['seed']}: {worst['labels_to_reach_baseline']} of {worst['baseline_human_labels']} "
          f"(ratio {worst['ratio']})\n{args.out / 'loop.json'}, {args.out / 'loop.png'}")
    return 0


def execute(args: argparse.Namespace, child_env: dict[str, str] | None = None) -> dict:
    """The whole benchmark; returns the report (also written to `args.out`).
    `child_env` overrides gunicorn's and the worker's environment."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from labelops.bench.loop import dataset as datasets
    from labelops.bench.loop import report as reporting
    from labelops.bench.loop.client import Api
    from labelops.bench.loop.session import Plan, Session, create_project, import_files, make_team
    from labelops.bench.loop.team import Behaviour
    from labelops.bench.processes import start_server, start_worker, stop
    from labelops.learning.models import TrainingRound

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    print(f"database: {connection.vendor}; broker: {settings.CELERY_BROKER_URL.split('://')[0]}; "
          f"worker threads: {settings.WORKER_TORCH_THREADS}; cores: {os.cpu_count()}", file=sys.stderr)
    call_command("migrate", interactive=False, verbosity=0)
    team = make_team(args.annotators)
    connection.close()  # the server and the worker do the work
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "func"}
    config["data_name"] = args.data.name
    report: dict = {
        "config": config,
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cores": os.cpu_count(),
                    "database": connection.vendor, "broker": settings.CELERY_BROKER_URL.split("://")[0],
                    "worker_torch_threads": settings.WORKER_TORCH_THREADS},
        "seeds": [],
    }
    server, port = start_server(args.workers, args.threads, env=child_env)
    worker = None
    created: list[int] = []
    try:
        worker = start_worker(env=child_env, log=out / "worker.log")
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            data = datasets.load(args.data, subset=args.subset, classes=args.classes,
                                 holdout_fraction=args.holdout_fraction, holdout_per_class=args.holdout_per_class,
                                 gold=args.gold, seed=seed)
            paths = data.write(out / f"data-seed{seed}")
            result: dict = {"seed": seed, "data": {"classes": len(data.classes), "pool": len(data.pool),
                                                   "gold": len(data.gold), "holdout": len(data.holdout),
                                                   "holdout_source": data.holdout_source}}
            for kind in ("main", "baseline"):
                plan = Plan(kind=kind, labels=args.labels, minutes=args.minutes, round_every=args.round_every,
                            overlap=args.overlap, gold_ratio=args.gold_ratio, batch_size=args.batch_size,
                            behaviour=Behaviour(args.error_rate, args.accept_proposal, args.think_ms), seed=seed,
                            tick=args.tick, round_timeout=args.round_timeout)
                lead = Api(port, team.lead)
                try:
                    name = f"Loop benchmark {kind} seed {seed} {time.strftime('%Y-%m-%d %H:%M:%S')}"
                    project_id, cold_start = create_project(lead, plan, data, team, name)
                    created.append(project_id)
                    imports = import_files(lead, project_id, paths, seed)
                finally:
                    lead.close()
                print(f"seed {seed} {kind}: project {project_id}; imports {imports}", flush=True)
                outcome = Session(port=port, team=team, dataset=data, plan=plan, project_id=project_id,
                                  cold_start=cold_start).run()
                outcome.update(kind=kind, imports=imports)
                if kind == "baseline":
                    final_round = TrainingRound.objects.get(project_id=project_id, number=outcome["rows"][-1]["round"])
                    outcome["curve"], outcome["replay_check"] = reporting.replay(final_round, outcome["checkpoints"])
                    outcome["final"] = outcome["rows"][-1]
                else:
                    evaluated = [r for r in outcome["rows"] if r["holdout_accuracy"] is not None]
                    outcome["final"] = evaluated[-1] if evaluated else None
                for checkpoint in outcome.pop("checkpoints"):
                    checkpoint.pop("labels", None)
                result[kind] = outcome
            result["comparison"] = reporting.compare(result["main"], result["baseline"])
            print(f"seed {seed}: {result['comparison']}", flush=True)
            report["seeds"].append(result)
        report["summary"] = reporting.summarise(report["seeds"])
    finally:
        if worker is not None:
            stop(worker, grace=60)
        stop(server)
        if not args.keep:
            _delete(created)
    reporting.write(out, report)
    return report


def _delete(project_ids: list[int]) -> None:
    import shutil

    from labelops.bench.queue import delete_project_rows
    from labelops.learning.artifacts import project_dir

    for project_id in project_ids:
        delete_project_rows(project_id)
        # Its rounds' files and embedding cache too: a later project may get the same id.
        shutil.rmtree(project_dir(project_id), ignore_errors=True)
