// The cluster explorer (reviewers and leads): the active model's clusters,
// a cluster's unlabelled members, checkbox selection, and bulk labelling of
// the selection under the project's sampled-verification rules; then the
// project's bulk batches with their progress.
//
// Everything the explorer shows comes from the API as it is now: after a
// batch is created or cancelled the members, the clusters' unlabelled counts
// and the batches are fetched again rather than patched locally.

import { useCallback, useEffect, useRef, useState } from "react";

import { ApiError, getProject, getTaxonomy, type Label, type Page, type Project } from "../../api";
import { ScreenShell } from "../ScreenShell";
import { BatchList } from "./BatchList";
import { BulkLabelPanel } from "./BulkLabelPanel";
import { ClusterTable } from "./ClusterTable";
import {
  cancelBatch,
  createBatch,
  getBulkRules,
  listBatches,
  listClusters,
  listMembers,
  type BulkBatch,
  type BulkRules,
  type Cluster,
  type ClusterMember,
  type ClusterOrdering,
} from "./clustersApi";
import { MemberTable } from "./MemberTable";
import { clickRow, EMPTY, selectedIds, togglePage, without, type Selection } from "./selection";
import "./clusters.css";

type Notice = { text: string; error?: boolean } | null;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function ClustersScreen({ projectId }: { projectId: number }) {
  const [project, setProject] = useState<Project | null>(null);
  const [labels, setLabels] = useState<Label[] | null>(null);
  const [rules, setRules] = useState<BulkRules | null>(null);
  const [fatal, setFatal] = useState<string | null>(null);

  const [ordering, setOrdering] = useState<ClusterOrdering>("index");
  const [clusters, setClusters] = useState<Cluster[] | null>(null);
  const [moreClusters, setMoreClusters] = useState<string | null>(null);
  const [clusterError, setClusterError] = useState<string | null>(null);

  const [open, setOpen] = useState<Cluster | null>(null);
  const [members, setMembers] = useState<Page<ClusterMember> | null>(null);
  const [memberError, setMemberError] = useState<string | null>(null);
  const [selection, setSelection] = useState<Selection>(EMPTY);
  const memberRequest = useRef(0);
  // Keyboard and screen-reader users land where the action's result is:
  // the members after Browse, the outcome after a batch is created or cancelled.
  const membersHeading = useRef<HTMLHeadingElement>(null);
  const noticeRef = useRef<HTMLParagraphElement>(null);

  const [batches, setBatches] = useState<BulkBatch[] | null>(null);
  const [batchError, setBatchError] = useState<string | null>(null);
  const [cancelling, setCancelling] = useState<number | null>(null);

  const [busy, setBusy] = useState(false);
  const [bulkError, setBulkError] = useState<string | null>(null);
  const [notice, setNotice] = useState<Notice>(null);

  useEffect(() => {
    Promise.all([getProject(projectId), getTaxonomy(projectId), getBulkRules(projectId)]).then(
      ([loaded, taxonomy, loadedRules]) => {
        setProject(loaded);
        setLabels(taxonomy.labels);
        setRules(loadedRules);
      },
      (err: unknown) => {
        const missing = err instanceof ApiError && err.status === 404;
        setFatal(missing ? `This project has no taxonomy yet, or you are not a member of it (${message(err)}).` : message(err));
      },
    );
  }, [projectId]);

  const loadClusters = useCallback(async () => {
    try {
      const page = await listClusters(projectId, ordering);
      setClusters(page.results);
      setMoreClusters(page.next ?? null);
      setClusterError(null);
    } catch (err) {
      setClusterError(`Could not load the clusters: ${message(err)}`);
    }
  }, [projectId, ordering]);

  useEffect(() => {
    void loadClusters();
  }, [loadClusters]);

  const showMoreClusters = async () => {
    if (!moreClusters) return;
    try {
      const page = await listClusters(projectId, ordering, moreClusters);
      setClusters((now) => [...(now ?? []), ...page.results]);
      setMoreClusters(page.next ?? null);
    } catch (err) {
      setClusterError(`Could not load more clusters: ${message(err)}`);
    }
  };

  const loadBatches = useCallback(async () => {
    try {
      const page = await listBatches(projectId);
      setBatches([...page.results].sort((a, b) => b.id - a.id));
      setBatchError(null);
    } catch (err) {
      setBatchError(`Could not load the bulk batches: ${message(err)}`);
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
        setMembers(page);
        setMemberError(null);
      } catch (err) {
        if (request !== memberRequest.current) return;
        setMemberError(`Could not load the members of cluster ${cluster.index}: ${message(err)}`);
      }
    },
    [projectId],
  );

  const openCluster = (cluster: Cluster) => {
    setOpen(cluster);
    setMembers(null);
    setSelection(EMPTY);
    setBulkError(null);
    setNotice(null);
    void loadMembers(cluster);
  };

  const onConfirm = async (chosen: string[]) => {
    if (!open) return;
    const ids = selectedIds(selection);
    setBusy(true);
    setBulkError(null);
    try {
      const batch = await createBatch(projectId, ids, chosen);
      setSelection((now) => without(now, ids));
      setNotice({
        text: `Batch #${batch.id} created: ${batch.item_count} items labelled ${batch.labels.join(", ")}, ` +
          `${batch.sample_size} of them sent to annotators for verification.`,
      });
      await Promise.all([loadMembers(open), loadClusters(), loadBatches()]);
    } catch (err) {
      setBulkError(`The batch was not created: ${message(err)}`);
    } finally {
      setBusy(false);
    }
  };

  const onCancel = async (batch: BulkBatch) => {
    setCancelling(batch.id);
    setBatchError(null);
    try {
      await cancelBatch(projectId, batch.id);
      setNotice({ text: `Batch #${batch.id} cancelled: its held items are back in the queue.` });
      await Promise.all([loadBatches(), loadClusters(), ...(open ? [loadMembers(open)] : [])]);
    } catch (err) {
      setBatchError(`Could not cancel batch #${batch.id}: ${message(err)}`);
    } finally {
      setCancelling(null);
    }
  };

  useEffect(() => {
    if (open) membersHeading.current?.focus();
  }, [open]);

  useEffect(() => {
    if (notice) noticeRef.current?.focus();
  }, [notice]);

  const page = members?.results ?? [];
  const pageIds = page.map((member) => member.id);
  const count = selection.ids.size;
  const round = clusters?.[0]?.round;

  return (
    <ScreenShell className="clusters" screen="Clusters" project={project} fatal={fatal}>
      {notice && (
        <p className={notice.error ? "error" : "notice-ok"} role="status" ref={noticeRef} tabIndex={-1}>
          {notice.text}
        </p>
      )}

      <section aria-labelledby="clusters-title">
        <h2 id="clusters-title">{round ? `Clusters of round ${round}` : "Clusters"}</h2>
        {clusterError && (
          <p className="error" role="alert">
            {clusterError}
          </p>
        )}
        {clusters === null && !clusterError && <p role="status">Loading…</p>}
        {clusters?.length === 0 && (
          <p>No clusters yet: they appear when a training round finishes and its model becomes active.</p>
        )}
        {clusters && clusters.length > 0 && (
          <div className="table-scroll">
            <ClusterTable clusters={clusters} ordering={ordering} openId={open?.id ?? null} onSort={setOrdering} onOpen={openCluster} />
          </div>
        )}
        {moreClusters && (
          <button type="button" onClick={() => void showMoreClusters()}>
            Show more clusters
          </button>
        )}
      </section>

      {open && (
        <section aria-labelledby="members-title" className="members">
          <h2 id="members-title" ref={membersHeading} tabIndex={-1}>Cluster #{open.index}: unlabelled members</h2>
          {memberError && (
            <p className="error" role="alert">
              {memberError}
            </p>
          )}
          {members === null && !memberError && <p role="status">Loading…</p>}
          {members && page.length === 0 && <p>No unlabelled members left in this cluster.</p>}
          {members && page.length > 0 && (
            <>
              <div className="selection-bar">
                <span role="status">{count === 1 ? "1 item selected" : `${count} items selected`}</span>
                <button type="button" disabled={count === 0 || busy} onClick={() => setSelection(EMPTY)}>
                  Clear selection
                </button>
                <span className="muted small">Shift-click a box to select a range.</span>
              </div>
              <div className="table-scroll">
                <MemberTable
                  members={page}
                  selection={selection}
                  disabled={busy}
                  onClickRow={(id, shift) => setSelection((now) => clickRow(now, pageIds, id, shift))}
                  onTogglePage={() => setSelection((now) => togglePage(now, pageIds))}
                />
              </div>
              <nav className="pager" aria-label="Member pages">
                <button type="button" disabled={!members.previous} onClick={() => void loadMembers(open, members.previous ?? null)}>
                  Previous page
                </button>
                <button type="button" disabled={!members.next} onClick={() => void loadMembers(open, members.next ?? null)}>
                  Next page
                </button>
              </nav>
            </>
          )}
          {count > 0 && labels && rules && project && (
            <BulkLabelPanel
              labels={labels}
              multi={project.task === "multi_label"}
              count={count}
              rules={rules}
              busy={busy}
              error={bulkError}
              onConfirm={(chosen) => void onConfirm(chosen)}
            />
          )}
          {count === 0 && bulkError && (
            <p className="error" role="alert">
              {bulkError}
            </p>
          )}
        </section>
      )}

      <section aria-labelledby="batches-title">
        <h2 id="batches-title">Bulk batches</h2>
        {batchError && (
          <p className="error" role="alert">
            {batchError}
          </p>
        )}
        {batches === null && !batchError && <p role="status">Loading…</p>}
        {batches && (
          <div className="table-scroll">
            <BatchList batches={batches} busyId={cancelling} onCancel={(batch) => void onCancel(batch)} />
          </div>
        )}
      </section>
    </ScreenShell>
  );
}
