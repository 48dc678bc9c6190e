// The active model's clusters as a table sorted by the server (the list is
// keyset-paginated, so sorting a loaded page alone would misorder the rest).
// Column headers are buttons; `aria-sort` tells assistive technology the order.

import type { Cluster, ClusterColumn, ClusterOrdering } from "./clustersApi";

const COLUMNS: { column: ClusterColumn; title: string }[] = [
  { column: "index", title: "Cluster" },
  { column: "size", title: "Size" },
  { column: "coverage", title: "Labelled coverage" },
  { column: "purity", title: "Purity" },
  { column: "unlabelled", title: "Unlabelled" },
];

/** The ordering after a click on `column`'s header: the other direction if it
 * is the current column, else its natural first direction (index ascending,
 * the measures largest first). */
export function nextOrdering(current: ClusterOrdering, column: ClusterColumn): ClusterOrdering {
  if (current === column) return `-${column}`;
  if (current === `-${column}`) return column;
  return column === "index" ? "index" : `-${column}`;
}

export function percent(share: number | null): string {
  return share === null ? "–" : `${Math.round(share * 100)}%`;
}

function ariaSort(ordering: ClusterOrdering, column: ClusterColumn): "ascending" | "descending" | "none" {
  if (ordering === column) return "ascending";
  if (ordering === `-${column}`) return "descending";
  return "none";
}

export interface ClusterTableProps {
  clusters: Cluster[];
  ordering: ClusterOrdering;
  openId: number | null;
  onSort: (ordering: ClusterOrdering) => void;
  onOpen: (cluster: Cluster) => void;
}

export function ClusterTable({ clusters, ordering, openId, onSort, onOpen }: ClusterTableProps) {
  return (
    <table className="data-table clusters-table">
      <caption className="visually-hidden">Clusters of the active model, sortable by each column</caption>
      <thead>
        <tr>
          {COLUMNS.map(({ column, title }) => {
            const sort = ariaSort(ordering, column);
            return (
              <th key={column} scope="col" aria-sort={sort} className={column === "index" ? undefined : "num"}>
                <button type="button" className="sort" onClick={() => onSort(nextOrdering(ordering, column))}>
                  {title}
                  <span aria-hidden="true">{sort === "ascending" ? " ▲" : sort === "descending" ? " ▼" : ""}</span>
                </button>
              </th>
            );
          })}
          <th scope="col">Top labels</th>
          <th scope="col">
            <span className="visually-hidden">Members</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {clusters.map((cluster) => (
          <tr key={cluster.id} className={cluster.id === openId ? "open" : undefined} data-cluster-id={cluster.id}>
            <th scope="row">#{cluster.index}</th>
            <td className="num">{cluster.size}</td>
            <td className="num">{percent(cluster.labelled_coverage)}</td>
            <td className="num">{percent(cluster.purity)}</td>
            <td className="num">{cluster.unlabelled}</td>
            <td>
              {cluster.top_labels.length
                ? cluster.top_labels.map((top) => `${top.label} (${top.count})`).join(", ")
                : <span className="muted">none labelled</span>}
            </td>
            <td>
              <button
                type="button"
                onClick={() => onOpen(cluster)}
                aria-pressed={cluster.id === openId}
                aria-label={`Browse the ${cluster.unlabelled} unlabelled members of cluster ${cluster.index}`}
              >
                Browse
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
