// The learning curve as an inline SVG drawn here (no chart library): holdout
// accuracy and macro-F1 of each finished round against the number of
// approved labels it trained on. A table with the same numbers follows it,
// for screen readers and for reading exact values.

import type { CurvePoint } from "./dashboardApi";

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
  f1: number | null;
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
      f1: p.macro_f1 === null ? null : y(p.macro_f1),
    })),
  };
}

const pct = (value: number | null) => (value === null ? "n/a" : `${(value * 100).toFixed(1)}%`);

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
  const summary = `Learning curve over ${points.length} round${points.length === 1 ? "" : "s"}: holdout accuracy ` +
    `${pct(last.accuracy)} at ${last.train_labels ?? "?"} labels in round ${last.round}.`;

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
        {plotted.map((p) => (
          <g key={p.round} data-round={p.round}>
            <circle className="dot accuracy" cx={p.x} cy={p.accuracy} r={4}>
              <title>{`round ${p.round}: accuracy ${pct(points.find((q) => q.round === p.round)!.accuracy)}`}</title>
            </circle>
            {p.f1 !== null && <circle className="dot f1" cx={p.x} cy={p.f1} r={3} />}
            <text className="round-label" x={p.x} y={p.accuracy - 8} textAnchor="middle">
              {`#${p.round}`}
            </text>
          </g>
        ))}
      </svg>
      <figcaption>
        <span className="legend accuracy">holdout accuracy</span> <span className="legend f1">macro-F1</span>
      </figcaption>
      <div className="scroll-x">
        <table className="data">
          <caption className="visually-hidden">Learning curve values</caption>
          <thead>
            <tr>
              <th scope="col">Round</th>
              <th scope="col">Training labels</th>
              <th scope="col">Holdout accuracy</th>
              <th scope="col">Macro-F1</th>
            </tr>
          </thead>
          <tbody>
            {points.map((p) => (
              <tr key={p.round}>
                <td>{p.round}</td>
                <td>{p.train_labels ?? "n/a"}</td>
                <td>{pct(p.accuracy)}</td>
                <td>{pct(p.macro_f1)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
