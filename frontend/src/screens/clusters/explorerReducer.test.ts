import { describe, expect, it } from "vitest";

import type { Page } from "../../api";
import type { BulkBatch, Cluster, ClusterMember } from "./clustersApi";
import { explorerReducer, INITIAL, pageIds, type ExplorerAction, type ExplorerState } from "./explorerReducer";
import { selectedIds } from "./selection";

const cluster = (id: number): Cluster => ({
  id, round: 2, index: id - 1, size: 5, labelled_coverage: 0.2, purity: null, top_labels: [], unlabelled: 4,
});

const member = (id: number): ClusterMember => ({
  id, modality: "text", text: `item ${id}`, file_url: null, external_id: "", proposal: { labels: ["bug"], confidence: 0.9 },
});

const page = <T,>(results: T[], next: string | null = null, previous: string | null = null): Page<T> => ({
  results, next, previous,
});

const batch = (id: number): BulkBatch => ({
  id, labels: ["bug"], taxonomy_version: 1, cluster: null, created_by: "lead", state: "verifying", sample_rate: 0.1,
  max_error_rate: 0.1, item_count: 3, sample_size: 1, verified_count: 0, error_count: 0, error_rate: null, excluded: {},
  created_at: "2026-11-22T05:00:00Z", resolved_at: null, sample: [], held: { pending: 2, approved: 0, requeued: 0 },
});

const run = (state: ExplorerState, ...actions: ExplorerAction[]) => actions.reduce(explorerReducer, state);

/** Cluster 1 open on its first page of members, 10 to 14. */
const browsing = () =>
  run(
    INITIAL,
    { type: "clusters", page: page([cluster(1), cluster(2)], "/more"), append: false },
    { type: "opened", cluster: cluster(1) },
    { type: "members", page: page([10, 11, 12, 13, 14].map(member), "/members?page=2") },
  );

describe("explorerReducer: clusters", () => {
  it("starts sorted by index with nothing loaded", () => {
    expect(INITIAL).toMatchObject({ ordering: "index", clusters: null, open: null, batches: null, busy: false });
  });

  it("replaces the list with a first page and appends the next ones", () => {
    let state = run(INITIAL, { type: "clusters", page: page([cluster(1)], "/more"), append: false });
    expect(state.clusters?.map((c) => c.id)).toEqual([1]);
    expect(state.moreClusters).toBe("/more");
    state = run(state, { type: "clusters", page: page([cluster(2)]), append: true });
    expect(state.clusters?.map((c) => c.id)).toEqual([1, 2]);
    expect(state.moreClusters).toBeNull();
    // A page without `next` at all (the schema allows it) is the end too.
    const end = explorerReducer(INITIAL, { type: "clusters", page: { results: [cluster(3)] }, append: false });
    expect(end.moreClusters).toBeNull();
  });

  it("a first page clears the last error; a failed next page keeps what was loaded", () => {
    let state = run(INITIAL, { type: "clusterError", message: "Could not load the clusters: boom" });
    state = run(state, { type: "clusters", page: page([cluster(1)], "/more"), append: false });
    expect(state.clusterError).toBeNull();
    state = run(state, { type: "clusterError", message: "Could not load more clusters: boom" });
    expect(state.clusters?.map((c) => c.id)).toEqual([1]);
    expect(state.clusterError).toBe("Could not load more clusters: boom");
  });

  it("sorting changes the order asked for and keeps the open cluster", () => {
    const state = explorerReducer(browsing(), { type: "sorted", ordering: "-size" });
    expect(state.ordering).toBe("-size");
    expect(state.open?.id).toBe(1);
  });
});

describe("explorerReducer: members and selection", () => {
  it("opening a cluster shows its members from scratch, nothing checked, no outcome left", () => {
    const before = run(
      browsing(),
      { type: "rowClicked", id: 11, shift: false },
      { type: "createFailed", message: "The batch was not created: boom" },
      { type: "cancelled", notice: { text: "Batch #3 cancelled: its held items are back in the queue." } },
    );
    const state = explorerReducer(before, { type: "opened", cluster: cluster(2) });
    expect(state).toMatchObject({ members: null, bulkError: null, notice: null });
    expect(state.open?.id).toBe(2);
    expect(selectedIds(state.selection)).toEqual([]);
  });

  it("clicks and shift-clicks rows of the page shown, and the page box checks them all", () => {
    let state = run(browsing(), { type: "rowClicked", id: 10, shift: false }, { type: "rowClicked", id: 12, shift: true });
    expect(selectedIds(state.selection)).toEqual([10, 11, 12]);
    state = run(state, { type: "pageToggled" });
    expect(selectedIds(state.selection)).toEqual([10, 11, 12, 13, 14]);
    state = run(state, { type: "pageToggled" });
    expect(selectedIds(state.selection)).toEqual([]);
  });

  it("keeps the selection across pages; a shift-click on another page does not reach back to the anchor", () => {
    let state = run(browsing(), { type: "rowClicked", id: 12, shift: false });
    state = run(state, { type: "members", page: page([20, 21, 22].map(member), null, "/members") });
    expect(pageIds(state)).toEqual([20, 21, 22]);
    state = run(state, { type: "rowClicked", id: 22, shift: true });
    expect(selectedIds(state.selection)).toEqual([12, 22]);
  });

  it("clears the selection, and a member error keeps the page shown", () => {
    let state = run(browsing(), { type: "pageToggled" }, { type: "selectionCleared" });
    expect(selectedIds(state.selection)).toEqual([]);
    state = run(state, { type: "memberError", message: "Could not load the members of cluster 0: boom" });
    expect(pageIds(state)).toEqual([10, 11, 12, 13, 14]);
    state = run(state, { type: "members", page: page([member(10)]) });
    expect(state.memberError).toBeNull();
  });

  it("with no page shown, clicks only remember the row", () => {
    const state = run(INITIAL, { type: "pageToggled" }, { type: "rowClicked", id: 5, shift: true });
    expect(selectedIds(state.selection)).toEqual([5]);
  });
});

describe("explorerReducer: bulk batches", () => {
  it("creating waits, then drops the batch's items from the selection and says what happened", () => {
    let state = run(browsing(), { type: "rowClicked", id: 10, shift: false }, { type: "rowClicked", id: 13, shift: true });
    state = run(state, { type: "createFailed", message: "old" }, { type: "creating" });
    expect(state).toMatchObject({ busy: true, bulkError: null });
    const notice = { text: "Batch #4 created: 3 items labelled bug, 1 of them sent to annotators for verification." };
    state = run(state, { type: "created", items: [10, 11], notice }, { type: "createEnded" });
    expect(selectedIds(state.selection)).toEqual([12, 13]);
    expect(state.selection.anchor).toBe(13);
    expect(state.notice).toBe(notice);
    expect(state.busy).toBe(false);
  });

  it("a refused batch keeps the selection and shows why", () => {
    const before = run(browsing(), { type: "pageToggled" }, { type: "creating" });
    const state = run(before, { type: "createFailed", message: "The batch was not created: item 7 is leased" }, { type: "createEnded" });
    expect(selectedIds(state.selection)).toEqual([10, 11, 12, 13, 14]);
    expect(state).toMatchObject({ busy: false, bulkError: "The batch was not created: item 7 is leased" });
  });

  it("lists batches newest first, and a load clears the last error", () => {
    let state = run(INITIAL, { type: "batchError", message: "Could not load the bulk batches: boom" });
    state = run(state, { type: "batches", batches: [batch(1), batch(3), batch(2)] });
    expect(state.batches?.map((b) => b.id)).toEqual([3, 2, 1]);
    expect(state.batchError).toBeNull();
  });

  it("marks the batch being cancelled, clearing the last error, and forgets it when done", () => {
    let state = run(INITIAL, { type: "batchError", message: "old" }, { type: "cancelling", batch: 3 });
    expect(state).toMatchObject({ cancelling: 3, batchError: null });
    state = run(state, { type: "batchError", message: "Could not cancel batch #3: gone" }, { type: "cancelEnded" });
    expect(state).toMatchObject({ cancelling: null, batchError: "Could not cancel batch #3: gone" });
  });
});
