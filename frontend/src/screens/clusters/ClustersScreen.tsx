// The cluster explorer (reviewers and leads): the active model's clusters,
// a cluster's unlabelled members, checkbox selection, and bulk labelling of
// the selection under the project's sampled-verification rules; then the
// project's bulk batches with their progress. The calls are
// useClusterExplorer's, the state they leave explorerReducer's; this screen
// loads the project, its labels and rules, and lays the sections out.

import { useEffect, useRef, useState } from "react";

import { ApiError, getProject, getTaxonomy, type Label, type Project } from "../../api";
import { ScreenShell } from "../ScreenShell";
import { BatchList } from "./BatchList";
import { BulkLabelPanel } from "./BulkLabelPanel";
import { ClusterTable } from "./ClusterTable";
import { getBulkRules, type BulkRules } from "./clustersApi";
import { MemberTable } from "./MemberTable";
import { useClusterExplorer } from "./useClusterExplorer";
import "./clusters.css";

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function ClustersScreen({ projectId }: { projectId: number }) {
  const [project, setProject] = useState<Project | null>(null);
  const [labels, setLabels] = useState<Label[] | null>(null);
  const [rules, setRules] = useState<BulkRules | null>(null);
  const [fatal, setFatal] = useState<string | null>(null);
  // Keyboard and screen-reader users land where the action's result is:
  // the members after Browse, the outcome after a batch is created or cancelled.
  const membersHeading = useRef<HTMLHeadingElement>(null);
  const noticeRef = useRef<HTMLParagraphElement>(null);

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

  const explorer = useClusterExplorer(projectId);
  const { ordering, clusters, moreClusters, clusterError, open, members, memberError, selection } = explorer.state;
  const { batches, batchError, cancelling, busy, bulkError, notice } = explorer.state;

  useEffect(() => {
    if (open) membersHeading.current?.focus();
  }, [open]);

  useEffect(() => {
    if (notice) noticeRef.current?.focus();
  }, [notice]);

  const page = members?.results ?? [];
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
            <ClusterTable clusters={clusters} ordering={ordering} openId={open?.id ?? null} onSort={explorer.sort} onOpen={explorer.openCluster} />
          </div>
        )}
        {moreClusters && (
          <button type="button" onClick={() => void explorer.showMoreClusters()}>
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
                <button type="button" disabled={count === 0 || busy} onClick={explorer.clearSelection}>
                  Clear selection
                </button>
                <span className="muted small">Shift-click a box to select a range.</span>
              </div>
              <div className="table-scroll">
                <MemberTable
                  members={page}
                  selection={selection}
                  disabled={busy}
                  onClickRow={explorer.clickRow}
                  onTogglePage={explorer.togglePage}
                />
              </div>
              <nav className="pager" aria-label="Member pages">
                <button type="button" disabled={!members.previous} onClick={() => void explorer.showMembers(members.previous ?? null)}>
                  Previous page
                </button>
                <button type="button" disabled={!members.next} onClick={() => void explorer.showMembers(members.next ?? null)}>
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
              onConfirm={(chosen) => void explorer.confirm(chosen)}
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
            <BatchList batches={batches} busyId={cancelling} onCancel={(batch) => void explorer.cancel(batch)} />
          </div>
        )}
      </section>
    </ScreenShell>
  );
}
