// Which screens a project offers, and to whom. The project picker lists the
// ones the user's role allows; a new screen (review, dashboard, clusters)
// adds its entry here, its route in router.tsx and its folder in screens/.

import type { Role } from "./api";
import { paths } from "./router";

export interface ScreenLink {
  id: string;
  title: string;
  roles: Role[];
  path: (projectId: number) => string;
}

export const SCREENS: ScreenLink[] = [
  // The queue API lets every member label (annotation/queue_views.py).
  { id: "annotate", title: "Annotate", roles: ["annotator", "reviewer", "lead"], path: paths.annotate },
  // The cluster API and bulk labelling need the reviewer role (learning/cluster_views.py).
  { id: "clusters", title: "Clusters", roles: ["reviewer", "lead"], path: paths.clusters },
  // Review and the dashboard need the reviewer role (annotation/review_views.py, dashboard_views.py).
  { id: "review", title: "Review", roles: ["reviewer", "lead"], path: paths.review },
  { id: "dashboard", title: "Dashboard", roles: ["reviewer", "lead"], path: paths.dashboard },
];

export function screensFor(role: Role | null): ScreenLink[] {
  return role ? SCREENS.filter((screen) => screen.roles.includes(role)) : [];
}
