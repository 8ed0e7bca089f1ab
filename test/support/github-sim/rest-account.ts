import { rateLimitOverviewJson } from "./rate-limit-json.js";
import type { RestRoute } from "./rest-context.js";
import { privateUserJson } from "./user-json.js";

/** Endpoints about the caller itself rather than a repository. */
export const accountRoutes: readonly RestRoute[] = [
  {
    method: "GET",
    pattern: "/user",
    scope: "account",
    docs: "rest/users/users#get-the-authenticated-user",
    handle: (request) => ({ status: 200, body: privateUserJson(request.user, request.sim.urls) }),
  },
  {
    method: "GET",
    pattern: "/rate_limit",
    scope: "account",
    free: true,
    docs: "rest/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user",
    handle: (request) => ({
      status: 200,
      body: rateLimitOverviewJson(request.sim.limits, request.token.value),
    }),
  },
];
