import { describe, expect, it } from "vitest";

import { sampleSize } from "./clustersApi";
import { clickRow, EMPTY, pageState, selectedIds, togglePage, without, type Selection } from "./selection";

const PAGE = [10, 11, 12, 13, 14, 15];

const click = (selection: Selection, id: number, shift = false) => clickRow(selection, PAGE, id, shift);

describe("clickRow", () => {
  it("toggles one row and moves the anchor to it", () => {
    const one = click(EMPTY, 12);
    expect(selectedIds(one)).toEqual([12]);
    expect(one.anchor).toBe(12);
    const none = click(one, 12);
    expect(selectedIds(none)).toEqual([]);
    expect(none.anchor).toBe(12);
  });

  it("shift-click checks the range from the anchor, in either direction", () => {
    expect(selectedIds(click(click(EMPTY, 11), 14, true))).toEqual([11, 12, 13, 14]);
    expect(selectedIds(click(click(EMPTY, 14), 11, true))).toEqual([11, 12, 13, 14]);
  });

  it("shift-click on a checked row clears the range, leaving the rest alone", () => {
    let selection = click(EMPTY, 10);
    selection = click(selection, 15, true); // all six
    selection = click(selection, 12); // uncheck 12, anchor 12
    selection = click(selection, 14, true); // 14 is checked: the range 12..14 is cleared
    expect(selectedIds(selection)).toEqual([10, 11, 15]);
  });

  it("without an anchor on this page, shift-click is a plain click", () => {
    const elsewhere: Selection = { ids: new Set([99]), anchor: 99 };
    expect(selectedIds(click(elsewhere, 13, true))).toEqual([13, 99]);
    expect(selectedIds(click(EMPTY, 13, true))).toEqual([13]);
  });

  it("never changes the selection it was given", () => {
    const before = click(EMPTY, 10);
    click(before, 13, true);
    expect(selectedIds(before)).toEqual([10]);
  });
});

describe("the page box", () => {
  it("reports none, some or all of the page", () => {
    expect(pageState(EMPTY, PAGE)).toBe("none");
    expect(pageState(click(EMPTY, 10), PAGE)).toBe("some");
    expect(pageState(togglePage(EMPTY, PAGE), PAGE)).toBe("all");
    expect(pageState(EMPTY, [])).toBe("none");
  });

  it("selects the whole page, then clears it, keeping other pages' rows", () => {
    const other: Selection = { ids: new Set([1, 12]), anchor: 1 };
    const all = togglePage(other, PAGE);
    expect(selectedIds(all)).toEqual([1, ...PAGE]);
    expect(selectedIds(togglePage(all, PAGE))).toEqual([1]);
  });
});

describe("without", () => {
  it("drops the given ids and an anchor among them", () => {
    const selection = click(click(EMPTY, 10), 12, true);
    expect(without(selection, [12])).toEqual({ ids: new Set([10, 11]), anchor: null });
    expect(without(selection, [10]).anchor).toBe(12);
  });
});

describe("sampleSize", () => {
  it("is ceil(rate × n), at least one and at most n, without float noise", () => {
    expect(sampleSize(0.1, 30)).toBe(3); // 0.1 * 30 = 3.0000000000000004
    expect(sampleSize(0.1, 31)).toBe(4);
    expect(sampleSize(0.1, 3)).toBe(1);
    expect(sampleSize(1, 7)).toBe(7);
    expect(sampleSize(0.5, 0)).toBe(0);
  });
});
