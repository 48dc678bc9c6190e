import { describe, expect, it } from "vitest";

import type { QueueItem, UndoneItem } from "../../api";
import { INITIAL, queueReducer, type QueueAction, type QueueState } from "./queueReducer";

function claim(lease: number, item = lease * 10): QueueItem {
  return {
    lease,
    expires_at: "2030-01-01T00:30:00Z",
    item: {
      id: item, modality: "text", text: `item ${item}`, file_url: null, content_type: "", external_id: "",
      metadata: {}, created_at: "2030-01-01T00:00:00Z",
    },
    proposal: null,
    resumed: false,
    neighbours: [],
  };
}

const undone = (lease: number, labels: string[]): UndoneItem => ({ ...claim(lease), labels });

const run = (state: QueueState, ...actions: QueueAction[]) => actions.reduce(queueReducer, state);

/** An item on screen (lease 1) with its look-ahead (lease 2) held. */
const holding = (): QueueState =>
  run(INITIAL, { type: "synced", first: claim(1), second: claim(2), at: 100 }, { type: "busy", busy: false });

describe("queueReducer: starting and re-syncing", () => {
  it("starts busy, with the look-ahead pending and nothing on screen", () => {
    expect(INITIAL).toMatchObject({ claim: null, ahead: null, lookAhead: "pending", busy: true, empty: false, fatal: null });
  });

  it("shows the first lease and holds the second as the look-ahead", () => {
    const state = holding();
    expect(state.claim?.lease).toBe(1);
    expect(state.ahead?.lease).toBe(2);
    expect(state.lookAhead).toBe("ready");
    expect(state.shownAt).toBe(100);
    expect(state.empty).toBe(false);
  });

  it("holds no look-ahead when prefetch names the same lease, or nothing", () => {
    for (const second of [claim(1), null]) {
      const state = queueReducer(INITIAL, { type: "synced", first: claim(1), second, at: 0 });
      expect(state.claim?.lease).toBe(1);
      expect(state.ahead).toBeNull();
      expect(state.lookAhead).toBe("none");
    }
  });

  it("says the queue is empty when next answers nothing", () => {
    const state = run(holding(), { type: "aheadPending" }, { type: "synced", first: null, second: null, at: 500 });
    expect(state).toMatchObject({ claim: null, empty: true, ahead: null, lookAhead: "none", preselected: null });
  });

  it("keeps the item on screen if it is still ours, with its undone answer and its time", () => {
    const before = run(holding(), { type: "undone", undone: undone(1, ["bug"]), at: 200 }, { type: "aheadPending" });
    // The server names the leases the other way round: the one on screen second.
    const after = queueReducer(before, { type: "synced", first: claim(3), second: claim(1), at: 900 });
    expect(after.claim?.lease).toBe(1);
    expect(after.preselected).toEqual(["bug"]);
    expect(after.shownAt).toBe(200);
    expect(after.ahead?.lease).toBe(3);
    expect(after.lookAhead).toBe("ready");
  });

  it("shows the first lease when the one on screen is no longer ours", () => {
    const after = run(holding(), { type: "aheadPending" }, { type: "synced", first: claim(4), second: claim(5), at: 900 });
    expect(after.claim?.lease).toBe(4);
    expect(after.shownAt).toBe(900);
    expect(after.ahead?.lease).toBe(5);
  });
});

describe("queueReducer: the look-ahead", () => {
  it("a submit or skip shows the look-ahead item at once and fetches the next one", () => {
    const state = queueReducer(holding(), { type: "tookAhead", at: 300 });
    expect(state.claim?.lease).toBe(2);
    expect(state.shownAt).toBe(300);
    expect(state.ahead).toBeNull();
    expect(state.lookAhead).toBe("pending");
    expect(state.preselected).toBeNull();
  });

  it("taking a look-ahead that has not arrived changes nothing", () => {
    const waiting = queueReducer(holding(), { type: "aheadPending" });
    expect(queueReducer(waiting, { type: "tookAhead", at: 300 })).toBe(waiting);
  });

  it("holds what prefetch answered, unless it is the lease on screen or nothing", () => {
    const waiting = run(holding(), { type: "tookAhead", at: 300 });
    expect(queueReducer(waiting, { type: "aheadFetched", next: claim(3) })).toMatchObject({ lookAhead: "ready" });
    expect(queueReducer(waiting, { type: "aheadFetched", next: claim(3) }).ahead?.lease).toBe(3);
    expect(queueReducer(waiting, { type: "aheadFetched", next: claim(2) })).toMatchObject({ ahead: null, lookAhead: "none" });
    expect(queueReducer(waiting, { type: "aheadFetched", next: null })).toMatchObject({ ahead: null, lookAhead: "none" });
  });

  it("the next answer after the last item shows the empty queue", () => {
    const last = run(holding(), { type: "tookAhead", at: 300 }, { type: "aheadFetched", next: null });
    const state = queueReducer(last, { type: "shown", claim: null, at: 400 });
    expect(state).toMatchObject({ claim: null, empty: true, lookAhead: "none" });
  });
});

describe("queueReducer: undo", () => {
  it("brings the item back with the answer taken back; the item that was on screen becomes the look-ahead", () => {
    // Lease 1 was submitted, lease 2 is on screen; the look-ahead was released to make room for the undo.
    const before = run(
      holding(),
      { type: "tookAhead", at: 300 },
      { type: "lastSubmit", submit: { annotation: 7, item: 10 } },
      { type: "aheadFetched", next: claim(3) },
      { type: "aheadPending" },
    );
    expect(before.lastSubmit).toEqual({ annotation: 7, item: 10 });
    const state = queueReducer(before, { type: "undone", undone: undone(1, ["billing"]), at: 400 });
    expect(state.claim?.lease).toBe(1);
    expect(state.preselected).toEqual(["billing"]);
    expect(state.shownAt).toBe(400);
    expect(state.lastSubmit).toBeNull();
    expect(state.ahead?.lease).toBe(2);
    expect(state.lookAhead).toBe("ready");
  });

  it("keeps a look-ahead that is still held, and fetches none for an item undone from the empty queue", () => {
    const held = queueReducer(holding(), { type: "undone", undone: undone(9, ["bug"]), at: 400 });
    expect(held.ahead?.lease).toBe(2);
    const empty = run(INITIAL, { type: "synced", first: null, second: null, at: 0 });
    const fromEmpty = queueReducer(empty, { type: "undone", undone: undone(1, ["bug"]), at: 400 });
    expect(fromEmpty).toMatchObject({ empty: false, ahead: null, lookAhead: "none" });
    expect(fromEmpty.claim?.lease).toBe(1);
  });

  it("an undone item whose lease is the one on screen does not become its own look-ahead", () => {
    const state = queueReducer(run(holding(), { type: "aheadPending" }), { type: "undone", undone: undone(1, ["bug"]), at: 400 });
    expect(state.ahead).toBeNull();
    expect(state.lookAhead).toBe("pending");
  });
});

describe("queueReducer: the screen's flags", () => {
  it("sets busy, notices and a fatal error, and never clears the fatal error by itself", () => {
    let state = run(INITIAL, { type: "busy", busy: false }, { type: "notice", notice: { text: "Skipped." } });
    expect(state).toMatchObject({ busy: false, notice: { text: "Skipped." } });
    state = run(state, { type: "fatal", message: "Could not get the next item: boom" }, { type: "synced", first: claim(1), second: null, at: 0 });
    expect(state.fatal).toBe("Could not get the next item: boom");
  });
});
