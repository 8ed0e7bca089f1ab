import { randomAlphanumeric } from "./ids.js";
import type {
  PermissionLevel,
  PermissionName,
  SimRepo,
  SimToken,
  TokenKind,
  TokenPermissions,
} from "./sim-state.js";
import { repoKey } from "./sim-state.js";

/** What a token may do when the test does not say: enough for Shepherd's whole PR lifecycle. */
export const DEFAULT_PERMISSIONS: Readonly<Required<TokenPermissions>> = {
  contents: "write",
  pull_requests: "write",
  issues: "write",
  checks: "read",
  actions: "read",
  webhooks: "write",
  metadata: "read",
  statuses: "read",
};

/** A fresh token value with GitHub's shape for its kind (what secret scanners and redactors key on). */
export function generateTokenValue(kind: TokenKind): string {
  return kind === "classic"
    ? `ghp_${randomAlphanumeric(36)}`
    : `github_pat_${randomAlphanumeric(22)}_${randomAlphanumeric(59)}`;
}

/**
 * The token an `Authorization` header carries: `token X` and `Bearer X` (REST), or Basic with the
 * token as password — any username, like GitHub — or as the username with an empty password.
 */
export function tokenFromAuthorization(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^(\S+)\s+(.+)$/.exec(header.trim());
  if (!match?.[1] || !match[2]) return null;
  const scheme = match[1].toLowerCase();
  const value = match[2].trim();
  if (scheme === "token" || scheme === "bearer") return value;
  if (scheme !== "basic") return null;
  const decoded = Buffer.from(value, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon === -1) return decoded || null;
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  // The old `<token>:x-oauth-basic` form puts the token in the username.
  if (password === "x-oauth-basic") return username || null;
  return password || username || null;
}

/** Enough of a token to tell tokens apart in the request log without recording the secret. */
export function tokenHint(value: string | null): string | null {
  if (value === null) return null;
  const prefix = value.startsWith("github_pat_") ? "github_pat_" : value.startsWith("ghp_") ? "ghp_" : "";
  return `${prefix}…${value.slice(-4)}`;
}

export function canAccessRepo(token: SimToken, repo: SimRepo): boolean {
  return token.repos === "*" || token.repos.includes(repoKey(repo.owner, repo.name));
}

export function hasPermission(token: SimToken, name: PermissionName, level: PermissionLevel): boolean {
  const granted = token.permissions[name];
  if (granted === undefined) return false;
  return level === "read" || granted === "write";
}

/** The `permissions` object GitHub puts on a repository for the caller. */
export function repoPermissions(token: SimToken): {
  admin: boolean;
  maintain: boolean;
  push: boolean;
  triage: boolean;
  pull: boolean;
} {
  return {
    admin: false,
    maintain: false,
    push: hasPermission(token, "contents", "write"),
    triage: hasPermission(token, "pull_requests", "write") || hasPermission(token, "issues", "write"),
    pull: hasPermission(token, "contents", "read") || hasPermission(token, "metadata", "read"),
  };
}
