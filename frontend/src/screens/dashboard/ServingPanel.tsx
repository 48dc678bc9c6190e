// The "Serving model" panel: which proposer the active model serves the
// annotators' proposals from, why the round chose it, how the candidates
// scored in cross-validation on the training labels, and the holdout figure
// with its interval (or, on too few holdout items, that it means nothing
// yet). Names and reasons come from the server as plain strings and are
// rendered as text only.

import type { Serving } from "./dashboardApi";
import { describeHoldout, formatPercent } from "./holdout";
import { Panel } from "./Panel";

const PROPOSERS: Record<string, string> = {
  zero_shot: "Zero-shot from the taxonomy",
  head: "Classifier head",
  spreading: "Label spreading",
  ensemble: "Ensemble (head and spreading)",
};

/** A proposer's name for people; a name this app does not know is shown as it is. */
export const proposerName = (name: string | null) =>
  name === null ? "none" : Object.hasOwn(PROPOSERS, name) ? PROPOSERS[name] : name;

const logLoss = (value: number | null) => (value === null ? "n/a" : value.toFixed(3));

export function ServingPanel({ serving }: { serving: Serving | null }) {
  if (serving === null) {
    return (
      <Panel title="Serving model" id="dash-serving">
        <p className="muted" data-testid="serving-none">
          No model is serving yet: proposals start with the first round that trains one.
        </p>
      </Panel>
    );
  }
  const holdout = describeHoldout(serving.holdout);
  const accuracyName = serving.holdout?.metric === "subset_accuracy" ? "Holdout subset accuracy" : "Holdout accuracy";
  return (
    <Panel title="Serving model" id="dash-serving">
      <div data-testid="serving">
        <p className="serving-proposer" data-testid="serving-proposer">
          {serving.proposer === null && !serving.reason ? (
            <>
              Round {serving.round}'s model serves the proposals{" "}
              <span className="muted">(the round did not record which proposer it chose).</span>
            </>
          ) : (
            <>
              <strong>{proposerName(serving.proposer)}</strong> serves the proposals, from round {serving.round}
              {serving.labels !== null ? ` (trained on ${serving.labels} labels)` : ""}.
            </>
          )}
        </p>
        {serving.reason && (
          <p data-testid="serving-reason">
            <span className="muted">Why: </span>
            {serving.reason}
          </p>
        )}
        <p className={`holdout-figure${holdout.meaningful === false ? " not-meaningful" : ""}`} data-testid="serving-holdout">
          <span className="muted">{accuracyName}: </span>
          <strong>{holdout.headline}</strong>
          {holdout.detail && (
            <>
              <br />
              <span className="muted">{holdout.detail}</span>
            </>
          )}
        </p>
        {serving.candidates.length ? (
          <div className="scroll-x">
            <table className="data candidates" data-testid="serving-candidates">
              <caption>Candidates, cross-validated (best first)</caption>
              <thead>
                <tr>
                  <th scope="col">Proposer</th>
                  <th scope="col">Accuracy</th>
                  <th scope="col">Log-loss</th>
                  <th scope="col">Rows</th>
                </tr>
              </thead>
              <tbody>
                {serving.candidates.map((c) => (
                  <tr key={c.name} data-candidate={c.name} className={c.name === serving.proposer ? "chosen" : undefined}>
                    <th scope="row">
                      {proposerName(c.name)}
                      {c.name === serving.proposer && <span className="badge">serving</span>}
                    </th>
                    <td>{formatPercent(c.accuracy)}</td>
                    <td>{logLoss(c.log_loss)}</td>
                    <td>{c.rows ?? "n/a"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <p className="muted" data-testid="serving-no-candidates">
            No cross-validated comparison of candidates was recorded for this round.
          </p>
        )}
      </div>
    </Panel>
  );
}
