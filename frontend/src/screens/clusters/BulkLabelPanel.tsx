// "Bulk label": pick labels for the checked members, then confirm with what
// will happen (annotation/services/bulk.py): a sample of ceil(rate × n)
// items goes to annotators, who label it without seeing these labels, and
// the batch is approved only if the sample's error rate is within the rule.

import { useMemo, useState } from "react";

import type { Label } from "../../api";
import type { Keymap } from "../annotate/keyboard";
import { LabelPicker } from "../annotate/LabelPicker";
import { sampleSize, type BulkRules } from "./clustersApi";

// The explorer binds no label hotkeys: the picker shows no keys.
const NO_KEYS: Keymap = { byKey: new Map(), keysOf: new Map(), shadowed: new Set() };

export interface BulkLabelPanelProps {
  labels: Label[];
  multi: boolean;
  count: number;
  rules: BulkRules;
  busy: boolean;
  error: string | null;
  onConfirm: (labels: string[]) => void;
}

/** The confirmation's words, also checked by the tests. */
export function bulkSummary(count: number, chosen: string[], rules: BulkRules): string {
  const sample = sampleSize(rules.bulk_verification_rate, count);
  const items = count === 1 ? "1 item" : `${count} items`;
  return (
    `Label ${items} as ${chosen.join(" + ")}. ` +
    `A sample of ${sample} (ceil(${rules.bulk_verification_rate} × ${count})) will be labelled by annotators ` +
    `who do not see these labels. The batch is approved only if the sample's error rate is at most ` +
    `${Math.round(rules.bulk_max_error_rate * 100)}%; otherwise the items go back to the queue.`
  );
}

export function BulkLabelPanel({ labels, multi, count, rules, busy, error, onConfirm }: BulkLabelPanelProps) {
  const [chosen, setChosen] = useState<string[]>([]);
  const [confirming, setConfirming] = useState(false);
  const chosenSet = useMemo(() => new Set(chosen), [chosen]);

  const choose = (key: string) => {
    setConfirming(false);
    if (!multi) setChosen([key]);
    else setChosen((now) => (now.includes(key) ? now.filter((k) => k !== key) : [...now, key]));
  };

  return (
    <section className="bulk-panel" aria-labelledby="bulk-title">
      <h2 id="bulk-title">Bulk label {count === 1 ? "1 selected item" : `${count} selected items`}</h2>
      <LabelPicker
        labels={labels}
        keymap={NO_KEYS}
        multi={multi}
        selected={chosenSet}
        suggested={new Set()}
        disabled={busy}
        onChoose={choose}
      />
      <p aria-live="polite">
        {chosen.length ? `Chosen: ${chosen.join(", ")}` : multi ? "Choose one or more labels." : "Choose a label."}
      </p>
      {!confirming && (
        <button type="button" disabled={busy || count === 0 || chosen.length === 0} onClick={() => setConfirming(true)}>
          Bulk label…
        </button>
      )}
      {confirming && (
        <div className="confirm" role="group" aria-labelledby="bulk-confirm-text">
          <p id="bulk-confirm-text">{bulkSummary(count, chosen, rules)}</p>
          <button type="button" className="primary" disabled={busy} onClick={() => onConfirm(chosen)} autoFocus>
            Confirm bulk label
          </button>{" "}
          <button type="button" disabled={busy} onClick={() => setConfirming(false)}>
            Back
          </button>
        </div>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
