// The reviewer's calls: the next item to review (with a lease on its task)
// and a decision on it (labelops/annotation/review_views.py). Shapes mirror
// the serializers named beside each type.
//
// api.ts keeps its transport private, so this module has a small one of its
// own built on api.ts's exported pieces (CSRF token, ApiError, message); the
// dashboard's calls use it too.

import { ApiError, csrfToken, errorMessage, type Item, type Proposal } from "../../api";

const API = "/api/v1";

/** One call to the API: JSON in and out, session cookie, CSRF on writes.
 * 204 is null; a non-2xx answer throws ApiError with the API's message and code. */
export async function apiCall<T>(method: string, path: string, body?: unknown): Promise<T | null> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`${API}/${path}`, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    window.location.assign(`/login/?next=${encodeURIComponent(window.location.pathname)}`);
    throw new ApiError(401, "you are signed out", "not_authenticated");
  }
  if (response.status === 204) return null;
  const data: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const code = data && typeof data === "object" ? (data as { code?: unknown }).code : null;
    throw new ApiError(response.status, errorMessage(data, response.status), typeof code === "string" ? code : null);
  }
  return data as T;
}

/** Like apiCall, for endpoints that always answer with a body. */
export async function apiBody<T>(method: string, path: string, body?: unknown): Promise<T> {
  const data = await apiCall<T>(method, path, body);
  if (data === null) throw new ApiError(204, `${method} ${path} returned no content`);
  return data;
}

// --- Shapes ------------------------------------------------------------------

export type ReviewReason =
  | "disputed"
  | "low_agreement"
  | "gold_failure"
  | "annotator_below_gold"
  | "model_disagreement"
  | "suspected_error"
  | "dropped";

/** labelops/items/api/items.py ConsensusSerializer. */
export interface Consensus {
  labels: string[];
  method: string;
  agreement: number | null;
  status: string;
  taxonomy_version: number;
  updated_at: string;
}

/** labelops/annotation/serializers.py AnnotationSerializer. */
export interface Annotation {
  id: number;
  item: number;
  annotator: number;
  annotator_username: string;
  labels: string[];
  source: "manual" | "proposal_accepted" | "proposal_edited" | "cluster_bulk" | "imported";
  proposal: number | null;
  taxonomy_version: number;
  time_spent_ms: number | null;
  discarded: boolean;
  rejection: { comment: string; created_at: string } | null;
  created_at: string;
}

/** ReviewTaskSerializer. `item.text` is untrusted. `proposal` is the model's
 * current proposal for the item when the API sends it (older servers do not). */
export interface ReviewTask {
  id: number;
  item: Item;
  reasons: ReviewReason[];
  details: Record<string, Record<string, unknown>>;
  consensus: Consensus | null;
  annotations: Annotation[];
  gold_labels: string[] | null;
  created_at: string;
  proposal?: Proposal | null;
}

export type Decision = "accept" | "fix" | "reject";

export interface DecideBody {
  decision: Decision;
  labels?: string[];
  comment?: string;
}

/** ReviewSerializer. */
export interface Review {
  id: number;
  item: number;
  reviewer: number;
  decision: Decision;
  labels: string[];
  comment: string;
  reason: string;
  created_at: string;
}

// --- Endpoints -----------------------------------------------------------------

/** The review task leased to you (or a newly leased one), or null when nothing is left. */
export const nextReview = (projectId: number) => apiCall<ReviewTask>("GET", `projects/${projectId}/review/next/`);

export const decideReview = (projectId: number, itemId: number, body: DecideBody) =>
  apiBody<Review>("POST", `projects/${projectId}/review/${itemId}/decide/`, body);
