// The lead dashboard's calls: the project's dashboard
// (labelops/quality/api/dashboard.py) and its training rounds
// (labelops/learning/api/rounds.py). Shapes are the API schema's (see
// ../../api), but for two JSON documents the schema leaves open.

import { required, type Override, type Page, type Schemas } from "../../api";

/** SplitProgressSerializer. */
export type SplitProgress = Schemas["SplitProgress"];

/** AnnotatorRowSerializer. */
export type AnnotatorRow = Schemas["AnnotatorRow"];

/** CurvePointSerializer. */
export type CurvePoint = Schemas["CurvePoint"];

/** ServingSerializer: the active model, which proposer serves and why. */
export type Serving = Schemas["Serving"];

/** CandidateSerializer: one proposer the round weighed, with its cross-validated scores. */
export type Candidate = Schemas["Candidate"];

/** HoldoutSummarySerializer: the serving round's holdout figure. */
export type HoldoutSummary = Schemas["HoldoutSummary"];

/** The agreement snapshot's metrics (labelops/annotation/services/metrics.py;
 * a DictField in the schema). Null when undefined. */
export interface AgreementMetrics {
  units?: number;
  items?: number;
  annotations?: number;
  fleiss_kappa?: number | null;
  krippendorff_alpha?: number | null;
  krippendorff_alpha_taxonomy?: number | null;
  bootstrap?: {
    level: number;
    resamples: number;
    fleiss_kappa: [number, number] | null;
    krippendorff_alpha: [number, number] | null;
    krippendorff_alpha_taxonomy?: [number, number] | null;
  } | null;
  per_label?: { label: string; chosen: number; fleiss_kappa: number | null }[];
  pairs?: { annotators: [number, number]; units: number; observed_agreement: number | null; cohen_kappa: number | null }[];
}

/** AgreementSerializer. */
export type Agreement = Override<Schemas["Agreement"], { metrics: AgreementMetrics }>;

/** DashboardSerializer. */
export type Dashboard = Override<Schemas["Dashboard"], { agreement: Agreement }>;

/** A round's progress as its worker writes it (TrainingRound.progress in
 * labelops/learning/models.py, a JSONField, so the schema says unknown). */
export interface RoundProgress {
  step?: string;
  percent?: number;
  step_percent?: number;
  eta_seconds?: number | null;
  message?: string;
}

/** TrainingRoundSerializer. */
export type TrainingRound = Override<Schemas["TrainingRound"], { readonly progress: RoundProgress }>;

export const getDashboard = (projectId: number) => required<Dashboard>("GET", `projects/${projectId}/dashboard/`);

/** The newest rounds first (one page: the history the dashboard shows). */
export const listRounds = async (projectId: number, pageSize = 20) =>
  (await required<Page<TrainingRound>>("GET", `projects/${projectId}/rounds/?page_size=${pageSize}`)).results;

export const getRound = (projectId: number, number: number) =>
  required<TrainingRound>("GET", `projects/${projectId}/rounds/${number}/`);

/** Start a round with the project's settings: 201 with the queued round; 409 `round_running`. */
export const startRound = (projectId: number) => required<TrainingRound>("POST", `projects/${projectId}/rounds/`, {});
