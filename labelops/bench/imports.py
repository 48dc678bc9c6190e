"""Import benchmark: N generated text items through the real import service.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        python -m labelops.bench import --items 1000000 --repeat 3

What it does, each repeat:

1. streams a CSV of N support-ticket-like texts to a temporary file (varied
   templates and vocabulary; about 3% carry an e-mail address, 2% a phone
   number, 0.5% a card number, 1% are exact or whitespace-only duplicates of
   a recent row, 5% have a gold label, plus id/channel/lang columns);
2. creates a fresh project with a 10-label taxonomy;
3. times `run_import` on it (the same service a worker runs), and reads the
   process's peak RSS (`ru_maxrss`, which includes Django and the generator);
4. deletes the project's rows again, with plain SQL (unless --keep).

It runs `migrate` on the configured database first (DATABASE_URL; the
embedded SQLite file by default), so point DATABASE_URL at a scratch
database, never at production.
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

LABELS = ["billing", "refund", "login", "crash", "shipping", "account", "fraud", "feature", "praise", "other"]

_OPENINGS = ["Hi", "Hello", "Hey team", "Good morning", "Dear support", "Urgent", "Quick question", "Help",
             "Hi there", "To whom it may concern", ""]
_PRODUCTS = ["the mobile app", "my card", "the web dashboard", "the invoice", "my subscription", "the checkout",
             "the desktop client", "the API", "my account", "the export", "the payment page", "two-factor login"]
_PROBLEMS = ["keeps crashing when I open it", "charged me twice", "does not load at all", "shows the wrong amount",
             "logged me out again", "is really slow today", "says my password is wrong", "never arrived",
             "was declined for no reason", "lost all my settings", "shows an error {code}", "froze after the update",
             "will not let me change my address", "refunded only half", "sent me {n} notifications"]
_CONTEXT = ["since {day}", "after the last update", "on my {device}", "for the {nth} time this week",
            "right after I paid", "when I try to sign in", "while travelling", "every time I {verb}", ""]
_ASKS = ["Can you fix this?", "Please refund me.", "What should I do?", "Is this a known issue?",
         "I want to cancel.", "Thanks for the great service!", "Can someone call me back?", "Any update?",
         "This is the third ticket about it.", "Order #{order}.", ""]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "yesterday", "last week", "this morning"]
_DEVICES = ["iPhone", "Android phone", "laptop", "tablet", "work computer", "Chromebook"]
_VERBS = ["pay", "log in", "export", "upload a file", "open settings", "check out"]
_NAMES = ["ann", "bob", "chen", "dara", "emil", "fatima", "gus", "hana", "ivan", "jo"]
_DOMAINS = ["example.com", "mail.example.org", "corp.example.net"]
_PHONES = ["(201) 555-0123", "+44 20 7946 0958", "212-555-0187", "+1 415 555 0142"]
_CARDS = ["4111 1111 1111 1111", "5500-0055-5555-5559", "378282246310005"]
_CHANNELS = ["mail", "chat", "phone", "web"]
_LANGS = ["en", "en", "en", "de", "fr"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--items", type=int, default=100_000, help="rows to generate (default 100000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs; the median is reported (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated data")
    parser.add_argument("--keep", action="store_true", help="keep the imported projects")
    parser.add_argument("--csv", type=Path, help="write the generated CSV here and keep it")


def _ticket(rng: random.Random) -> str:
    parts = [rng.choice(_OPENINGS), f"{rng.choice(_PRODUCTS)} {rng.choice(_PROBLEMS)}",
             rng.choice(_CONTEXT), rng.choice(_ASKS)]
    if rng.random() < 0.5:  # a second sentence makes texts longer and more varied
        parts.append(f"Also {rng.choice(_PRODUCTS)} {rng.choice(_PROBLEMS)}.")
    text = " ".join(p for p in parts if p)
    text = text.format(code=rng.randint(100, 999), n=rng.randint(2, 60), day=rng.choice(_DAYS),
                       device=rng.choice(_DEVICES), nth=rng.choice(["second", "third", "fifth"]),
                       verb=rng.choice(_VERBS), order=rng.randint(10**6, 10**8))
    roll = rng.random()
    if roll < 0.03:
        text += f" Write to {rng.choice(_NAMES)}.{rng.randint(1, 999)}@{rng.choice(_DOMAINS)}."
    elif roll < 0.05:
        text += f" My number is {rng.choice(_PHONES)}."
    elif roll < 0.055:
        text += f" Card {rng.choice(_CARDS)}."
    return text


def generate_csv(path: Path, items: int, seed: int) -> None:
    """Stream `items` rows to `path`; memory holds only the last 1,000 texts
    (the pool that duplicates are drawn from)."""
    rng = random.Random(seed)
    recent: deque[str] = deque(maxlen=1000)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "label", "channel", "lang"])
        for number in range(items):
            if recent and rng.random() < 0.01:
                text = rng.choice(recent)
                if rng.random() < 0.5:
                    text = "  " + text.replace(" ", "   ", 1)  # same canonical text
            else:
                text = f"{_ticket(rng)} (ref {number})" if rng.random() < 0.9 else _ticket(rng)
                recent.append(text)
            label = rng.choice(LABELS) if rng.random() < 0.05 else ""
            writer.writerow([f"t{number}", text, label, rng.choice(_CHANNELS), rng.choice(_LANGS)])


def _peak_rss_mb() -> float:
    # Linux reports kilobytes, macOS bytes.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


def _delete_project_rows(project) -> None:
    """Remove what the import wrote with set-based SQL: the ORM's cascade
    would load every item into memory first. Audit events stay (append-only)."""
    from django.db import connection, transaction

    from labelops.annotation.models import Annotation, Consensus, FinalLabel
    from labelops.items.models import ImportJob, Item
    from labelops.learning.models import Proposal

    item_table = Item._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        for model in (FinalLabel, Consensus, Annotation, Proposal):
            cursor.execute(
                f"DELETE FROM {model._meta.db_table} WHERE item_id IN "  # noqa: S608 - table names from models
                f"(SELECT id FROM {item_table} WHERE project_id = %s)", [project.pk]
            )
        cursor.execute(f"DELETE FROM {item_table} WHERE project_id = %s", [project.pk])  # noqa: S608
        cursor.execute(f"DELETE FROM {ImportJob._meta.db_table} WHERE project_id = %s", [project.pk])  # noqa: S608
        project.delete()


def _baseline_seconds(path: Path) -> float:
    """The floor for this file on this database, measured in the same run:
    the raw rows copied into a scratch table with no parsing, cleaning,
    hashing, scrubbing or dedup (PostgreSQL COPY; batched executemany
    elsewhere). The import's time over this is the price of what it does."""
    import csv

    from django.db import connection, transaction

    columns = "external_id text, text text, label text, channel text, lang text"
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE bench_raw_rows ({columns})")
        if connection.vendor == "postgresql":
            with open(path, "rb") as source, cursor.copy(
                "COPY bench_raw_rows FROM STDIN WITH (FORMAT csv, HEADER true)"
            ) as copy:
                while chunk := source.read(1 << 20):
                    copy.write(chunk)
        else:
            with open(path, newline="", encoding="utf-8") as source:
                rows = csv.reader(source)
                next(rows)
                while batch := [row for _, row in zip(range(5000), rows)]:
                    cursor.executemany("INSERT INTO bench_raw_rows VALUES (%s, %s, %s, %s, %s)", batch)
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_raw_rows")
    return seconds


def _one_run(path: Path, run_number: int, keep: bool) -> dict:
    from django.contrib.auth import get_user_model

    from labelops.annotation.services.taxonomy_migration import create_taxonomy_version
    from labelops.items.importing.pipeline import run_import
    from labelops.items.models import ImportJob
    from labelops.projects import services as project_services

    user, _ = get_user_model().objects.get_or_create(username="bench-importer")
    project = project_services.create_project(actor=user, name=f"Import benchmark {time.strftime('%H:%M:%S')}")
    create_taxonomy_version(actor=user, project=project, labels=[{"key": k} for k in LABELS])
    job = ImportJob.objects.create(project=project, created_by=user, format="csv", source=str(path.resolve()),
                                   original_name=path.name, options={"labels_as": "gold"})
    started = time.perf_counter()
    report = run_import(job)
    seconds = time.perf_counter() - started
    result = {
        "run": run_number, "seconds": seconds, "items_per_s": report["read"] / seconds,
        "peak_rss_mb": _peak_rss_mb(), "report": report,
    }
    if not keep:
        _delete_project_rows(project)
    return result


def run(args: argparse.Namespace) -> int:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    print(f"database: {connection.vendor} {settings.DATABASES['default'].get('NAME')}; running migrate first",
          file=sys.stderr)
    call_command("migrate", interactive=False, verbosity=0)

    with tempfile.TemporaryDirectory(prefix="labelops-bench-") as scratch:
        path = args.csv or Path(scratch) / "items.csv"
        started = time.perf_counter()
        generate_csv(path, args.items, args.seed)
        print(f"generated {args.items} rows ({path.stat().st_size / 1024**2:.0f} MB) in "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
        results = []
        for number in range(1, args.repeat + 1):
            # Baseline and import alternate, so a busy spell on this shared
            # machine slows both and the ratio stays meaningful.
            baseline = _baseline_seconds(path)
            result = _one_run(path, number, args.keep)
            result["baseline_seconds"] = baseline
            result["ratio"] = result["seconds"] / baseline
            results.append(result)
            report = result["report"]
            print(f"run {number}: {result['seconds']:.1f} s ({result['ratio']:.1f}x the raw-copy baseline of "
                  f"{baseline:.2f} s), {result['items_per_s']:,.0f} items/s, peak RSS {result['peak_rss_mb']:.0f} MB; "
                  f"imported {report['imported']}, duplicates {report['duplicates']}, pii {report['pii']}, "
                  f"by split {report['by_split']}")
    median = statistics.median(r["seconds"] for r in results)
    print(f"\n{args.items} items, {len(results)} run(s) on {connection.vendor}: median {median:.1f} s, "
          f"{args.items / median:,.0f} items/s, median {statistics.median(r['ratio'] for r in results):.1f}x the "
          f"raw-copy baseline (median {statistics.median(r['baseline_seconds'] for r in results):.2f} s), "
          f"peak RSS {max(r['peak_rss_mb'] for r in results):.0f} MB")
    return 0
