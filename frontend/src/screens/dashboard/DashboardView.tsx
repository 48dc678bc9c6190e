// The dashboard's panels, from data already fetched (no network here:
// DashboardScreen fetches, polls and passes it in), so each panel is tested
// by rendering it.

import { formatDuration, formatShare } from "../review/ReviewView";
import type { Agreement, AnnotatorRow, Dashboard, SplitProgress, TrainingRound } from "./dashboardApi";
import { LearningCurve } from "./LearningCurve";
import { Panel } from "./Panel";
import { ServingPanel } from "./ServingPanel";

const number = (value: number | null | undefined, digits = 2) =>
  value === null || value === undefined ? "n/a" : value.toFixed(digits);

const interval = (bounds: [number, number] | null | undefined) =>
  bounds ? `[${bounds[0].toFixed(2)}, ${bounds[1].toFixed(2)}]` : "no interval";

export function formatEta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "estimating…";
  if (seconds < 60) return `about ${Math.max(0, Math.round(seconds))} s left`;
  return `about ${Math.round(seconds / 60)} min left`;
}

export function ProgressPanel({ progress }: { progress: Dashboard["progress"] }) {
  const work = progress.labelling;
  const rows: [string, SplitProgress][] = [
    ["Pool", progress.pool],
    ["Holdout", progress.holdout],
    ["Gold (known answers)", progress.gold],
  ];
  const approvedShare = work.total ? work.approved / work.total : 0;
  return (
    <Panel title="Progress" id="dash-progress">
      <dl className="stats" data-testid="progress">
        <div>
          <dt>Items to label</dt>
          <dd>{work.total}</dd>
        </div>
        <div>
          <dt>Labelled</dt>
          <dd>{work.labelled}</dd>
        </div>
        <div>
          <dt>Approved</dt>
          <dd>{work.approved}</dd>
        </div>
        <div>
          <dt>In review</dt>
          <dd>{work.in_review}</dd>
        </div>
        <div>
          <dt>Remaining</dt>
          <dd>{work.remaining}</dd>
        </div>
      </dl>
      <div
        className="bar"
        role="progressbar"
        aria-label="Approved items"
        aria-valuemin={0}
        aria-valuemax={work.total}
        aria-valuenow={work.approved}
      >
        <span style={{ width: `${(approvedShare * 100).toFixed(1)}%` }} />
      </div>
      <div className="scroll-x">
        <table className="data">
          <thead>
            <tr>
              <th scope="col">Split</th>
              <th scope="col">Total</th>
              <th scope="col">Labelled</th>
              <th scope="col">Approved</th>
              <th scope="col">In review</th>
              <th scope="col">Remaining</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([name, split]) => (
              <tr key={name}>
                <th scope="row">{name}</th>
                <td>{split.total}</td>
                <td>{split.labelled}</td>
                <td>{split.approved}</td>
                <td>{split.in_review}</td>
                <td>{split.remaining}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Panel>
  );
}

export function AgreementPanel({ agreement, annotators }: { agreement: Agreement; annotators: AnnotatorRow[] }) {
  const m = agreement.metrics;
  const nameOf = new Map(annotators.map((row) => [row.annotator, row.username]));
  const who = (id: number) => nameOf.get(id) ?? `user ${id}`;
  return (
    <Panel title="Agreement" id="dash-agreement">
      {agreement.computed_at === null ? (
        <p className="muted" data-testid="agreement-pending">
          Not computed yet{agreement.refresh_queued ? ": a computation has been queued" : ""}. {agreement.pending_annotations}{" "}
          annotations are waiting to be included.
        </p>
      ) : (
        <>
          <dl className="stats" data-testid="agreement">
            <div>
              <dt>Fleiss' kappa</dt>
              <dd>
                {number(m.fleiss_kappa)} <span className="muted">{interval(m.bootstrap?.fleiss_kappa)}</span>
              </dd>
            </div>
            <div>
              <dt>Krippendorff's alpha</dt>
              <dd>
                {number(m.krippendorff_alpha)} <span className="muted">{interval(m.bootstrap?.krippendorff_alpha)}</span>
              </dd>
            </div>
            {m.krippendorff_alpha_taxonomy !== undefined && m.krippendorff_alpha_taxonomy !== null && (
              <div>
                <dt>Alpha, taxonomy distance</dt>
                <dd>
                  {number(m.krippendorff_alpha_taxonomy)}{" "}
                  <span className="muted">{interval(m.bootstrap?.krippendorff_alpha_taxonomy)}</span>
                </dd>
              </div>
            )}
          </dl>
          <p className="muted">
            Over {m.items ?? 0} items labelled at least twice ({m.annotations ?? 0} annotations); 95% bootstrap intervals.
            Computed {new Date(agreement.computed_at).toLocaleString()}; {agreement.pending_annotations} newer annotations
            not yet included.
          </p>
          <div className="two-columns">
            <div className="scroll-x">
              <table className="data">
                <caption>Per label (one-vs-rest kappa)</caption>
                <thead>
                  <tr>
                    <th scope="col">Label</th>
                    <th scope="col">Chosen</th>
                    <th scope="col">Kappa</th>
                  </tr>
                </thead>
                <tbody>
                  {(m.per_label ?? []).map((row) => (
                    <tr key={row.label}>
                      <th scope="row">{row.label}</th>
                      <td>{row.chosen}</td>
                      <td>{number(row.fleiss_kappa)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div className="scroll-x">
              <table className="data">
                <caption>Per annotator pair (Cohen's kappa)</caption>
                <thead>
                  <tr>
                    <th scope="col">Annotators</th>
                    <th scope="col">Items</th>
                    <th scope="col">Agree</th>
                    <th scope="col">Kappa</th>
                  </tr>
                </thead>
                <tbody>
                  {(m.pairs ?? []).map((pair) => (
                    <tr key={pair.annotators.join("-")}>
                      <th scope="row">
                        {who(pair.annotators[0])} & {who(pair.annotators[1])}
                      </th>
                      <td>{pair.units}</td>
                      <td>{formatShare(pair.observed_agreement)}</td>
                      <td>{number(pair.cohen_kappa)}</td>
                    </tr>
                  ))}
                  {!(m.pairs ?? []).length && (
                    <tr>
                      <td colSpan={4} className="muted">
                        No pair of annotators shares enough items yet.
                      </td>
                    </tr>
                  )}
                </tbody>
              </table>
            </div>
          </div>
        </>
      )}
    </Panel>
  );
}

export function AnnotatorTable({ rows }: { rows: AnnotatorRow[] }) {
  return (
    <Panel title="Annotators" id="dash-annotators">
      <div className="scroll-x">
        <table className="data" data-testid="annotators">
          <thead>
            <tr>
              <th scope="col">Annotator</th>
              <th scope="col">Annotations</th>
              <th scope="col">Last 24 h</th>
              <th scope="col">Median time</th>
              <th scope="col">Gold accuracy</th>
              <th scope="col">Proposals accepted</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.annotator} data-annotator={row.username}>
                <th scope="row">{row.username}</th>
                <td>{row.annotations}</td>
                <td>{row.last_24h}</td>
                <td>{row.median_time_ms === null ? "n/a" : formatDuration(Math.round(row.median_time_ms))}</td>
                <td>
                  {row.gold_seen ? `${formatShare(row.gold_accuracy)} of ${row.gold_seen}` : "no gold yet"}
                  {row.below_gold_minimum && <strong className="warn"> below minimum</strong>}
                </td>
                <td>
                  {row.shown_proposal
                    ? `${formatShare(row.acceptance_rate)} of ${row.shown_proposal} (${row.by_source.proposal_edited ?? 0} edited)`
                    : "no proposals shown"}
                </td>
              </tr>
            ))}
            {!rows.length && (
              <tr>
                <td colSpan={6} className="muted">
                  No annotators yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
    </Panel>
  );
}

export function RoundStatus({ round }: { round: TrainingRound }) {
  const p = round.progress ?? {};
  const percent = round.state === "done" ? 100 : (p.percent ?? 0);
  return (
    <div className="round-status" role="status" aria-live="polite" data-testid="round-status" data-state={round.state}>
      <p>
        <strong>Round {round.number}</strong>: {round.state}
        {!round.is_finished && p.step ? ` · step ${p.step}${p.step_percent !== undefined ? ` (${p.step_percent}%)` : ""}` : ""}
        {!round.is_finished ? ` · ${formatEta(p.eta_seconds)}` : ""}
      </p>
      <div className="bar" role="progressbar" aria-label={`Round ${round.number}`} aria-valuemin={0} aria-valuemax={100}
        aria-valuenow={percent}>
        <span style={{ width: `${percent}%` }} />
      </div>
      <p className="muted">
        {percent.toFixed(0)}%{p.message ? ` · ${p.message}` : ""}
      </p>
      {round.state === "failed" && round.error && <p className="error">{round.error}</p>}
    </div>
  );
}

export function RoundHistory({ rounds }: { rounds: TrainingRound[] }) {
  return (
    <div className="scroll-x">
      <table className="data" data-testid="round-history">
        <thead>
          <tr>
            <th scope="col">Round</th>
            <th scope="col">State</th>
            <th scope="col">Labels</th>
            <th scope="col">Started by</th>
            <th scope="col">Finished</th>
          </tr>
        </thead>
        <tbody>
          {rounds.map((round) => (
            <tr key={round.number} data-round={round.number}>
              <th scope="row">{round.number}</th>
              <td>
                {round.state}
                {!round.is_finished && round.progress?.percent !== undefined ? ` (${round.progress.percent}%)` : ""}
              </td>
              <td>{round.labels_count}</td>
              <td>{round.created_by ?? "automatic"}</td>
              <td>{round.finished_at ? new Date(round.finished_at).toLocaleString() : "—"}</td>
            </tr>
          ))}
          {!rounds.length && (
            <tr>
              <td colSpan={5} className="muted">
                No round yet.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

export interface DashboardViewProps {
  dashboard: Dashboard;
  rounds: TrainingRound[];
  /** Only leads may start rounds; others see the history without the button. */
  canStart: boolean;
  starting: boolean;
  watching: TrainingRound | null;
  roundNotice: { text: string; error?: boolean } | null;
  onStart: () => void;
}

export function DashboardView(props: DashboardViewProps) {
  const { dashboard, rounds, canStart, starting, watching, roundNotice, onStart } = props;
  const running = watching !== null && !watching.is_finished;
  return (
    <div className="dashboard">
      <ProgressPanel progress={dashboard.progress} />
      <AgreementPanel agreement={dashboard.agreement} annotators={dashboard.annotators} />
      <AnnotatorTable rows={dashboard.annotators} />
      <ServingPanel serving={dashboard.serving} />
      <Panel title="Learning curve" id="dash-curve">
        <LearningCurve points={dashboard.learning_curve} />
      </Panel>
      <Panel title="Rounds" id="dash-rounds">
        {canStart && (
          <p>
            <button type="button" className="primary" onClick={onStart} disabled={starting || running}>
              {running ? "A round is running" : starting ? "Starting…" : "Start round"}
            </button>
          </p>
        )}
        {roundNotice && (
          <p className={roundNotice.error ? "error" : "muted"} role={roundNotice.error ? "alert" : undefined}>
            {roundNotice.text}
          </p>
        )}
        {watching && <RoundStatus round={watching} />}
        <RoundHistory rounds={rounds} />
      </Panel>
    </div>
  );
}
