// Which cluster members are checked, as pure functions over an immutable
// value, so the checkbox rules are tested without a browser.
//
// A selection outlives paging (ids checked on page 1 stay checked while
// page 2 is shown) and remembers the last row clicked, the anchor: a
// shift-click sets every row between the anchor and the clicked one, on the
// page shown, to the state the clicked row takes, as in a mail client.

export interface Selection {
  readonly ids: ReadonlySet<number>;
  readonly anchor: number | null;
}

export const EMPTY: Selection = { ids: new Set(), anchor: null };

/** Click on row `id` of `page` (its ids in display order); `shift` extends from the anchor. */
export function clickRow(selection: Selection, page: readonly number[], id: number, shift: boolean): Selection {
  const checking = !selection.ids.has(id);
  const ids = new Set(selection.ids);
  const from = selection.anchor === null ? -1 : page.indexOf(selection.anchor);
  const to = page.indexOf(id);
  if (shift && from >= 0 && to >= 0) {
    for (const rowId of page.slice(Math.min(from, to), Math.max(from, to) + 1)) {
      if (checking) ids.add(rowId);
      else ids.delete(rowId);
    }
  } else if (checking) {
    ids.add(id);
  } else {
    ids.delete(id);
  }
  return { ids, anchor: id };
}

export type PageState = "none" | "some" | "all";

/** How much of `page` is checked: the "select all on page" box's checked / mixed / clear. */
export function pageState(selection: Selection, page: readonly number[]): PageState {
  const checked = page.filter((id) => selection.ids.has(id)).length;
  if (checked === 0 || page.length === 0) return "none";
  return checked === page.length ? "all" : "some";
}

/** The "select all on page" box: checks every row of the page, or clears them all when all were checked. */
export function togglePage(selection: Selection, page: readonly number[]): Selection {
  const ids = new Set(selection.ids);
  const clear = pageState(selection, page) === "all";
  for (const id of page) {
    if (clear) ids.delete(id);
    else ids.add(id);
  }
  return { ids, anchor: selection.anchor };
}

/** Drops `gone` ids (items a batch just took, say); the anchor too if it went. */
export function without(selection: Selection, gone: Iterable<number>): Selection {
  const goneIds = new Set(gone);
  const ids = new Set([...selection.ids].filter((id) => !goneIds.has(id)));
  const anchor = selection.anchor !== null && goneIds.has(selection.anchor) ? null : selection.anchor;
  return { ids, anchor };
}

/** The checked ids in ascending order, as the bulk API takes them. */
export function selectedIds(selection: Selection): number[] {
  return [...selection.ids].sort((a, b) => a - b);
}
