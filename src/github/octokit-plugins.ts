import type { Octokit } from "@octokit/core";
import { RequestError } from "@octokit/request-error";
import { GitHubUnavailable } from "./github-errors.js";

type OctokitInstance = InstanceType<typeof Octokit>;

/** Request options a caller may add under `request`: its own deadline for the whole call. */
export interface CallerDeadlineOptions {
  /**
   * Aborts the call (every attempt and every wait between them). Not `signal`: each attempt
   * replaces that one, and a retry must not inherit an attempt's already-fired timeout.
   */
  callerSignal?: AbortSignal;
}

function callerSignalOf(options: { request?: unknown }): AbortSignal | undefined {
  return (options.request as CallerDeadlineOptions | undefined)?.callerSignal;
}

/** What a call abandoned because its caller's deadline passed throws (never retried). */
export function deadlineExceeded(): GitHubUnavailable {
  return new GitHubUnavailable("deadline exceeded: the caller abandoned the GitHub call", null);
}

/**
 * Every attempt (not the whole call with its retries) gets its own deadline, combined with the
 * caller's signal when there is one. Register first: innermost. The signal is set on the options
 * object itself: Octokit's auth hook, innermost of all, calls fetch with the object it was given,
 * not with one a wrapper passes along. An attempt cut short by the caller becomes a
 * GitHubUnavailable, which neither the retry nor the throttling plugin retries.
 */
export function attemptDeadline(ms: number): (octokit: OctokitInstance) => void {
  return (octokit) => {
    octokit.hook.wrap("request", async (request, options) => {
      const caller = callerSignalOf(options);
      if (caller?.aborted) throw deadlineExceeded();
      const timeout = AbortSignal.timeout(ms);
      options.request = { ...options.request, signal: caller ? AbortSignal.any([timeout, caller]) : timeout };
      try {
        return await request(options);
      } catch (error) {
        if (caller?.aborted) throw deadlineExceeded();
        throw error;
      }
    });
  };
}

/**
 * The whole call, rate-limit and retry waits included, ends when the caller's signal fires.
 * Register last: outermost. The abandoned inner call settles on its own (its attempt is aborted
 * through the combined signal; a queued one fails at once when its turn comes).
 */
export function callerDeadline(octokit: OctokitInstance): void {
  octokit.hook.wrap("request", async (request, options) => {
    const caller = callerSignalOf(options);
    if (caller === undefined) return request(options);
    if (caller.aborted) throw deadlineExceeded();
    let onAbort: () => void = () => undefined;
    const aborted = new Promise<never>((_resolve, reject) => {
      onAbort = () => reject(deadlineExceeded());
      caller.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([request(options), aborted]);
    } finally {
      caller.removeEventListener("abort", onAbort);
    }
  });
}

/** The tail of one token's content-creating requests, shared by every client of that token. */
export class WriteChain {
  tail: Promise<unknown> = Promise.resolve();
}

/** A GraphQL query only reads; anything else sent there (a mutation) is treated as a write. */
function isGraphqlQuery(options: { url?: string; query?: unknown }): boolean {
  if (!/\/graphql$/.test(new URL(options.url ?? "", "http://github.test").pathname)) return false;
  return typeof options.query === "string" && /^\s*(query\b|\{)/.test(options.query);
}

/**
 * Content-creating requests of one token run one at a time (SPEC C3): plugin-throttling's write
 * group only spaces their starts, so a slow write would overlap the next. Clients of one token
 * (one per profile) share one chain, so the chain serializes per token. Inside the retries: a
 * write waiting to be retried does not hold the chain.
 */
export function serializeWrites(chain: WriteChain = new WriteChain()): (octokit: OctokitInstance) => void {
  return (octokit) => {
    octokit.hook.wrap("request", async (request, options) => {
      if (options.method === "GET" || options.method === "HEAD" || isGraphqlQuery(options)) {
        return request(options);
      }
      const previous = chain.tail;
      let done!: () => void;
      chain.tail = new Promise<void>((resolve) => (done = resolve));
      try {
        await previous;
        return await request(options);
      } finally {
        done();
      }
    });
  };
}

type ResponseHeaders = Record<string, string | number | undefined>;

/** Reports every attempt's status and headers (rate-limit budget) to `observe`. Register early: inner. */
export function observeResponses(
  observe: (method: string, status: number, headers: ResponseHeaders) => void,
): (octokit: OctokitInstance) => void {
  return (octokit) => {
    octokit.hook.wrap("request", async (request, options) => {
      try {
        const response = await request(options);
        observe(options.method, response.status, response.headers);
        return response;
      } catch (error) {
        if (error instanceof RequestError && error.response) {
          observe(options.method, error.status, error.response.headers);
        }
        throw error;
      }
    });
  };
}

function header(error: RequestError, name: string): string | undefined {
  const value = error.response?.headers[name];
  return value === undefined || value === null ? undefined : String(value);
}

/**
 * GitHub signals secondary rate limits in several shapes: a 429, or a 403 with `retry-after`,
 * or a 403 with only a message ("secondary rate limit", "abuse"). plugin-throttling recognises
 * the message form only; this innermost plugin rewrites the other shapes into it so that every
 * shape gets the same wait-as-told handling. Other 403s (no access) are left terminal.
 */
export function normalizeRateLimitErrors(octokit: OctokitInstance): void {
  octokit.hook.wrap("request", async (request, options) => {
    try {
      return await request(options);
    } catch (error) {
      if (!(error instanceof RequestError) || (error.status !== 403 && error.status !== 429)) throw error;
      const primary = header(error, "x-ratelimit-remaining") === "0";
      const secondaryMessage = /\bsecondary rate\b/i.test(error.message);
      // plugin-throttling reads only `retry-after` for secondary limits; GitHub says to wait
      // until the reset when the budget shows 0, so carry that time in `retry-after`.
      const reset = Number(header(error, "x-ratelimit-reset"));
      if (
        secondaryMessage &&
        primary &&
        header(error, "retry-after") === undefined &&
        Number.isFinite(reset)
      ) {
        const headers = error.response?.headers as Record<string, string> | undefined;
        if (headers) headers["retry-after"] = String(Math.max(1, Math.ceil(reset - Date.now() / 1000)));
      }
      const limited =
        error.status === 429 ||
        header(error, "retry-after") !== undefined ||
        /rate limit|abuse/i.test(error.message);
      if (!primary && !secondaryMessage && limited) {
        error.message = `secondary rate limit: ${error.message}`;
      }
      throw error;
    }
  });
}

/** A cached conditional-request entry: the validator and the response it stands for. */
export interface EtagEntry {
  etag: string;
  status: number;
  data: unknown;
  headers: Record<string, string | number | undefined>;
}

/** Where ETags live; the observer (next capability) may want a shared or persistent one. */
export interface EtagCache {
  get(key: string): EtagEntry | undefined;
  set(key: string, entry: EtagEntry): void;
}

/** A bounded in-memory cache (least recently used entries go first). */
export class MemoryEtagCache implements EtagCache {
  readonly #entries = new Map<string, EtagEntry>();

  constructor(private readonly capacity = 5000) {}

  get(key: string): EtagEntry | undefined {
    const entry = this.#entries.get(key);
    if (entry) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    }
    return entry;
  }

  set(key: string, entry: EtagEntry): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }
}

/**
 * Conditional GETs: sends the stored ETag as `If-None-Match` (quotes kept) and turns GitHub's 304
 * — which Octokit throws, and which costs no primary budget — back into the cached response,
 * marked with `x-shepherd-cache: hit`. Only requests that opt in with `request.etagKey` are cached.
 */
export function etagPlugin(cache: EtagCache): (octokit: OctokitInstance) => void {
  return (octokit) => {
    octokit.hook.wrap("request", async (request, options) => {
      const key = (options.request as { etagKey?: string } | undefined)?.etagKey;
      if (options.method !== "GET" || key === undefined) return request(options);
      const cached = cache.get(key);
      if (cached) options.headers = { ...options.headers, "if-none-match": cached.etag };
      try {
        const response = await request(options);
        const etag = response.headers.etag;
        if (typeof etag === "string") {
          cache.set(key, {
            etag,
            status: response.status,
            data: response.data,
            headers: { ...response.headers },
          });
        }
        return response;
      } catch (error) {
        if (cached && error instanceof RequestError && error.status === 304) {
          return {
            status: cached.status,
            url: options.url,
            data: cached.data,
            headers: { ...cached.headers, "x-shepherd-cache": "hit" },
          } as Awaited<ReturnType<typeof request>>;
        }
        throw error;
      }
    });
  };
}
