// The cluster explorer's state as a pure state machine: the sorted cluster
// list, the open cluster's page of members and the checked ones, the bulk
// batches, and what the screen says about each. useClusterExplorer fetches
// and dispatches what the API answered; the checkbox rules themselves are
// selection.ts's.

import type { Page } from "../../api";
import type { BulkBatch, Cluster, ClusterMember, ClusterOrdering } from "./clustersApi";
import { clickRow, EMPTY, togglePage, without, type Selection } from "./selection";

export type Notice = { text: string; error?: boolean } | null;

export interface ExplorerState {
  ordering: ClusterOrdering;
  /** The clusters loaded so far, in `ordering`; null until the first page arrives. */
  clusters: Cluster[] | null;
  /** The link to the next page of clusters, or null at the end. */
  moreClusters: string | null;
  clusterError: string | null;
  /** The cluster whose members are shown. */
  open: Cluster | null;
  /** The page of `open`'s members shown; null while it loads. */
  members: Page<ClusterMember> | null;
  memberError: string | null;
  /** The checked members (kept across pages of the same cluster). */
  selection: Selection;
  /** The project's bulk batches, newest first; null until loaded. */
  batches: BulkBatch[] | null;
  batchError: string | null;
  /** The batch whose cancel is on its way. */
  cancelling: number | null;
  /** A batch is being created: the selection and the panel wait. */
  busy: boolean;
  bulkError: string | null;
  notice: Notice;
}

export const INITIAL: ExplorerState = {
  ordering: "index",
  clusters: null,
  moreClusters: null,
  clusterError: null,
  open: null,
  members: null,
  memberError: null,
  selection: EMPTY,
  batches: null,
  batchError: null,
  cancelling: null,
  busy: false,
  bulkError: null,
  notice: null,
};

export type ExplorerAction =
  | { type: "sorted"; ordering: ClusterOrdering }
  /** A page of clusters: the first (replacing the list) or the next (appended). */
  | { type: "clusters"; page: Page<Cluster>; append: boolean }
  | { type: "clusterError"; message: string }
  /** Browse a cluster: its members from the first page, nothing checked, the last outcome cleared. */
  | { type: "opened"; cluster: Cluster }
  | { type: "members"; page: Page<ClusterMember> }
  | { type: "memberError"; message: string }
  /** A member's checkbox, on the page shown; `shift` extends from the last one clicked. */
  | { type: "rowClicked"; id: number; shift: boolean }
  /** The page's "select all" box. */
  | { type: "pageToggled" }
  | { type: "selectionCleared" }
  | { type: "batches"; batches: BulkBatch[] }
  | { type: "batchError"; message: string }
  | { type: "creating" }
  /** A batch was created from `items`: they leave the selection. */
  | { type: "created"; items: number[]; notice: Notice }
  | { type: "createFailed"; message: string }
  | { type: "createEnded" }
  | { type: "cancelling"; batch: number }
  | { type: "cancelled"; notice: Notice }
  | { type: "cancelEnded" };

/** The ids of the members on the page shown, in display order. */
export function pageIds(state: ExplorerState): number[] {
  return (state.members?.results ?? []).map((member) => member.id);
}

export function explorerReducer(state: ExplorerState, action: ExplorerAction): ExplorerState {
  switch (action.type) {
    case "sorted":
      return { ...state, ordering: action.ordering };
    case "clusters": {
      const { page, append } = action;
      const clusters = append ? [...(state.clusters ?? []), ...page.results] : page.results;
      return { ...state, clusters, moreClusters: page.next ?? null, clusterError: append ? state.clusterError : null };
    }
    case "clusterError":
      return { ...state, clusterError: action.message };
    case "opened":
      return { ...state, open: action.cluster, members: null, selection: EMPTY, bulkError: null, notice: null };
    case "members":
      return { ...state, members: action.page, memberError: null };
    case "memberError":
      return { ...state, memberError: action.message };
    case "rowClicked":
      return { ...state, selection: clickRow(state.selection, pageIds(state), action.id, action.shift) };
    case "pageToggled":
      return { ...state, selection: togglePage(state.selection, pageIds(state)) };
    case "selectionCleared":
      return { ...state, selection: EMPTY };
    case "batches":
      return { ...state, batches: [...action.batches].sort((a, b) => b.id - a.id), batchError: null };
    case "batchError":
      return { ...state, batchError: action.message };
    case "creating":
      return { ...state, busy: true, bulkError: null };
    case "created":
      return { ...state, selection: without(state.selection, action.items), notice: action.notice };
    case "createFailed":
      return { ...state, bulkError: action.message };
    case "createEnded":
      return { ...state, busy: false };
    case "cancelling":
      return { ...state, cancelling: action.batch, batchError: null };
    case "cancelled":
      return { ...state, notice: action.notice };
    case "cancelEnded":
      return { ...state, cancelling: null };
  }
}
