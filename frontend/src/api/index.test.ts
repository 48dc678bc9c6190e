import { describe, expect, it } from "vitest";

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
