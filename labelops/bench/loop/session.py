"""One project's run: set it up through the API, let the team label, follow
its rounds, and return its rows.

The set-up is what a lead does over HTTP: create the project with its
settings, its taxonomy (the dataset's labels), its quality rules (overlap,
gold ratio), add the team as members, and upload three CSV files through
the import API, each imported by the worker: the holdout (`labels_as=gold`
with a holdout fraction just below 1, so every row stays in the holdout
split with its label approved; the import report is checked for exactly
that), the gold items (`labels_as=gold`, split gold) and, last, the pool
(labels withheld).

Then the coordinator (this thread) watches the database every `POLL` seconds. Main project: when `auto_rounds.new_labels_since_last_round` (the
product's own rule) says a round is due, or one is running, it pauses the
team (`Gate.pause`: nobody mid-item) and sends celery beat's
`start_due_rounds` task every `tick` seconds until the worker has started
the round; once the round is done it records a row and lets the team go
on. Baseline project: no rounds; at every `round_every` approved labels it
pauses the team just long enough to record the approved training labels (a
checkpoint), which `report.replay` scores later.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from labelops.bench.loop.client import Api, ApiError
from labelops.bench.loop.dataset import Dataset
from labelops.bench.loop.team import Behaviour, Gate, Ledger, annotate, review

# A holdout fraction just below 1: the stratified assignment then holds out
# every row (it could miss one row in about 10^9); `import_files` checks it.
HOLDOUT_ALL = 1 - 1e-9
POLL = 0.2
START_DUE_ROUNDS = "labelops.learning.tasks.start_due_rounds"


@dataclass(frozen=True)
class Team:
    lead: str  # API tokens
    annotators: list[str]
    reviewer: str
    usernames: dict[str, str]  # token -> username


def make_team(annotators: int) -> Team:
    """The bench's users, with API tokens (accounts are made by an admin, not over the API)."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    User = get_user_model()
    names = ["bench-loop-lead", "bench-loop-reviewer"] + [f"bench-loop-annotator-{n}" for n in range(annotators)]
    tokens = {}
    for name in names:
        user, _ = User.objects.get_or_create(username=name)
        tokens[name] = Token.objects.get_or_create(user=user)[0].key
    return Team(lead=tokens[names[0]], reviewer=tokens[names[1]], annotators=[tokens[n] for n in names[2:]],
                usernames={token: name for name, token in tokens.items()})


@dataclass(frozen=True)
class Plan:
    kind: str  # "main" or "baseline"
    labels: int  # human labels (submits) at most
    minutes: float | None
    round_every: int
    overlap: int
    gold_ratio: float
    batch_size: int | None
    behaviour: Behaviour
    seed: int
    tick: float  # seconds between start_due_rounds sends while a round is due
    round_timeout: float


def create_project(api: Api, plan: Plan, dataset: Dataset, team: Team, name: str) -> tuple[int, bool | None]:
    """The project, set up as a lead would. Returns its id and whether the
    `cold_start_round` setting exists on this server (None: it does not yet)."""
    settings: dict = {"cold_start_round": plan.kind == "main"}
    if plan.kind == "main":
        settings["auto_round_every"] = plan.round_every
        if plan.batch_size:
            settings["batch_size"] = plan.batch_size
    status, body = api.status("POST", "projects/", {"name": name, "modality": "text", "task": "single_label",
                                                    "settings": settings})
    cold_start: bool | None = settings["cold_start_round"]
    if status == 400 and "cold_start_round" in str(body):
        # Not on this server yet: without it nothing runs after an import anyway.
        settings.pop("cold_start_round")
        cold_start = None
        body = api.post("projects/", {"name": name, "modality": "text", "task": "single_label",
                                      "settings": settings})
    elif status != 200:
        raise ApiError("POST", "projects/", status, str(body).encode())
    project_id = body["id"]
    api.post(f"projects/{project_id}/taxonomy/versions/", {"labels": [{"key": key} for key in dataset.classes]})
    api.patch(f"projects/{project_id}/rules/", {"overlap": plan.overlap,
                                                "gold_ratio": plan.gold_ratio if dataset.gold else 0.0})
    for token in [*team.annotators, team.reviewer]:
        role = "reviewer" if token == team.reviewer else "annotator"
        api.post(f"projects/{project_id}/members/", {"username": team.usernames[token], "role": role})
    return project_id, cold_start


def round_trigger(training_round) -> str:
    """Who started a round, as its audit event says: "cold_start", "auto"
    (auto_round_every) or "manual" (a lead)."""
    from labelops.audit.models import AuditEvent

    event = AuditEvent.objects.filter(verb="round.start", object_id=str(training_round.pk)).first()
    return (event.after or {}).get("trigger", "manual") if event is not None else "manual"


def after_import_seconds(training_round) -> float | None:
    from labelops.items.models import ImportJob

    imported = (ImportJob.objects.filter(project_id=training_round.project_id, finished_at__isnull=False,
                                         finished_at__lte=training_round.finished_at)
                .order_by("-finished_at").values_list("finished_at", flat=True).first())
    return None if imported is None else round((training_round.finished_at - imported).total_seconds(), 1)


def import_files(api: Api, project_id: int, paths: dict[str, Path], seed: int, timeout: float = 600) -> dict:
    """Upload holdout, gold and pool through the import API, in that order,
    and wait for the worker to import each; returns their reports. The pool
    last: its import is the one that brings pool items, so the cold-start
    round it asks for sees the holdout and gold items too (a round on the
    pool alone would have nothing to evaluate on). A pool row repeating a
    holdout text is dropped as a duplicate, so training never sees it."""
    options = {
        "pool": {"labels_as": "ignore", "holdout_fraction": "0"},
        "gold": {"labels_as": "gold", "holdout_fraction": "0"},
        "holdout": {"labels_as": "gold", "holdout_fraction": repr(HOLDOUT_ALL)},
    }
    reports = {}
    for name in ("holdout", "gold", "pool"):
        path = paths[name]
        if name == "gold" and path.stat().st_size < 20:  # the header only: no gold asked for
            continue
        job = api.upload(f"projects/{project_id}/imports/", path,
                         {"format": "csv", "seed": str(seed), "text_field": "text", "label_field": "label",
                          **options[name]})
        deadline = time.monotonic() + timeout
        while job["state"] not in ("done", "failed"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {name} import is still {job['state']} after {timeout} s")
            time.sleep(POLL)
            job = api.get(f"projects/{project_id}/imports/{job['id']}/")
        if job["state"] != "done":
            raise RuntimeError(f"the {name} import failed: {job['error']}")
        report = job["report"]
        if name == "holdout" and report["holdout"] != report["imported"]:
            raise RuntimeError(f"the holdout import kept {report['imported'] - report['holdout']} row(s) out of the "
                               "holdout split; they would have become gold items")
        reports[name] = {k: report.get(k) for k in ("read", "imported", "duplicates", "holdout", "gold", "pii", "seconds")}
    return reports


class Session:
    """One project's run (see the module docstring)."""

    def __init__(self, *, port: int, team: Team, dataset: Dataset, plan: Plan, project_id: int,
                 cold_start: bool | None):
        from labelops.projects.models import Project

        self.port, self.team, self.dataset, self.plan = port, team, dataset, plan
        self.project = Project.objects.get(pk=project_id)
        self.cold_start = cold_start
        self.truth = dataset.truth()
        self.gate = Gate(plan.labels)
        self.ledger = Ledger()
        self.lead = Api(port, team.lead)
        self.rows: list[dict] = []
        self.checkpoints: list[dict] = []
        self.paused = False
        self.recorded: set[int] = set()
        self.spent_at_start: dict[int, int] = {}
        self.due_since: float | None = None
        self.last_beat = 0.0
        self.last_checkpoint = 0
        self.failures: list[str] = []

    # --- the run ----------------------------------------------------------------

    def run(self) -> dict:
        started = time.monotonic()
        if self.plan.kind == "main" and self.cold_start:
            self._wait_for_cold_start()
        stop_review, review_idle = threading.Event(), threading.Event()
        annotators = [
            threading.Thread(target=self._guard, name=f"annotator-{n}", daemon=True, args=(
                annotate, Api(self.port, token), self.project.pk, self.truth, self.dataset.classes,
                self.plan.behaviour, random.Random(self.plan.seed * 1000 + n), self.gate, self.ledger))
            for n, token in enumerate(self.team.annotators)
        ]
        reviewer = threading.Thread(target=self._guard, name="reviewer", daemon=True, args=(
            review, Api(self.port, self.team.reviewer), self.project.pk, self.truth, stop_review, self.ledger,
            review_idle))
        for thread in [*annotators, reviewer]:
            thread.start()
        deadline = started + self.plan.minutes * 60 if self.plan.minutes else float("inf")
        try:
            while any(t.is_alive() for t in annotators):
                if time.monotonic() >= deadline:
                    self.gate.finish()
                self._check()
                self._step()
                time.sleep(POLL)
            self._check()
            labelling_seconds = time.monotonic() - started
            # The reviewer finishes what the team left; due rounds run; then
            # the lead trains once on everything (both projects alike).
            self._until(lambda: review_idle.is_set() and not self._open_reviews(), "the review queue to drain")
            self.gate.finish()
            self._until(lambda: self._step() == "idle", "due rounds to finish")
            self._final_round()
        finally:
            self.gate.finish()
            stop_review.set()
            reviewer.join(timeout=30)
            self.lead.close()
        return {"project": self.project.pk, "cold_start_round": self.cold_start, "rows": self.rows,
                "checkpoints": self.checkpoints, "submits": len(self.ledger), "reviews": dict(self.ledger.reviews),
                "overall": self.ledger.window(0), "labelling_seconds": labelling_seconds,
                "wall_seconds": time.monotonic() - started}

    def _guard(self, work, *args) -> None:
        """Run a team member's loop; an error stops the whole run (see `_check`)."""
        try:
            work(*args)
        except BaseException as error:
            self.failures.append(f"{threading.current_thread().name}: {type(error).__name__}: {error}")
            self.gate.finish()
            raise

    def _check(self) -> None:
        if self.failures:
            raise RuntimeError(f"project {self.project.pk}: the simulated team failed: {'; '.join(self.failures)}")

    def _until(self, condition, what: str, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self.plan.round_timeout)
        while not condition():
            self._check()
            if time.monotonic() > deadline:
                raise RuntimeError(f"project {self.project.pk}: gave up waiting for {what}")
            time.sleep(POLL)

    def _wait_for_cold_start(self) -> None:
        """The round the project starts by itself after an import: wait until
        one has finished and nothing is running (rounds may follow each import)."""
        from labelops.learning.models import TrainingRound

        rounds = TrainingRound.objects.filter(project=self.project)
        try:
            self._until(lambda: rounds.exists(), "the cold-start round to start", timeout=90)
        except RuntimeError:
            print(f"project {self.project.pk}: cold_start_round is on but no round started within 90 s",
                  flush=True)
            return
        settled_at = None
        while True:
            state = self._step()
            if state != "idle":
                settled_at = None
            elif settled_at is None:
                settled_at = time.monotonic()
            elif time.monotonic() - settled_at > 3:
                return
            time.sleep(POLL)

    def _open_reviews(self) -> bool:
        from labelops.annotation.models import ReviewTask

        return ReviewTask.objects.open().filter(item__project=self.project).exists()

    # --- what the coordinator does every poll -------------------------------------

    def _pause(self) -> None:
        if not self.paused:
            self.gate.pause()
            self.paused = True

    def _allow(self, items: int) -> None:
        self.gate.allow(items)
        self.paused = False

    def _step(self) -> str:
        return self._follow_rounds() if self.plan.kind == "main" else self._checkpoint()

    def _follow_rounds(self) -> str:
        """Pause the team while a round is due or running; record finished rounds."""
        from labelops.celery import app
        from labelops.learning.models import RoundState, TrainingRound
        from labelops.learning.services.auto_rounds import new_labels_since_last_round

        newest = TrainingRound.objects.filter(project=self.project).order_by("-number").first()
        if newest is not None and not newest.is_finished:
            self._pause()
            self.spent_at_start.setdefault(newest.number, len(self.ledger))
            self.due_since = None
            return "running"
        if newest is not None and newest.number not in self.recorded:
            if newest.state != RoundState.DONE:
                raise RuntimeError(f"round {newest.number} of project {self.project.pk} {newest.state}: "
                                   f"{newest.error}")
            self._record_round(newest)
        new = new_labels_since_last_round(self.project)
        if new is not None and new >= self.plan.round_every:
            self._pause()
            now = time.monotonic()
            self.due_since = self.due_since or now
            if now - self.last_beat >= self.plan.tick:
                app.send_task(START_DUE_ROUNDS)  # what celery beat sends every minute
                self.last_beat = now
            if now - self.due_since > self.plan.round_timeout:
                raise RuntimeError(f"project {self.project.pk} has been due for a round for "
                                   f"{self.plan.round_timeout:.0f} s and none started")
            return "due"
        self._allow(self.plan.round_every - (new or 0))
        return "idle"

    def _checkpoint(self) -> str:
        """Baseline: record the approved training labels every `round_every`."""
        from labelops.learning.services.auto_rounds import approved_training_labels

        left = self.plan.round_every - (approved_training_labels(self.project) - self.last_checkpoint)
        if left <= 0:
            self._pause()
            self._record_checkpoint()
            left = self.plan.round_every
        self._allow(left)
        return "idle"

    def _record_checkpoint(self) -> None:
        from labelops.annotation.models import Consensus, ConsensusStatus
        from labelops.items.models import Split

        labels = dict(
            Consensus.objects.filter(item__project=self.project, status=ConsensusStatus.APPROVED)
            .exclude(item__split=Split.HOLDOUT).values_list("item_id", "labels")
        )
        spent = len(self.ledger)
        previous = self.checkpoints[-1]["human_labels"] if self.checkpoints else 0
        self.checkpoints.append({"human_labels": spent, "train_labels": len(labels),
                                 "labels": {int(k): v[0] for k, v in labels.items() if v},
                                 **self.ledger.window(previous, spent)})
        self.last_checkpoint = len(labels)

    def _record_round(self, training_round) -> None:
        metrics = training_round.metrics or {}
        holdout = metrics.get("holdout") or {}
        spent = self.spent_at_start.get(training_round.number, len(self.ledger))
        previous = self.rows[-1]["human_labels"] if self.rows else 0
        self.rows.append({
            "round": training_round.number,
            "trigger": round_trigger(training_round),
            "human_labels": spent,
            "train_labels": training_round.labels_count,
            "evaluated": bool(holdout.get("evaluated")),
            "holdout_accuracy": holdout.get("accuracy"),
            "macro_f1": holdout.get("macro_f1"),
            "holdout_items": holdout.get("items"),
            "seconds": (training_round.finished_at - training_round.created_at).total_seconds(),
            # From the end of the last import to this round's queue going live:
            # for the cold-start round, how long a new project waits for it.
            "after_import_seconds": after_import_seconds(training_round),
            "holdout_accuracy_ci": holdout.get("accuracy_ci"),
            "ranking": (metrics.get("ranking") or {}).get("used"),
            # The proposer or model the round chose, when its metrics say so.
            "proposer": metrics.get("proposer"),
            "model": metrics.get("model"),
            "source": "round",
            # Answers given while the previous model was serving.
            **self.ledger.window(previous, spent),
            "cumulative": self.ledger.window(0, spent),
        })
        self.recorded.add(training_round.number)
        print(_describe(self.plan.kind, self.rows[-1]), flush=True)

    def _final_round(self) -> None:
        """The lead trains once more on every approved label, if the serving
        model has not: the baseline's only round, the main project's last."""
        from labelops.learning.models import RoundState, TrainingRound
        from labelops.learning.services.auto_rounds import approved_training_labels

        if self.plan.kind == "baseline":
            if approved_training_labels(self.project) > self.last_checkpoint:
                self._record_checkpoint()
        else:
            done = TrainingRound.objects.filter(project=self.project, state=RoundState.DONE).order_by("-number")
            newest = done.first()
            if newest is not None and newest.labels_count >= approved_training_labels(self.project):
                return
        started = self.lead.post(f"projects/{self.project.pk}/rounds/", {})
        number = started["number"]
        self._until(lambda: TrainingRound.objects.get(project=self.project, number=number).is_finished,
                    f"round {number} to finish")
        final = TrainingRound.objects.get(project=self.project, number=number)
        if final.state != RoundState.DONE:
            raise RuntimeError(f"round {number} of project {self.project.pk} {final.state}: {final.error}")
        self._record_round(final)


def _describe(kind: str, row: dict) -> str:
    accuracy = "n/a" if row["holdout_accuracy"] is None else f"{100 * row['holdout_accuracy']:.1f}%"
    f1 = "n/a" if row["macro_f1"] is None else f"{100 * row['macro_f1']:.1f}%"
    acceptance = "n/a" if row["acceptance_rate"] is None else f"{100 * row['acceptance_rate']:.0f}%"
    gold = "n/a" if row["gold_accuracy"] is None else f"{100 * row['gold_accuracy']:.0f}%"
    return (f"{kind} round {row['round']} ({row['trigger']}): {row['human_labels']} human labels, "
            f"{row['train_labels']} training labels; holdout accuracy {accuracy}, macro-F1 {f1} "
            f"(n={row['holdout_items']}); acceptance {acceptance}, gold {gold}; {row['seconds']:.1f} s; "
            f"ranked by {row['ranking']}" + (f"; proposer {row['proposer']}" if row["proposer"] else ""))
