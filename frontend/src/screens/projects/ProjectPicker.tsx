import { useEffect, useState } from "react";

import { listProjects, type Project } from "../../api";
import { Link } from "../../router";
import { screensFor } from "../../screens";

/** The user's projects, each with the screens their role there allows. */
export function ProjectPicker() {
  const [projects, setProjects] = useState<Project[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    listProjects().then(setProjects, (err: Error) => setError(err.message));
  }, []);

  return (
    <main className="page">
      <h1>Your projects</h1>
      {error && (
        <p className="error" role="alert">
          Could not load your projects: {error}
        </p>
      )}
      {projects === null && !error && <p role="status">Loading…</p>}
      {projects?.length === 0 && <p>You are not a member of any project yet. Ask a project lead to add you.</p>}
      {projects && projects.length > 0 && (
        <ul className="project-list">
          {projects.map((project) => (
            <li key={project.id} className="project-card">
              <h2>{project.name}</h2>
              <p className="muted">
                {project.modality} · {project.task === "multi_label" ? "multi-label" : "single label"} · you are{" "}
                {project.role ?? "not a member"}
              </p>
              {project.description && <p>{project.description}</p>}
              <ul className="screen-links" aria-label={`Screens of ${project.name}`}>
                {screensFor(project.role).map((screen) => (
                  <li key={screen.id}>
                    <Link to={screen.path(project.id)} className="button">
                      {screen.title}
                    </Link>
                  </li>
                ))}
              </ul>
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}
