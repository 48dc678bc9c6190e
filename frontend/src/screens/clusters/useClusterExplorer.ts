// The cluster explorer's calls: the clusters in the chosen order, the open
// cluster's members page by page, bulk labelling of the checked members and
// the batches; explorerReducer holds what they answered.
//
// Everything the explorer shows comes from the API as it is now: after a
// batch is created or cancelled the members, the clusters' unlabelled counts
// and the batches are fetched again rather than patched locally.

import { useCallback, useEffect, useReducer, useRef } from "react";

import {
  cancelBatch,
  createBatch,
  listBatches,
  listClusters,
  listMembers,
  type BulkBatch,
  type Cluster,
  type ClusterOrdering,
} from "./clustersApi";
import { explorerReducer, INITIAL, type ExplorerState } from "./explorerReducer";
import { selectedIds } from "./selection";

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface ClusterExplorer {
  state: ExplorerState;
  sort: (ordering: ClusterOrdering) => void;
  showMoreClusters: () => Promise<void>;
  openCluster: (cluster: Cluster) => void;
  /** Show another page of the open cluster's members (`link` from the page shown). */
  showMembers: (link: string | null) => Promise<void>;
  clickRow: (id: number, shift: boolean) => void;
  togglePage: () => void;
  clearSelection: () => void;
  /** Bulk-label the checked members with `labels`. */
  confirm: (labels: string[]) => Promise<void>;
  cancel: (batch: BulkBatch) => Promise<void>;
}

export function useClusterExplorer(projectId: number): ClusterExplorer {
  const [state, dispatch] = useReducer(explorerReducer, INITIAL);
  const { ordering, moreClusters, open, selection } = state;
  const memberRequest = useRef(0);

  const loadClusters = useCallback(async () => {
    try {
      dispatch({ type: "clusters", page: await listClusters(projectId, ordering), append: false });
    } catch (err) {
      dispatch({ type: "clusterError", message: `Could not load the clusters: ${message(err)}` });
    }
  }, [projectId, ordering]);

  useEffect(() => {
    void loadClusters();
  }, [loadClusters]);

  const showMoreClusters = async () => {
    if (!moreClusters) return;
    try {
      dispatch({ type: "clusters", page: await listClusters(projectId, ordering, moreClusters), append: true });
    } catch (err) {
      dispatch({ type: "clusterError", message: `Could not load more clusters: ${message(err)}` });
    }
  };

  const loadBatches = useCallback(async () => {
    try {
      dispatch({ type: "batches", batches: (await listBatches(projectId)).results });
    } catch (err) {
      dispatch({ type: "batchError", message: `Could not load the bulk batches: ${message(err)}` });
    }
  }, [projectId]);

  useEffect(() => {
    void loadBatches();
  }, [loadBatches]);

  /** Show a page of `cluster`'s members (`link` from the last page, or the first page). */
  const loadMembers = useCallback(
    async (cluster: Cluster, link: string | null = null) => {
      const request = ++memberRequest.current;
      try {
        const page = await listMembers(projectId, cluster.id, link);
        if (request !== memberRequest.current) return; // a later request won
        dispatch({ type: "members", page });
      } catch (err) {
        if (request !== memberRequest.current) return;
        dispatch({ type: "memberError", message: `Could not load the members of cluster ${cluster.index}: ${message(err)}` });
      }
    },
    [projectId],
  );

  const openCluster = (cluster: Cluster) => {
    dispatch({ type: "opened", cluster });
    void loadMembers(cluster);
  };

  const showMembers = async (link: string | null) => {
    if (open) await loadMembers(open, link);
  };

  const confirm = async (labels: string[]) => {
    if (!open) return;
    const items = selectedIds(selection);
    dispatch({ type: "creating" });
    try {
      const batch = await createBatch(projectId, items, labels);
      dispatch({
        type: "created",
        items,
        notice: {
          text: `Batch #${batch.id} created: ${batch.item_count} items labelled ${batch.labels.join(", ")}, ` +
            `${batch.sample_size} of them sent to annotators for verification.`,
        },
      });
      await Promise.all([loadMembers(open), loadClusters(), loadBatches()]);
    } catch (err) {
      dispatch({ type: "createFailed", message: `The batch was not created: ${message(err)}` });
    } finally {
      dispatch({ type: "createEnded" });
    }
  };

  const cancel = async (batch: BulkBatch) => {
    dispatch({ type: "cancelling", batch: batch.id });
    try {
      await cancelBatch(projectId, batch.id);
      dispatch({ type: "cancelled", notice: { text: `Batch #${batch.id} cancelled: its held items are back in the queue.` } });
      await Promise.all([loadBatches(), loadClusters(), ...(open ? [loadMembers(open)] : [])]);
    } catch (err) {
      dispatch({ type: "batchError", message: `Could not cancel batch #${batch.id}: ${message(err)}` });
    } finally {
      dispatch({ type: "cancelEnded" });
    }
  };

  return {
    state,
    sort: (next) => dispatch({ type: "sorted", ordering: next }),
    showMoreClusters,
    openCluster,
    showMembers,
    clickRow: (id, shift) => dispatch({ type: "rowClicked", id, shift }),
    togglePage: () => dispatch({ type: "pageToggled" }),
    clearSelection: () => dispatch({ type: "selectionCleared" }),
    confirm,
    cancel,
  };
}
