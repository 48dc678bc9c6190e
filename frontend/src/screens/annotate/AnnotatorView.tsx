// One leased item on screen, and the keyboard that labels it. No network
// here: the container (AnnotateScreen) passes the claim and takes the
// decisions, so this part is tested by rendering it and pressing keys.

import { useEffect, useMemo, useRef, useState } from "react";

import type { Label, QueueItem } from "../../api";
import { actionForKey, buildKeymap, keyBelongsToTarget, SHORTCUTS, type KeyAction } from "./keyboard";
import { LabelPicker } from "./LabelPicker";
import { Neighbours } from "./Neighbours";

export interface AnnotatorViewProps {
  claim: QueueItem;
  labels: Label[];
  multi: boolean;
  /** A request is in flight: keys and clicks wait, so nothing is sent twice. */
  busy: boolean;
  onSubmit: (labels: string[], fromProposal: boolean) => void;
  onSkip: () => void;
  onUndo: () => void;
  /** Labels to start from instead of the proposal: the answer just taken back by undo. */
  preselected?: string[] | null;
  /** One line for the status region: what just happened, or what went wrong. */
  notice?: { text: string; error?: boolean } | null;
}

export function formatConfidence(confidence: number | null): string {
  return confidence === null ? "confidence unknown" : `${Math.round(confidence * 100)}% confidence`;
}

export function AnnotatorView(props: AnnotatorViewProps) {
  const { claim, labels, multi, busy, onSubmit, onSkip, onUndo, preselected, notice } = props;
  const keymap = useMemo(() => buildKeymap(labels), [labels]);
  const known = useMemo(() => new Set(labels.map((label) => label.key)), [labels]);
  // The proposal's labels that are in the active taxonomy, preselected (one
  // at most in a single-label project).
  const suggested = useMemo(() => {
    const keys = (claim.proposal?.labels ?? []).filter((key) => known.has(key));
    return new Set(multi ? keys : keys.slice(0, 1));
  }, [claim, known, multi]);
  // What the selection starts from: the undone answer if there is one, else the proposal.
  const initial = useMemo(() => {
    if (!preselected) return suggested;
    const keys = preselected.filter((key) => known.has(key));
    return new Set(multi ? keys : keys.slice(0, 1));
  }, [preselected, suggested, known, multi]);
  const [selected, setSelected] = useState<ReadonlySet<string>>(initial);
  const [helpOpen, setHelpOpen] = useState(false);
  const [hint, setHint] = useState<string | null>(null);
  const workspace = useRef<HTMLElement>(null);
  const filterRef = useRef<HTMLInputElement>(null);

  // A new item: start from its proposal (or the undone answer), and take
  // focus back from whatever button was last clicked (Enter on it would
  // otherwise press it again).
  useEffect(() => {
    setSelected(initial);
    setHint(null);
    workspace.current?.focus({ preventScroll: true });
  }, [claim, initial]);

  const submit = (chosen: string[], fromProposal: boolean) => {
    if (busy) return;
    if (!chosen.length) {
      setHint(multi ? "Toggle at least one label, then press Enter." : "Pick a label (there is no suggestion to accept).");
      return;
    }
    onSubmit(chosen, fromProposal);
  };

  const choose = (label: string) => {
    if (busy) return;
    if (!multi) {
      submit([label], false);
      return;
    }
    setSelected((current) => {
      const next = new Set(current);
      if (next.has(label)) next.delete(label);
      else next.add(label);
      return next;
    });
  };

  // The selection starts as the proposal, so Enter always submits something
  // started from it when there was one; the server tells accepted from edited.
  const accept = () => submit([...selected], suggested.size > 0);

  const perform = (action: KeyAction) => {
    switch (action.kind) {
      case "choose":
        return choose(action.label);
      case "accept":
        return accept();
      case "skip":
        return busy ? undefined : onSkip();
      case "undo":
        return busy ? undefined : onUndo();
      case "help":
        return setHelpOpen((open) => !open);
      case "filter":
        return filterRef.current?.focus();
      case "close":
        return setHelpOpen(false);
    }
  };

  // Latest handler in a ref, so the window listener is added once.
  const performRef = useRef(perform);
  performRef.current = perform;
  useEffect(() => {
    const onKeyDown = (event: KeyboardEvent) => {
      if (event.defaultPrevented || event.repeat || keyBelongsToTarget(event.key, event.target)) return;
      const action = actionForKey(event, keymap);
      if (!action) return;
      event.preventDefault();
      performRef.current(action);
    };
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, [keymap]);

  const { item, proposal } = claim;
  const nameOf = (key: string) => labels.find((label) => label.key === key)?.name || key;
  const suggestedNames = [...suggested].map(nameOf);

  return (
    <div className="annotator">
      <section
        ref={workspace}
        tabIndex={-1}
        className="workspace"
        aria-label="Item to label"
        aria-busy={busy}
      >
        {item.modality === "image" && item.file_url ? (
          <img
            className="item-image"
            src={item.file_url}
            alt={`Image item ${item.external_id || item.id}`}
            data-item-id={item.id}
          />
        ) : (
          // Untrusted text: a React text node, never markup.
          <div className="item-text" data-testid="item-text" data-item-id={item.id}>
            {item.text}
          </div>
        )}
        {preselected && (
          <p className="undone">
            Your answer was <strong>{preselected.map(nameOf).join(", ")}</strong> (selected) — press Enter to
            submit it again, or pick another.
          </p>
        )}
        <p className="proposal">
          {proposal && suggested.size > 0 ? (
            <>
              Suggested: <strong>{suggestedNames.join(", ")}</strong>{" "}
              <span className="muted">({formatConfidence(proposal.confidence)})</span> — press Enter to accept.
            </>
          ) : (
            <span className="muted">No suggestion for this item.</span>
          )}
        </p>
        <Neighbours neighbours={claim.neighbours ?? []} labels={labels} />
      </section>

      <LabelPicker
        labels={labels}
        keymap={keymap}
        multi={multi}
        selected={selected}
        suggested={suggested}
        disabled={busy}
        onChoose={choose}
        filterRef={filterRef}
        onLeaveFilter={() => workspace.current?.focus({ preventScroll: true })}
      />

      <div className="actions">
        <button type="button" onClick={accept} disabled={busy || (!multi && selected.size === 0)}>
          {multi ? "Submit selected" : preselected ? "Submit again" : "Accept suggestion"} <kbd>Enter</kbd>
        </button>
        <button type="button" onClick={() => perform({ kind: "skip" })} disabled={busy}>
          Skip <kbd>S</kbd>
        </button>
        <button type="button" onClick={() => perform({ kind: "undo" })} disabled={busy}>
          Undo <kbd>U</kbd>
        </button>
        <button type="button" onClick={() => setHelpOpen((open) => !open)} aria-expanded={helpOpen}>
          Shortcuts <kbd>?</kbd>
        </button>
      </div>

      <p className={`notice${notice?.error ? " error" : ""}`} role="status" aria-live="polite">
        {hint ?? notice?.text ?? ""}
      </p>

      {helpOpen && (
        <div className="help" role="dialog" aria-modal="false" aria-label="Keyboard shortcuts">
          <h2>Keyboard shortcuts</h2>
          <dl>
            {SHORTCUTS.map(([keys, meaning]) => (
              <div key={keys}>
                <dt>
                  <kbd>{keys}</kbd>
                </dt>
                <dd>{meaning}</dd>
              </div>
            ))}
          </dl>
          <button type="button" onClick={() => setHelpOpen(false)}>
            Close <kbd>Esc</kbd>
          </button>
        </div>
      )}
    </div>
  );
}
