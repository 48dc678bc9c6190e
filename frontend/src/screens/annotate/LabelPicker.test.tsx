import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Label } from "../../api";
import { buildKeymap } from "./keyboard";
import { filterLabels, LabelPicker } from "./LabelPicker";

afterEach(cleanup);

const label = (key: string, extra: Partial<Label> = {}): Label => ({
  key, name: key, parent: null, hotkey: "", guideline: "", examples: [], ...extra,
});

const LABELS = [
  label("card_arrival", { name: "Card arrival", guideline: "Asks when a new card will arrive." }),
  label("card_linking", { name: "Card linking", hotkey: "l" }),
  label("exchange_rate", { name: "Exchange rate" }),
  label("spam", { name: "Spam", hotkey: "s" }),
];

function renderPicker(overrides: Partial<Parameters<typeof LabelPicker>[0]> = {}) {
  const onChoose = vi.fn();
  render(
    <LabelPicker
      labels={LABELS}
      keymap={buildKeymap(LABELS)}
      multi={false}
      selected={new Set()}
      suggested={new Set()}
      onChoose={onChoose}
      {...overrides}
    />,
  );
  return onChoose;
}

describe("filterLabels", () => {
  it("matches every word against key and name, underscores as spaces", () => {
    expect(filterLabels(LABELS, "card").map((l) => l.key)).toEqual(["card_arrival", "card_linking"]);
    expect(filterLabels(LABELS, "card link").map((l) => l.key)).toEqual(["card_linking"]);
    expect(filterLabels(LABELS, "exchange_r").map((l) => l.key)).toEqual(["exchange_rate"]);
    expect(filterLabels(LABELS, "  ")).toHaveLength(4);
    expect(filterLabels(LABELS, "nothing")).toEqual([]);
  });
});

describe("LabelPicker", () => {
  it("shows every label with its keys, and marks the suggestion and the selection", () => {
    renderPicker({ selected: new Set(["exchange_rate"]), suggested: new Set(["exchange_rate"]) });
    const buttons = screen.getAllByRole("button");
    expect(buttons).toHaveLength(4);
    expect(buttons[1].textContent).toContain("2l"); // digit 2 and hotkey l
    const chosen = screen.getByRole("button", { name: /Exchange rate/ });
    expect(chosen.getAttribute("aria-pressed")).toBe("true");
    expect(chosen.textContent).toContain("suggested");
    expect(screen.getByRole("button", { name: /Spam/ }).textContent).toContain("hotkey s unavailable");
  });

  it("narrows the list as you type and Enter picks the first match", () => {
    const onChoose = renderPicker();
    const filter = screen.getByLabelText("Filter labels");
    fireEvent.change(filter, { target: { value: "link" } });
    expect(screen.getAllByRole("button").map((b) => b.getAttribute("data-label"))).toEqual(["card_linking"]);
    expect(screen.getByText("1 of 4 labels")).toBeTruthy();
    fireEvent.keyDown(filter, { key: "Enter" });
    expect(onChoose).toHaveBeenCalledWith("card_linking");
  });

  it("says when nothing matches, and Enter then picks nothing", () => {
    const onChoose = renderPicker();
    const filter = screen.getByLabelText("Filter labels");
    fireEvent.change(filter, { target: { value: "zzz" } });
    expect(screen.getByText(/No label matches/)).toBeTruthy();
    fireEvent.keyDown(filter, { key: "Enter" });
    expect(onChoose).not.toHaveBeenCalled();
  });

  it("Escape clears the filter and hands focus back", () => {
    const onLeaveFilter = vi.fn();
    renderPicker({ onLeaveFilter });
    const filter = screen.getByLabelText("Filter labels") as HTMLInputElement;
    fireEvent.change(filter, { target: { value: "card" } });
    fireEvent.keyDown(filter, { key: "Escape" });
    expect(filter.value).toBe("");
    expect(onLeaveFilter).toHaveBeenCalledOnce();
    expect(screen.getAllByRole("button")).toHaveLength(4);
  });

  it("shows a label's guideline on focus and on hover, and links it for screen readers", () => {
    renderPicker();
    const arrival = screen.getByRole("button", { name: /Card arrival/ });
    expect(screen.queryByText("Asks when a new card will arrive.", { selector: "aside p" })).toBeNull();
    fireEvent.focus(arrival);
    expect(screen.getByText("Asks when a new card will arrive.", { selector: "aside p" })).toBeTruthy();
    const described = document.getElementById(arrival.getAttribute("aria-describedby")!);
    expect(described?.textContent).toBe("Asks when a new card will arrive.");
    fireEvent.mouseEnter(screen.getByRole("button", { name: /Exchange rate/ }));
    expect(screen.getByText("No guideline for this label.")).toBeTruthy();
  });

  it("a click chooses; disabled buttons do not", () => {
    const onChoose = renderPicker();
    fireEvent.click(screen.getByRole("button", { name: /Card linking/ }));
    expect(onChoose).toHaveBeenCalledWith("card_linking");
    cleanup();
    const onChooseDisabled = renderPicker({ disabled: true });
    fireEvent.click(screen.getByRole("button", { name: /Card linking/ }));
    expect(onChooseDisabled).not.toHaveBeenCalled();
  });
});
