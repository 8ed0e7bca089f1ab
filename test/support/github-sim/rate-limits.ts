/**
 * GitHub's rate-limit accounting, per token (GitHub's real buckets are per user; per token keeps
 * tests independent of each other).
 *
 * Primary limits: each resource (`core` for REST, `graphql`) has a budget for a one-hour window
 * that opens at the token's first charged request and resets a full hour later, as GitHub's does;
 * `reset` is that moment in epoch seconds.
 * Secondary limit: at most `contentCreationPerMinute` content-creating requests in any 60 s.
 */

export type RateResource = "core" | "graphql";

export interface RateSnapshot {
  limit: number;
  remaining: number;
  used: number;
  /** Epoch seconds at which the window resets. */
  reset: number;
}

export interface RateLimitSettings {
  restLimit: number;
  graphqlLimit: number;
  contentCreationPerMinute: number;
}

interface Bucket {
  used: number;
  resetMs: number;
}

const WINDOW_MS = 60 * 60 * 1000;
const SECONDARY_WINDOW_MS = 60 * 1000;

export class RateLimits {
  private readonly buckets = new Map<string, Bucket>();
  private readonly creations = new Map<string, number[]>();

  constructor(
    readonly settings: RateLimitSettings,
    private readonly now: () => number = Date.now,
  ) {}

  limitOf(resource: RateResource): number {
    return resource === "core" ? this.settings.restLimit : this.settings.graphqlLimit;
  }

  private bucket(token: string, resource: RateResource): Bucket {
    const key = `${resource}\0${token}`;
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket || now >= bucket.resetMs) {
      bucket = { used: 0, resetMs: now + WINDOW_MS };
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  snapshot(token: string, resource: RateResource): RateSnapshot {
    const bucket = this.bucket(token, resource);
    const limit = this.limitOf(resource);
    return {
      limit,
      used: bucket.used,
      remaining: Math.max(0, limit - bucket.used),
      reset: Math.ceil(bucket.resetMs / 1000),
    };
  }

  exhausted(token: string, resource: RateResource, cost = 1): boolean {
    return this.snapshot(token, resource).remaining < cost;
  }

  charge(token: string, resource: RateResource, points = 1): RateSnapshot {
    this.bucket(token, resource).used += points;
    return this.snapshot(token, resource);
  }

  setRemaining(token: string, resource: RateResource, remaining: number): RateSnapshot {
    const limit = this.limitOf(resource);
    const clamped = Math.max(0, Math.min(limit, Math.floor(remaining)));
    this.bucket(token, resource).used = limit - clamped;
    return this.snapshot(token, resource);
  }

  /**
   * Counts one content-creating request; false (and not counted) when the token already made
   * `contentCreationPerMinute` of them in the last minute.
   */
  admitContentCreation(token: string): boolean {
    const now = this.now();
    const recent = (this.creations.get(token) ?? []).filter((at) => now - at < SECONDARY_WINDOW_MS);
    if (recent.length >= this.settings.contentCreationPerMinute) {
      this.creations.set(token, recent);
      return false;
    }
    recent.push(now);
    this.creations.set(token, recent);
    return true;
  }
}
