import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Label } from "../../api";
import { BatchList, batchProgress } from "./BatchList";
import { BulkLabelPanel, bulkSummary } from "./BulkLabelPanel";
import type { BulkBatch } from "./clustersApi";

afterEach(cleanup);

const label = (key: string): Label => ({ key, name: key, parent: null, hotkey: "", guideline: "", examples: [] });
const LABELS = [label("billing"), label("bug"), label("other")];
const RULES = { bulk_verification_rate: 0.1, bulk_max_error_rate: 0.2 };

describe("BulkLabelPanel", () => {
  it("summarises the sample and the approval rule", () => {
    expect(bulkSummary(30, ["bug"], RULES)).toBe(
      "Label 30 items as bug. A sample of 3 (ceil(0.1 × 30)) will be labelled by annotators who do not see " +
        "these labels. The batch is approved only if the sample's error rate is at most 20%; otherwise the " +
        "items go back to the queue.",
    );
    expect(bulkSummary(1, ["bug", "other"], RULES)).toMatch(/^Label 1 item as bug \+ other\. A sample of 1 /);
  });

  it("asks for a label, then a confirmation, before calling back", () => {
    const onConfirm = vi.fn();
    render(<BulkLabelPanel labels={LABELS} multi={false} count={12} rules={RULES} busy={false} error={null}
                           onConfirm={onConfirm} />);
    const start = screen.getByRole("button", { name: "Bulk label…" }) as HTMLButtonElement;
    expect(start.disabled).toBe(true);
    fireEvent.click(screen.getByRole("button", { name: /billing/ }));
    fireEvent.click(screen.getByRole("button", { name: /^bug/ })); // single label: replaces billing
    fireEvent.click(start);
    expect(screen.getByText(/A sample of 2 \(ceil\(0\.1 × 12\)\)/)).toBeTruthy();
    expect(onConfirm).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole("button", { name: "Confirm bulk label" }));
    expect(onConfirm).toHaveBeenCalledWith(["bug"]);
  });

  it("toggles several labels in a multi-label project and shows the API's error as text", () => {
    const onConfirm = vi.fn();
    render(<BulkLabelPanel labels={LABELS} multi count={3} rules={RULES} busy={false}
                           error="items: item 7 is leased to an annotator right now" onConfirm={onConfirm} />);
    fireEvent.click(screen.getByRole("button", { name: /billing/ }));
    fireEvent.click(screen.getByRole("button", { name: /other/ }));
    fireEvent.click(screen.getByRole("button", { name: /billing/ }));
    fireEvent.click(screen.getByRole("button", { name: "Bulk label…" }));
    fireEvent.click(screen.getByRole("button", { name: "Confirm bulk label" }));
    expect(onConfirm).toHaveBeenCalledWith(["other"]);
    expect(screen.getByRole("alert").textContent).toBe("items: item 7 is leased to an annotator right now");
  });
});

const batch = (id: number, extra: Partial<BulkBatch> = {}): BulkBatch => ({
  id, labels: ["bug"], taxonomy_version: 1, cluster: null, created_by: "lead", state: "verifying", sample_rate: 0.1,
  max_error_rate: 0.1, item_count: 10, sample_size: 1, verified_count: 0, error_count: 0, error_rate: null, excluded: {},
  created_at: "2026-11-22T05:00:00Z", resolved_at: null, sample: [], held: { pending: 9, approved: 0, requeued: 0 }, ...extra,
});

describe("BatchList", () => {
  it("shows state and progress, and offers Cancel only for verifying batches", () => {
    const onCancel = vi.fn();
    const open = batch(2);
    render(<BatchList batches={[open, batch(1, { state: "accepted", error_rate: 0, verified_count: 1, held: { pending: 0, approved: 9, requeued: 0 } })]} busyId={null}
                      onCancel={onCancel} />);
    expect(screen.getByText(batchProgress(open))).toBeTruthy();
    expect(batchProgress(open)).toBe("0 of 1 sampled verified, 0 wrong; held: 9 waiting, 0 approved, 0 back in the queue");
    expect(screen.getAllByRole("button")).toHaveLength(1);
    fireEvent.click(screen.getByRole("button", { name: "Cancel batch 2" }));
    expect(onCancel).toHaveBeenCalledWith(open);
    expect(screen.getByText("accepted")).toBeTruthy();
  });
});
