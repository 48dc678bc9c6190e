// The project's bulk batches, newest first: state, the sample's progress,
// what became of the held items, and Cancel for the ones still verifying.

import type { BulkBatch } from "./clustersApi";

export function batchProgress(batch: BulkBatch): string {
  const sample = `${batch.verified_count} of ${batch.sample_size} sampled verified, ${batch.error_count} wrong`;
  const held = batch.held;
  const rest = `${held.pending} waiting, ${held.approved} approved, ${held.requeued} back in the queue`;
  return `${sample}; held: ${rest}`;
}

export interface BatchListProps {
  batches: BulkBatch[];
  busyId: number | null;
  onCancel: (batch: BulkBatch) => void;
}

export function BatchList({ batches, busyId, onCancel }: BatchListProps) {
  if (!batches.length) return <p className="muted">No bulk batches yet.</p>;
  return (
    <table className="data-table batches-table">
      <caption className="visually-hidden">Bulk batches, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Batch</th>
          <th scope="col">Labels</th>
          <th scope="col">Items</th>
          <th scope="col">State</th>
          <th scope="col">Progress</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {batches.map((batch) => (
          <tr key={batch.id} data-batch-id={batch.id}>
            <th scope="row">
              #{batch.id}
              <span className="muted small"> by {batch.created_by ?? "someone removed"}</span>
            </th>
            <td>{batch.labels.join(", ")}</td>
            <td className="num">{batch.item_count}</td>
            <td>
              <span className={`state state-${batch.state}`}>{batch.state}</span>
              {batch.error_rate !== null && (
                <span className="muted small"> error rate {Math.round(batch.error_rate * 100)}%</span>
              )}
            </td>
            <td className="progress">{batchProgress(batch)}</td>
            <td>
              {batch.state === "verifying" && (
                <button
                  type="button"
                  disabled={busyId === batch.id}
                  onClick={() => onCancel(batch)}
                  aria-label={`Cancel batch ${batch.id}`}
                >
                  Cancel
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
