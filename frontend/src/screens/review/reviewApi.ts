// The reviewer's calls: the next item to review (with a lease on its task)
// and a decision on it (labelops/annotation/review_views.py). Shapes are the
// API schema's (see ../../api).

import { request, required, type Annotation, type Item, type Override, type Schemas } from "../../api";

// --- Shapes ------------------------------------------------------------------

export type ReviewReason = Schemas["ReasonsEnum"];

/** ConsensusSerializer. */
export type Consensus = Override<
  Schemas["Consensus"],
  // A model JSONField, so the schema says unknown; it always holds label keys.
  { readonly labels: string[] }
>;

/** ReviewTaskSerializer. `item.text` is untrusted. */
export type ReviewTask = Override<
  Schemas["ReviewTask"],
  {
    readonly item: Item;
    readonly consensus: Consensus | null;
    readonly annotations: Annotation[];
    // A model JSONField, so the schema says unknown: each reason's facts by name (numbers, label lists, ids).
    readonly details: Record<string, Record<string, unknown>>;
  }
>;

export type Decision = Schemas["DecisionEnum"];

/** DecideSerializer. */
export type DecideBody = Schemas["DecideRequest"];

/** ReviewSerializer. */
export type Review = Schemas["Review"];

// --- Endpoints -----------------------------------------------------------------

/** The review task leased to you (or a newly leased one), or null when nothing is left. */
export const nextReview = (projectId: number) => request<ReviewTask>("GET", `projects/${projectId}/review/next/`);

export const decideReview = (projectId: number, itemId: number, body: DecideBody) =>
  required<Review>("POST", `projects/${projectId}/review/${itemId}/decide/`, body);
