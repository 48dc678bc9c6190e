import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { formatSimilarity, Neighbours, NARROW_QUERY } from "./Neighbours";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const NEIGHBOURS = [{ item: 1, text: "card charged twice", labels: ["billing"], similarity: 0.8 }];

function stubScreen(narrow: boolean) {
  vi.stubGlobal("matchMedia", (query: string) => ({
    matches: query === NARROW_QUERY && narrow,
    media: query,
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
  }));
}

describe("Neighbours", () => {
  it("starts collapsed on a narrow screen and open on a wide one", () => {
    stubScreen(true);
    const { unmount } = render(<Neighbours neighbours={NEIGHBOURS} labels={[]} />);
    expect(screen.getByText("Similar labelled items (1)").closest("details")!.open).toBe(false);
    unmount();
    stubScreen(false);
    render(<Neighbours neighbours={NEIGHBOURS} labels={[]} />);
    expect(screen.getByText("Similar labelled items (1)").closest("details")!.open).toBe(true);
  });

  it("formats similarity as a percentage", () => {
    expect(formatSimilarity(0.934)).toBe("93% similar");
    expect(formatSimilarity(-0.2)).toBe("-20% similar");
  });
});
