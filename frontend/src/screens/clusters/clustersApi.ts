// The cluster explorer's calls: the active model's clusters and their
// unlabelled members (labelops/learning/cluster_views.py), the project's
// bulk-labelling rules, and bulk batches (labelops/annotation/bulk_views.py).
// Shapes mirror the serializers named beside each type.

import { required } from "../../api";

const API = "/api/v1";

/** A keyset page: `next`/`previous` are absolute URLs, or null at an end. */
export interface Page<T> {
  next: string | null;
  previous: string | null;
  results: T[];
}

/** cluster_serializers.py ClusterSerializer. */
export interface Cluster {
  id: number;
  round: number;
  index: number;
  size: number;
  labelled_coverage: number;
  purity: number | null;
  top_labels: { label: string; count: number }[];
  unlabelled: number;
}

/** cluster_serializers.py ClusterMemberSerializer. `text` is untrusted. */
export interface ClusterMember {
  id: number;
  modality: "text" | "image";
  text: string;
  file_url: string | null;
  external_id: string;
  proposal: { labels: string[]; confidence: number | null };
}

/** projects/serializers.py QualityRulesSerializer (the fields we use). */
export interface BulkRules {
  bulk_verification_rate: number;
  bulk_max_error_rate: number;
}

export type BatchState = "verifying" | "accepted" | "rejected" | "cancelled";

/** annotation/serializers.py BulkBatchSerializer (the fields we use). */
export interface BulkBatch {
  id: number;
  labels: string[];
  cluster: number | null;
  created_by: string | null;
  state: BatchState;
  sample_rate: number;
  max_error_rate: number;
  item_count: number;
  sample_size: number;
  verified_count: number;
  error_count: number;
  error_rate: number | null;
  created_at: string;
  resolved_at: string | null;
  held: { pending: number; approved: number; requeued: number };
}

/** The cluster list's sort columns (cluster_views.py CLUSTER_ORDERINGS); "-" prefix for descending. */
export type ClusterColumn = "index" | "size" | "coverage" | "purity" | "unlabelled";
export type ClusterOrdering = ClusterColumn | `-${ClusterColumn}`;

/** A page link from the API, reduced to its path so the request stays same-origin. */
function samePath(link: string): string {
  const url = new URL(link, window.location.origin);
  return url.pathname + url.search;
}

export const listClusters = (projectId: number, ordering: ClusterOrdering, pageLink?: string | null) =>
  required<Page<Cluster>>(
    "GET",
    pageLink ? samePath(pageLink) : `${API}/projects/${projectId}/clusters/?ordering=${ordering}&page_size=100`,
  );

export const listMembers = (projectId: number, clusterId: number, pageLink?: string | null, pageSize = 50) =>
  required<Page<ClusterMember>>(
    "GET",
    pageLink ? samePath(pageLink) : `${API}/projects/${projectId}/clusters/${clusterId}/items/?page_size=${pageSize}`,
  );

export const getBulkRules = (projectId: number) => required<BulkRules>("GET", `${API}/projects/${projectId}/rules/`);

export const listBatches = (projectId: number, pageLink?: string | null) =>
  required<Page<BulkBatch>>("GET", pageLink ? samePath(pageLink) : `${API}/projects/${projectId}/bulk-labels/?page_size=100`);

export const createBatch = (projectId: number, items: number[], labels: string[]) =>
  required<BulkBatch>("POST", `${API}/projects/${projectId}/bulk-labels/`, { items, labels });

export const cancelBatch = (projectId: number, batchId: number) =>
  required<BulkBatch>("POST", `${API}/projects/${projectId}/bulk-labels/${batchId}/cancel/`);

/** How many items the server will sample: `ceil(rate × n)`, at least 1 and at most n
 * (annotation/services/bulk.py sample_size, rounded the same way against float noise). */
export function sampleSize(rate: number, n: number): number {
  if (n <= 0) return 0;
  return Math.min(n, Math.max(1, Math.ceil(Number((rate * n).toFixed(9)))));
}
