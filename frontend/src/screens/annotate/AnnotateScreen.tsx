// The annotator's screen: the project and its labels, then the queue
// (useAnnotateQueue: the look-ahead lease, submits, skips, undo, heartbeats)
// shown item by item (AnnotatorView), or the empty-queue screen.

import { useEffect, useRef, useState } from "react";

import { ApiError, getProject, getTaxonomy, type Label, type Project } from "../../api";
import { Link, paths } from "../../router";
import { ScreenShell } from "../ScreenShell";
import { AnnotatorView } from "./AnnotatorView";
import { useAnnotateQueue } from "./useAnnotateQueue";

export function AnnotateScreen({ projectId }: { projectId: number }) {
  const [project, setProject] = useState<Project | null>(null);
  const [labels, setLabels] = useState<Label[] | null>(null);
  const { state, canUndo, start, fail, submit, skip, undo } = useAnnotateQueue(projectId);
  const { claim, lookAhead, preselected, empty, busy, fatal, notice } = state;

  useEffect(() => {
    Promise.all([getProject(projectId), getTaxonomy(projectId)]).then(
      ([loadedProject, taxonomy]) => {
        setProject(loadedProject);
        setLabels(taxonomy.labels);
        start();
      },
      (err: Error) => {
        const missing = err instanceof ApiError && err.status === 404;
        fail(missing ? `This project has no taxonomy yet, or you are not a member of it (${err.message}).` : err.message);
      },
    );
  }, [projectId, start, fail]);

  const undoRef = useRef(undo);
  undoRef.current = undo;
  // U on the empty-queue screen too: the last answer may still be taken back.
  useEffect(() => {
    if (!empty || !canUndo) return;
    const onKeyDown = (event: KeyboardEvent) => {
      if (event.repeat || event.ctrlKey || event.metaKey || event.altKey || event.key.toLowerCase() !== "u") return;
      event.preventDefault();
      undoRef.current();
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
                <button type="button" onClick={undo} disabled={busy}>
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
          onSubmit={submit}
          onSkip={skip}
          onUndo={undo}
          preselected={preselected}
          notice={notice}
        />
      )}
      {!empty && !claim && <p role="status">Loading…</p>}
    </ScreenShell>
  );
}
