import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { afterEach, describe, expect, it } from "vitest";

import type { ClusterMember } from "./clustersApi";
import { MemberTable } from "./MemberTable";
import { clickRow, EMPTY, selectedIds, togglePage, type Selection } from "./selection";

afterEach(cleanup);

const member = (id: number, extra: Partial<ClusterMember> = {}): ClusterMember => ({
  id, modality: "text", text: `text ${id}`, file_url: null, external_id: "",
  proposal: { labels: ["bug"], confidence: 0.9 }, ...extra,
});

const MEMBERS = [1, 2, 3, 4, 5].map((id) => member(id));

/** The table wired to the real selection logic, as the screen wires it. */
function Harness({ members = MEMBERS, onChange }: { members?: ClusterMember[]; onChange: (s: Selection) => void }) {
  const [selection, setSelection] = useState<Selection>(EMPTY);
  const ids = members.map((m) => m.id);
  const update = (next: Selection) => {
    setSelection(next);
    onChange(next);
  };
  return (
    <MemberTable
      members={members}
      selection={selection}
      onClickRow={(id, shift) => update(clickRow(selection, ids, id, shift))}
      onTogglePage={() => update(togglePage(selection, ids))}
    />
  );
}

function setup(members?: ClusterMember[]) {
  let last: Selection = EMPTY;
  render(<Harness members={members} onChange={(s) => (last = s)} />);
  return () => selectedIds(last);
}

const box = (id: number) => screen.getByRole("checkbox", { name: `Select item ${id}` }) as HTMLInputElement;

describe("MemberTable", () => {
  it("checks rows, and a shift-click checks the range", () => {
    const selected = setup();
    fireEvent.click(box(2));
    fireEvent.click(box(4), { shiftKey: true });
    expect(selected()).toEqual([2, 3, 4]);
    expect(box(3).checked).toBe(true);
    expect(box(5).checked).toBe(false);
  });

  it("select all on this page, mixed when some are checked, then clear", () => {
    const selected = setup();
    const all = screen.getByRole("checkbox", { name: "Select all on this page" }) as HTMLInputElement;
    fireEvent.click(box(1));
    expect(all.indeterminate).toBe(true);
    fireEvent.click(all);
    expect(selected()).toEqual([1, 2, 3, 4, 5]);
    expect(all.checked).toBe(true);
    expect(all.indeterminate).toBe(false);
    fireEvent.click(all);
    expect(selected()).toEqual([]);
  });

  it("renders item text as text, never as HTML", () => {
    const hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>bold</b>';
    setup([member(7, { text: hostile, proposal: { labels: [], confidence: null } })]);
    const row = document.querySelector('[data-item-id="7"]')!;
    expect(row.querySelector("img, script, b")).toBeNull();
    expect(row.querySelector(".member-text")!.textContent).toBe(hostile);
    expect(row.textContent).toContain("no confidence");
  });

  it("shows image items from their file URL with an alternative text", () => {
    setup([member(8, { modality: "image", text: "", file_url: "/api/v1/projects/1/items/8/file/" })]);
    const image = screen.getByRole("img", { name: "Image item 8" });
    expect(image.getAttribute("src")).toBe("/api/v1/projects/1/items/8/file/");
  });
});
