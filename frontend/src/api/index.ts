// The app's only way to the server: typed calls to the DRF API under /api/v1/.
//
// Authentication is the Django session cookie (the page is only served to a
// signed-in user); every unsafe request carries the csrftoken cookie's value
// in X-CSRFToken, as Django's CsrfViewMiddleware and DRF's
// SessionAuthentication require. A screen that needs a new endpoint adds a
// typed function here, or in its own API module (screens/*/…Api.ts).
//
// The shapes are generated from the API's OpenAPI schema (./schema.d.ts,
// written by `make frontend-types`; `make test` fails when it is stale). The
// names below are the schema's components; where the schema says less than
// the serializer sends, `Override` retypes a field and says why.

import type { components } from "./schema";

const API = "/api/v1";

// --- Shapes ------------------------------------------------------------------

/** The schema's components (one per serializer), by name. */
export type Schemas = components["schemas"];

/** `T` with the fields of `Fix` retyped: only where the schema types a field
 * more loosely than, or differently from, what the serializer sends; each use
 * says why. A key that is not a field of `T` is an error. */
export type Override<T, Fix extends { [K in keyof Fix]: K extends keyof T ? unknown : never }> = Omit<T, keyof Fix> & Fix;

/** A keyset page: `next`/`previous` are absolute URLs, or null (or absent) at an end.
 * Every list endpoint pages alike (labelops/api/pagination.py). */
export type Page<T> = Override<Schemas["PaginatedProjectList"], { results: T[] }>;

export type Role = Schemas["RoleEnum"];

/** ProjectSerializer. */
export type Project = Schemas["Project"];

/** LabelSerializer. */
export type Label = Override<
  Schemas["Label"],
  // A read-only SlugRelatedField without allow_null: the schema says string, top-level labels send null.
  { readonly parent: string | null }
>;

/** TaxonomyVersionDetailSerializer: the active version and its labels. */
export type Taxonomy = Schemas["TaxonomyVersionDetail"];

/** ItemSerializer. `text` is untrusted. */
export type Item = Override<
  Schemas["Item"],
  // get_file_url returns None for text items; its extend_schema_field(URI) does not say nullable.
  { readonly file_url: string | null }
>;

/** ShownProposalSerializer: the proposal shown with an item. */
export type Proposal = Schemas["ShownProposal"];

/** NeighbourSerializer: an item with approved labels near this one. `text` is untrusted. */
export type Neighbour = Schemas["Neighbour"];

/** QueueItemSerializer: what `next` returns. */
export type QueueItem = Override<Schemas["QueueItem"], { readonly item: Item }>;

/** UndoneItemSerializer: the item back on its reopened lease, and the labels taken back. */
export type UndoneItem = Override<Schemas["UndoneItem"], { readonly item: Item }>;

/** AnnotationSerializer. */
export type Annotation = Override<
  Schemas["Annotation"],
  // A model JSONField, so the schema says unknown; it always holds label keys.
  { readonly labels: string[] }
>;

/** LeaseSerializer. */
export type Lease = Schemas["Lease"];

/** SubmitSerializer. */
export type SubmitBody = Schemas["SubmitRequest"];

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
    next = page.next ?? null;
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
