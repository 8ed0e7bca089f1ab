/** Registered repositories (SPEC C2). */
export const MERGE_METHODS = ["merge", "squash", "rebase"] as const;
export type MergeMethod = (typeof MERGE_METHODS)[number];

export const FOLLOW_UP_MODES = ["auto", "approve"] as const;
export type FollowUpMode = (typeof FOLLOW_UP_MODES)[number];

/** Shepherd's own name for a repo: what the CLI and the API use. */
export const REPO_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** A repo id; repos are addressed by id or name, so no name may look like one. */
export const REPO_ID = /^repo_[0-9a-z]{26}$/;

export function isValidRepoName(name: string): boolean {
  return REPO_NAME.test(name) && !REPO_ID.test(name);
}

/** A URL as it may be repeated back to the user: without any credentials it carried. */
export function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = "";
    parsed.password = "";
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^/@\s]*@/, "//");
  }
}

const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const REPO = /^[A-Za-z0-9._-]{1,100}$/;

export interface RepoCoordinates {
  owner: string;
  repo: string;
}

/**
 * `<web URL>/<owner>/<repo>` with an optional `.git` (and trailing slash), on the configured
 * GitHub host only; anything else is null (→ UNSUPPORTED_PROVIDER).
 */
export function parseRepoUrl(url: string, webUrl: string): RepoCoordinates | null {
  const base = webUrl.replace(/\/+$/, "");
  let parsed: URL;
  let baseParsed: URL;
  try {
    parsed = new URL(url);
    baseParsed = new URL(base);
  } catch {
    return null;
  }
  if (parsed.username || parsed.password || parsed.search || parsed.hash) return null;
  if (
    parsed.protocol !== baseParsed.protocol ||
    parsed.host.toLowerCase() !== baseParsed.host.toLowerCase()
  ) {
    return null;
  }
  const basePath = baseParsed.pathname.replace(/\/+$/, "");
  if (!parsed.pathname.startsWith(`${basePath}/`)) return null;
  const rest = parsed.pathname.slice(basePath.length + 1).replace(/\/+$/, "");
  const parts = rest.split("/");
  if (parts.length !== 2) return null;
  const owner = parts[0] ?? "";
  const repo = (parts[1] ?? "").replace(/\.git$/, "");
  if (!OWNER.test(owner) || !REPO.test(repo) || repo === "." || repo === "..") return null;
  return { owner, repo };
}

export function repoWebUrl(webUrl: string, coordinates: RepoCoordinates): string {
  return `${webUrl.replace(/\/+$/, "")}/${coordinates.owner}/${coordinates.repo}`;
}
