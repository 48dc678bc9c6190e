import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Annotation, Label } from "../../api";
import type { ReviewTask } from "./reviewApi";
import { describeDetails, formatDuration, ReviewView, type ReviewViewProps } from "./ReviewView";

afterEach(cleanup);

const LABELS: Label[] = [
  { key: "billing", name: "Billing", parent: null, hotkey: "b", guideline: "", examples: [] },
  { key: "bug", name: "Bug", parent: null, hotkey: "g", guideline: "", examples: [] },
  { key: "other", name: "Other", parent: null, hotkey: "o", guideline: "", examples: [] },
];

function annotation(id: number, username: string, labels: string[], extra: Partial<Annotation> = {}): Annotation {
  return {
    id, item: 5, annotator: id, annotator_username: username, labels, source: "manual", proposal: null,
    taxonomy_version: 1, time_spent_ms: 2500, discarded: false, rejection: null, created_at: "2026-01-01T00:00:00Z",
    ...extra,
  };
}

function task(overrides: Partial<ReviewTask> = {}): ReviewTask {
  return {
    id: 9,
    item: {
      id: 5, modality: "text", text: "charged twice after the crash", file_url: null, content_type: "", external_id: "",
      metadata: {}, created_at: "2026-01-01T00:00:00Z",
    },
    reasons: ["disputed"],
    details: { disputed: { agreement: 0.5, labels: [] } },
    consensus: { labels: [], method: "majority", agreement: 0.5, status: "disputed", taxonomy_version: 1, updated_at: "" },
    annotations: [
      annotation(1, "annotator", ["bug"]),
      annotation(2, "annotator2", ["billing"], { source: "proposal_accepted", time_spent_ms: 800 }),
    ],
    gold_labels: null,
    proposal: null,
    lease_expires_at: "2026-01-01T00:30:00Z",
    created_at: "2026-01-01T00:00:00Z",
    ...overrides,
  };
}

const agreed = () =>
  task({
    reasons: ["low_agreement"],
    consensus: { labels: ["bug"], method: "majority", agreement: 0.67, status: "disputed", taxonomy_version: 1, updated_at: "" },
  });

function setup(overrides: Partial<ReviewViewProps> = {}) {
  const props: ReviewViewProps = { task: task(), labels: LABELS, multi: false, busy: false, onDecide: vi.fn(), ...overrides };
  const view = render(<ReviewView {...props} />);
  return { props, view };
}

const press = (key: string, target: Element | Window = window) => fireEvent.keyDown(target, { key });

describe("ReviewView shows the evidence", () => {
  it("every annotation side by side, with who, what, how and how long", () => {
    setup();
    const bob = document.querySelector('[data-annotator="annotator"]')!;
    expect(bob.textContent).toContain("Bug");
    expect(bob.textContent).toContain("labelled by hand");
    expect(bob.textContent).toContain("2.5 s");
    const other = document.querySelector('[data-annotator="annotator2"]')!;
    expect(other.textContent).toContain("Billing");
    expect(other.textContent).toContain("accepted the proposal · 800 ms");
  });

  it("why the item is here, the consensus and its agreement", () => {
    setup({ task: agreed() });
    expect(screen.getByText("Agreement below the project's threshold")).toBeTruthy();
    expect(screen.getByTestId("consensus").textContent).toContain("Bug");
    expect(screen.getByTestId("consensus").textContent).toContain("agreement 67%");
  });

  it("the model's proposal when the task carries one, and says so when it does not", () => {
    setup({ task: task({ proposal: { labels: ["other"], confidence: 0.91 } }) });
    expect(screen.getByTestId("model-proposal").textContent).toContain("Other");
    expect(screen.getByTestId("model-proposal").textContent).toContain("91% confidence");
    cleanup();
    setup();
    expect(screen.getByTestId("model-proposal").textContent).toContain("No model proposal");
  });

  it("the known answer for a gold failure", () => {
    setup({ task: task({ reasons: ["gold_failure"], gold_labels: ["other"], consensus: null }) });
    expect(screen.getByTestId("consensus").textContent).toContain("Known answer");
    expect(screen.getByTestId("consensus").textContent).toContain("Other");
  });

  it("renders item text as text, never as markup", () => {
    const hostile = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>';
    setup({ task: task({ item: { ...task().item, text: hostile } }) });
    expect(screen.getByTestId("review-item-text").textContent).toBe(hostile);
    expect(document.querySelector(".item-text img, .item-text script")).toBeNull();
  });
});

describe("ReviewView decisions by keyboard", () => {
  it("A accepts the consensus", () => {
    const { props } = setup({ task: agreed() });
    press("a");
    expect(props.onDecide).toHaveBeenCalledWith({ decision: "accept" });
  });

  it("A on a tie accepts nothing and says why; the button is disabled", () => {
    const { props } = setup();
    expect((screen.getByRole("button", { name: /Accept/ }) as HTMLButtonElement).disabled).toBe(true);
    press("a");
    expect(props.onDecide).not.toHaveBeenCalled();
    expect(screen.getByRole("status").textContent).toContain("no consensus to accept");
  });

  it("F opens the label picker; a digit picks, Enter saves the fix", () => {
    const { props } = setup();
    press("f");
    expect(screen.getByLabelText("Filter labels")).toBeTruthy();
    press("Enter");
    expect(props.onDecide).not.toHaveBeenCalled(); // nothing picked yet
    press("3");
    press("2"); // single-label: the last pick wins
    expect(document.querySelector("[data-label=bug]")?.getAttribute("aria-pressed")).toBe("true");
    expect(screen.getByRole("button", { name: "Save fix: Bug" })).toBeTruthy();
    press("Enter");
    expect(props.onDecide).toHaveBeenCalledWith({ decision: "fix", labels: ["bug"] });
  });

  it("a fix in a multi-label project toggles labels, starting from the consensus", () => {
    const { props } = setup({ multi: true, task: agreed() });
    press("f");
    press("b"); // add billing by its hotkey
    fireEvent.click(document.querySelector("[data-label=other]")!);
    press("g"); // remove bug
    press("Enter");
    expect(props.onDecide).toHaveBeenCalledWith({ decision: "fix", labels: ["billing", "other"] });
  });

  it("R opens the comment box with focus, without typing an r; a comment is required", () => {
    const { props } = setup();
    press("r");
    const box = screen.getByLabelText(/Why do you reject it/) as HTMLTextAreaElement;
    expect(document.activeElement).toBe(box);
    expect(box.value).toBe("");
    fireEvent.click(screen.getByRole("button", { name: "Reject with this comment" }));
    expect(props.onDecide).not.toHaveBeenCalled();
    expect(screen.getByRole("status").textContent).toContain("Say why you reject it");
    // Typing in the box is typing: A, F, R do nothing there.
    press("a", box);
    press("f", box);
    expect(props.onDecide).not.toHaveBeenCalled();
    fireEvent.change(box, { target: { value: "  both labels are wrong: it is a refund question  " } });
    fireEvent.keyDown(box, { key: "Enter", ctrlKey: true });
    expect(props.onDecide).toHaveBeenCalledWith({ decision: "reject", comment: "both labels are wrong: it is a refund question" });
  });

  it("Escape goes back to the three choices", () => {
    setup();
    press("r");
    fireEvent.keyDown(screen.getByLabelText(/Why do you reject it/), { key: "Escape" });
    expect(screen.queryByLabelText(/Why do you reject it/)).toBeNull();
    press("f");
    press("Escape");
    expect(screen.queryByLabelText("Filter labels")).toBeNull();
    expect(screen.getByRole("button", { name: /Fix/ })).toBeTruthy();
  });

  it("ignores keys while busy and with modifiers", () => {
    const { props, view } = setup({ task: agreed(), busy: true });
    press("a");
    expect(props.onDecide).not.toHaveBeenCalled();
    view.rerender(<ReviewView {...props} busy={false} />);
    fireEvent.keyDown(window, { key: "a", ctrlKey: true });
    expect(props.onDecide).not.toHaveBeenCalled();
    press("a");
    expect(props.onDecide).toHaveBeenCalledOnce();
  });

  it("a new task starts over: back to the choices, the comment cleared", () => {
    const { props, view } = setup();
    press("r");
    fireEvent.change(screen.getByLabelText(/Why do you reject it/), { target: { value: "no" } });
    view.rerender(<ReviewView {...props} task={agreed()} />);
    expect(screen.queryByLabelText(/Why do you reject it/)).toBeNull();
    expect(document.activeElement?.getAttribute("data-item-id")).toBe("5");
  });
});

describe("formatting", () => {
  it("durations and reason details", () => {
    expect(formatDuration(null)).toBe("time not recorded");
    expect(formatDuration(450)).toBe("450 ms");
    expect(formatDuration(12_340)).toBe("12.3 s");
    expect(formatDuration(125_000)).toBe("2 min 5 s");
    expect(describeDetails({ agreement: 0.6667, labels: ["bug", "other"] })).toBe("agreement: 0.67; labels: bug, other");
    expect(describeDetails(undefined)).toBe("");
    expect(describeDetails({ labels: [], annotator: 7 })).toBe("labels: none; annotator: 7");
  });
});
