// The taxonomy as buttons, with a type-ahead filter for large taxonomies
// (BANKING77 has 77 labels), each label's keys, the model's suggestion marked,
// and the guideline of the label under the pointer or the focus.

import { useId, useMemo, useState, type KeyboardEvent, type RefObject } from "react";

import type { Label } from "../../api";
import type { Keymap } from "./keyboard";

export interface LabelPickerProps {
  labels: Label[];
  keymap: Keymap;
  multi: boolean;
  selected: ReadonlySet<string>;
  suggested: ReadonlySet<string>;
  disabled?: boolean;
  onChoose: (label: string) => void;
  filterRef?: RefObject<HTMLInputElement | null>;
  /** Called when the filter gives focus back (Escape), so the screen's keys work again. */
  onLeaveFilter?: () => void;
}

/** Labels whose key, name or parent's key contains every word typed. */
export function filterLabels(labels: Label[], query: string): Label[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return labels;
  return labels.filter((label) => {
    const haystack = `${label.key} ${label.name} ${label.parent ?? ""}`.toLowerCase().replace(/_/g, " ");
    const raw = `${label.key} ${label.name}`.toLowerCase();
    return words.every((word) => haystack.includes(word) || raw.includes(word));
  });
}

function depthOf(label: Label, byKey: Map<string, Label>): number {
  let depth = 0;
  for (let parent = label.parent; parent && depth < 10; parent = byKey.get(parent)?.parent ?? null) depth++;
  return depth;
}

export function LabelPicker(props: LabelPickerProps) {
  const { labels, keymap, multi, selected, suggested, disabled, onChoose, filterRef, onLeaveFilter } = props;
  const [query, setQuery] = useState("");
  const [explained, setExplained] = useState<string | null>(null);
  const id = useId();
  const byKey = useMemo(() => new Map(labels.map((label) => [label.key, label])), [labels]);
  const visible = useMemo(() => filterLabels(labels, query), [labels, query]);
  const explainedLabel = explained ? byKey.get(explained) : undefined;

  const onFilterKey = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === "Enter") {
      // Enter in the filter picks the first match, like a search box.
      event.preventDefault();
      if (visible.length && !disabled) {
        onChoose(visible[0].key);
        if (!multi) setQuery("");
      }
    } else if (event.key === "Escape") {
      event.preventDefault();
      setQuery("");
      onLeaveFilter?.();
    } else if (event.key === "ArrowDown") {
      event.preventDefault();
      document.getElementById(`${id}-label-0`)?.focus();
    }
  };

  return (
    <section className="label-picker" aria-label="Labels">
      <div className="filter">
        <label htmlFor={`${id}-filter`}>Filter labels</label>
        <input
          id={`${id}-filter`}
          ref={filterRef}
          type="search"
          value={query}
          autoComplete="off"
          placeholder="Type to filter, Enter picks the first"
          onChange={(event) => setQuery(event.target.value)}
          onKeyDown={onFilterKey}
        />
        <span className="muted" role="status">
          {query ? `${visible.length} of ${labels.length} labels` : ""}
        </span>
      </div>
      <ul className="labels">
        {visible.map((label, index) => {
          const keys = keymap.keysOf.get(label.key) ?? [];
          const isSelected = selected.has(label.key);
          return (
            <li key={label.key} style={{ paddingLeft: `${depthOf(label, byKey) * 1.2}rem` }}>
              <button
                type="button"
                id={`${id}-label-${index}`}
                className={`label${isSelected ? " selected" : ""}${suggested.has(label.key) ? " suggested" : ""}`}
                aria-pressed={isSelected}
                aria-describedby={label.guideline ? `${id}-guide-${label.key}` : undefined}
                disabled={disabled}
                data-label={label.key}
                onClick={() => onChoose(label.key)}
                onMouseEnter={() => setExplained(label.key)}
                onFocus={() => setExplained(label.key)}
              >
                <span className="keys" aria-hidden="true">
                  {keys.map((key) => (
                    <kbd key={key}>{key}</kbd>
                  ))}
                </span>
                <span className="name">{label.name || label.key}</span>
                {label.name && label.name !== label.key && <span className="key muted">{label.key}</span>}
                {suggested.has(label.key) && <span className="badge">suggested</span>}
                {keymap.shadowed.has(label.key) && (
                  <span className="muted" title="This hotkey is one of the screen's own keys">
                    (hotkey {label.hotkey} unavailable)
                  </span>
                )}
              </button>
              {label.guideline && (
                <span id={`${id}-guide-${label.key}`} className="visually-hidden">
                  {label.guideline}
                </span>
              )}
            </li>
          );
        })}
        {visible.length === 0 && <li className="muted">No label matches “{query}”.</li>}
      </ul>
      <aside className="guideline" aria-live="polite">
        {explainedLabel ? (
          <>
            <strong>{explainedLabel.name || explainedLabel.key}</strong>
            <p>{explainedLabel.guideline || "No guideline for this label."}</p>
          </>
        ) : (
          <p className="muted">Point at or focus a label to read its guideline.{multi ? " Toggle labels, then press Enter." : ""}</p>
        )}
      </aside>
    </section>
  );
}
