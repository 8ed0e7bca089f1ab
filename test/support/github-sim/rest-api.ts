import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { basicError, docsUrl } from "./error-json.js";
import { requestId } from "./ids.js";
import type { RateSnapshot } from "./rate-limits.js";
import { accountRoutes } from "./rest-account.js";
import { checkRoutes } from "./rest-checks.js";
import { RestError, type RestResult, type RestRoute, type SimContext } from "./rest-context.js";
import { hookRoutes } from "./rest-hooks.js";
import { issueCommentRoutes } from "./rest-issue-comments.js";
import { pullRoutes } from "./rest-pulls.js";
import { repoRoutes } from "./rest-repos.js";
import { Router, type RouteMatch } from "./router.js";
import { jsonResponse, type SimResponse } from "./sim-response.js";
import type { SimToken, SimUser } from "./sim-state.js";
import { canAccessRepo, hasPermission, tokenFromAuthorization } from "./tokens.js";

/**
 * The REST API under `/api/v3`: authentication, the primary and secondary rate limits, repository
 * access and permission checks, conditional requests (ETag / If-None-Match), and the headers
 * GitHub puts on every authenticated answer. Endpoints themselves live in `rest-*.ts`.
 */

export const API_VERSION = "2022-11-28";
const RATE_LIMIT_DOCS = "rest/using-the-rest-api/rate-limits-for-the-rest-api";
const CONTENT_CREATING = new Set(["POST", "PATCH", "PUT", "DELETE"]);

export interface ApiRequest {
  method: string;
  /** Path below `/api/v3`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export function rateLimitHeaders(snapshot: RateSnapshot, resource = "core"): Record<string, string> {
  return {
    "x-ratelimit-limit": String(snapshot.limit),
    "x-ratelimit-remaining": String(snapshot.remaining),
    "x-ratelimit-used": String(snapshot.used),
    "x-ratelimit-reset": String(snapshot.reset),
    "x-ratelimit-resource": resource,
  };
}

/** The message GitHub sends with a secondary-limit refusal (clients recognise it by its words). */
export function secondaryLimitMessage(id: string): string {
  return (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. " +
    `If you reach out to GitHub Support for help, please include the request ID ${id}.`
  );
}

export function secondaryLimitBody(id: string): Record<string, unknown> {
  return {
    message: secondaryLimitMessage(id),
    documentation_url: docsUrl(`${RATE_LIMIT_DOCS}#about-secondary-rate-limits`),
    status: "403",
  };
}

export function primaryLimitBody(userId: number, id: string): Record<string, unknown> {
  return {
    message:
      `API rate limit exceeded for user ID ${userId}. If you reach out to GitHub Support for help, ` +
      `please include the request ID ${id} and timestamp ${new Date().toISOString()}.`,
    documentation_url: docsUrl(`${RATE_LIMIT_DOCS}#exceeding-the-rate-limit`),
    status: "403",
  };
}

/** A weak ETag of the exact body, as GitHub sends on JSON GETs. */
function etagOf(body: Buffer): string {
  return `W/"${createHash("sha256").update(body).digest("hex").slice(0, 40)}"`;
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const bare = (tag: string): string => tag.trim().replace(/^W\//, "");
  return header.split(",").some((tag) => tag.trim() === "*" || bare(tag) === bare(etag));
}

export class RestApi {
  private readonly router = new Router<RestRoute>([
    ...accountRoutes,
    ...repoRoutes,
    ...pullRoutes,
    ...issueCommentRoutes,
    ...checkRoutes,
    ...hookRoutes,
  ]);

  constructor(private readonly sim: SimContext) {}

  async handle(request: ApiRequest): Promise<SimResponse> {
    const id = requestId();
    const base: Record<string, string> = {
      "x-github-request-id": id,
      "x-github-api-version-selected": API_VERSION,
      "x-github-media-type": "github.v3; format=json",
    };
    const tokenValue = tokenFromAuthorization(request.headers.authorization);
    if (tokenValue === null) {
      return jsonResponse(401, basicError(401, "Requires authentication", "rest"), base);
    }
    const token = this.sim.state.tokens.get(tokenValue);
    if (!token || token.revoked) return jsonResponse(401, basicError(401, "Bad credentials", "rest"), base);
    const user = this.sim.state.user(token.login);
    const { limits } = this.sim;
    if (token.kind === "classic") {
      base["x-oauth-scopes"] = "repo";
      base["x-accepted-oauth-scopes"] = "";
    }

    const match = this.router.match(request.method, request.path);
    const free = match?.route.scope === "account" && match.route.free === true;
    if (!free && limits.exhausted(token.value, "core")) {
      return {
        ...jsonResponse(403, primaryLimitBody(user.id, id), {
          ...base,
          ...rateLimitHeaders(limits.snapshot(token.value, "core")),
        }),
        rateLimited: true,
      };
    }
    if (CONTENT_CREATING.has(request.method) && !limits.admitContentCreation(token.value)) {
      return {
        ...jsonResponse(403, secondaryLimitBody(id), {
          ...base,
          "retry-after": "60",
          ...rateLimitHeaders(limits.snapshot(token.value, "core")),
        }),
        rateLimited: true,
      };
    }

    let result: RestResult;
    try {
      result = await this.run(request, match, token, user);
    } catch (error) {
      if (!(error instanceof RestError)) throw error;
      result = error.result;
    }

    const headers: Record<string, string> = { ...base, ...result.headers };
    let body: Buffer | null = null;
    if (result.body !== undefined) {
      body = Buffer.from(JSON.stringify(result.body));
      headers["content-type"] = "application/json; charset=utf-8";
    }
    if (request.method === "GET" && result.status === 200 && body !== null) {
      const etag = etagOf(body);
      headers.etag = etag;
      headers["cache-control"] = "private, max-age=60, s-maxage=60";
      headers.vary = "Accept, Authorization, Cookie, X-GitHub-OTP";
      const ifNoneMatch = request.headers["if-none-match"];
      if (etagMatches(typeof ifNoneMatch === "string" ? ifNoneMatch : undefined, etag)) {
        // Not modified: no body, and GitHub does not charge the primary budget for it.
        delete headers["content-type"];
        delete headers.link;
        return {
          status: 304,
          headers: { ...headers, ...rateLimitHeaders(limits.snapshot(token.value, "core")) },
          body: null,
        };
      }
    }
    const snapshot = free ? limits.snapshot(token.value, "core") : limits.charge(token.value, "core");
    return { status: result.status, headers: { ...headers, ...rateLimitHeaders(snapshot) }, body };
  }

  private async run(
    request: ApiRequest,
    match: RouteMatch<RestRoute> | null,
    token: SimToken,
    user: SimUser,
  ): Promise<RestResult> {
    if (!match) return { status: 404, body: basicError(404, "Not Found", "rest") };
    const { route, params } = match;
    const body = this.parseBody(request, route.docs);
    const common = {
      sim: this.sim,
      method: request.method,
      path: request.path,
      params,
      query: request.query,
      body,
      token,
      user,
    };
    if (route.scope === "account") return route.handle(common);
    const repo = this.sim.state.findRepo(params.owner ?? "", params.repo ?? "");
    if (!repo || !canAccessRepo(token, repo))
      return { status: 404, body: basicError(404, "Not Found", route.docs) };
    const allowed = route.needs.some(([name, level]) => hasPermission(token, name, level));
    if (!allowed) {
      return {
        status: 403,
        body: basicError(403, "Resource not accessible by personal access token", route.docs),
      };
    }
    return route.handle({ ...common, repo });
  }

  private parseBody(request: ApiRequest, docs: string): Record<string, unknown> {
    if (request.body.length === 0) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(request.body.toString("utf8"));
    } catch {
      throw new RestError({ status: 400, body: basicError(400, "Problems parsing JSON", docs) });
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new RestError({ status: 400, body: basicError(400, "Problems parsing JSON", docs) });
    }
    return parsed as Record<string, unknown>;
  }
}
