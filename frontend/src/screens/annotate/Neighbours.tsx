// The nearest items with approved labels, as the round that made the
// proposal found them: a reminder of how similar items were labelled. Under
// the item, open on wide screens and collapsed on narrow ones (where the
// labels must stay in reach), toggled by its summary either way.

import { useEffect, useState } from "react";

import type { Label, Neighbour } from "../../api";

/** Below this width the list starts collapsed (the layout's single-column breakpoint). */
export const NARROW_QUERY = "(max-width: 720px)";

export function formatSimilarity(similarity: number): string {
  return `${Math.round(similarity * 100)}% similar`;
}

function narrowScreen(): boolean {
  return typeof window.matchMedia === "function" && window.matchMedia(NARROW_QUERY).matches;
}

export function Neighbours({ neighbours, labels }: { neighbours: Neighbour[]; labels: Label[] }) {
  const [open, setOpen] = useState(() => !narrowScreen());

  // Follow the screen when it crosses the breakpoint (a phone turned, a window resized).
  useEffect(() => {
    if (typeof window.matchMedia !== "function") return;
    const query = window.matchMedia(NARROW_QUERY);
    const onChange = () => setOpen(!query.matches);
    query.addEventListener("change", onChange);
    return () => query.removeEventListener("change", onChange);
  }, []);

  if (!neighbours.length) return null;
  const nameOf = (key: string) => labels.find((label) => label.key === key)?.name || key;
  return (
    <details
      className="neighbours"
      open={open}
      onToggle={(event) => setOpen((event.currentTarget as HTMLDetailsElement).open)}
    >
      <summary>Similar labelled items ({neighbours.length})</summary>
      <ul aria-label="Similar labelled items">
        {neighbours.map((neighbour) => (
          <li key={neighbour.item} data-neighbour-id={neighbour.item}>
            {/* Untrusted text: a React text node, never markup. */}
            {/* Long unbroken text wraps rather than widening a phone-width screen. */}
            <span className="neighbour-text" style={{ overflowWrap: "anywhere" }}>
              {neighbour.text || `Item ${neighbour.item}`}
            </span>{" "}
            <span className="neighbour-labels">
              <strong>{neighbour.labels.map(nameOf).join(", ")}</strong>
            </span>{" "}
            <span className="muted">({formatSimilarity(neighbour.similarity)})</span>
          </li>
        ))}
      </ul>
    </details>
  );
}
