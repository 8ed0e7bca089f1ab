import { STATUS_CODES } from "node:http";
import type { FaultAction } from "./faults.js";
import { requestId } from "./ids.js";
import type { RateLimits, RateResource } from "./rate-limits.js";
import { API_VERSION, primaryLimitBody, rateLimitHeaders, secondaryLimitBody } from "./rest-api.js";
import { jsonResponse, type SimResponse } from "./sim-response.js";
import type { SimState } from "./sim-state.js";

/** The answers of the faults that answer at once (`status`, `rate-limit`, `secondary-limit`). */
export function faultResponse(
  action: Extract<FaultAction, { type: "status" | "rate-limit" | "secondary-limit" }>,
  context: { token: string | null; limits: RateLimits; state: SimState; resource?: RateResource },
): SimResponse {
  const resource = context.resource ?? "core";
  const id = requestId();
  const base = { "x-github-request-id": id, "x-github-api-version-selected": API_VERSION };
  const known = context.token !== null && context.state.tokens.has(context.token);
  const current =
    known && context.token !== null
      ? rateLimitHeaders(context.limits.snapshot(context.token, resource), resource)
      : {};
  switch (action.type) {
    case "status":
      return jsonResponse(action.status, action.body ?? { message: STATUS_CODES[action.status] ?? "Error" }, {
        ...base,
        ...action.headers,
      });
    case "rate-limit": {
      const login =
        known && context.token !== null ? context.state.tokens.get(context.token)?.login : undefined;
      const userId = login === undefined ? 0 : context.state.user(login).id;
      return {
        ...jsonResponse(
          429,
          { ...primaryLimitBody(userId, id), status: "429" },
          {
            ...base,
            ...current,
            "retry-after": String(action.retryAfter ?? 60),
          },
        ),
        rateLimited: true,
      };
    }
    case "secondary-limit": {
      const headers: Record<string, string> = { ...base, ...current };
      const seconds = action.seconds ?? 60;
      if (action.shape === "retry-after") headers["retry-after"] = String(seconds);
      if (action.shape === "reset") {
        const limit = context.limits.limitOf(resource);
        Object.assign(headers, {
          "x-ratelimit-limit": String(limit),
          "x-ratelimit-remaining": "0",
          "x-ratelimit-used": String(limit),
          "x-ratelimit-reset": String(Math.ceil(Date.now() / 1000) + seconds),
          "x-ratelimit-resource": resource,
        });
      }
      return { ...jsonResponse(403, secondaryLimitBody(id), headers), rateLimited: true };
    }
  }
}
