import { describe, expect, it } from "vitest";

import { parseRoute, paths } from "../../router";
import { screensFor } from "../../screens";

describe("the cluster explorer's route", () => {
  it("parses its path and builds it", () => {
    expect(parseRoute("/app/projects/4/clusters")).toEqual({ screen: "clusters", projectId: 4 });
    expect(parseRoute(paths.clusters(9) + "/")).toEqual({ screen: "clusters", projectId: 9 });
    expect(parseRoute("/app/projects/4/clusters/2").screen).toBe("not-found");
  });

  it("is offered to reviewers and leads, not to annotators", () => {
    expect(screensFor("lead").map((s) => s.id)).toContain("clusters");
    expect(screensFor("reviewer").map((s) => s.id)).toContain("clusters");
    expect(screensFor("annotator").map((s) => s.id)).not.toContain("clusters");
  });
});
