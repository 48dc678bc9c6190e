import { csrfToken } from "./api";
import { Link, paths, useRoute } from "./router";
import { AnnotateScreen } from "./screens/annotate/AnnotateScreen";
import { ClustersScreen } from "./screens/clusters/ClustersScreen";
import { DashboardScreen } from "./screens/dashboard/DashboardScreen";
import { ProjectPicker } from "./screens/projects/ProjectPicker";
import { ReviewScreen } from "./screens/review/ReviewScreen";

export function App() {
  const route = useRoute();
  return (
    <div className="app">
      <header className="topbar">
        <Link to={paths.projects()} className="brand">
          LabelOps
        </Link>
        <nav aria-label="Main">
          <Link to={paths.projects()}>Projects</Link>
        </nav>
        {/* Django's LogoutView takes POST only: a form with the CSRF token. */}
        <form method="post" action="/logout/" className="logout">
          <input type="hidden" name="csrfmiddlewaretoken" value={csrfToken()} />
          <button type="submit">Sign out</button>
        </form>
      </header>
      {route.screen === "projects" && <ProjectPicker />}
      {route.screen === "annotate" && <AnnotateScreen key={route.projectId} projectId={route.projectId} />}
      {route.screen === "clusters" && <ClustersScreen key={route.projectId} projectId={route.projectId} />}
      {route.screen === "review" && <ReviewScreen key={route.projectId} projectId={route.projectId} />}
      {route.screen === "dashboard" && <DashboardScreen key={route.projectId} projectId={route.projectId} />}
      {route.screen === "not-found" && (
        <main className="page">
          <h1>Page not found</h1>
          <p>
            Nothing lives at <code>{route.path}</code>. <Link to={paths.projects()}>Back to your projects</Link>.
          </p>
        </main>
      )}
    </div>
  );
}
