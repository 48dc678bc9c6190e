import { describe, expect, it } from "vitest";

import type { Label } from "../../api";
import { actionForKey, buildKeymap, keyBelongsToTarget } from "./keyboard";

const label = (key: string, hotkey = ""): Label => ({ key, name: key, parent: null, hotkey, guideline: "", examples: [] });

describe("buildKeymap", () => {
  it("gives digits 1-9 to the first nine labels in taxonomy order, and nothing to the tenth", () => {
    const labels = Array.from({ length: 10 }, (_, i) => label(`l${i}`));
    const keymap = buildKeymap(labels);
    expect(keymap.byKey.get("1")).toBe("l0");
    expect(keymap.byKey.get("9")).toBe("l8");
    expect(keymap.keysOf.get("l9")).toEqual([]);
    expect(keymap.byKey.has("0")).toBe(false);
  });

  it("adds the taxonomy's hotkeys, case-insensitively", () => {
    const keymap = buildKeymap([label("billing", "B"), label("bug", "g")]);
    expect(keymap.byKey.get("b")).toBe("billing");
    expect(keymap.keysOf.get("billing")).toEqual(["1", "b"]);
    expect(keymap.keysOf.get("bug")).toEqual(["2", "g"]);
  });

  it("shadows hotkeys taken by the screen's keys or by digits", () => {
    const keymap = buildKeymap([label("spam", "s"), label("urgent", "u"), label("three", "3"), label("ok", "k")]);
    expect([...keymap.shadowed].sort()).toEqual(["spam", "three", "urgent"]);
    expect(keymap.byKey.get("s")).toBeUndefined();
    expect(keymap.byKey.get("3")).toBe("three"); // its position, not its hotkey
    expect(keymap.byKey.get("k")).toBe("ok");
  });
});

describe("actionForKey", () => {
  const keymap = buildKeymap([label("billing", "b"), label("bug", "g")]);

  it("maps the screen's keys", () => {
    expect(actionForKey({ key: "Enter" }, keymap)).toEqual({ kind: "accept" });
    expect(actionForKey({ key: "s" }, keymap)).toEqual({ kind: "skip" });
    expect(actionForKey({ key: "S" }, keymap)).toEqual({ kind: "skip" });
    expect(actionForKey({ key: "u" }, keymap)).toEqual({ kind: "undo" });
    expect(actionForKey({ key: "?" }, keymap)).toEqual({ kind: "help" });
    expect(actionForKey({ key: "/" }, keymap)).toEqual({ kind: "filter" });
    expect(actionForKey({ key: "Escape" }, keymap)).toEqual({ kind: "close" });
  });

  it("maps digits and hotkeys to labels, and ignores other keys", () => {
    expect(actionForKey({ key: "2" }, keymap)).toEqual({ kind: "choose", label: "bug" });
    expect(actionForKey({ key: "B" }, keymap)).toEqual({ kind: "choose", label: "billing" });
    expect(actionForKey({ key: "3" }, keymap)).toBeNull();
    expect(actionForKey({ key: "x" }, keymap)).toBeNull();
  });

  it("leaves browser shortcuts alone", () => {
    expect(actionForKey({ key: "s", ctrlKey: true }, keymap)).toBeNull();
    expect(actionForKey({ key: "1", metaKey: true }, keymap)).toBeNull();
    expect(actionForKey({ key: "Enter", altKey: true }, keymap)).toBeNull();
  });
});

describe("keyBelongsToTarget", () => {
  it("gives typing to fields and Enter/Space to focused buttons", () => {
    const input = document.createElement("input");
    const button = document.createElement("button");
    const div = document.createElement("div");
    expect(keyBelongsToTarget("s", input)).toBe(true);
    expect(keyBelongsToTarget("Enter", button)).toBe(true);
    expect(keyBelongsToTarget(" ", button)).toBe(true);
    expect(keyBelongsToTarget("s", button)).toBe(false);
    expect(keyBelongsToTarget("Enter", div)).toBe(false);
    expect(keyBelongsToTarget("Enter", null)).toBe(false);
  });
});
