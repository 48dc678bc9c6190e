import { describe, expect, it } from "vitest";

import { parseRoute, paths } from "./router";
import { screensFor } from "./screens";

describe("parseRoute", () => {
  it("knows the project picker and the annotator, with or without a trailing slash", () => {
    expect(parseRoute("/")).toEqual({ screen: "projects" });
    expect(parseRoute("/app/")).toEqual({ screen: "projects" });
    expect(parseRoute("/app/projects/12/annotate")).toEqual({ screen: "annotate", projectId: 12 });
    expect(parseRoute(paths.annotate(3) + "/")).toEqual({ screen: "annotate", projectId: 3 });
  });

  it("says not found for anything else", () => {
    expect(parseRoute("/app/projects/x/annotate")).toEqual({ screen: "not-found", path: "/app/projects/x/annotate" });
    expect(parseRoute("/app/projects/1/annotate/extra").screen).toBe("not-found");
  });
});

describe("screensFor", () => {
  it("offers the annotator screen to every member and nothing to non-members", () => {
    for (const role of ["annotator", "reviewer", "lead"] as const) {
      expect(screensFor(role).map((screen) => screen.id)).toContain("annotate");
    }
    expect(screensFor(null)).toEqual([]);
  });
});
