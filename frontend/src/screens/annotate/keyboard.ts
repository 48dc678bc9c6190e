// The annotator's keyboard: which key does what, as pure functions so the
// mapping is tested without a browser and shown verbatim in the "?" overlay.
//
// Digits 1-9 pick the first nine labels in taxonomy order; a label's own
// hotkey (set by the lead in the taxonomy) picks it too. The screen's own
// keys (Enter, S, U, ?, /, Escape) win over label hotkeys: a label whose
// hotkey is one of them, or a digit, keeps only its digit and click, and the
// label picker says its hotkey is shadowed.

import type { Label } from "../../api";

export type KeyAction =
  | { kind: "choose"; label: string } // single-label: submit it; multi-label: toggle it
  | { kind: "accept" } // submit the current selection (the preselected proposal, or the toggled labels)
  | { kind: "skip" }
  | { kind: "undo" }
  | { kind: "help" }
  | { kind: "filter" }
  | { kind: "close" };

const SCREEN_KEYS: Record<string, KeyAction> = {
  enter: { kind: "accept" },
  s: { kind: "skip" },
  u: { kind: "undo" },
  "?": { kind: "help" },
  "/": { kind: "filter" },
  escape: { kind: "close" },
};

const DIGITS = "123456789";

export interface Keymap {
  /** key (lower case) -> label key */
  byKey: Map<string, string>;
  /** label key -> the keys that pick it, for display */
  keysOf: Map<string, string[]>;
  /** label keys whose taxonomy hotkey is taken by a screen key or a digit */
  shadowed: Set<string>;
}

export function buildKeymap(labels: Label[]): Keymap {
  const byKey = new Map<string, string>();
  const keysOf = new Map<string, string[]>(labels.map((label) => [label.key, []]));
  const shadowed = new Set<string>();
  labels.slice(0, DIGITS.length).forEach((label, index) => {
    byKey.set(DIGITS[index], label.key);
    keysOf.get(label.key)!.push(DIGITS[index]);
  });
  for (const label of labels) {
    const hotkey = label.hotkey.toLowerCase();
    if (!hotkey) continue;
    if (hotkey in SCREEN_KEYS || DIGITS.includes(hotkey) || byKey.has(hotkey)) {
      shadowed.add(label.key);
      continue;
    }
    byKey.set(hotkey, label.key);
    keysOf.get(label.key)!.push(hotkey);
  }
  return { byKey, keysOf, shadowed };
}

/** The subset of a KeyboardEvent that decides the action. */
export interface KeyPress {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
}

export function actionForKey(press: KeyPress, keymap: Keymap): KeyAction | null {
  // Browser and system shortcuts (Ctrl+R, Cmd+C, ...) stay theirs.
  if (press.ctrlKey || press.metaKey || press.altKey) return null;
  const key = press.key.toLowerCase();
  const screen = SCREEN_KEYS[key];
  if (screen) return screen;
  const label = keymap.byKey.get(key);
  return label === undefined ? null : { kind: "choose", label };
}

/** True when the key belongs to what has focus rather than to the screen:
 * typing in a field, or Enter/Space activating a focused button or link. */
export function keyBelongsToTarget(key: string, target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName)) return true;
  return (key === "Enter" || key === " ") && (target.tagName === "BUTTON" || target.tagName === "A");
}

export const SHORTCUTS: [string, string][] = [
  ["1 – 9", "pick one of the first nine labels"],
  ["a letter", "pick the label with that hotkey (shown on its button)"],
  ["Enter", "accept the suggested label, or submit the labels you toggled"],
  ["S", "skip this item"],
  ["U", "undo your last submit"],
  ["/", "filter the labels by typing"],
  ["?", "show or hide these shortcuts"],
  ["Esc", "close this help, or clear the filter"],
];
