import { describe, expect, it } from "vitest";

import { heartbeatDelay } from "../screens/annotate/AnnotateScreen";
import { csrfToken, errorMessage } from "./index";

describe("csrfToken", () => {
  it("reads the csrftoken cookie among others", () => {
    expect(csrfToken("sessionid=abc; csrftoken=Tok%3D1; theme=dark")).toBe("Tok=1");
    expect(csrfToken("xcsrftoken=nope")).toBe("");
    expect(csrfToken("")).toBe("");
  });
});

describe("errorMessage", () => {
  it("uses the API's detail, or joins field errors", () => {
    expect(errorMessage({ detail: "this lease has expired", code: "lease_expired" }, 409)).toBe("this lease has expired");
    expect(errorMessage({ labels: ["label(s) not in the active taxonomy (v1): nope"] }, 400)).toBe(
      "labels: label(s) not in the active taxonomy (v1): nope",
    );
    expect(errorMessage(null, 502)).toBe("the server answered 502");
  });
});

describe("heartbeatDelay", () => {
  it("renews at a third of the time left, within 5 s and 60 s", () => {
    const now = Date.parse("2030-01-01T00:00:00Z");
    expect(heartbeatDelay("2030-01-01T00:01:30Z", now)).toBe(30_000);
    expect(heartbeatDelay("2030-01-01T01:00:00Z", now)).toBe(60_000);
    expect(heartbeatDelay("2030-01-01T00:00:03Z", now)).toBe(5_000);
    expect(heartbeatDelay("2029-12-31T23:59:00Z", now)).toBe(5_000); // already past: try soon, the server decides
  });
});
