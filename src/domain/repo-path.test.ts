import { describe, expect, it } from "vitest";
import { describeRepoPathProblem, repoPathProblem } from "./repo-path.js";

describe("repoPathProblem", () => {
  it.each(["config/params.json", "a.yaml", ".github/workflows/ci.yml", "dir/..hidden/x", "x..y"])(
    "accepts %s",
    (path) => {
      expect(repoPathProblem(path)).toBeNull();
    },
  );

  it.each([
    ["", "empty"],
    ["/etc/passwd", "absolute"],
    ["\\\\server\\share", "absolute"],
    ["C:/x", "absolute"],
    ["../outside", "parent_segment"],
    ["a/../../b", "parent_segment"],
    ["a\\..\\b", "parent_segment"],
    [".git/config", "git_dir"],
    ["sub/.GIT/hooks/pre-commit", "git_dir"],
    ["bad\nname", "control_characters"],
    ["nul\u0000", "control_characters"],
    ["x".repeat(4097), "too_long"],
  ] as const)("refuses %j as %s", (path, problem) => {
    expect(repoPathProblem(path)).toBe(problem);
    expect(describeRepoPathProblem(path, problem)).toMatch(/^path /);
  });
});
