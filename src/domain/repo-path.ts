/**
 * Paths inside a repository that a proposal may touch, checked before anything touches the disk
 * (SPEC C3 step 7). The resolved-path containment check, which catches symlinks, happens where
 * the files are.
 */
export type RepoPathProblem =
  "empty" | "control_characters" | "absolute" | "parent_segment" | "git_dir" | "too_long";

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function repoPathProblem(path: string): RepoPathProblem | null {
  if (path.length === 0) return "empty";
  if (path.length > 4096) return "too_long";
  if (CONTROL.test(path)) return "control_characters";
  if (path.startsWith("/") || path.startsWith("\\") || /^[A-Za-z]:/.test(path)) return "absolute";
  const segments = path.split(/[\\/]/);
  if (segments.some((segment) => segment === "..")) return "parent_segment";
  if (segments.some((segment) => segment.toLowerCase() === ".git")) return "git_dir";
  return null;
}

export function describeRepoPathProblem(path: string, problem: RepoPathProblem): string {
  const shown = JSON.stringify(path.length > 200 ? `${path.slice(0, 200)}…` : path);
  const reasons: Record<RepoPathProblem, string> = {
    empty: "is empty",
    control_characters: "contains control characters",
    absolute: "is absolute; paths are relative to the repository root",
    parent_segment: "contains a '..' segment",
    git_dir: "points into .git",
    too_long: "is longer than 4096 characters",
  };
  return `path ${shown} ${reasons[problem]}`;
}
