// What every project screen has around its content: the page, its heading
// (also the document's title) and, when the screen cannot go on, the error
// with a way back to the projects instead of the content.

import { useEffect, type ReactNode } from "react";

import { Link, paths } from "../router";

export interface ScreenShellProps {
  /** The <main> element's class besides `page` (the screen's styles hang on it). */
  className: string;
  /** The screen's name: the heading, followed by the project's name once it is loaded. */
  screen: string;
  project: { name: string } | null;
  /** Why the screen cannot go on (it replaces the content), or null. */
  fatal: string | null;
  /** Attributes for <main> that tests and styles read, e.g. `data-lookahead`. */
  data?: Record<`data-${string}`, string>;
  children?: ReactNode;
}

export function screenTitle(screen: string, project: { name: string } | null): string {
  return project ? `${screen} · ${project.name}` : screen;
}

export function ScreenShell({ className, screen, project, fatal, data, children }: ScreenShellProps) {
  const title = screenTitle(screen, project);
  useEffect(() => {
    document.title = `${title} · LabelOps`;
  }, [title]);

  return (
    <main className={`page ${className}`} {...data}>
      <h1>{title}</h1>
      {fatal ? (
        <div className="error" role="alert">
          <p>{fatal}</p>
          <p>
            <Link to={paths.projects()}>Back to your projects</Link>
          </p>
        </div>
      ) : (
        children
      )}
    </main>
  );
}
