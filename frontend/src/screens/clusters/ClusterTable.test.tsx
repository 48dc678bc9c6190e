import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { ClusterTable, nextOrdering, percent } from "./ClusterTable";
import type { Cluster } from "./clustersApi";

afterEach(cleanup);

const cluster = (id: number, extra: Partial<Cluster> = {}): Cluster => ({
  id, round: 2, index: id - 1, size: 10, labelled_coverage: 0.25, purity: 0.5,
  top_labels: [{ label: "bug", count: 2 }, { label: "billing", count: 1 }], unlabelled: 7, ...extra,
});

describe("nextOrdering", () => {
  it("flips the current column and starts a new one at its natural direction", () => {
    expect(nextOrdering("index", "index")).toBe("-index");
    expect(nextOrdering("-index", "index")).toBe("index");
    expect(nextOrdering("index", "size")).toBe("-size");
    expect(nextOrdering("-size", "size")).toBe("size");
    expect(nextOrdering("size", "size")).toBe("-size");
    expect(nextOrdering("-size", "index")).toBe("index");
  });

  it("formats shares as percentages, and no purity as a dash", () => {
    expect(percent(0.256)).toBe("26%");
    expect(percent(null)).toBe("–");
  });
});

describe("ClusterTable", () => {
  it("shows each cluster's measures and top labels", () => {
    render(<ClusterTable clusters={[cluster(1), cluster(2, { purity: null, top_labels: [] })]} ordering="index"
                         openId={null} onSort={vi.fn()} onOpen={vi.fn()} />);
    const rows = screen.getAllByRole("row").slice(1);
    expect(rows).toHaveLength(2);
    const cells = within(rows[0]).getAllByRole("cell").map((cell) => cell.textContent);
    expect(cells.slice(0, 5)).toEqual(["10", "25%", "50%", "7", "bug (2), billing (1)"]);
    expect(within(rows[1]).getByText("none labelled")).toBeTruthy();
    expect(within(rows[1]).getAllByRole("cell")[2].textContent).toBe("–");
  });

  it("marks the sorted column and asks for the next ordering on a header click", () => {
    const onSort = vi.fn();
    render(<ClusterTable clusters={[cluster(1)]} ordering="-size" openId={null} onSort={onSort} onOpen={vi.fn()} />);
    const size = screen.getByRole("columnheader", { name: /Size/ });
    expect(size.getAttribute("aria-sort")).toBe("descending");
    expect(screen.getByRole("columnheader", { name: /Purity/ }).getAttribute("aria-sort")).toBe("none");
    fireEvent.click(within(size).getByRole("button"));
    expect(onSort).toHaveBeenLastCalledWith("size");
    fireEvent.click(screen.getByRole("button", { name: /Unlabelled/ }));
    expect(onSort).toHaveBeenLastCalledWith("-unlabelled");
  });

  it("opens a cluster with its labelled Browse button and marks the open one", () => {
    const onOpen = vi.fn();
    const clusters = [cluster(1), cluster(2)];
    render(<ClusterTable clusters={clusters} ordering="index" openId={2} onSort={vi.fn()} onOpen={onOpen} />);
    const browse = screen.getByRole("button", { name: "Browse the 7 unlabelled members of cluster 0" });
    fireEvent.click(browse);
    expect(onOpen).toHaveBeenCalledWith(clusters[0]);
    expect(screen.getByRole("button", { name: /cluster 1$/ }).getAttribute("aria-pressed")).toBe("true");
  });
});
