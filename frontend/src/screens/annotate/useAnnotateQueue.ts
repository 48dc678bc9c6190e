// The annotator's queue: lease an item, label it, see the next one at once.
// The state machine is queueReducer (pure, tested alone); this hook makes the
// server calls and keeps both leases alive, dispatching what they answer.
//
// A key that submits or skips must show the next item without waiting for
// the server (issue 6: 50 ms from key press to paint), so the screen holds a
// look-ahead lease: while an item is on screen the next one is already
// leased (`next?prefetch=1`; the API allows two live leases per annotator:
// annotation/services/queue.py). A submit or skip paints the look-ahead
// item immediately, sends the action in the background, then prefetches
// again. Server calls run one at a time in the order of the keys
// (`enqueue`): a second key pressed before the look-ahead has arrived waits
// for it (the item stays on screen, inputs paused, never a blank frame).
//
// A background action that fails (a 409: the lease expired meanwhile) is
// reported and the screen re-syncs with the server (`resync`: `next` and
// `next?prefetch=1` name the live leases; the item on screen stays if it
// is still one of them).
//
// Both leases are renewed by heartbeat. U undoes the last submit while the
// server allows it (its lease would still be live, the item not settled);
// undo reopens a lease, so with two live ones the look-ahead is released
// first, and the item that was on screen becomes the look-ahead again.

import { useCallback, useEffect, useReducer, useRef } from "react";

import {
  ApiError,
  heartbeatLease,
  nextItem,
  releaseLease,
  skipLease,
  submitLease,
  undoAnnotation,
  type QueueItem,
  type UndoneItem,
} from "../../api";
import { INITIAL, queueReducer, type QueueAction, type QueueState } from "./queueReducer";

/** Renew at a third of the remaining lease time, within 5 s to 60 s. */
export function heartbeatDelay(expiresAt: string, now: number = Date.now()): number {
  const remaining = new Date(expiresAt).getTime() - now;
  return Math.min(60_000, Math.max(5_000, Math.floor(remaining / 3)));
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The lease has ended on the server (expired, released, submitted elsewhere). */
const leaseEnded = (err: unknown) => err instanceof ApiError && (err.status === 409 || err.status === 404);

/** Keep `claim`'s lease alive while it is held; `onEnded` when the server
 * says it has ended, `onError` (then a retry in 5 s) for anything else. */
function useHeartbeat(
  projectId: number,
  claim: QueueItem | null,
  onEnded: (claim: QueueItem, err: ApiError) => void,
  onError: (err: unknown) => void,
) {
  const handlers = useRef({ onEnded, onError });
  handlers.current = { onEnded, onError };
  useEffect(() => {
    if (!claim) return;
    let timer = 0;
    let stopped = false;
    const beat = async () => {
      try {
        const lease = await heartbeatLease(projectId, claim.lease);
        if (!stopped) timer = window.setTimeout(beat, heartbeatDelay(lease.expires_at));
      } catch (err) {
        if (stopped) return;
        if (leaseEnded(err)) {
          handlers.current.onEnded(claim, err as ApiError);
        } else {
          handlers.current.onError(err);
          timer = window.setTimeout(beat, 5_000);
        }
      }
    };
    timer = window.setTimeout(beat, heartbeatDelay(claim.expires_at));
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [claim, projectId]);
}

export interface AnnotateQueue {
  state: QueueState;
  canUndo: boolean;
  /** (Re)start: ask the server which leases are ours and show them (also "Check again"). */
  start: () => void;
  /** The screen cannot load (no such project, no taxonomy): say why, for good. */
  fail: (why: string) => void;
  submit: (labels: string[], fromProposal: boolean) => void;
  skip: () => void;
  undo: () => void;
}

export function useAnnotateQueue(projectId: number): AnnotateQueue {
  const [state, dispatchToReact] = useReducer(queueReducer, INITIAL);
  // The state as of the last action, for the queued server calls that run
  // between renders: every action goes through `dispatch`, which applies it
  // here at once and hands it to React, so both see the same sequence.
  const latest = useRef(state);
  const dispatch = useCallback((action: QueueAction) => {
    latest.current = queueReducer(latest.current, action);
    dispatchToReact(action);
  }, []);
  const chain = useRef<Promise<void>>(Promise.resolve());

  /** Run `op` after every server call queued before it. */
  const enqueue = useCallback(
    (op: () => Promise<void>) => {
      const run = chain.current.then(op).catch((err: unknown) => {
        dispatch({ type: "fatal", message: `Something went wrong: ${message(err)}` });
        dispatch({ type: "busy", busy: false });
      });
      chain.current = run;
      return run;
    },
    [dispatch],
  );

  // The steps below run inside `enqueue`d operations only.

  const fetchAhead = useCallback(async () => {
    const { claim, ahead } = latest.current;
    if (ahead || !claim) {
      if (!claim) dispatch({ type: "aheadFetched", next: null });
      return;
    }
    dispatch({ type: "aheadPending" });
    try {
      let next = await nextItem(projectId, { prefetch: true });
      // Two live leases and the one on screen is the newer (a reopened lease keeps its older id):
      // plain `next` names the other one.
      if (next && next.lease === latest.current.claim?.lease) next = await nextItem(projectId);
      dispatch({ type: "aheadFetched", next });
    } catch (err) {
      // Not fatal: the next key then asks for its item after its submit.
      dispatch({ type: "aheadFetched", next: null });
      dispatch({ type: "notice", notice: { text: `Could not fetch the next item ahead: ${message(err)}.`, error: true } });
    }
  }, [projectId, dispatch]);

  const loadCurrent = useCallback(async () => {
    try {
      const claim = await nextItem(projectId);
      dispatch({ type: "shown", claim, at: performance.now() });
    } catch (err) {
      dispatch({ type: "fatal", message: `Could not get the next item: ${message(err)}` });
    }
  }, [projectId, dispatch]);

  /** Ask the server which leases are ours (plain `next`: one of them, or a
   * new claim; `prefetch`: the other, or a new one) and show them: the item
   * on screen stays if it is still ours, else the first one comes up. */
  const resync = useCallback(async () => {
    dispatch({ type: "aheadPending" });
    let first: QueueItem | null;
    try {
      first = await nextItem(projectId);
    } catch (err) {
      dispatch({ type: "fatal", message: `Could not get the next item: ${message(err)}` });
      return;
    }
    let second: QueueItem | null = null;
    if (first) {
      try {
        second = await nextItem(projectId, { prefetch: true });
      } catch (err) {
        dispatch({ type: "notice", notice: { text: `Could not fetch the next item ahead: ${message(err)}.`, error: true } });
      }
    }
    dispatch({ type: "synced", first, second, at: performance.now() });
  }, [projectId, dispatch]);

  const start = useCallback(() => {
    dispatch({ type: "busy", busy: true });
    void enqueue(async () => {
      await resync();
      dispatch({ type: "busy", busy: false });
    });
  }, [dispatch, enqueue, resync]);

  const fail = useCallback(
    (why: string) => {
      dispatch({ type: "fatal", message: why });
      dispatch({ type: "busy", busy: false });
    },
    [dispatch],
  );

  useHeartbeat(
    projectId,
    state.claim,
    (ended, err) => {
      dispatch({ type: "notice", notice: { text: `Your lease on this item ended (${err.message}); here is the next one.`, error: true } });
      void enqueue(async () => {
        if (latest.current.claim?.lease === ended.lease) await resync();
      });
    },
    (err) => dispatch({ type: "notice", notice: { text: `Could not renew the lease: ${message(err)}. Retrying.`, error: true } }),
  );
  useHeartbeat(
    projectId,
    state.ahead,
    (ended) =>
      void enqueue(async () => {
        if (latest.current.ahead?.lease !== ended.lease) return;
        dispatch({ type: "aheadPending" });
        await fetchAhead();
      }),
    (err) =>
      dispatch({
        type: "notice",
        notice: { text: `Could not renew the lease of the next item: ${message(err)}. Retrying.`, error: true },
      }),
  );

  /** Show the look-ahead item now, if there is one. */
  const takeAhead = (): boolean => {
    if (!latest.current.ahead) return false;
    dispatch({ type: "tookAhead", at: performance.now() });
    return true;
  };

  /** Submit or skip the item on screen: paint the next one at once, send the action behind it. */
  function advance<T>(verb: string, send: (lease: number) => Promise<T>, done: (result: T) => string) {
    const from = latest.current.claim;
    if (!from) return;
    let shown = takeAhead();
    if (!shown) dispatch({ type: "busy", busy: true });
    void enqueue(async () => {
      if (!shown) shown = takeAhead(); // it arrived while this waited its turn
      try {
        dispatch({ type: "notice", notice: { text: done(await send(from.lease)) } });
      } catch (err) {
        const why = leaseEnded(err) ? "it is no longer yours" : "it is shown again if it is still yours";
        dispatch({ type: "notice", notice: { text: `Could not ${verb} item ${from.item.id}: ${message(err)} (${why}).`, error: true } });
        await resync();
        dispatch({ type: "busy", busy: false });
        return;
      }
      if (!shown) await loadCurrent();
      dispatch({ type: "busy", busy: false });
      await fetchAhead();
    });
  }

  const submit = (chosen: string[], fromProposal: boolean) => {
    const timeSpent = Math.max(0, Math.round(performance.now() - latest.current.shownAt));
    advance(
      "submit",
      (lease) => submitLease(projectId, lease, { labels: chosen, time_spent_ms: timeSpent, from_proposal: fromProposal }),
      (annotation) => {
        dispatch({ type: "lastSubmit", submit: { annotation: annotation.id, item: annotation.item } });
        return `Submitted: ${chosen.join(", ")}. Press U to undo.`;
      },
    );
  };

  const skip = () => advance("skip", (lease) => skipLease(projectId, lease), () => "Skipped.");

  const undo = () => {
    const last = latest.current.lastSubmit;
    if (!last) {
      dispatch({
        type: "notice",
        notice: { text: "Nothing to undo: you have not submitted an answer here since the page opened, or it was undone.", error: true },
      });
      return;
    }
    dispatch({ type: "busy", busy: true });
    void enqueue(async () => {
      try {
        let undone: UndoneItem;
        try {
          undone = await undoAnnotation(projectId, last.annotation);
        } catch (err) {
          // Undo reopens a lease and two are live (this item and the look-ahead): give the look-ahead back, retry.
          const held = latest.current.ahead;
          if (!(err instanceof ApiError && err.code === "too_many_leases" && held)) throw err;
          await releaseLease(projectId, held.lease);
          dispatch({ type: "aheadPending" });
          undone = await undoAnnotation(projectId, last.annotation);
        }
        dispatch({ type: "undone", undone, at: performance.now() });
        dispatch({
          type: "notice",
          notice: { text: `Undone: your answer (${undone.labels.join(", ")}) is taken back. Change it, or press Enter to submit it again.` },
        });
        // Nothing to fetch if the item that was on screen became the look-ahead again.
        await fetchAhead();
      } catch (err) {
        // Too late (lease time over, consensus computed, in review) stays too late.
        if (err instanceof ApiError && err.status === 409) dispatch({ type: "lastSubmit", submit: null });
        dispatch({ type: "notice", notice: { text: `Cannot undo: ${message(err)}.`, error: true } });
        if (!latest.current.ahead) await fetchAhead();
      } finally {
        dispatch({ type: "busy", busy: false });
      }
    });
  };

  return { state, canUndo: state.lastSubmit !== null, start, fail, submit, skip, undo };
}
