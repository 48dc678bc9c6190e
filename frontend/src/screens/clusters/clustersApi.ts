// The cluster explorer's calls: the active model's clusters and their
// unlabelled members (labelops/learning/cluster_views.py), the project's
// bulk-labelling rules, and bulk batches (labelops/annotation/bulk_views.py).
// Shapes are the API schema's (see ../../api).

import { required, type Override, type Page, type Schemas } from "../../api";
import type { operations } from "../../api/schema";

const API = "/api/v1";

/** ClusterSerializer. */
export type Cluster = Schemas["Cluster"];

/** ClusterMemberSerializer. `text` is untrusted. */
export type ClusterMember = Override<
  Schemas["ClusterMember"],
  {
    // get_file_url returns None for text items; its extend_schema_field(URI) does not say nullable.
    readonly file_url: string | null;
    // The proposal's labels are a model JSONField, so the schema says unknown; they are label keys.
    readonly proposal: Override<Schemas["MemberProposal"], { readonly labels: string[] }>;
  }
>;

/** QualityRulesSerializer, the two rules bulk labelling follows. The schema
 * marks them optional (they are optional in a PATCH); a GET always sends them. */
export type BulkRules = Required<Pick<Schemas["QualityRules"], "bulk_verification_rate" | "bulk_max_error_rate">>;

export type BatchState = Schemas["BulkBatchStateEnum"];

/** BulkBatchSerializer. */
export type BulkBatch = Override<
  Schemas["BulkBatch"],
  {
    // A model JSONField, so the schema says unknown; it always holds label keys.
    readonly labels: string[];
    // A read-only SlugRelatedField without allow_null: the schema says string, a removed user's batches send null.
    readonly created_by: string | null;
  }
>;

/** The cluster list's sort orders (cluster_views.py CLUSTER_ORDERINGS): a column, "-" prefixed for descending. */
export type ClusterOrdering = NonNullable<
  NonNullable<operations["projects_clusters_list"]["parameters"]["query"]>["ordering"]
>;
export type ClusterColumn = Exclude<ClusterOrdering, `-${string}`>;

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
  required<BulkBatch>("POST", `${API}/projects/${projectId}/bulk-labels/`, {
    items,
    labels,
  } satisfies Schemas["BulkBatchCreateRequest"]);

export const cancelBatch = (projectId: number, batchId: number) =>
  required<BulkBatch>("POST", `${API}/projects/${projectId}/bulk-labels/${batchId}/cancel/`);

/** How many items the server will sample: `ceil(rate × n)`, at least 1 and at most n
 * (annotation/services/bulk.py sample_size, rounded the same way against float noise). */
export function sampleSize(rate: number, n: number): number {
  if (n <= 0) return 0;
  return Math.min(n, Math.max(1, Math.ceil(Number((rate * n).toFixed(9)))));
}
