import type { Metrics } from "../observability/metrics.js";

export interface BudgetSnapshot {
  resource: string;
  limit: number;
  remaining: number;
  used: number;
  /** Epoch seconds at which the window resets. */
  reset: number;
  observedAt: number;
}

type Headers = Record<string, string | number | undefined>;

function numberHeader(headers: Headers, name: string): number | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : undefined;
}

/**
 * The primary budget of every token as GitHub last reported it in `x-ratelimit-*` headers,
 * mirrored into Prometheus gauges. Tokens are named by fingerprint, never by value.
 */
export class GitHubBudget {
  readonly #snapshots = new Map<string, Map<string, BudgetSnapshot>>();

  constructor(
    private readonly metrics: Metrics | null,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records one response (or error response) of a request made with the token `fingerprint`. */
  observe(fingerprint: string, method: string, status: number, headers: Headers): void {
    this.metrics?.githubRequests.inc({ token: fingerprint, method, status: String(status) });
    // A GraphQL query's points are its cost, which only the answer's `rateLimit { cost }` tells:
    // the caller reports it through addGraphqlCost, so counting here would count it twice.
    const isGraphql = headers["x-ratelimit-resource"] === "graphql";
    if (status !== 304 && !isGraphql) {
      this.metrics?.githubPoints.inc(
        { token: fingerprint, resource: "core" },
        method === "GET" || method === "HEAD" ? 1 : 5,
      );
    }
    const limit = numberHeader(headers, "x-ratelimit-limit");
    const remaining = numberHeader(headers, "x-ratelimit-remaining");
    if (limit === undefined || remaining === undefined) return;
    const resource = String(headers["x-ratelimit-resource"] ?? "core");
    const snapshot: BudgetSnapshot = {
      resource,
      limit,
      remaining,
      used: numberHeader(headers, "x-ratelimit-used") ?? limit - remaining,
      reset: numberHeader(headers, "x-ratelimit-reset") ?? 0,
      observedAt: this.now(),
    };
    let byResource = this.#snapshots.get(fingerprint);
    if (!byResource) {
      byResource = new Map();
      this.#snapshots.set(fingerprint, byResource);
    }
    byResource.set(resource, snapshot);
    this.metrics?.githubRateRemaining.set({ token: fingerprint, resource }, remaining);
    this.metrics?.githubRateLimit.set({ token: fingerprint, resource }, limit);
  }

  /** Adds GraphQL points as reported by `rateLimit { cost }` (the response headers do not carry them). */
  addGraphqlCost(fingerprint: string, cost: number): void {
    if (!Number.isFinite(cost) || cost <= 0) return;
    this.metrics?.githubPoints.inc({ token: fingerprint, resource: "graphql" }, cost);
  }

  snapshot(fingerprint: string): BudgetSnapshot[] {
    return [...(this.#snapshots.get(fingerprint)?.values() ?? [])];
  }
}
