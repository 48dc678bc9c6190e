import { act, cleanup, renderHook, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import * as api from "../../api";
import type { QueueItem } from "../../api";
import { heartbeatDelay, useAnnotateQueue } from "./useAnnotateQueue";

vi.mock("../../api", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../api")>()),
  nextItem: vi.fn(),
  submitLease: vi.fn(),
  skipLease: vi.fn(),
  undoAnnotation: vi.fn(),
  releaseLease: vi.fn(),
  heartbeatLease: vi.fn(),
}));

const mocked = vi.mocked(api);

function claim(lease: number): QueueItem {
  return {
    lease,
    expires_at: "2999-01-01T00:00:00Z",
    item: {
      id: lease * 10, modality: "text", text: `item ${lease * 10}`, file_url: null, content_type: "", external_id: "",
      metadata: {}, created_at: "2030-01-01T00:00:00Z",
    },
    proposal: null,
    resumed: false,
    neighbours: [],
  };
}

/** The queue's answers in order: `next` and `next?prefetch=1` take from their own lists. */
function serve(next: (QueueItem | null)[], prefetch: (QueueItem | null)[]) {
  mocked.nextItem.mockImplementation(async (_project, options) => {
    const answers = options?.prefetch ? prefetch : next;
    if (!answers.length) throw new Error(`unexpected ${options?.prefetch ? "prefetch" : "next"}`);
    return answers.shift()!;
  });
}

const kinds = () => mocked.nextItem.mock.calls.map(([, options]) => (options?.prefetch ? "prefetch" : "next"));

async function started(next: (QueueItem | null)[], prefetch: (QueueItem | null)[]) {
  serve(next, prefetch);
  const hook = renderHook(() => useAnnotateQueue(1));
  act(() => hook.result.current.start());
  await waitFor(() => expect(hook.result.current.state.busy).toBe(false));
  return hook;
}

beforeEach(() => {
  vi.resetAllMocks();
  mocked.heartbeatLease.mockImplementation(async (_project, lease) => ({
    id: lease, item: lease * 10, expires_at: "2999-01-01T00:00:00Z", heartbeat_at: "", closed_at: null, outcome: "submitted",
  }));
});
afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe("heartbeatDelay", () => {
  it("renews at a third of the time left, within 5 s and 60 s", () => {
    const now = Date.parse("2030-01-01T00:00:00Z");
    expect(heartbeatDelay("2030-01-01T00:01:30Z", now)).toBe(30_000);
    expect(heartbeatDelay("2030-01-01T01:00:00Z", now)).toBe(60_000);
    expect(heartbeatDelay("2030-01-01T00:00:03Z", now)).toBe(5_000);
    expect(heartbeatDelay("2029-12-31T23:59:00Z", now)).toBe(5_000); // already past: try soon, the server decides
  });
});

describe("useAnnotateQueue", () => {
  it("starts with the item on screen and its look-ahead", async () => {
    const { result } = await started([claim(1)], [claim(2)]);
    expect(result.current.state.claim?.lease).toBe(1);
    expect(result.current.state.ahead?.lease).toBe(2);
    expect(result.current.state.lookAhead).toBe("ready");
    expect(kinds()).toEqual(["next", "prefetch"]);
  });

  it("a submit paints the look-ahead before the server answers, then prefetches the next", async () => {
    const { result } = await started([claim(1)], [claim(2), claim(3)]);
    let answer!: (value: api.Annotation) => void;
    mocked.submitLease.mockReturnValue(new Promise((resolve) => (answer = resolve)));
    act(() => result.current.submit(["bug"], false));
    expect(result.current.state.claim?.lease).toBe(2); // painted at once
    expect(result.current.state.busy).toBe(false);
    await waitFor(() =>
      expect(mocked.submitLease).toHaveBeenCalledWith(1, 1, expect.objectContaining({ labels: ["bug"], from_proposal: false })),
    );
    await act(async () => answer({ id: 7, item: 10 } as api.Annotation));
    await waitFor(() => expect(result.current.state.lookAhead).toBe("ready"));
    expect(result.current.state.ahead?.lease).toBe(3);
    expect(result.current.state.notice).toEqual({ text: "Submitted: bug. Press U to undo." });
    expect(result.current.canUndo).toBe(true);
    expect(kinds()).toEqual(["next", "prefetch", "prefetch"]);
  });

  it("the last item's submit asks next and shows the empty queue", async () => {
    const { result } = await started([claim(1), null], [null]);
    mocked.submitLease.mockResolvedValue({ id: 7, item: 10 } as api.Annotation);
    act(() => result.current.submit(["bug"], false));
    expect(result.current.state.busy).toBe(true); // no look-ahead: it waits for the server
    await waitFor(() => expect(result.current.state.empty).toBe(true));
    expect(result.current.state.busy).toBe(false);
    expect(result.current.state.lookAhead).toBe("none");
    expect(kinds()).toEqual(["next", "prefetch", "next"]);
  });

  it("undo with two live leases releases the look-ahead, retries, and keeps the other item as the look-ahead", async () => {
    const { result } = await started([claim(1)], [claim(2), claim(3)]);
    mocked.submitLease.mockResolvedValue({ id: 7, item: 10 } as api.Annotation);
    act(() => result.current.submit(["billing"], false));
    await waitFor(() => expect(result.current.state.ahead?.lease).toBe(3));
    mocked.undoAnnotation
      .mockRejectedValueOnce(new api.ApiError(409, "two leases are live", "too_many_leases"))
      .mockResolvedValueOnce({ ...claim(1), labels: ["billing"] });
    mocked.releaseLease.mockResolvedValue({} as api.Lease);
    act(() => result.current.undo());
    await waitFor(() => expect(result.current.state.busy).toBe(false));
    expect(mocked.releaseLease).toHaveBeenCalledWith(1, 3);
    expect(result.current.state.claim?.lease).toBe(1);
    expect(result.current.state.preselected).toEqual(["billing"]);
    expect(result.current.state.ahead?.lease).toBe(2);
    expect(result.current.canUndo).toBe(false);
    expect(result.current.state.notice?.text).toBe(
      "Undone: your answer (billing) is taken back. Change it, or press Enter to submit it again.",
    );
    expect(kinds()).toEqual(["next", "prefetch", "prefetch"]); // no fetch after the undo
  });

  it("says when there is nothing to undo, and forgets a submit the server says is too late to undo", async () => {
    const { result } = await started([claim(1)], [claim(2), claim(3)]);
    act(() => result.current.undo());
    expect(result.current.state.notice).toEqual({
      text: "Nothing to undo: you have not submitted an answer here since the page opened, or it was undone.",
      error: true,
    });
    mocked.submitLease.mockResolvedValue({ id: 7, item: 10 } as api.Annotation);
    act(() => result.current.submit(["bug"], false));
    await waitFor(() => expect(result.current.canUndo).toBe(true));
    mocked.undoAnnotation.mockRejectedValue(new api.ApiError(409, "too late to undo"));
    act(() => result.current.undo());
    await waitFor(() => expect(result.current.state.busy).toBe(false));
    expect(result.current.state.notice).toEqual({ text: "Cannot undo: too late to undo.", error: true });
    expect(result.current.canUndo).toBe(false);
    expect(result.current.state.claim?.lease).toBe(2);
  });

  it("a submit the server refuses is reported and the screen re-syncs", async () => {
    const { result } = await started([claim(1), claim(2)], [claim(2), claim(5)]);
    mocked.submitLease.mockRejectedValue(new api.ApiError(409, "this lease has expired", "lease_expired"));
    act(() => result.current.submit(["bug"], false));
    await waitFor(() => expect(result.current.state.ahead?.lease).toBe(5));
    expect(result.current.state.claim?.lease).toBe(2);
    expect(result.current.state.notice).toEqual({
      text: "Could not submit item 10: this lease has expired (it is no longer yours).",
      error: true,
    });
    expect(kinds()).toEqual(["next", "prefetch", "next", "prefetch"]);
  });

  it("renews both leases, and re-syncs when the one on screen has ended", async () => {
    // The heartbeat's timers, fake; they still run with real time too, which waitFor needs.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"], shouldAdvanceTime: true });
    const { result } = await started([claim(1), claim(4)], [claim(2), claim(5)]);
    mocked.heartbeatLease.mockImplementation(async (_project, lease) => {
      if (lease === 1) throw new api.ApiError(409, "this lease has expired");
      return { id: lease, item: lease * 10, expires_at: "2999-01-01T00:00:00Z", heartbeat_at: "", closed_at: null, outcome: "submitted" };
    });
    await act(() => vi.advanceTimersByTimeAsync(60_000));
    expect(mocked.heartbeatLease.mock.calls.map(([, lease]) => lease).sort()).toEqual([1, 2]);
    await waitFor(() => expect(result.current.state.claim?.lease).toBe(4));
    expect(result.current.state.ahead?.lease).toBe(5);
    expect(result.current.state.notice).toEqual({
      text: "Your lease on this item ended (this lease has expired); here is the next one.",
      error: true,
    });
  });
});
