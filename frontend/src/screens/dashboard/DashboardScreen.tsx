// The lead dashboard: fetch the project's dashboard and round history, and
// start a round and follow it.
//
// A started round (or one already running when the page opens) is polled
// every second (GET rounds/<number>/) until it is done, failed or
// cancelled; then the dashboard and the history are fetched again, since
// the round moved the learning curve. A second start while one runs is a
// 409 `round_running` from the API: its message is shown and the running
// round is followed instead.

import { useCallback, useEffect, useState } from "react";

import { ApiError, getProject, type Project } from "../../api";
import { ScreenShell } from "../ScreenShell";
import {
  getDashboard,
  getRound,
  listRounds,
  startRound,
  type Dashboard,
  type TrainingRound,
} from "./dashboardApi";
import { DashboardView } from "./DashboardView";
import "./dashboard.css";

export const POLL_MS = 1000;

type Notice = { text: string; error?: boolean } | null;

export function DashboardScreen({ projectId }: { projectId: number }) {
  const [project, setProject] = useState<Project | null>(null);
  const [dashboard, setDashboard] = useState<Dashboard | null>(null);
  const [rounds, setRounds] = useState<TrainingRound[]>([]);
  const [watching, setWatching] = useState<TrainingRound | null>(null);
  const [starting, setStarting] = useState(false);
  const [fatal, setFatal] = useState<string | null>(null);
  const [notice, setNotice] = useState<Notice>(null);

  const refresh = useCallback(async () => {
    const [loaded, history] = await Promise.all([getDashboard(projectId), listRounds(projectId)]);
    setDashboard(loaded);
    setRounds(history);
    return history;
  }, [projectId]);

  useEffect(() => {
    Promise.all([getProject(projectId), refresh()]).then(
      ([loadedProject, history]) => {
        setProject(loadedProject);
        const running = history.find((round) => !round.is_finished);
        if (running) setWatching(running);
      },
      (err: Error) => {
        setFatal(err instanceof ApiError && err.status === 403
          ? `The dashboard is for the project's reviewers and leads (${err.message}).`
          : err.message);
      },
    );
  }, [projectId, refresh]);

  // Follow the watched round until it finishes.
  const watchedNumber = watching && !watching.is_finished ? watching.number : null;
  useEffect(() => {
    if (watchedNumber === null) return;
    let stopped = false;
    let timer = 0;
    const poll = async () => {
      try {
        const current = await getRound(projectId, watchedNumber);
        if (stopped) return;
        setWatching(current);
        if (current.is_finished) {
          setNotice({ text: `Round ${current.number} ${current.state}.`, error: current.state === "failed" });
          await refresh();
          return;
        }
      } catch (err) {
        if (stopped) return;
        setNotice({ text: `Could not read round ${watchedNumber}: ${(err as Error).message}. Retrying.`, error: true });
      }
      if (!stopped) timer = window.setTimeout(poll, POLL_MS);
    };
    timer = window.setTimeout(poll, POLL_MS);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [projectId, watchedNumber, refresh]);

  const onStart = async () => {
    setStarting(true);
    setNotice(null);
    try {
      const started = await startRound(projectId);
      setWatching(started);
      setRounds((current) => [started, ...current.filter((round) => round.number !== started.number)]);
      setNotice({ text: `Round ${started.number} started.` });
    } catch (err) {
      setNotice({ text: (err as Error).message, error: true });
      if (err instanceof ApiError && err.code === "round_running") {
        const history = await refresh().catch(() => null);
        const running = history?.find((round) => !round.is_finished);
        if (running) setWatching(running);
      }
    } finally {
      setStarting(false);
    }
  };

  return (
    <ScreenShell className="dashboard-screen" screen="Dashboard" project={project} fatal={fatal}>
      {dashboard && project && (
        <DashboardView
          dashboard={dashboard}
          rounds={rounds}
          canStart={project.role === "lead"}
          starting={starting}
          watching={watching}
          roundNotice={notice}
          onStart={() => void onStart()}
        />
      )}
      {!(dashboard && project) && <p role="status">Loading…</p>}
    </ScreenShell>
  );
}
