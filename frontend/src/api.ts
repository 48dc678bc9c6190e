// The app's only way to the server: typed calls to the DRF API under /api/v1/.
//
// Authentication is the Django session cookie (the page is only served to a
// signed-in user); every unsafe request carries the csrftoken cookie's value
// in X-CSRFToken, as Django's CsrfViewMiddleware and DRF's
// SessionAuthentication require. Shapes mirror the serializers named beside
// each type; a screen that needs a new endpoint adds a typed function here.

const API = "/api/v1";

// --- Shapes ------------------------------------------------------------------

export type Role = "lead" | "reviewer" | "annotator";

/** labelops/projects/serializers.py ProjectSerializer (the fields we use). */
export interface Project {
  id: number;
  name: string;
  description: string;
  modality: "text" | "image";
  task: "single_label" | "multi_label";
  role: Role | null;
}

/** labelops/projects/serializers.py LabelSerializer. */
export interface Label {
  key: string;
  name: string;
  parent: string | null;
  hotkey: string;
  guideline: string;
  examples: unknown[];
}

/** TaxonomyVersionDetailSerializer (the fields we use). */
export interface Taxonomy {
  number: number;
  labels: Label[];
}

/** labelops/items/api/items.py ItemSerializer. `text` is untrusted. */
export interface Item {
  id: number;
  modality: "text" | "image";
  text: string;
  file_url: string | null;
  content_type: string;
  external_id: string;
}

export interface Proposal {
  labels: string[];
  confidence: number | null;
}

/** NeighbourSerializer: an item with approved labels near this one. `text` is untrusted. */
export interface Neighbour {
  item: number;
  text: string;
  labels: string[];
  /** Cosine similarity, -1 to 1. */
  similarity: number;
}

/** labelops/annotation/serializers.py QueueItemSerializer. */
export interface QueueItem {
  lease: number;
  expires_at: string;
  item: Item;
  proposal: Proposal | null;
  resumed: boolean;
  neighbours: Neighbour[];
}

/** UndoneItemSerializer: the item back on its reopened lease, and the labels taken back. */
export interface UndoneItem extends QueueItem {
  labels: string[];
}

/** AnnotationSerializer (the fields we use). */
export interface Annotation {
  id: number;
  item: number;
  labels: string[];
}

/** LeaseSerializer. */
export interface Lease {
  id: number;
  item: number;
  expires_at: string;
  heartbeat_at: string;
  closed_at: string | null;
  outcome: string;
}

export interface SubmitBody {
  labels: string[];
  time_spent_ms: number;
  from_proposal: boolean;
}

interface Page<T> {
  next: string | null;
  previous: string | null;
  results: T[];
}

// --- Transport ---------------------------------------------------------------

/** A non-2xx answer, with the API's message (`detail`, or field errors joined). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function csrfToken(cookies: string = document.cookie): string {
  for (const part of cookies.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "csrftoken") return decodeURIComponent(rest.join("="));
  }
  return "";
}

/** The API's error body as one readable sentence. */
export function errorMessage(body: unknown, status: number): string {
  if (body && typeof body === "object") {
    const record = body as Record<string, unknown>;
    if (typeof record.detail === "string") return record.detail;
    const parts = Object.entries(record).map(([field, value]) =>
      `${field}: ${Array.isArray(value) ? value.join(" ") : String(value)}`,
    );
    if (parts.length) return parts.join("; ");
  }
  return `the server answered ${status}`;
}

/** One call to the API: JSON in and out, session cookie, CSRF on writes;
 * `path` is relative to /api/v1/ or absolute. 204 is null; a non-2xx answer
 * throws ApiError with the API's message and code. Every screen's API module
 * uses this (and `required`), so the transport lives in one place. */
export async function request<T>(method: string, path: string, body?: unknown): Promise<T | null> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path.startsWith("/") ? path : `${API}/${path}`, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    // The session ended (signed out elsewhere, or expired): sign in again, then come back.
    window.location.assign(`/login/?next=${encodeURIComponent(window.location.pathname)}`);
    throw new ApiError(401, "you are signed out", "not_authenticated");
  }
  if (response.status === 204) return null;
  const data: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const code = data && typeof data === "object" ? (data as { code?: unknown }).code : null;
    throw new ApiError(response.status, errorMessage(data, response.status), typeof code === "string" ? code : null);
  }
  return data as T;
}

/** Like `request`, for endpoints that always answer with a body. */
export async function required<T>(method: string, path: string, body?: unknown): Promise<T> {
  const data = await request<T>(method, path, body);
  if (data === null) throw new ApiError(204, `${method} ${path} returned no content`);
  return data;
}

// --- Endpoints -----------------------------------------------------------------

/** Every project the user belongs to (follows the keyset pages). */
export async function listProjects(): Promise<Project[]> {
  const projects: Project[] = [];
  let next: string | null = `${API}/projects/?page_size=200`;
  while (next) {
    // `next` is absolute; keep only its path so the request stays same-origin.
    const url: URL = new URL(next, window.location.origin);
    const page: Page<Project> = await required<Page<Project>>("GET", url.pathname + url.search);
    projects.push(...page.results);
    next = page.next;
  }
  return projects;
}

export const getProject = (projectId: number) => required<Project>("GET", `projects/${projectId}/`);

export const getTaxonomy = (projectId: number) => required<Taxonomy>("GET", `projects/${projectId}/taxonomy/`);

/** The next item with a lease (the oldest live lease held, if any), or null
 * when nothing is left for this user. With `prefetch`, a look-ahead: a second
 * lease while one is held (the newer of two, again, if two are held), or null
 * when nothing is left beyond the lease held. */
export const nextItem = (projectId: number, { prefetch = false }: { prefetch?: boolean } = {}) =>
  request<QueueItem>("POST", `projects/${projectId}/queue/next/${prefetch ? "?prefetch=1" : ""}`);

export const submitLease = (projectId: number, lease: number, body: SubmitBody) =>
  required<Annotation>("POST", `projects/${projectId}/queue/leases/${lease}/submit/`, body);

/** Take back one's own submitted annotation: its item comes back on the same lease. */
export const undoAnnotation = (projectId: number, annotation: number) =>
  required<UndoneItem>("POST", `projects/${projectId}/queue/annotations/${annotation}/undo/`);

export const skipLease = (projectId: number, lease: number, reason = "") =>
  required<Lease>("POST", `projects/${projectId}/queue/leases/${lease}/skip/`, { reason });

export const heartbeatLease = (projectId: number, lease: number) =>
  required<Lease>("POST", `projects/${projectId}/queue/leases/${lease}/heartbeat/`);

export const releaseLease = (projectId: number, lease: number) =>
  required<Lease>("POST", `projects/${projectId}/queue/leases/${lease}/release/`);
