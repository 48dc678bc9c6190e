import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { ScreenShell, screenTitle } from "./ScreenShell";

afterEach(cleanup);

describe("ScreenShell", () => {
  it("titles the page and the document with the screen and, once loaded, the project", () => {
    expect(screenTitle("Review", null)).toBe("Review");
    const view = render(
      <ScreenShell className="review-screen" screen="Review" project={null} fatal={null}>
        <p>content</p>
      </ScreenShell>,
    );
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Review");
    expect(document.title).toBe("Review · LabelOps");
    view.rerender(
      <ScreenShell className="review-screen" screen="Review" project={{ name: "Tickets" }} fatal={null}>
        <p>content</p>
      </ScreenShell>,
    );
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Review · Tickets");
    expect(document.title).toBe("Review · Tickets · LabelOps");
    const main = screen.getByRole("main");
    expect(main.className).toBe("page review-screen");
    expect(screen.getByText("content")).toBeTruthy();
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("shows a fatal error with the way back instead of the content", () => {
    render(
      <ScreenShell className="annotate" screen="Annotate" project={null} fatal="No such project." data={{ "data-lookahead": "none" }}>
        <p>content</p>
      </ScreenShell>,
    );
    const alert = screen.getByRole("alert");
    expect(alert.className).toBe("error");
    expect(alert.textContent).toBe("No such project.Back to your projects");
    expect(screen.getByRole("link", { name: "Back to your projects" }).getAttribute("href")).toBe("/app/");
    expect(screen.queryByText("content")).toBeNull();
    expect(screen.getByRole("main").dataset.lookahead).toBe("none");
  });
});
