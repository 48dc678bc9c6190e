// The annotator's queue as a pure state machine: what is on screen, the
// look-ahead lease behind it, the last submit that may be undone, and what
// the screen says. useAnnotateQueue talks to the server and dispatches these
// actions; this module decides what each answer does to the screen, so the
// rules are tested without a server or a browser.
//
// Times (`at`) come in with the actions (performance.now() when the item was
// shown), so the reducer stays pure.

import type { QueueItem, UndoneItem } from "../../api";

export type Notice = { text: string; error?: boolean } | null;

/** The look-ahead: being fetched, held, or none left beyond the item on screen. */
export type LookAhead = "pending" | "ready" | "none";

/** The last submitted answer, which U may take back. */
export interface LastSubmit {
  annotation: number;
  item: number;
}

export interface QueueState {
  /** The item on screen, with its lease; null before the first answer and when the queue is empty. */
  claim: QueueItem | null;
  /** When `claim` was shown (performance.now()), for the answer's time spent. */
  shownAt: number;
  /** Labels to start from instead of the proposal: the answer undo took back. */
  preselected: string[] | null;
  /** The server said there is nothing left to label. */
  empty: boolean;
  /** The look-ahead lease, held only while an item is on screen. */
  ahead: QueueItem | null;
  lookAhead: LookAhead;
  lastSubmit: LastSubmit | null;
  /** A server call the screen waits for is running: keys and buttons pause. */
  busy: boolean;
  /** Why the screen cannot go on; it never clears. */
  fatal: string | null;
  notice: Notice;
}

export const INITIAL: QueueState = {
  claim: null,
  shownAt: 0,
  preselected: null,
  empty: false,
  ahead: null,
  lookAhead: "pending",
  lastSubmit: null,
  busy: true,
  fatal: null,
  notice: null,
};

export type QueueAction =
  | { type: "busy"; busy: boolean }
  | { type: "fatal"; message: string }
  | { type: "notice"; notice: Notice }
  /** `next` answered: its item (or null: the queue is empty) goes on screen. */
  | { type: "shown"; claim: QueueItem | null; at: number }
  /** The look-ahead is given up (taken, released, ended) and will be fetched again. */
  | { type: "aheadPending" }
  /** `next?prefetch=1` answered (null: nothing beyond the item on screen). */
  | { type: "aheadFetched"; next: QueueItem | null }
  /** A submit or skip: the look-ahead item goes on screen at once, if there is one. */
  | { type: "tookAhead"; at: number }
  /** Re-synced: `next` and `next?prefetch=1` answered with the leases that are ours. */
  | { type: "synced"; first: QueueItem | null; second: QueueItem | null; at: number }
  | { type: "lastSubmit"; submit: LastSubmit | null }
  /** Undo answered: the item is back on its reopened lease, with the answer taken back. */
  | { type: "undone"; undone: UndoneItem; at: number };

function show(state: QueueState, claim: QueueItem | null, at: number, preselected: string[] | null = null): QueueState {
  return { ...state, claim, shownAt: at, preselected, empty: claim === null };
}

export function queueReducer(state: QueueState, action: QueueAction): QueueState {
  switch (action.type) {
    case "busy":
      return { ...state, busy: action.busy };
    case "fatal":
      return { ...state, fatal: action.message };
    case "notice":
      return { ...state, notice: action.notice };
    case "shown":
      return show(state, action.claim, action.at);
    case "aheadPending":
      return { ...state, ahead: null, lookAhead: "pending" };
    case "aheadFetched": {
      // The lease on screen itself is never a look-ahead.
      const next = action.next;
      return next && next.lease !== state.claim?.lease
        ? { ...state, ahead: next, lookAhead: "ready" }
        : { ...state, ahead: null, lookAhead: "none" };
    }
    case "tookAhead":
      if (!state.ahead) return state;
      return { ...show(state, state.ahead, action.at), ahead: null, lookAhead: "pending" };
    case "synced": {
      const { first, second } = action;
      if (!first) return { ...show(state, null, action.at), ahead: null, lookAhead: "none" };
      // The item on screen stays if it is still ours (keeping its undone answer and its time); else the first comes up.
      const ours = second && second.lease !== first.lease ? [first, second] : [first];
      const onScreen = state.claim;
      const current = ours.find((claim) => claim.lease === onScreen?.lease) ?? first;
      const shown = current.lease === onScreen?.lease ? state : show(state, current, action.at);
      const other = ours.find((claim) => claim.lease !== current.lease) ?? null;
      return { ...shown, ahead: other, lookAhead: other ? "ready" : "none" };
    }
    case "lastSubmit":
      return { ...state, lastSubmit: action.submit };
    case "undone": {
      const previous = state.claim;
      const shown = { ...show(state, action.undone, action.at, action.undone.labels), lastSubmit: null };
      // Undo reopened a lease: the item that was on screen becomes the look-ahead again, unless one is held.
      if (previous && previous.lease !== action.undone.lease && !state.ahead) {
        return { ...shown, ahead: previous, lookAhead: "ready" };
      }
      return shown;
    }
  }
}
