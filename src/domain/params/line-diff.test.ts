import { describe, expect, it } from "vitest";
import { changedLines } from "./line-diff.js";

describe("changedLines", () => {
  it.each([
    { name: "identical", before: "a\nb\nc\n", after: "a\nb\nc\n", removed: [], added: [] },
    { name: "one line replaced", before: "a\nb\nc\n", after: "a\nB\nc\n", removed: [2], added: [2] },
    { name: "first and last", before: "a\nb\nc", after: "A\nb\nC", removed: [1, 3], added: [1, 3] },
    { name: "lines inserted", before: "a\nb\n", after: "a\nx\ny\nb\n", removed: [], added: [2, 3] },
    { name: "lines deleted", before: "a\nx\ny\nb\n", after: "a\nb\n", removed: [2, 3], added: [] },
    {
      name: "one line to three",
      before: "k: 1\nz: 0\n",
      after: "k:\n  a: 1\n  b: 2\nz: 0\n",
      removed: [1],
      added: [1, 2, 3],
    },
    { name: "trailing newline removed", before: "a\n", after: "a", removed: [2], added: [] },
    { name: "CR counts", before: "a\r\nb\r\n", after: "a\r\nb\n", removed: [2], added: [2] },
    {
      name: "repeated lines: the smallest change",
      before: "x\nx\nx\nx\n",
      after: "x\nx\ny\nx\n",
      removed: [3],
      added: [3],
    },
    {
      name: "two separate edits",
      before: "1\n2\n3\n4\n5\n6\n",
      after: "1\nB\n3\n4\nE\n6\n",
      removed: [2, 5],
      added: [2, 5],
    },
  ])("$name", ({ before, after, removed, added }) => {
    expect(changedLines(before, after)).toEqual({ removed, added });
  });
});
