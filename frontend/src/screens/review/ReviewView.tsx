// One item in review on screen, and the keyboard that decides it. No
// network here: ReviewScreen passes the task and sends the decision, so this
// part is tested by rendering it and pressing keys.
//
// A accepts the consensus, F opens the label picker to fix it (Enter saves),
// R opens the comment box to reject it (a comment is required: the
// annotators read it). Escape goes back. Item text is untrusted and only
// ever rendered as text.

import { useEffect, useMemo, useRef, useState, type KeyboardEvent as ReactKeyboardEvent } from "react";

import type { Annotation, Label } from "../../api";
import { buildKeymap, keyBelongsToTarget } from "../annotate/keyboard";
import { LabelPicker } from "../annotate/LabelPicker";
import type { DecideBody, ReviewReason, ReviewTask } from "./reviewApi";

export const REASON_TEXT: Record<ReviewReason, string> = {
  disputed: "Disputed: the annotators are tied",
  low_agreement: "Agreement below the project's threshold",
  gold_failure: "Failed a gold check",
  annotator_below_gold: "An annotator is below the minimum gold accuracy",
  model_disagreement: "A confident model disagrees with the annotators",
  suspected_error: "Suspected label error (found by the last round)",
  dropped: "Dropped by an annotator",
};

const SOURCE_TEXT: Record<Annotation["source"], string> = {
  manual: "labelled by hand",
  proposal_accepted: "accepted the proposal",
  proposal_edited: "edited the proposal",
  cluster_bulk: "bulk-labelled from a cluster",
  imported: "imported",
};

export const REVIEW_SHORTCUTS: [string, string][] = [
  ["A", "accept the consensus"],
  ["F", "fix: pick the right labels, then Enter"],
  ["R", "reject with a comment"],
  ["Esc", "back to the three choices"],
];

export function formatDuration(ms: number | null): string {
  if (ms === null) return "time not recorded";
  if (ms < 1000) return `${ms} ms`;
  const seconds = ms / 1000;
  return seconds < 60 ? `${seconds.toFixed(1)} s` : `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

export const formatShare = (value: number | null | undefined) =>
  value === null || value === undefined ? "n/a" : `${Math.round(value * 100)}%`;

/** A reason's details (numbers, label lists, ids) as one line of text. */
export function describeDetails(details: Record<string, unknown> | undefined): string {
  if (!details) return "";
  return Object.entries(details)
    .map(([key, value]) => {
      const shown = Array.isArray(value)
        ? value.map(String).join(", ") || "none"
        : typeof value === "number" && value > 0 && value < 1
          ? value.toFixed(2)
          : typeof value === "object" && value !== null
            ? JSON.stringify(value)
            : String(value);
      return `${key.replace(/_/g, " ")}: ${shown}`;
    })
    .join("; ");
}

type Mode = "choose" | "fix" | "reject";

export interface ReviewViewProps {
  task: ReviewTask;
  labels: Label[];
  multi: boolean;
  /** A decision is being sent: keys and buttons wait. */
  busy: boolean;
  onDecide: (body: DecideBody) => void;
  notice?: { text: string; error?: boolean } | null;
}

export function ReviewView({ task, labels, multi, busy, onDecide, notice }: ReviewViewProps) {
  const keymap = useMemo(() => buildKeymap(labels), [labels]);
  const nameOf = useMemo(() => new Map(labels.map((label) => [label.key, label.name || label.key])), [labels]);
  const names = (keys: string[]) => (keys.length ? keys.map((key) => nameOf.get(key) ?? key).join(", ") : "none");
  const start = useMemo(
    () => new Set((task.consensus?.labels ?? []).filter((key) => nameOf.has(key)).slice(0, multi ? undefined : 1)),
    [task, nameOf, multi],
  );
  const [mode, setMode] = useState<Mode>("choose");
  const [selected, setSelected] = useState<ReadonlySet<string>>(start);
  const [comment, setComment] = useState("");
  const [hint, setHint] = useState<string | null>(null);
  const region = useRef<HTMLElement>(null);
  const filterRef = useRef<HTMLInputElement>(null);
  const commentRef = useRef<HTMLTextAreaElement>(null);

  const gold = task.gold_labels !== null;
  const canAccept = gold || Boolean(task.consensus?.labels.length);

  // A new task: back to the three choices, focus on the item.
  useEffect(() => {
    setMode("choose");
    setSelected(start);
    setComment("");
    setHint(null);
    region.current?.focus({ preventScroll: true });
  }, [task, start]);

  useEffect(() => {
    if (mode === "reject") commentRef.current?.focus();
    // Fixing keeps focus on the item, so digits and hotkeys pick labels and
    // Enter saves; the filter is a Tab or a click away.
    if (mode !== "reject") region.current?.focus({ preventScroll: true });
  }, [mode]);

  const accept = () => {
    if (busy) return;
    if (!canAccept) {
      setHint("There is no consensus to accept (a tie or a dropped item): fix it or reject it.");
      return;
    }
    onDecide({ decision: "accept" });
  };

  const saveFix = () => {
    if (busy) return;
    if (!selected.size) {
      setHint("Pick the right label first.");
      return;
    }
    onDecide({ decision: "fix", labels: [...selected] });
  };

  const reject = () => {
    if (busy) return;
    if (!comment.trim()) {
      setHint("Say why you reject it: the annotators will read your comment.");
      commentRef.current?.focus();
      return;
    }
    onDecide({ decision: "reject", comment: comment.trim() });
  };

  const choose = (label: string) => {
    if (busy) return;
    setHint(null);
    setSelected((current) => {
      if (!multi) return new Set([label]);
      const next = new Set(current);
      if (next.has(label)) next.delete(label);
      else next.add(label);
      return next;
    });
  };

  const open = (next: Mode) => {
    setHint(null);
    setMode(next);
  };

  // The screen's keys, on the window so they work wherever focus is, except
  // while typing (the comment, the label filter) or pressing a focused button.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.ctrlKey || event.metaKey || event.altKey || busy) return;
      if (keyBelongsToTarget(event.key, event.target)) return;
      const key = event.key.toLowerCase();
      let handled = true;
      if (key === "escape" && mode !== "choose") open("choose");
      else if (mode === "choose" && key === "a") accept();
      else if (mode === "choose" && key === "f") open("fix");
      else if (mode === "choose" && key === "r") open("reject");
      else if (mode === "fix" && key === "enter") saveFix();
      else if (mode === "fix" && keymap.byKey.has(key)) choose(keymap.byKey.get(key)!);
      else handled = false;
      // Handled keys stop here: R must not also type an "r" into the comment box it opens.
      if (handled) event.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  const onCommentKey = (event: ReactKeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Escape") {
      event.preventDefault();
      open("choose");
    } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      reject();
    }
  };

  const proposal = task.proposal;
  const agreement = task.consensus?.agreement;

  return (
    <div className="review">
      <section
        className="workspace review-item"
        ref={region}
        tabIndex={-1}
        aria-label={`Item ${task.item.id} in review`}
        data-item-id={task.item.id}
      >
        {task.item.modality === "image" && task.item.file_url ? (
          <img className="item-image" src={task.item.file_url} alt={`Image item ${task.item.external_id || task.item.id}`} />
        ) : (
          <p className="item-text" data-testid="review-item-text">
            {task.item.text}
          </p>
        )}
        <h2 className="section-title">Why it is here</h2>
        <ul className="reasons">
          {task.reasons.map((reason) => (
            <li key={reason} data-reason={reason}>
              <strong>{REASON_TEXT[reason] ?? reason}</strong>
              {task.details[reason] && Object.keys(task.details[reason]).length > 0 && (
                <span className="muted"> ({describeDetails(task.details[reason])})</span>
              )}
            </li>
          ))}
        </ul>
      </section>

      <section className="evidence" aria-label="Annotations and model">
        <ul className="cards">
          {task.annotations.map((annotation) => (
            <li key={annotation.id} className="card" data-annotator={annotation.annotator_username}>
              <h3>{annotation.annotator_username}</h3>
              <p className="card-labels">{names(annotation.labels)}</p>
              <p className="muted">
                {SOURCE_TEXT[annotation.source] ?? annotation.source} · {formatDuration(annotation.time_spent_ms)}
              </p>
            </li>
          ))}
          {task.annotations.length === 0 && <li className="card muted">No live annotations on this item.</li>}
          <li className="card model" data-testid="model-proposal">
            <h3>Model</h3>
            {proposal ? (
              <>
                <p className="card-labels">{names(proposal.labels)}</p>
                <p className="muted">
                  {proposal.confidence === null ? "confidence unknown" : `${formatShare(proposal.confidence)} confidence`}
                </p>
              </>
            ) : (
              <p className="muted">No model proposal for this item.</p>
            )}
          </li>
          <li className="card consensus" data-testid="consensus">
            <h3>{gold ? "Known answer" : "Consensus"}</h3>
            {gold ? (
              <p className="card-labels">{names(task.gold_labels ?? [])}</p>
            ) : task.consensus ? (
              <>
                <p className="card-labels">{names(task.consensus.labels)}</p>
                <p className="muted">
                  {task.consensus.status} · agreement {formatShare(agreement)} · {task.consensus.method}
                </p>
              </>
            ) : (
              <p className="muted">No consensus yet.</p>
            )}
          </li>
        </ul>
      </section>

      <section className="decision" aria-label="Decision">
        {mode === "choose" && (
          <div className="actions">
            <button type="button" onClick={accept} disabled={busy || !canAccept} aria-keyshortcuts="a">
              <kbd>A</kbd> Accept{task.consensus?.labels.length ? `: ${names(task.consensus.labels)}` : ""}
            </button>
            <button type="button" onClick={() => open("fix")} disabled={busy} aria-keyshortcuts="f">
              <kbd>F</kbd> Fix…
            </button>
            <button type="button" onClick={() => open("reject")} disabled={busy} aria-keyshortcuts="r">
              <kbd>R</kbd> Reject…
            </button>
          </div>
        )}
        {mode === "fix" && (
          <div className="fix">
            <p>
              Pick the right label{multi ? "s" : ""} (keys as shown), then <kbd>Enter</kbd> or Save. <kbd>Esc</kbd> goes back.
            </p>
            <LabelPicker
              labels={labels}
              keymap={keymap}
              multi={multi}
              selected={selected}
              suggested={new Set(proposal?.labels ?? [])}
              disabled={busy}
              onChoose={choose}
              filterRef={filterRef}
              onLeaveFilter={() => region.current?.focus({ preventScroll: true })}
            />
            <div className="actions">
              <button type="button" onClick={saveFix} disabled={busy || !selected.size}>
                Save fix: {names([...selected])}
              </button>
              <button type="button" onClick={() => open("choose")} disabled={busy}>
                Back
              </button>
            </div>
          </div>
        )}
        {mode === "reject" && (
          <div className="reject">
            <label htmlFor="reject-comment">Why do you reject it? The annotators will read this.</label>
            <textarea
              id="reject-comment"
              ref={commentRef}
              value={comment}
              rows={3}
              maxLength={2000}
              onChange={(event) => setComment(event.target.value)}
              onKeyDown={onCommentKey}
            />
            <div className="actions">
              <button type="button" onClick={reject} disabled={busy}>
                Reject with this comment
              </button>
              <button type="button" onClick={() => open("choose")} disabled={busy}>
                Back
              </button>
            </div>
          </div>
        )}
        <p className={`notice${hint || notice?.error ? " error" : ""}`} role="status" aria-live="polite">
          {hint ?? notice?.text ?? ""}
        </p>
        <p className="muted shortcuts">
          {REVIEW_SHORTCUTS.map(([key, what]) => (
            <span key={key}>
              <kbd>{key}</kbd> {what}.{" "}
            </span>
          ))}
        </p>
      </section>
    </div>
  );
}
