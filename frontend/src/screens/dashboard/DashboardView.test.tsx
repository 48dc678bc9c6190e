import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { CurvePoint, Dashboard, TrainingRound } from "./dashboardApi";
import { DashboardView, formatEta, RoundStatus, type DashboardViewProps } from "./DashboardView";
import { layout, LearningCurve, niceCeiling } from "./LearningCurve";

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
    expect(svg.getAttribute("aria-label")).toBe("Learning curve over 2 rounds: holdout accuracy 80.0% at 40 labels in round 3.");
    expect(svg.querySelectorAll("circle.dot.accuracy")).toHaveLength(2);
    expect(svg.querySelectorAll("circle.dot.f1")).toHaveLength(1);
    expect(svg.querySelector("polyline.accuracy")?.getAttribute("points")?.split(" ")).toHaveLength(2);
    expect(screen.getByRole("row", { name: "3 40 80.0% n/a" })).toBeTruthy();
  });

  it("says the curve starts with the first evaluated round", () => {
    render(<LearningCurve points={[]} />);
    expect(screen.queryByRole("img")).toBeNull();
    expect(screen.getByText(/No round has been evaluated/)).toBeTruthy();
  });
});
