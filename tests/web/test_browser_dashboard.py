"""The lead dashboard in a real browser: a lead opens it and reads the
project's numbers (progress, agreement, annotators, the serving model,
learning curve with intervals, rounds);
a second start while a round runs shows the API's refusal; and a lead starts
a round that a real Celery worker runs, watching its progress until it is
done. Debian's chromium, headless, via Playwright, against the live server on
the test database (the browser set-up is the annotator test's). Screenshots
go to var/screenshots/.
"""

from __future__ import annotations

import time

import pytest

from labelops.items.models import Split

# Imported before the Celery app is finalized, so its tasks are registered
# with it: in this process (Playwright's browser running) Celery's set of
# active apps was found empty later, and a task module imported after
# finalization then registers nothing (`NotRegistered`, a 503 on start).
from labelops.learning import tasks as learning_tasks  # noqa: F401
from labelops.learning.models import ModelVersion, RoundState, TrainingRound
from labelops.learning.services import rounds
from labelops.quality.tasks import refresh_agreement
from tests.annotation.conftest import label_item, make_items, set_rules
from tests.conftest import filesystem_broker_options
from tests.learning.conftest import round_project  # noqa: F401 (fixture)
from tests.learning.test_round_worker import round_worker  # noqa: F401 (fixture)
from tests.web.browser import SCREENSHOTS, sign_in


@pytest.fixture
def private_broker(use_broker, tmp_path):
    """Messages this test publishes (an agreement refresh, a round's first
    step) go to a folder of its own, where no worker takes them."""
    use_broker("filesystem://", filesystem_broker_options(tmp_path))


def holdout(train_labels: int, accuracy: float, macro_f1: float, items: int, spread: float) -> dict:
    return {"holdout": {"evaluated": True, "items": items, "train_labels": train_labels, "accuracy": accuracy,
                        "accuracy_ci": [round(accuracy - spread, 3), round(accuracy + spread, 3)],
                        "macro_f1": macro_f1, "macro_f1_ci": [round(macro_f1 - spread, 3), round(macro_f1 + spread, 3)],
                        "meaningful": items >= 30, "min_items": 30, "confidence": 0.95}}


def proposer(labels: int) -> dict:
    return {"chosen": "spreading", "reason": f"highest cross-validated accuracy on {labels} labels", "labels": labels,
            "candidates": {"zero_shot": {"accuracy": 0.48, "log_loss": 1.41, "rows": labels},
                           "head": {"accuracy": 0.66, "log_loss": 0.93, "rows": labels},
                           "spreading": {"accuracy": 0.72, "log_loss": 0.88, "rows": labels}}}


def stat(page, panel_test_id: str, name: str) -> str:  # noqa: F811 (the page fixture's value)
    return page.get_by_test_id(panel_test_id).locator("div").filter(
        has=page.get_by_text(name, exact=True)).locator("dd").inner_text()


def test_a_lead_opens_the_dashboard_and_reads_the_numbers(live_server, page, project, lead,  # noqa: F811
                                                          annotator, annotator2, private_broker):
    set_rules(project, lead, overlap=2)
    make_items(project, 3)
    make_items(project, 2, split=Split.HOLDOUT)
    make_items(project, 4, split=Split.GOLD)
    # Two agreements (approved), one tie (in review); the holdout items stay unlabelled.
    for first, second in [("bug", "bug"), ("billing", "billing"), ("other", "bug")]:
        label_item(project, annotator, [first])
        label_item(project, annotator2, [second])
    refresh_agreement(project.pk)
    # A first round on 12 holdout items (a wide interval, not yet meaningful), then one on 412.
    for number, labels, accuracy, f1, items, spread in [(1, 10, 0.52, 0.48, 12, 0.27), (2, 25, 0.71, 0.66, 412, 0.045)]:
        done = TrainingRound.objects.create(
            project=project, number=number, state=RoundState.DONE, labels_count=labels, created_by=lead,
            metrics={**holdout(labels, accuracy, f1, items, spread), "proposer": proposer(labels)})
    ModelVersion.objects.create(project=project, round=done, is_active=True)

    sign_in(page, live_server, "/app/", "lead")
    card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="Tickets"))
    card.get_by_role("link", name="Dashboard").click()
    page.wait_for_url(f"{live_server.url}/app/projects/{project.pk}/dashboard")
    page.get_by_test_id("progress").wait_for()

    # Progress of the labelling work (pool and holdout, not the gold answers).
    assert [stat(page, "progress", name) for name in ("Items to label", "Labelled", "Approved", "In review",
                                                      "Remaining")] == ["5", "3", "2", "1", "2"]
    # Agreement from the stored snapshot, with its interval.
    assert "[" in stat(page, "agreement", "Fleiss' kappa")
    assert page.get_by_role("row", name="annotator & annotator2").count() == 1
    # The annotators: three annotations each, none with a proposal or gold yet.
    row = page.locator('[data-annotator="annotator"]')
    cells = row.locator("th, td").all_inner_texts()
    assert cells[:3] == ["annotator", "3", "3"] and cells[4:] == ["no gold yet", "no proposals shown"]
    # The serving model: which proposer, why, its holdout figure, and the candidates best first.
    assert page.get_by_test_id("serving-proposer").inner_text().startswith("Label spreading serves the proposals")
    assert page.get_by_test_id("serving-holdout").inner_text() == (
        "Holdout accuracy: 71.0% (95% CI 66.5–75.5%) on 412 holdout items")
    candidates = page.get_by_test_id("serving-candidates").locator("tbody tr")
    assert candidates.evaluate_all("rows => rows.map(r => r.dataset.candidate)") == ["spreading", "head", "zero_shot"]
    # The learning curve: one dot per evaluated round with its error bar; the first, on 12 holdout items, hollow.
    curve = page.get_by_test_id("learning-curve")
    assert curve.locator("circle.dot.accuracy").count() == 2
    assert curve.locator("g.ci.accuracy").count() == 2
    assert curve.locator("circle.dot.accuracy.hollow").count() == 1
    assert curve.locator('[data-round="1"] circle.hollow').count() == 1
    assert "71.0% at 25 labels in round 2" in curve.get_attribute("aria-label")
    history = page.get_by_test_id("round-history")
    assert history.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.round)") == ["2", "1"]
    page.screenshot(path=SCREENSHOTS / "dashboard-1280.png", full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=SCREENSHOTS / "dashboard-390.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 720})

    # Were the first round's model serving, its 12 holdout items would be said to mean nothing yet.
    ModelVersion.objects.filter(project=project).update(is_active=False)
    ModelVersion.objects.create(project=project, round=TrainingRound.objects.get(project=project, number=1),
                                is_active=True)
    page.reload()
    figure = page.get_by_test_id("serving-holdout")
    figure.wait_for()
    assert figure.locator("strong").inner_text() == "not yet meaningful: 12 holdout items (needs 30)"
    assert "measured so far: 52.0% (95% CI 25.0–79.0%) on 12 holdout items" in figure.inner_text()
    page.locator("section", has=page.get_by_role("heading", name="Serving model")).screenshot(
        path=SCREENSHOTS / "dashboard-serving-not-meaningful.png")

    # Someone else starts a round meanwhile: Start is refused with the API's message,
    # and the dashboard follows the running round instead.
    # (Created as start_round would leave it; this test has no worker to hand it to.)
    running = TrainingRound.objects.create(project=project, number=3, state=RoundState.QUEUED, created_by=lead,
                                           progress=rounds.initial_progress())
    page.get_by_role("button", name="Start round").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert alert.inner_text().startswith("round 3 of this project is still queued")
    status = page.get_by_test_id("round-status")
    status.wait_for()
    assert f"Round {running.number}" in status.inner_text()
    assert page.get_by_role("button", name="A round is running").is_disabled()
    assert TrainingRound.objects.filter(project=project).count() == 3
    assert page.errors == [] and page.dialogs == []


@pytest.mark.broker
@pytest.mark.usefixtures("artifact_root")
def test_a_lead_starts_a_round_and_watches_it_finish(live_server, page, round_project, lead,  # noqa: F811
                                                     round_worker):  # noqa: F811
    worker = round_worker()
    sign_in(page, live_server, f"/app/projects/{round_project.pk}/dashboard", "lead")
    page.get_by_test_id("progress").wait_for()
    assert page.get_by_test_id("learning-curve").count() == 0  # no round yet

    page.get_by_role("button", name="Start round").click()
    status = page.get_by_test_id("round-status")
    status.wait_for()
    seen = []
    deadline = time.monotonic() + 180
    while True:
        state = status.get_attribute("data-state")
        percent = page.get_by_role("progressbar", name="Round 1").get_attribute("aria-valuenow")
        if not seen or seen[-1] != (state, percent):
            seen.append((state, percent))
        if len(seen) == 3:
            page.screenshot(path=SCREENSHOTS / "dashboard-round-running.png", full_page=True)
        if state in ("done", "failed", "cancelled"):
            break
        if worker.poll() is not None:
            pytest.fail("the worker died:\n" + "".join(worker.output[-40:]), pytrace=False)
        assert time.monotonic() < deadline, f"round still {state} after 180 s: {seen}"
        time.sleep(0.25)

    done = TrainingRound.objects.get(project=round_project, number=1)
    assert done.state == RoundState.DONE, done.error
    assert state == "done", seen
    # It was watched while it ran: the page showed the round moving before it finished.
    running = [(s, p) for s, p in seen if s not in ("done", "failed", "cancelled")]
    assert running and any(s != "queued" or float(p) > 0 for s, p in running), seen
    percents = [float(p) for _, p in seen]
    assert percents == sorted(percents), seen
    assert "Round 1 done." in page.get_by_text("Round 1 done.").inner_text()

    # Finished: the dashboard is fetched again; the curve has the round's holdout point.
    curve = page.get_by_test_id("learning-curve")
    curve.wait_for()
    accuracy = done.metrics["holdout"]["accuracy"]
    assert f"{accuracy * 100:.1f}% at {done.metrics['holdout']['train_labels']} labels in round 1" in (
        curve.get_attribute("aria-label"))
    assert "done" in page.get_by_test_id("round-history").locator('[data-round="1"]').inner_text()
    assert page.get_by_role("button", name="Start round").is_enabled()
    page.screenshot(path=SCREENSHOTS / "dashboard-round-done.png", full_page=True)
    assert page.errors == [] and page.dialogs == []
    print(f"\nround watched in the browser: {seen}")
