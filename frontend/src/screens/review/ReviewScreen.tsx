// The reviewer's queue: take the next item in review (the API leases its
// task to you for the project's lease time), decide it, get the next one.
//
// The item stays on screen with its buttons paused while a decision is in
// flight. A 409 (another reviewer holds it, or it was decided meanwhile)
// moves on to the next item, saying so; a 400 (a bad decision) stays on the
// item with the API's message.

import { useCallback, useEffect, useState } from "react";

import { ApiError, getProject, getTaxonomy, type Label, type Project } from "../../api";
import { Link, paths } from "../../router";
import { ScreenShell } from "../ScreenShell";
import { decideReview, nextReview, type DecideBody, type ReviewTask } from "./reviewApi";
import { ReviewView } from "./ReviewView";
import "./review.css";

type Notice = { text: string; error?: boolean } | null;

const DONE: Record<DecideBody["decision"], string> = { accept: "Accepted", fix: "Fixed", reject: "Rejected" };

export function ReviewScreen({ projectId }: { projectId: number }) {
  const [project, setProject] = useState<Project | null>(null);
  const [labels, setLabels] = useState<Label[] | null>(null);
  const [task, setTask] = useState<ReviewTask | null>(null);
  const [empty, setEmpty] = useState(false);
  const [busy, setBusy] = useState(true);
  const [fatal, setFatal] = useState<string | null>(null);
  const [notice, setNotice] = useState<Notice>(null);

  const loadNext = useCallback(async () => {
    setBusy(true);
    try {
      const next = await nextReview(projectId);
      setTask(next);
      setEmpty(next === null);
    } catch (err) {
      setFatal(`Could not get the next item to review: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  }, [projectId]);

  useEffect(() => {
    Promise.all([getProject(projectId), getTaxonomy(projectId)]).then(
      ([loadedProject, taxonomy]) => {
        setProject(loadedProject);
        setLabels(taxonomy.labels);
        void loadNext();
      },
      (err: Error) => {
        setFatal(err instanceof ApiError && err.status === 404
          ? `This project has no taxonomy yet, or you are not a member of it (${err.message}).`
          : err.message);
        setBusy(false);
      },
    );
  }, [projectId, loadNext]);

  const onDecide = async (body: DecideBody) => {
    if (!task) return;
    setBusy(true);
    try {
      await decideReview(projectId, task.item.id, body);
      setNotice({ text: `${DONE[body.decision]} item ${task.item.id}.` });
      await loadNext();
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        setNotice({ text: `${err.message}. Here is the next item.`, error: true });
        await loadNext();
      } else {
        setNotice({ text: (err as Error).message, error: true });
        setBusy(false);
      }
    }
  };

  return (
    <ScreenShell className="review-screen" screen="Review" project={project} fatal={fatal}>
      {empty && (
        <div className="empty" role="status">
          <h2>Nothing to review</h2>
          <p>
            No item is waiting for your review in this project right now (items you annotated yourself go to
            another reviewer). {notice && !notice.error ? notice.text : ""}
          </p>
          <p>
            <button type="button" onClick={() => void loadNext()} disabled={busy}>
              Check again
            </button>{" "}
            <Link to={paths.projects()}>Back to your projects</Link>
          </p>
        </div>
      )}
      {!empty && task && labels && project && (
        <ReviewView
          task={task}
          labels={labels}
          multi={project.task === "multi_label"}
          busy={busy}
          onDecide={(body) => void onDecide(body)}
          notice={notice}
        />
      )}
      {!empty && !task && <p role="status">Loading…</p>}
    </ScreenShell>
  );
}
