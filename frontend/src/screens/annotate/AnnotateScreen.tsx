// The annotator's queue: lease an item, label it, see the next one at once.
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

import { useCallback, useEffect, useRef, useState } from "react";

import {
  ApiError,
  getProject,
  getTaxonomy,
  heartbeatLease,
  nextItem,
  releaseLease,
  skipLease,
  submitLease,
  undoAnnotation,
  type Label,
  type Project,
  type QueueItem,
} from "../../api";
import { Link, paths } from "../../router";
import { ScreenShell } from "../ScreenShell";
import { AnnotatorView } from "./AnnotatorView";

type Notice = { text: string; error?: boolean } | null;
/** The look-ahead: being fetched, held, or none left beyond the item on screen. */
export type LookAhead = "pending" | "ready" | "none";

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

export function AnnotateScreen({ projectId }: { projectId: number }) {
  const [project, setProject] = useState<Project | null>(null);
  const [labels, setLabels] = useState<Label[] | null>(null);
  const [claim, setClaim] = useState<QueueItem | null>(null);
  const [ahead, setAhead] = useState<QueueItem | null>(null);
  const [lookAhead, setLookAheadState] = useState<LookAhead>("pending");
  const [preselected, setPreselected] = useState<string[] | null>(null);
  const [empty, setEmpty] = useState(false);
  const [busy, setBusy] = useState(true);
  const [fatal, setFatal] = useState<string | null>(null);
  const [notice, setNotice] = useState<Notice>(null);
  const [canUndo, setCanUndo] = useState(false);
  // The truth for code running between renders (queued server calls).
  const claimRef = useRef<QueueItem | null>(null);
  const aheadRef = useRef<QueueItem | null>(null);
  const lastSubmit = useRef<{ annotation: number; item: number } | null>(null);
  const chain = useRef<Promise<void>>(Promise.resolve());
  const shownAt = useRef(0);

  const show = useCallback((next: QueueItem | null, preselect: string[] | null = null) => {
    claimRef.current = next;
    setClaim(next);
    setPreselected(preselect);
    setEmpty(next === null);
    shownAt.current = performance.now();
  }, []);

  const setLookAhead = useCallback((next: QueueItem | null, state: LookAhead) => {
    aheadRef.current = next;
    setAhead(next);
    setLookAheadState(state);
  }, []);

  const rememberSubmit = useCallback((value: { annotation: number; item: number } | null) => {
    lastSubmit.current = value;
    setCanUndo(value !== null);
  }, []);

  /** Run `op` after every server call queued before it. */
  const enqueue = useCallback((op: () => Promise<void>) => {
    const run = chain.current.then(op).catch((err: unknown) => {
      setFatal(`Something went wrong: ${message(err)}`);
      setBusy(false);
    });
    chain.current = run;
    return run;
  }, []);

  // The steps below run inside `enqueue`d operations only.

  const fetchAhead = useCallback(async () => {
    if (aheadRef.current || !claimRef.current) {
      if (!claimRef.current) setLookAheadState("none");
      return;
    }
    setLookAheadState("pending");
    try {
      let next = await nextItem(projectId, { prefetch: true });
      // Two live leases and the one on screen is the newer (a reopened lease keeps its older id):
      // plain `next` names the other one.
      if (next && next.lease === claimRef.current?.lease) next = await nextItem(projectId);
      // Null: nothing beyond the item on screen. The lease on screen itself is never a look-ahead.
      if (next && next.lease !== claimRef.current?.lease) setLookAhead(next, "ready");
      else setLookAhead(null, "none");
    } catch (err) {
      // Not fatal: the next key then asks for its item after its submit.
      setLookAhead(null, "none");
      setNotice({ text: `Could not fetch the next item ahead: ${message(err)}.`, error: true });
    }
  }, [projectId, setLookAhead]);

  const loadCurrent = useCallback(async () => {
    try {
      show(await nextItem(projectId));
    } catch (err) {
      setFatal(`Could not get the next item: ${message(err)}`);
    }
  }, [projectId, show]);

  /** Ask the server which leases are ours (plain `next`: one of them, or a
   * new claim; `prefetch`: the other, or a new one) and show them: the item
   * on screen stays if it is still ours, else the first one comes up. */
  const resync = useCallback(async () => {
    const onScreen = claimRef.current;
    setLookAhead(null, "pending");
    let first: QueueItem | null;
    try {
      first = await nextItem(projectId);
    } catch (err) {
      setFatal(`Could not get the next item: ${message(err)}`);
      return;
    }
    if (!first) {
      show(null);
      setLookAheadState("none");
      return;
    }
    let second: QueueItem | null = null;
    try {
      second = await nextItem(projectId, { prefetch: true });
    } catch (err) {
      setNotice({ text: `Could not fetch the next item ahead: ${message(err)}.`, error: true });
    }
    const ours = second && second.lease !== first.lease ? [first, second] : [first];
    const current = ours.find((claim) => claim.lease === onScreen?.lease) ?? first;
    if (current.lease !== onScreen?.lease) show(current);
    const other = ours.find((claim) => claim.lease !== current.lease) ?? null;
    setLookAhead(other, other ? "ready" : "none");
  }, [projectId, show, setLookAhead]);

  const start = useCallback(() => {
    setBusy(true);
    void enqueue(async () => {
      await resync();
      setBusy(false);
    });
  }, [enqueue, resync]);

  useEffect(() => {
    Promise.all([getProject(projectId), getTaxonomy(projectId)]).then(
      ([loadedProject, taxonomy]) => {
        setProject(loadedProject);
        setLabels(taxonomy.labels);
        start();
      },
      (err: Error) => {
        const missing = err instanceof ApiError && err.status === 404;
        setFatal(missing ? `This project has no taxonomy yet, or you are not a member of it (${err.message}).` : err.message);
        setBusy(false);
      },
    );
  }, [projectId, start]);

  useHeartbeat(
    projectId,
    claim,
    (ended, err) => {
      setNotice({ text: `Your lease on this item ended (${err.message}); here is the next one.`, error: true });
      void enqueue(async () => {
        if (claimRef.current?.lease === ended.lease) await resync();
      });
    },
    (err) => setNotice({ text: `Could not renew the lease: ${message(err)}. Retrying.`, error: true }),
  );
  useHeartbeat(
    projectId,
    ahead,
    (ended) =>
      void enqueue(async () => {
        if (aheadRef.current?.lease !== ended.lease) return;
        setLookAhead(null, "pending");
        await fetchAhead();
      }),
    (err) => setNotice({ text: `Could not renew the lease of the next item: ${message(err)}. Retrying.`, error: true }),
  );

  /** Show the look-ahead item now, if there is one. */
  const takeAhead = (): boolean => {
    const next = aheadRef.current;
    if (!next) return false;
    setLookAhead(null, "pending");
    show(next);
    return true;
  };

  /** Submit or skip the item on screen: paint the next one at once, send the action behind it. */
  function advance<T>(verb: string, send: (lease: number) => Promise<T>, done: (result: T) => string) {
    const from = claimRef.current;
    if (!from) return;
    let shown = takeAhead();
    if (!shown) setBusy(true);
    void enqueue(async () => {
      if (!shown) shown = takeAhead(); // it arrived while this waited its turn
      try {
        setNotice({ text: done(await send(from.lease)) });
      } catch (err) {
        const why = leaseEnded(err) ? "it is no longer yours" : "it is shown again if it is still yours";
        setNotice({ text: `Could not ${verb} item ${from.item.id}: ${message(err)} (${why}).`, error: true });
        await resync();
        setBusy(false);
        return;
      }
      if (!shown) await loadCurrent();
      setBusy(false);
      await fetchAhead();
    });
  }

  const onSubmit = (chosen: string[], fromProposal: boolean) => {
    const timeSpent = Math.max(0, Math.round(performance.now() - shownAt.current));
    advance(
      "submit",
      (lease) => submitLease(projectId, lease, { labels: chosen, time_spent_ms: timeSpent, from_proposal: fromProposal }),
      (annotation) => {
        rememberSubmit({ annotation: annotation.id, item: annotation.item });
        return `Submitted: ${chosen.join(", ")}. Press U to undo.`;
      },
    );
  };

  const onSkip = () => advance("skip", (lease) => skipLease(projectId, lease), () => "Skipped.");

  const onUndo = () => {
    const last = lastSubmit.current;
    if (!last) {
      setNotice({ text: "Nothing to undo: you have not submitted an answer here since the page opened, or it was undone.", error: true });
      return;
    }
    setBusy(true);
    void enqueue(async () => {
      try {
        let undone;
        try {
          undone = await undoAnnotation(projectId, last.annotation);
        } catch (err) {
          // Undo reopens a lease and two are live (this item and the look-ahead): give the look-ahead back, retry.
          const held = aheadRef.current;
          if (!(err instanceof ApiError && err.code === "too_many_leases" && held)) throw err;
          await releaseLease(projectId, held.lease);
          setLookAhead(null, "pending");
          undone = await undoAnnotation(projectId, last.annotation);
        }
        rememberSubmit(null);
        const previous = claimRef.current;
        show(undone, undone.labels);
        setNotice({ text: `Undone: your answer (${undone.labels.join(", ")}) is taken back. Change it, or press Enter to submit it again.` });
        if (previous && previous.lease !== undone.lease && !aheadRef.current) setLookAhead(previous, "ready");
        else await fetchAhead();
      } catch (err) {
        // Too late (lease time over, consensus computed, in review) stays too late.
        if (err instanceof ApiError && err.status === 409) rememberSubmit(null);
        setNotice({ text: `Cannot undo: ${message(err)}.`, error: true });
        if (!aheadRef.current) await fetchAhead();
      } finally {
        setBusy(false);
      }
    });
  };

  const onUndoRef = useRef(onUndo);
  onUndoRef.current = onUndo;
  // U on the empty-queue screen too: the last answer may still be taken back.
  useEffect(() => {
    if (!empty || !canUndo) return;
    const onKeyDown = (event: KeyboardEvent) => {
      if (event.repeat || event.ctrlKey || event.metaKey || event.altKey || event.key.toLowerCase() !== "u") return;
      event.preventDefault();
      onUndoRef.current();
    };
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, [empty, canUndo]);

  return (
    <ScreenShell className="annotate" screen="Annotate" project={project} fatal={fatal} data={{ "data-lookahead": lookAhead }}>
      {empty && (
        <div className="empty" role="status">
          <h2>The queue is empty</h2>
          <p>There is nothing left for you to label in this project right now. {notice ? notice.text : ""}</p>
          <p>
            <button type="button" onClick={start} disabled={busy}>
              Check again
            </button>{" "}
            {canUndo && (
              <>
                <button type="button" onClick={onUndo} disabled={busy}>
                  Undo last submit <kbd>U</kbd>
                </button>{" "}
              </>
            )}
            <Link to={paths.projects()}>Back to your projects</Link>
          </p>
        </div>
      )}
      {!empty && claim && labels && project && (
        <AnnotatorView
          claim={claim}
          labels={labels}
          multi={project.task === "multi_label"}
          busy={busy}
          onSubmit={onSubmit}
          onSkip={onSkip}
          onUndo={onUndo}
          preselected={preselected}
          notice={notice}
        />
      )}
      {!empty && !claim && <p role="status">Loading…</p>}
    </ScreenShell>
  );
}
