import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { CurvePoint, Dashboard, Serving, TrainingRound } from "./dashboardApi";
import { DashboardView, formatEta, RoundStatus, type DashboardViewProps } from "./DashboardView";
import { describeHoldout } from "./holdout";
import { layout, LearningCurve, niceCeiling } from "./LearningCurve";
import { proposerName, ServingPanel } from "./ServingPanel";

afterEach(cleanup);

const split = (total: number, labelled: number, approved: number, in_review = 0) => ({
  total, labelled, approved, in_review, in_progress: 0, remaining: total - labelled,
});

function dashboard(overrides: Partial<Dashboard> = {}): Dashboard {
  return {
    generated_at: "2026-01-01T00:00:00Z",
    progress: { labelling: split(40, 25, 20, 3), pool: split(30, 18, 15, 3), holdout: split(10, 7, 5), gold: split(5, 5, 5) },
    annotators: [
      {
        annotator: 3, username: "annotator", annotations: 12, last_24h: 4, median_time_ms: 2400, gold_seen: 4,
        gold_correct: 3, gold_accuracy: 0.75, below_gold_minimum: true,
        by_source: { manual: 6, proposal_accepted: 4, proposal_edited: 2, cluster_bulk: 0, imported: 0 },
        shown_proposal: 8, acceptance_rate: 0.5,
      },
      {
        annotator: 4, username: "annotator2", annotations: 0, last_24h: 0, median_time_ms: null, gold_seen: 0,
        gold_correct: 0, gold_accuracy: null, below_gold_minimum: false,
        by_source: { manual: 0, proposal_accepted: 0, proposal_edited: 0, cluster_bulk: 0, imported: 0 },
        shown_proposal: 0, acceptance_rate: null,
      },
    ],
    agreement: {
      computed_at: "2026-01-01T00:00:00Z", pending_annotations: 2, refresh_queued: false,
      metrics: {
        units: 6, items: 6, annotations: 12, fleiss_kappa: 0.512, krippendorff_alpha: 0.534,
        krippendorff_alpha_taxonomy: 0.534,
        bootstrap: { level: 0.95, resamples: 200, fleiss_kappa: [0.1, 0.9], krippendorff_alpha: [0.12, 0.91],
                     krippendorff_alpha_taxonomy: [0.12, 0.91] },
        per_label: [{ label: "bug", chosen: 5, fleiss_kappa: 0.6 }, { label: "other", chosen: 2, fleiss_kappa: null }],
        pairs: [{ annotators: [3, 4], units: 6, observed_agreement: 0.6667, cohen_kappa: 0.5 }],
      },
    },
    learning_curve: [
      { round: 1, finished_at: null, train_labels: 12, holdout_items: 10, accuracy: 0.5, accuracy_ci: null,
        macro_f1: 0.45, macro_f1_ci: null, meaningful: null, min_items: null },
      { round: 3, finished_at: null, train_labels: 40, holdout_items: 10, accuracy: 0.8, accuracy_ci: null,
        macro_f1: null, macro_f1_ci: null, meaningful: null, min_items: null },
    ],
    serving: null,
    ...overrides,
  };
}

function round(overrides: Partial<TrainingRound> = {}): TrainingRound {
  return {
    number: 4, state: "training", is_finished: false,
    progress: { step: "train", percent: 42.5, step_percent: 30, eta_seconds: 12, message: "fitting the head" },
    config: {}, metrics: {}, error: "", artifacts: [], taxonomy_version: 1, labels_count: 40, labels_hash: "",
    model_version: null, created_by: "lead", created_at: "2026-01-01T00:00:00Z", started_at: null, finished_at: null,
    ...overrides,
  };
}

function setup(overrides: Partial<DashboardViewProps> = {}) {
  const props: DashboardViewProps = {
    dashboard: dashboard(), rounds: [round({ number: 3, state: "done", is_finished: true, finished_at: "2026-01-01T00:00:00Z" })],
    canStart: true, starting: false, watching: null, roundNotice: null, onStart: vi.fn(), ...overrides,
  };
  render(<DashboardView {...props} />);
  return props;
}

describe("DashboardView", () => {
  it("shows progress, agreement with intervals, per label and per pair", () => {
    setup();
    const progress = screen.getByTestId("progress");
    expect(within(progress).getByText("Approved").nextSibling?.textContent).toBe("20");
    expect(within(progress).getByText("Remaining").nextSibling?.textContent).toBe("15");
    expect(screen.getByRole("progressbar", { name: "Approved items" }).getAttribute("aria-valuenow")).toBe("20");
    const agreement = screen.getByTestId("agreement");
    expect(agreement.textContent).toContain("0.51 [0.10, 0.90]");
    expect(agreement.textContent).toContain("0.53 [0.12, 0.91]");
    expect(screen.getByRole("row", { name: /bug 5 0.60/ })).toBeTruthy();
    expect(screen.getByRole("row", { name: /annotator & annotator2 6 67% 0.50/ })).toBeTruthy();
  });

  it("says when agreement has not been computed yet", () => {
    setup({ dashboard: dashboard({ agreement: { computed_at: null, pending_annotations: 7, refresh_queued: true, metrics: {} } }) });
    expect(screen.getByTestId("agreement-pending").textContent).toContain("a computation has been queued");
    expect(screen.getByTestId("agreement-pending").textContent).toContain("7");
  });

  it("the annotator table: throughput, median time, gold accuracy, acceptance", () => {
    setup();
    const busy = document.querySelector('[data-annotator="annotator"]')!;
    expect([...busy.children].map((cell) => cell.textContent)).toEqual([
      "annotator", "12", "4", "2.4 s", "75% of 4 below minimum", "50% of 8 (2 edited)",
    ]);
    const idle = document.querySelector('[data-annotator="annotator2"]')!;
    expect(idle.textContent).toContain("no gold yet");
    expect(idle.textContent).toContain("no proposals shown");
  });

  it("the start button is a lead's, and is paused while a round runs", () => {
    const props = setup();
    fireEvent.click(screen.getByRole("button", { name: "Start round" }));
    expect(props.onStart).toHaveBeenCalledOnce();
    cleanup();
    setup({ watching: round() });
    expect((screen.getByRole("button", { name: "A round is running" }) as HTMLButtonElement).disabled).toBe(true);
    cleanup();
    setup({ canStart: false });
    expect(screen.queryByRole("button", { name: /round/i })).toBeNull();
    expect(screen.getByTestId("round-history").textContent).toContain("done");
  });

  it("shows the API's refusal", () => {
    setup({ roundNotice: { text: "round 4 of this project is still running", error: true } });
    expect(screen.getByRole("alert").textContent).toBe("round 4 of this project is still running");
  });
});

describe("RoundStatus", () => {
  it("state, step, percent and time left while running", () => {
    render(<RoundStatus round={round()} />);
    const status = screen.getByTestId("round-status");
    expect(status.textContent).toContain("Round 4: training · step train (30%) · about 12 s left");
    expect(status.textContent).toContain("43% · fitting the head");
    expect(screen.getByRole("progressbar", { name: "Round 4" }).getAttribute("aria-valuenow")).toBe("42.5");
  });

  it("a finished round: no time left; a failed one shows its error", () => {
    render(<RoundStatus round={round({ state: "done", is_finished: true, progress: { step: "done", percent: 100 } })} />);
    expect(screen.getByTestId("round-status").textContent).not.toContain("left");
    cleanup();
    render(<RoundStatus round={round({ state: "failed", is_finished: true, error: "no such encoder" })} />);
    expect(screen.getByText("no such encoder")).toBeTruthy();
  });

  it("formats the time left", () => {
    expect(formatEta(null)).toBe("estimating…");
    expect(formatEta(42)).toBe("about 42 s left");
    expect(formatEta(600)).toBe("about 10 min left");
  });
});

describe("LearningCurve", () => {
  const points: CurvePoint[] = dashboard().learning_curve;

  it("ends the label axis on a round number", () => {
    expect([niceCeiling(0), niceCeiling(7), niceCeiling(40), niceCeiling(120), niceCeiling(1000)]).toEqual([1, 10, 50, 200, 1000]);
  });

  it("places more labels further right and higher accuracy higher up", () => {
    const { xMax, plotted } = layout(points);
    expect(xMax).toBe(50);
    expect(plotted.map((p) => p.round)).toEqual([1, 3]);
    expect(plotted[1].x).toBeGreaterThan(plotted[0].x);
    expect(plotted[1].accuracy).toBeLessThan(plotted[0].accuracy); // SVG y grows downwards
    expect(plotted[1].f1).toBeNull();
  });

  it("draws one dot per round, a line through them, and a table of the values", () => {
    render(<LearningCurve points={points} />);
    const svg = screen.getByRole("img");
    expect(svg.getAttribute("aria-label")).toBe(
      "Learning curve over 2 rounds: holdout accuracy 80.0% at 40 labels in round 3 (10 holdout items).");
    expect(svg.querySelectorAll("circle.dot.accuracy")).toHaveLength(2);
    expect(svg.querySelectorAll("circle.dot.f1")).toHaveLength(1);
    expect(svg.querySelector("polyline.accuracy")?.getAttribute("points")?.split(" ")).toHaveLength(2);
    expect(screen.getByRole("row", { name: "3 40 10 80.0% n/a" })).toBeTruthy();
    // Rounds from before intervals were kept: no bars, nothing hollow, no legend for either.
    expect(svg.querySelectorAll("g.ci")).toHaveLength(0);
    expect(svg.querySelectorAll("circle.hollow")).toHaveLength(0);
    expect(screen.queryByText(/bars: 95% interval/)).toBeNull();
  });

  const withTrust: CurvePoint[] = [
    { round: 1, finished_at: null, train_labels: 10, holdout_items: 12, accuracy: 0.583, accuracy_ci: [0.333, 0.833],
      macro_f1: 0.5, macro_f1_ci: [0.3, 0.7], meaningful: false, min_items: 30 },
    { round: 2, finished_at: null, train_labels: 300, holdout_items: 412, accuracy: 0.782, accuracy_ci: [0.74, 0.821],
      macro_f1: 0.7, macro_f1_ci: [0.65, 0.75], meaningful: true, min_items: 30 },
  ];

  it("draws each interval as an error bar around its dot", () => {
    const { plotted } = layout(withTrust);
    for (const p of plotted) {
      expect(p.ci!.high).toBeLessThan(p.accuracy); // the upper bound is higher up
      expect(p.ci!.low).toBeGreaterThan(p.accuracy);
    }
    render(<LearningCurve points={withTrust} />);
    const svg = screen.getByRole("img");
    const bar = svg.querySelector('[data-round="2"] g.ci.accuracy')!;
    const [stem] = bar.querySelectorAll("line");
    expect(Number(stem.getAttribute("y1"))).toBeCloseTo(plotted[1].ci!.high);
    expect(Number(stem.getAttribute("y2"))).toBeCloseTo(plotted[1].ci!.low);
    expect(bar.querySelectorAll("line")).toHaveLength(3); // the stem and two caps
    expect(screen.getByText("bars: 95% interval")).toBeTruthy();
    expect(svg.getAttribute("aria-label")).toBe("Learning curve over 2 rounds: holdout accuracy 78.2% at 300 labels " +
      "in round 2 (95% CI 74.0–82.1%, 412 holdout items).");
    expect(screen.getByRole("row", { name: "2 300 412 78.2% (74.0–82.1%) 70.0% (65.0–75.0%)" })).toBeTruthy();
  });

  it("marks a point on too few holdout items hollow, and says so", () => {
    render(<LearningCurve points={withTrust} />);
    const svg = screen.getByRole("img");
    const early = svg.querySelector('[data-round="1"] circle.dot.accuracy')!;
    expect(early.classList.contains("hollow")).toBe(true);
    expect(early.textContent).toBe("round 1: accuracy 58.3% (not yet meaningful: 12 holdout items (needs 30))");
    expect(svg.querySelector('[data-round="2"] circle.dot.accuracy')!.classList.contains("hollow")).toBe(false);
    expect(screen.getByText(/hollow: too few holdout items/)).toBeTruthy();
    expect(screen.getByRole("row", { name: /^1 10 12 not yet meaningful \(needs 30\) 58\.3%/ })).toBeTruthy();
  });

  it("says the curve starts with the first evaluated round", () => {
    render(<LearningCurve points={[]} />);
    expect(screen.queryByRole("img")).toBeNull();
    expect(screen.getByText(/No round has been evaluated/)).toBeTruthy();
  });
});

function serving(overrides: Partial<Serving> = {}): Serving {
  return {
    round: 7, proposer: "spreading", reason: "best cross-validated accuracy", labels: 300,
    candidates: [
      { name: "spreading", accuracy: 0.781, log_loss: 0.7, rows: 300 },
      { name: "head", accuracy: 0.74, log_loss: 0.812, rows: 300 },
      { name: "zero_shot", accuracy: null, log_loss: null, rows: 0 },
    ],
    holdout: {
      evaluated: true, reason: "", items: 412, metric: "accuracy", accuracy: 0.782, accuracy_ci: [0.74, 0.821],
      macro_f1: 0.7, macro_f1_ci: [0.65, 0.75], meaningful: true, min_items: 30, confidence: 0.95,
    },
    ...overrides,
  };
}

describe("ServingPanel", () => {
  it("names the proposer, says why, and shows the holdout figure with its interval and count", () => {
    render(<ServingPanel serving={serving()} />);
    expect(screen.getByTestId("serving-proposer").textContent).toBe(
      "Label spreading serves the proposals, from round 7 (trained on 300 labels).");
    expect(screen.getByTestId("serving-reason").textContent).toBe("Why: best cross-validated accuracy");
    expect(screen.getByTestId("serving-holdout").textContent).toBe(
      "Holdout accuracy: 78.2% (95% CI 74.0–82.1%) on 412 holdout items");
  });

  it("lists the candidates' cross-validated scores, best first, the serving one marked", () => {
    render(<ServingPanel serving={serving()} />);
    const rows = [...screen.getByTestId("serving-candidates").querySelectorAll("tbody tr")];
    expect(rows.map((row) => [...row.children].map((cell) => cell.textContent))).toEqual([
      ["Label spreadingserving", "78.1%", "0.700", "300"],
      ["Classifier head", "74.0%", "0.812", "300"],
      ["Zero-shot from the taxonomy", "n/a", "n/a", "0"],
    ]);
    expect(rows[0].classList.contains("chosen")).toBe(true);
  });

  it("below the minimum count says the figure is not yet meaningful instead of a bare percentage", () => {
    const holdout = { ...serving().holdout!, items: 12, accuracy: 0.583, accuracy_ci: [0.333, 0.833], meaningful: false };
    render(<ServingPanel serving={serving({ holdout })} />);
    const figure = screen.getByTestId("serving-holdout");
    expect(figure.querySelector("strong")!.textContent).toBe("not yet meaningful: 12 holdout items (needs 30)");
    expect(figure.textContent).toContain("measured so far: 58.3% (95% CI 33.3–83.3%) on 12 holdout items");
    expect(figure.classList.contains("not-meaningful")).toBe(true);
  });

  it("a round not evaluated on the holdout, a multi-label round, and one without holdout figures", () => {
    expect(describeHoldout({ ...serving().holdout!, evaluated: false, reason: "no approved holdout labels yet",
                             items: 0, accuracy: null, accuracy_ci: null, meaningful: null }).headline)
      .toBe("not evaluated: no approved holdout labels yet");
    expect(describeHoldout(null).headline).toBe("no holdout figures recorded");
    render(<ServingPanel serving={serving({ holdout: { ...serving().holdout!, metric: "subset_accuracy" } })} />);
    expect(screen.getByTestId("serving-holdout").textContent).toMatch(/^Holdout subset accuracy: 78.2%/);
  });

  it("an older round: no proposer recorded, no candidates, no interval", () => {
    const holdout = { ...serving().holdout!, accuracy_ci: null, meaningful: null, min_items: null, items: 12 };
    render(<ServingPanel serving={serving({ proposer: null, reason: "", labels: null, candidates: [], holdout })} />);
    expect(screen.getByTestId("serving-proposer").textContent).toContain("did not record which proposer");
    expect(screen.queryByTestId("serving-reason")).toBeNull();
    expect(screen.getByTestId("serving-no-candidates")).toBeTruthy();
    expect(screen.getByTestId("serving-holdout").textContent).toBe("Holdout accuracy: 78.2% on 12 holdout items");
  });

  it("no active model yet", () => {
    render(<ServingPanel serving={null} />);
    expect(screen.getByTestId("serving-none").textContent).toMatch(/No model is serving yet/);
  });

  it("renders names and reasons as text, never as HTML", () => {
    const hostile = '<img src=x onerror="alert(1)">';
    render(<ServingPanel serving={serving({ proposer: hostile, reason: hostile,
                                            candidates: [{ name: hostile, accuracy: 0.5, log_loss: 1, rows: 3 }] })} />);
    expect(document.querySelector("img")).toBeNull();
    expect(screen.getByTestId("serving-reason").textContent).toBe(`Why: ${hostile}`);
    expect(screen.getByTestId("serving-proposer").textContent).toContain(hostile);
    expect(proposerName("knn_vote")).toBe("knn_vote");
    expect(proposerName("constructor")).toBe("constructor");
  });

  it("sits on the dashboard", () => {
    setup({ dashboard: dashboard({ serving: serving() }) });
    expect(screen.getByRole("heading", { name: "Serving model" })).toBeTruthy();
    expect(screen.getByTestId("serving-holdout").textContent).toContain("on 412 holdout items");
  });
});
