import path from "node:path";
import type { SimContext } from "./rest-context.js";
import { textResponse, type SimResponse } from "./sim-response.js";
import type { SimRepo } from "./sim-state.js";
import { canAccessRepo, hasPermission, tokenFromAuthorization } from "./tokens.js";

/**
 * Files served outside the API, as the web host serves them: raw files from a branch
 * (`/<owner>/<repo>/raw/refs/heads/<branch>/<path>`, the URL form github.com uses, and the short
 * `/raw/<branch>/<path>`), and the Actions job logs the API redirects to (`/_logs/<job>/<key>`,
 * unauthenticated like GitHub's signed download URLs).
 */

const RAW_PATH = /^\/([^/]+)\/([^/]+)\/raw\/(.+)$/;
const LOG_PATH = /^\/_logs\/(\d+)\/([A-Za-z0-9]+)$/;

const CONTENT_TYPES: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  // Served as text, as GitHub does, so a raw SVG cannot run script in the web origin.
  ".svg": "text/plain; charset=utf-8",
};

export function isWebFilePath(urlPath: string): boolean {
  return RAW_PATH.test(urlPath) || LOG_PATH.test(urlPath);
}

function notFound(): SimResponse {
  return textResponse(404, "404: Not Found");
}

function canRead(sim: SimContext, repo: SimRepo, authorization: string | undefined): boolean {
  if (!repo.private) return true;
  const value = tokenFromAuthorization(authorization);
  const token = value === null ? undefined : sim.state.tokens.get(value);
  return (
    token !== undefined &&
    !token.revoked &&
    canAccessRepo(token, repo) &&
    hasPermission(token, "contents", "read")
  );
}

export async function serveWebFile(
  sim: SimContext,
  urlPath: string,
  authorization: string | undefined,
): Promise<SimResponse> {
  const log = LOG_PATH.exec(urlPath);
  if (log) {
    const found = sim.state.findCheckRunByJob(Number(log[1]));
    if (!found || found.run.logKey !== log[2]) return notFound();
    return textResponse(200, found.run.log);
  }
  const raw = RAW_PATH.exec(urlPath);
  if (!raw?.[1] || !raw[2] || !raw[3]) return notFound();
  const repo = sim.state.findRepo(decodeURIComponent(raw[1]), decodeURIComponent(raw[2]));
  // A private repository the caller cannot read looks like a missing one, as on GitHub.
  if (!repo || !canRead(sim, repo, authorization)) return notFound();
  const segments = raw[3].split("/").map(decodeURIComponent);
  if (segments[0] === "refs" && segments[1] === "heads") segments.splice(0, 2);
  // Branch names may contain slashes: the longest existing branch prefix wins.
  for (let split = segments.length - 1; split >= 1; split--) {
    const sha = repo.heads.get(segments.slice(0, split).join("/"));
    if (sha === undefined) continue;
    const file = segments.slice(split).join("/");
    const bytes = await repo.git.readBlob(sha, file);
    if (bytes === null) return notFound();
    const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? "text/plain; charset=utf-8";
    return {
      status: 200,
      headers: { "content-type": type, "x-content-type-options": "nosniff" },
      body: bytes,
    };
  }
  return notFound();
}
