import { act, cleanup, renderHook, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { Page } from "../../api";
import * as clustersApi from "./clustersApi";
import type { BulkBatch, Cluster, ClusterMember } from "./clustersApi";
import { selectedIds } from "./selection";
import { useClusterExplorer } from "./useClusterExplorer";

vi.mock("./clustersApi", async (importOriginal) => ({
  ...(await importOriginal<typeof import("./clustersApi")>()),
  listClusters: vi.fn(),
  listMembers: vi.fn(),
  listBatches: vi.fn(),
  createBatch: vi.fn(),
  cancelBatch: vi.fn(),
}));

const mocked = vi.mocked(clustersApi);

const cluster = (id: number): Cluster => ({
  id, round: 2, index: id - 1, size: 5, labelled_coverage: 0.2, purity: null, top_labels: [], unlabelled: 4,
});
const member = (id: number): ClusterMember => ({
  id, modality: "text", text: `item ${id}`, file_url: null, external_id: "", proposal: { labels: ["bug"], confidence: 0.9 },
});
const page = <T,>(results: T[], next: string | null = null): Page<T> => ({ results, next, previous: null });
const batch = (id: number, extra: Partial<BulkBatch> = {}): BulkBatch => ({
  id, labels: ["bug"], taxonomy_version: 1, cluster: null, created_by: "lead", state: "verifying", sample_rate: 0.1,
  max_error_rate: 0.1, item_count: 2, sample_size: 1, verified_count: 0, error_count: 0, error_rate: null, excluded: {},
  created_at: "2026-11-22T05:00:00Z", resolved_at: null, sample: [], held: { pending: 1, approved: 0, requeued: 0 }, ...extra,
});

async function loaded() {
  const hook = renderHook(() => useClusterExplorer(3));
  await waitFor(() => expect(hook.result.current.state.batches).not.toBeNull());
  await waitFor(() => expect(hook.result.current.state.clusters).not.toBeNull());
  return hook;
}

beforeEach(() => {
  vi.resetAllMocks();
  mocked.listClusters.mockResolvedValue(page([cluster(1), cluster(2)]));
  mocked.listBatches.mockResolvedValue(page([batch(1), batch(2)]));
  mocked.listMembers.mockResolvedValue(page([10, 11, 12].map(member)));
});
afterEach(cleanup);

describe("useClusterExplorer", () => {
  it("loads the clusters and the batches, and fetches the clusters again in a new order", async () => {
    const { result } = await loaded();
    expect(mocked.listClusters).toHaveBeenLastCalledWith(3, "index");
    expect(result.current.state.batches?.map((b) => b.id)).toEqual([2, 1]);
    act(() => result.current.sort("-size"));
    await waitFor(() => expect(mocked.listClusters).toHaveBeenLastCalledWith(3, "-size"));
  });

  it("shows the members page asked last, even when an earlier one answers after it", async () => {
    const { result } = await loaded();
    let slow!: (value: Page<ClusterMember>) => void;
    mocked.listMembers.mockReturnValueOnce(new Promise((resolve) => (slow = resolve)));
    act(() => result.current.openCluster(cluster(1)));
    act(() => result.current.openCluster(cluster(2)));
    await waitFor(() => expect(result.current.state.members?.results.map((m) => m.id)).toEqual([10, 11, 12]));
    await act(async () => slow(page([99].map(member))));
    expect(result.current.state.members?.results.map((m) => m.id)).toEqual([10, 11, 12]);
    expect(result.current.state.open?.id).toBe(2);
  });

  it("bulk-labels the checked members in id order, then fetches members, clusters and batches again", async () => {
    const { result } = await loaded();
    act(() => result.current.openCluster(cluster(1)));
    await waitFor(() => expect(result.current.state.members).not.toBeNull());
    act(() => result.current.clickRow(12, false));
    act(() => result.current.clickRow(10, true));
    mocked.createBatch.mockResolvedValue(batch(4, { item_count: 3 }));
    mocked.listMembers.mockResolvedValue(page([11].map(member)));
    const calls = () => [mocked.listMembers, mocked.listClusters, mocked.listBatches].map((fn) => fn.mock.calls.length);
    const before = calls();
    await act(() => result.current.confirm(["bug"]));
    expect(mocked.createBatch).toHaveBeenCalledWith(3, [10, 11, 12], ["bug"]);
    expect(calls()).toEqual(before.map((n) => n + 1));
    expect(selectedIds(result.current.state.selection)).toEqual([]);
    expect(result.current.state.notice).toEqual({
      text: "Batch #4 created: 3 items labelled bug, 1 of them sent to annotators for verification.",
    });
    expect(result.current.state.busy).toBe(false);
  });

  it("says why a batch was not created or not cancelled", async () => {
    const { result } = await loaded();
    act(() => result.current.openCluster(cluster(1)));
    await waitFor(() => expect(result.current.state.members).not.toBeNull());
    act(() => result.current.togglePage());
    mocked.createBatch.mockRejectedValue(new Error("items: item 7 is leased"));
    await act(() => result.current.confirm(["bug"]));
    expect(result.current.state.bulkError).toBe("The batch was not created: items: item 7 is leased");
    expect(selectedIds(result.current.state.selection)).toEqual([10, 11, 12]);
    mocked.cancelBatch.mockRejectedValue(new Error("already accepted"));
    await act(() => result.current.cancel(batch(2)));
    expect(result.current.state.batchError).toBe("Could not cancel batch #2: already accepted");
    expect(result.current.state.cancelling).toBeNull();
  });
});
