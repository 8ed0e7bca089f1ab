import type { RateLimits } from "./rate-limits.js";

/** `GET /rate_limit` (`rate-limit-overview`) for one token. */
export function rateLimitOverviewJson(limits: RateLimits, token: string): Record<string, unknown> {
  const core = { ...limits.snapshot(token, "core"), resource: "core" };
  const graphql = { ...limits.snapshot(token, "graphql"), resource: "graphql" };
  const reset = Math.ceil(Date.now() / 1000) + 60;
  const fixed = (limit: number, resource: string): Record<string, unknown> => ({
    limit,
    remaining: limit,
    reset,
    used: 0,
    resource,
  });
  return {
    resources: {
      core,
      graphql,
      search: fixed(30, "search"),
      code_search: fixed(10, "code_search"),
      integration_manifest: fixed(5000, "integration_manifest"),
    },
    rate: core,
  };
}
