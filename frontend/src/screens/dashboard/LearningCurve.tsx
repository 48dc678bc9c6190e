// The learning curve as an inline SVG drawn here (no chart library): holdout
// accuracy and macro-F1 of each finished round against the number of
// approved labels it trained on. Accuracy carries its 95% bootstrap interval
// as an error bar, and a round evaluated on fewer holdout items than the
// minimum is drawn hollow: not yet meaningful. A table with the same numbers
// follows it, for screen readers and for reading exact values.

import type { CurvePoint } from "./dashboardApi";
import { formatInterval, formatPercent, notYetMeaningful } from "./holdout";

const WIDTH = 560;
const HEIGHT = 260;
const MARGIN = { top: 16, right: 20, bottom: 44, left: 52 };
const Y_TICKS = [0, 0.25, 0.5, 0.75, 1];

/** A round number at or above `value` to end the axis on (1, 2, 5 × 10^k). */
export function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

export interface Plotted {
  round: number;
  x: number;
  accuracy: number;
  /** The accuracy interval's ends in SVG y (`high` is the upper bound, so the smaller y); null without one. */
  ci: { low: number; high: number } | null;
  f1: number | null;
  /** False when it stands on too few holdout items; null when the round did not say. */
  meaningful: boolean | null;
}

/** The points in SVG coordinates, with the x axis's end value. Rounds without a label count are left out. */
export function layout(points: CurvePoint[]): { xMax: number; plotted: Plotted[] } {
  const usable = points.filter((p) => p.train_labels !== null).sort((a, b) => a.train_labels! - b.train_labels!);
  const xMax = niceCeiling(Math.max(1, ...usable.map((p) => p.train_labels!)));
  const innerW = WIDTH - MARGIN.left - MARGIN.right;
  const innerH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (labels: number) => MARGIN.left + (labels / xMax) * innerW;
  const y = (share: number) => MARGIN.top + (1 - Math.min(1, Math.max(0, share))) * innerH;
  return {
    xMax,
    plotted: usable.map((p) => ({
      round: p.round,
      x: x(p.train_labels!),
      accuracy: y(p.accuracy),
      ci: p.accuracy_ci && p.accuracy_ci.length === 2 ? { low: y(p.accuracy_ci[0]), high: y(p.accuracy_ci[1]) } : null,
      f1: p.macro_f1 === null ? null : y(p.macro_f1),
      meaningful: p.meaningful,
    })),
  };
}

const pct = formatPercent;

/** How much a point is worth: its interval and count, or that it is not yet meaningful. */
export function pointTrust(p: CurvePoint): string {
  if (p.meaningful === false) return notYetMeaningful(p.holdout_items, p.min_items);
  const ci = formatInterval(p.accuracy_ci);
  if (!ci) return p.holdout_items === null ? "" : `${p.holdout_items} holdout items`;
  return `95% CI ${ci}` + (p.holdout_items === null ? "" : `, ${p.holdout_items} holdout items`);
}

const withCi = (value: number | null, bounds: number[] | null) => {
  const ci = formatInterval(bounds);
  return ci && value !== null ? `${pct(value)} (${ci})` : pct(value);
};

const CAP = 4; // half the width of an error bar's caps

export function LearningCurve({ points }: { points: CurvePoint[] }) {
  if (!points.length) {
    return <p className="muted">No round has been evaluated on holdout items yet: the curve starts with the first one.</p>;
  }
  const { xMax, plotted } = layout(points);
  const innerH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const bottom = MARGIN.top + innerH;
  const xTicks = [0, xMax / 4, xMax / 2, (3 * xMax) / 4, xMax];
  const accuracyPath = plotted.map((p) => `${p.x},${p.accuracy}`).join(" ");
  const f1Path = plotted.filter((p) => p.f1 !== null).map((p) => `${p.x},${p.f1}`).join(" ");
  const last = points[points.length - 1];
  const lastTrust = pointTrust(last);
  const summary = `Learning curve over ${points.length} round${points.length === 1 ? "" : "s"}: holdout accuracy ` +
    `${pct(last.accuracy)} at ${last.train_labels ?? "?"} labels in round ${last.round}` +
    `${lastTrust ? ` (${lastTrust})` : ""}.`;
  const byRound = new Map(points.map((p) => [p.round, p]));
  const anyInterval = plotted.some((p) => p.ci !== null);
  const anyHollow = plotted.some((p) => p.meaningful === false);

  return (
    <figure className="learning-curve">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={summary} data-testid="learning-curve">
        {Y_TICKS.map((tick) => {
          const y = MARGIN.top + (1 - tick) * innerH;
          return (
            <g key={`y${tick}`} className="grid">
              <line x1={MARGIN.left} x2={WIDTH - MARGIN.right} y1={y} y2={y} />
              <text x={MARGIN.left - 6} y={y + 4} textAnchor="end">
                {Math.round(tick * 100)}%
              </text>
            </g>
          );
        })}
        {xTicks.map((tick) => {
          const x = MARGIN.left + (tick / xMax) * (WIDTH - MARGIN.left - MARGIN.right);
          return (
            <text key={`x${tick}`} className="tick" x={x} y={bottom + 16} textAnchor="middle">
              {Number.isInteger(tick) ? tick : tick.toFixed(1)}
            </text>
          );
        })}
        <line className="axis" x1={MARGIN.left} x2={WIDTH - MARGIN.right} y1={bottom} y2={bottom} />
        <line className="axis" x1={MARGIN.left} x2={MARGIN.left} y1={MARGIN.top} y2={bottom} />
        <text className="axis-title" x={(WIDTH + MARGIN.left) / 2} y={HEIGHT - 6} textAnchor="middle">
          approved training labels
        </text>
        {f1Path && <polyline className="series f1" points={f1Path} />}
        <polyline className="series accuracy" points={accuracyPath} />
        {plotted.map((p) => {
          const point = byRound.get(p.round)!;
          const trust = pointTrust(point);
          return (
            <g key={p.round} data-round={p.round} data-meaningful={String(p.meaningful)}>
              {p.ci && (
                <g className="ci accuracy">
                  <line x1={p.x} x2={p.x} y1={p.ci.high} y2={p.ci.low} />
                  <line x1={p.x - CAP} x2={p.x + CAP} y1={p.ci.high} y2={p.ci.high} />
                  <line x1={p.x - CAP} x2={p.x + CAP} y1={p.ci.low} y2={p.ci.low} />
                </g>
              )}
              {p.f1 !== null && <circle className="dot f1" cx={p.x} cy={p.f1} r={3} />}
              <circle className={`dot accuracy${p.meaningful === false ? " hollow" : ""}`} cx={p.x} cy={p.accuracy} r={4.5}>
                <title>{`round ${p.round}: accuracy ${pct(point.accuracy)}${trust ? ` (${trust})` : ""}`}</title>
              </circle>
              <text className="round-label" x={p.x} y={Math.min(p.accuracy, p.ci?.high ?? p.accuracy) - 8}
                textAnchor="middle">
                {`#${p.round}`}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption>
        <span className="legend accuracy">holdout accuracy</span> <span className="legend f1">macro-F1</span>
        {anyInterval && <span className="legend-note">bars: 95% interval</span>}
        {anyHollow && <span className="legend-note">hollow: too few holdout items to mean anything yet</span>}
      </figcaption>
      <div className="scroll-x">
        <table className="data">
          <caption className="visually-hidden">Learning curve values</caption>
          <thead>
            <tr>
              <th scope="col">Round</th>
              <th scope="col">Training labels</th>
              <th scope="col">Holdout items</th>
              <th scope="col">Holdout accuracy (95% CI)</th>
              <th scope="col">Macro-F1 (95% CI)</th>
            </tr>
          </thead>
          <tbody>
            {points.map((p) => (
              <tr key={p.round} data-round={p.round}>
                <td>{p.round}</td>
                <td>{p.train_labels ?? "n/a"}</td>
                <td>
                  {p.holdout_items ?? "n/a"}
                  {p.meaningful === false && (
                    <span className="warn"> not yet meaningful{p.min_items !== null ? ` (needs ${p.min_items})` : ""}</span>
                  )}
                </td>
                <td>{withCi(p.accuracy, p.accuracy_ci)}</td>
                <td>{withCi(p.macro_f1, p.macro_f1_ci)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
