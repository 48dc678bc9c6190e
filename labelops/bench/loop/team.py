"""The simulated team: annotators working `queue/next` + submit, a reviewer
working the review queue, and the gate that pauses them.

An annotator, for each item it is served: with probability
`accept_proposal`, when a proposal is shown, submits it unchanged (the
over-reliance being measured); otherwise answers with the dataset's label,
or with probability `error_rate` a random other label. The reviewer
accepts a consensus equal to the dataset's label, fixes any other to it,
and lets a failed gold check stand (the gold answer is the truth).

The `Gate` is how the bench stops time: an annotator takes a ticket before
asking for an item and gives it back after submitting, so `pause()` returns
once nobody is mid-item. The coordinator hands out only as many tickets as
answers are left before the next round is due (`allow`), so the team
cannot run past a round between two of its looks; the tickets are also the
label budget.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from labelops.bench.loop.client import Api


class Gate:
    def __init__(self, budget: int):
        self._cond = threading.Condition()
        self._finished = False
        self._busy, self._left = 0, budget
        self._allowance = 0  # items that may still be started before the coordinator looks again

    def enter(self) -> bool:
        """Wait for an allowance; False once the budget is spent or the run finished."""
        with self._cond:
            while self._allowance <= 0 and not self._finished:
                self._cond.wait()
            if self._finished or self._left <= 0:
                return False
            self._allowance -= 1
            self._left -= 1
            self._busy += 1
            return True

    def leave(self, used: bool) -> None:
        with self._cond:
            self._busy -= 1
            if not used:
                self._left += 1
                self._allowance += 1
            self._cond.notify_all()

    def allow(self, items: int) -> None:
        """Let `items` more items start, counting those under way: each
        answer adds at most one approved label, so allowing what is left
        until a round is due never overshoots it."""
        with self._cond:
            self._allowance = max(0, items - self._busy)
            self._cond.notify_all()

    def pause(self) -> None:
        """Let nobody start an item, and wait until no annotator is mid-item."""
        with self._cond:
            self._allowance = 0
            while self._busy:
                self._cond.wait()

    def finish(self) -> None:
        with self._cond:
            self._finished = True
            self._cond.notify_all()


@dataclass(frozen=True)
class Answer:
    """One submitted annotation, as the bench saw it."""

    at: float
    gold: bool
    correct: bool
    proposal_shown: bool
    equals_proposal: bool
    accepted_blindly: bool


@dataclass
class Ledger:
    """Every submit and review decision of one project, in order (thread-safe)."""

    answers: list[Answer] = field(default_factory=list)
    reviews: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, answer: Answer) -> None:
        with self.lock:
            self.answers.append(answer)

    def count_review(self, decision: str) -> None:
        with self.lock:
            self.reviews[decision] = self.reviews.get(decision, 0) + 1

    def __len__(self) -> int:
        with self.lock:
            return len(self.answers)

    def window(self, start: int, end: int | None = None) -> dict:
        """Proposal acceptance and gold accuracy over answers[start:end]."""
        with self.lock:
            part = self.answers[start:end]
        gold = [a for a in part if a.gold]
        shown = [a for a in part if a.proposal_shown]
        return {
            "submits": len(part),
            "proposal_shown": len(shown),
            # Share of submits equal to the proposal shown with the item.
            "acceptance_rate": sum(a.equals_proposal for a in part) / len(part) if part else None,
            "acceptance_rate_when_shown": sum(a.equals_proposal for a in shown) / len(shown) if shown else None,
            "accepted_blindly": sum(a.accepted_blindly for a in part),
            "answer_accuracy": sum(a.correct for a in part) / len(part) if part else None,
            "gold_answers": len(gold),
            "gold_accuracy": sum(a.correct for a in gold) / len(gold) if gold else None,
        }


@dataclass(frozen=True)
class Behaviour:
    error_rate: float
    accept_proposal: float
    think_ms: float = 0


def annotate(api: Api, project_id: int, truth: dict[str, str], classes: list[str], behaviour: Behaviour,
             rng: random.Random, gate: Gate, ledger: Ledger) -> None:
    """Label until the gate says stop or the queue has nothing left for this annotator."""
    base = f"projects/{project_id}/queue"
    try:
        while gate.enter():
            used = False
            try:
                served = api.post(f"{base}/next/", expect=(200, 204))
                if served is None:
                    return
                item = served["item"]
                right = truth[item["external_id"]]
                proposal = served.get("proposal")
                shown = proposal["labels"] if proposal else None
                blindly = shown is not None and rng.random() < behaviour.accept_proposal
                if blindly:
                    labels = list(shown)
                elif rng.random() < behaviour.error_rate:
                    labels = [rng.choice([c for c in classes if c != right])]
                else:
                    labels = [right]
                if behaviour.think_ms:
                    time.sleep(behaviour.think_ms * rng.uniform(0.5, 1.5) / 1000)
                api.post(f"{base}/leases/{served['lease']}/submit/", {
                    "labels": labels, "from_proposal": blindly, "time_spent_ms": rng.randint(2000, 8000)},
                    expect=(201,))
                used = True
                ledger.add(Answer(at=time.monotonic(), gold=item["external_id"].startswith("g"),
                                  correct=labels == [right], proposal_shown=shown is not None,
                                  equals_proposal=shown is not None and labels == list(shown),
                                  accepted_blindly=blindly))
            finally:
                gate.leave(used)
    finally:
        api.close()


def review(api: Api, project_id: int, truth: dict[str, str], stop: threading.Event, ledger: Ledger,
           idle: threading.Event) -> None:
    """Work the review queue until `stop`; `idle` is set while it is empty."""
    try:
        while not stop.is_set():
            task = api.get(f"projects/{project_id}/review/next/", expect=(200, 204))
            if task is None:
                idle.set()
                stop.wait(0.3)
                continue
            idle.clear()
            right = [truth[task["item"]["external_id"]]]
            consensus = (task.get("consensus") or {}).get("labels")
            if task.get("gold_labels") is not None or consensus == right:
                body = {"decision": "accept"}
            else:
                body = {"decision": "fix", "labels": right}
            api.post(f"projects/{project_id}/review/{task['item']['id']}/decide/", body, expect=(201,))
            ledger.count_review(body["decision"])
    finally:
        api.close()
