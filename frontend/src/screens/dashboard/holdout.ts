// How a holdout figure reads, wherever it is shown (the serving model's
// panel and the learning curve): a share with its interval and the number of
// items it stands on, or, below the minimum count, a plain statement that it
// does not mean anything yet instead of a bare percentage.

import type { HoldoutSummary } from "./dashboardApi";

/** 0.7823 → "78.2%"; null → "n/a". */
export const formatPercent = (value: number | null | undefined) =>
  value === null || value === undefined ? "n/a" : `${(value * 100).toFixed(1)}%`;

/** [0.74, 0.8213] → "74.0–82.1%"; null → null. */
export const formatInterval = (bounds: number[] | null | undefined) =>
  bounds && bounds.length === 2 ? `${(bounds[0] * 100).toFixed(1)}–${(bounds[1] * 100).toFixed(1)}%` : null;

/** "95% CI" for a level of 0.95 (the default when the round did not say). */
export const intervalName = (confidence: number | null | undefined) =>
  `${Math.round((confidence ?? 0.95) * 100)}% CI`;

const items = (n: number | null | undefined) => (n === null || n === undefined ? "an unknown number of" : `${n}`);

/** Below the minimum count: "not yet meaningful: 12 holdout items (needs 30)". */
export const notYetMeaningful = (count: number | null | undefined, minItems: number | null | undefined) =>
  `not yet meaningful: ${items(count)} holdout item${count === 1 ? "" : "s"}` +
  (minItems === null || minItems === undefined ? "" : ` (needs ${minItems})`);

/** A share with its interval and count: "78.2% (95% CI 74.0–82.1%) on 412 holdout items". */
export function withInterval(value: number | null, bounds: number[] | null, count: number | null,
                             confidence: number | null = null): string {
  const ci = formatInterval(bounds);
  return `${formatPercent(value)}${ci ? ` (${intervalName(confidence)} ${ci})` : ""} on ${items(count)} holdout items`;
}

export interface HoldoutText {
  /** What to read first: the figure, or why there is none that means anything. */
  headline: string;
  /** The figure measured so far, when the headline withholds it; else null. */
  detail: string | null;
  /** False below the minimum count; null when the round did not say. */
  meaningful: boolean | null;
}

/** The serving model's holdout figure in words. */
export function describeHoldout(holdout: HoldoutSummary | null): HoldoutText {
  if (holdout === null) return { headline: "no holdout figures recorded", detail: null, meaningful: null };
  if (!holdout.evaluated) {
    return { headline: `not evaluated: ${holdout.reason || "no reason recorded"}`, detail: null, meaningful: null };
  }
  if (holdout.meaningful === false) {
    return {
      headline: notYetMeaningful(holdout.items, holdout.min_items),
      detail: `measured so far: ${withInterval(holdout.accuracy, holdout.accuracy_ci, holdout.items, holdout.confidence)}`,
      meaningful: false,
    };
  }
  return {
    headline: withInterval(holdout.accuracy, holdout.accuracy_ci, holdout.items, holdout.confidence),
    detail: null,
    meaningful: holdout.meaningful,
  };
}
