// The lead dashboard's calls: the project's dashboard
// (labelops/annotation/dashboard_views.py) and its training rounds
// (labelops/learning/views.py). Shapes mirror the serializers named beside
// each type; the transport is the review screen's (see reviewApi.ts).

import { required } from "../../api";

/** dashboard_views.py SplitProgressSerializer. */
export interface SplitProgress {
  total: number;
  labelled: number;
  approved: number;
  in_review: number;
  in_progress: number;
  remaining: number;
}

/** AnnotatorRowSerializer. */
export interface AnnotatorRow {
  annotator: number;
  username: string;
  annotations: number;
  last_24h: number;
  median_time_ms: number | null;
  gold_seen: number;
  gold_correct: number;
  gold_accuracy: number | null;
  below_gold_minimum: boolean;
  by_source: Record<string, number>;
  shown_proposal: number;
  acceptance_rate: number | null;
}

/** CurvePointSerializer. */
export interface CurvePoint {
  round: number;
  finished_at: string | null;
  train_labels: number | null;
  holdout_items: number | null;
  accuracy: number;
  macro_f1: number | null;
}

/** The agreement snapshot's metrics (labelops/annotation/services/metrics.py). Null when undefined. */
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

/** labelops/annotation/serializers.py AgreementSerializer. */
export interface Agreement {
  computed_at: string | null;
  pending_annotations: number;
  refresh_queued: boolean;
  metrics: AgreementMetrics;
}

/** DashboardSerializer. */
export interface Dashboard {
  generated_at: string;
  progress: { labelling: SplitProgress; pool: SplitProgress; holdout: SplitProgress; gold: SplitProgress };
  annotators: AnnotatorRow[];
  agreement: Agreement;
  learning_curve: CurvePoint[];
}

/** labelops/learning/serializers.py TrainingRoundSerializer (the fields we use). */
export interface RoundProgress {
  step?: string;
  percent?: number;
  step_percent?: number;
  eta_seconds?: number | null;
  message?: string;
}

export interface TrainingRound {
  number: number;
  state: string;
  is_finished: boolean;
  progress: RoundProgress;
  metrics: Record<string, unknown>;
  error: string;
  labels_count: number;
  created_by: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

interface Page<T> {
  next: string | null;
  previous: string | null;
  results: T[];
}

export const getDashboard = (projectId: number) => required<Dashboard>("GET", `projects/${projectId}/dashboard/`);

/** The newest rounds first (one page: the history the dashboard shows). */
export const listRounds = async (projectId: number, pageSize = 20) =>
  (await required<Page<TrainingRound>>("GET", `projects/${projectId}/rounds/?page_size=${pageSize}`)).results;

export const getRound = (projectId: number, number: number) =>
  required<TrainingRound>("GET", `projects/${projectId}/rounds/${number}/`);

/** Start a round with the project's settings: 201 with the queued round; 409 `round_running`. */
export const startRound = (projectId: number) => required<TrainingRound>("POST", `projects/${projectId}/rounds/`, {});
