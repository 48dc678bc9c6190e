import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Label, QueueItem } from "../../api";
import { AnnotatorView, formatConfidence, type AnnotatorViewProps } from "./AnnotatorView";

afterEach(cleanup);

const LABELS: Label[] = [
  { key: "billing", name: "Billing", parent: null, hotkey: "b", guideline: "Money questions.", examples: [] },
  { key: "bug", name: "Bug", parent: null, hotkey: "g", guideline: "", examples: [] },
  { key: "other", name: "Other", parent: null, hotkey: "o", guideline: "", examples: [] },
];

function claim(overrides: Partial<QueueItem> = {}): QueueItem {
  return {
    lease: 7,
    expires_at: "2030-01-01T00:00:00Z",
    item: {
      id: 3, modality: "text", text: "my card was charged twice", file_url: null, content_type: "", external_id: "",
      metadata: {}, created_at: "2026-01-01T00:00:00Z",
    },
    proposal: null,
    resumed: false,
    neighbours: [],
    ...overrides,
  };
}

function setup(overrides: Partial<AnnotatorViewProps> = {}) {
  const props: AnnotatorViewProps = {
    claim: claim(),
    labels: LABELS,
    multi: false,
    busy: false,
    onSubmit: vi.fn(),
    onSkip: vi.fn(),
    onUndo: vi.fn(),
    ...overrides,
  };
  const view = render(<AnnotatorView {...props} />);
  return { props, view };
}

const press = (key: string, target: Element | Window = window) => fireEvent.keyDown(target, { key });

describe("AnnotatorView keyboard, single label", () => {
  it("a digit or a hotkey submits that label at once, not from the proposal", () => {
    const { props } = setup();
    press("2");
    expect(props.onSubmit).toHaveBeenLastCalledWith(["bug"], false);
    press("B");
    expect(props.onSubmit).toHaveBeenLastCalledWith(["billing"], false);
    press("x");
    expect(props.onSubmit).toHaveBeenCalledTimes(2);
  });

  it("Enter accepts the preselected proposal, shown with its confidence", () => {
    const { props } = setup({ claim: claim({ proposal: { labels: ["other"], confidence: 0.873 } }) });
    expect(screen.getByText(/Suggested:/).textContent).toContain("Other");
    expect(screen.getByText("(87% confidence)")).toBeTruthy();
    expect(screen.getByRole("button", { name: /Other/ }).getAttribute("aria-pressed")).toBe("true");
    press("Enter");
    expect(props.onSubmit).toHaveBeenCalledWith(["other"], true);
  });

  it("Enter with no proposal submits nothing and says why", () => {
    const { props } = setup();
    press("Enter");
    expect(props.onSubmit).not.toHaveBeenCalled();
    expect(screen.getByText(/Pick a label/)).toBeTruthy();
  });

  it("a proposal outside the active taxonomy is not preselected", () => {
    const { props } = setup({ claim: claim({ proposal: { labels: ["retired"], confidence: 0.9 } }) });
    expect(screen.getByText("No suggestion for this item.")).toBeTruthy();
    press("Enter");
    expect(props.onSubmit).not.toHaveBeenCalled();
  });

  it("S skips, U asks to undo, ? toggles the shortcuts and Escape closes them", () => {
    const { props } = setup();
    press("s");
    expect(props.onSkip).toHaveBeenCalledOnce();
    press("u");
    expect(props.onUndo).toHaveBeenCalledOnce();
    press("?");
    expect(screen.getByRole("dialog", { name: "Keyboard shortcuts" })).toBeTruthy();
    press("Escape");
    expect(screen.queryByRole("dialog")).toBeNull();
  });

  it("ignores keys while busy, with modifiers, and when typing in the filter", () => {
    const { props, view } = setup({ busy: true });
    press("1");
    press("s");
    expect(props.onSubmit).not.toHaveBeenCalled();
    expect(props.onSkip).not.toHaveBeenCalled();
    view.rerender(<AnnotatorView {...props} busy={false} />);
    fireEvent.keyDown(window, { key: "1", ctrlKey: true });
    expect(props.onSubmit).not.toHaveBeenCalled();
    const filter = screen.getByLabelText("Filter labels");
    press("/");
    expect(document.activeElement).toBe(filter);
    press("s", filter);
    press("1", filter);
    expect(props.onSkip).not.toHaveBeenCalled();
    expect(props.onSubmit).not.toHaveBeenCalled();
  });

  it("Enter on a focused label button presses that button only", () => {
    const { props } = setup({ claim: claim({ proposal: { labels: ["other"], confidence: 0.5 } }) });
    const bug = screen.getByRole("button", { name: /Bug/ });
    bug.focus();
    press("Enter", bug);
    expect(props.onSubmit).not.toHaveBeenCalled(); // the browser turns it into a click; no accept on top
  });
});

describe("AnnotatorView keyboard, multi-label", () => {
  it("keys toggle labels, starting from the proposal, and Enter submits them", () => {
    const { props } = setup({ multi: true, claim: claim({ proposal: { labels: ["bug"], confidence: null } }) });
    expect(screen.getByText("(confidence unknown)")).toBeTruthy();
    press("1"); // add billing
    press("g"); // remove bug
    press("o"); // add other
    expect(props.onSubmit).not.toHaveBeenCalled();
    press("Enter");
    expect(props.onSubmit).toHaveBeenCalledWith(["billing", "other"], true);
  });

  it("Enter with everything toggled off submits nothing", () => {
    const { props } = setup({ multi: true });
    press("1");
    press("1");
    press("Enter");
    expect(props.onSubmit).not.toHaveBeenCalled();
    expect(screen.getByText(/Toggle at least one label/)).toBeTruthy();
  });
});

describe("AnnotatorView content", () => {
  it("renders item text as text, never as markup", () => {
    const hostile = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1">';
    setup({ claim: claim({ item: { ...claim().item, text: hostile } }) });
    expect(screen.getByTestId("item-text").textContent).toBe(hostile);
    expect(document.querySelector(".item-text script, .item-text img")).toBeNull();
  });

  it("renders image items from their file endpoint with alt text", () => {
    const item = { ...claim().item, modality: "image" as const, text: "", file_url: "/api/v1/projects/1/items/3/file/", external_id: "cat-1" };
    setup({ claim: claim({ item }) });
    const image = screen.getByRole("img", { name: "Image item cat-1" });
    expect(image.getAttribute("src")).toBe("/api/v1/projects/1/items/3/file/");
  });

  it("formats confidence as a percentage", () => {
    expect(formatConfidence(0.5)).toBe("50% confidence");
    expect(formatConfidence(null)).toBe("confidence unknown");
  });
});

describe("AnnotatorView after an undo", () => {
  it("starts from the answer taken back, says so, and Enter submits it again", () => {
    const { props } = setup({ preselected: ["bug"], claim: claim({ proposal: { labels: ["other"], confidence: 0.9 } }) });
    expect(screen.getByText(/Your answer was/).textContent).toContain("Bug");
    expect(screen.getByRole("button", { name: /Bug/ }).getAttribute("aria-pressed")).toBe("true");
    expect(screen.getByRole("button", { name: /Other/ }).getAttribute("aria-pressed")).toBe("false");
    press("Enter");
    expect(props.onSubmit).toHaveBeenCalledWith(["bug"], true);
  });

  it("a digit still picks another label at once", () => {
    const { props } = setup({ preselected: ["bug"] });
    press("1");
    expect(props.onSubmit).toHaveBeenCalledWith(["billing"], false);
  });

  it("U does nothing while busy", () => {
    const { props } = setup({ busy: true });
    press("u");
    expect(props.onUndo).not.toHaveBeenCalled();
  });
});

describe("AnnotatorView neighbours", () => {
  const neighbours = [
    { item: 41, text: "<b>charged</b> twice again", labels: ["billing"], similarity: 0.934 },
    { item: 42, text: "", labels: ["bug", "other"], similarity: 0.5 },
  ];

  it("lists the nearest labelled items: text as text, label names, similarity in percent", () => {
    setup({ claim: claim({ neighbours }) });
    const list = screen.getByRole("list", { name: "Similar labelled items" });
    const rows = list.querySelectorAll("li");
    expect(rows).toHaveLength(2);
    expect(rows[0].querySelector(".neighbour-text")!.textContent).toBe("<b>charged</b> twice again");
    expect(rows[0].querySelector("b")).toBeNull();
    expect(rows[0].textContent).toContain("Billing");
    expect(rows[0].textContent).toContain("(93% similar)");
    expect(rows[1].textContent).toContain("Item 42");
    expect(rows[1].textContent).toContain("Bug, Other");
    expect(screen.getByText("Similar labelled items (2)").closest("details")!.open).toBe(true);
  });

  it("is absent without neighbours", () => {
    setup();
    expect(screen.queryByText(/Similar labelled items/)).toBeNull();
  });
});
