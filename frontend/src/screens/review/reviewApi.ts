// The reviewer's calls: the next item to review (with a lease on its task)
// and a decision on it (labelops/annotation/review_views.py). Shapes mirror
// the serializers named beside each type.

import { request, required, type Item, type Proposal } from "../../api";

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
export const nextReview = (projectId: number) => request<ReviewTask>("GET", `projects/${projectId}/review/next/`);

export const decideReview = (projectId: number, itemId: number, body: DecideBody) =>
  required<Review>("POST", `projects/${projectId}/review/${itemId}/decide/`, body);
