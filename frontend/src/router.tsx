// A tiny path router: the app's screens live under /app/ (Django serves the
// same index.html for all of them), and links change the path with
// history.pushState instead of reloading the page.

import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent } from "react";

export type Route =
  | { screen: "projects" }
  | { screen: "annotate"; projectId: number }
  | { screen: "clusters"; projectId: number }
  | { screen: "review"; projectId: number }
  | { screen: "dashboard"; projectId: number }
  | { screen: "not-found"; path: string };

export function parseRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, "");
  if (path === "" || path === "/app") return { screen: "projects" };
  const match = /^\/app\/projects\/(\d+)\/annotate$/.exec(path);
  if (match) return { screen: "annotate", projectId: Number(match[1]) };
  const clusters = /^\/app\/projects\/(\d+)\/clusters$/.exec(path);
  if (clusters) return { screen: "clusters", projectId: Number(clusters[1]) };
  const review = /^\/app\/projects\/(\d+)\/review$/.exec(path);
  if (review) return { screen: "review", projectId: Number(review[1]) };
  const dashboard = /^\/app\/projects\/(\d+)\/dashboard$/.exec(path);
  if (dashboard) return { screen: "dashboard", projectId: Number(dashboard[1]) };
  return { screen: "not-found", path: pathname };
}

export const paths = {
  projects: () => "/app/",
  annotate: (projectId: number) => `/app/projects/${projectId}/annotate`,
  clusters: (projectId: number) => `/app/projects/${projectId}/clusters`,
  review: (projectId: number) => `/app/projects/${projectId}/review`,
  dashboard: (projectId: number) => `/app/projects/${projectId}/dashboard`,
};

export function navigate(to: string): void {
  window.history.pushState(null, "", to);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.pathname));
  useEffect(() => {
    const update = () => setRoute(parseRoute(window.location.pathname));
    window.addEventListener("popstate", update);
    return () => window.removeEventListener("popstate", update);
  }, []);
  return route;
}

/** An ordinary link (open in a new tab still works) that navigates in place on a plain click. */
export function Link({ to, ...rest }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={onClick} {...rest} />;
}
