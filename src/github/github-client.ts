import { Octokit } from "@octokit/core";
import { paginateRest } from "@octokit/plugin-paginate-rest";
import { restEndpointMethods } from "@octokit/plugin-rest-endpoint-methods";
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import { RequestError } from "@octokit/request-error";
import { GraphqlResponseError } from "@octokit/graphql";
import Bottleneck from "bottleneck";
import type { GitHubBudget } from "./github-budget.js";
import {
  AuthFailed,
  GitHubError,
  GitHubUnavailable,
  NotFound,
  PermissionDenied,
  RateLimited,
  ValidationFailed,
} from "./github-errors.js";
import {
  attemptDeadline,
  callerDeadline,
  etagPlugin,
  normalizeRateLimitErrors,
  observeResponses,
  serializeWrites,
  WriteChain,
  type EtagCache,
} from "./octokit-plugins.js";
import { tokenFingerprint } from "./token-fingerprint.js";

/** The GitHub HTTP policy of SPEC C3, as numbers. */
export interface GitHubPolicy {
  /** Content-creating requests of one token are serialized and at least this far apart. */
  writeSpacingMs: number;
  /** Waits for a rate limit at most this long inside a call; longer → RateLimited to the caller. */
  maxRateLimitWaitSeconds: number;
  /** Rate-limit waits per call. */
  rateLimitRetries: number;
  /** Retries of network errors and 5xx (so attempts = retries + 1). */
  serverErrorRetries: number;
  /** Backoff unit: the n-th retry waits n² × this. */
  retryBaseMs: number;
  /** Deadline of each attempt. */
  requestTimeoutMs: number;
  /** Wait after a secondary rate limit that names no time. */
  secondaryLimitFallbackSeconds: number;
}

export const DEFAULT_GITHUB_POLICY: GitHubPolicy = {
  writeSpacingMs: 1000,
  maxRateLimitWaitSeconds: 60,
  rateLimitRetries: 2,
  serverErrorRetries: 2,
  retryBaseMs: 1000,
  requestTimeoutMs: 15_000,
  secondaryLimitFallbackSeconds: 60,
};

/**
 * Which policy a client follows. `observer`: a background poller that must never sit in a
 * rate-limit wait (the next tick comes anyway) and retries a 5xx once at most.
 */
export type GitHubClientProfile = "default" | "observer";

/** What the observer profile changes in the base policy (SPEC C4: a rate limit ends the tick). */
export const OBSERVER_POLICY_OVERRIDES = {
  maxRateLimitWaitSeconds: 0,
  rateLimitRetries: 0,
  serverErrorRetries: 1,
} as const satisfies Partial<GitHubPolicy>;

export interface PullRef {
  number: number;
  url: string;
  nodeId: string;
  state: "open" | "closed";
  merged: boolean;
  draft: boolean;
  title: string;
  headRef: string;
  headSha: string;
  /** `owner/name` of the head repository (null when the fork was deleted). */
  headRepo: string | null;
  baseRef: string;
  updatedAt: string;
}

export interface RepositoryAccess {
  fullName: string;
  defaultBranch: string;
  private: boolean;
  /** What this token may do in the repository, as GitHub reports it. */
  permissions: { admin: boolean; push: boolean; pull: boolean } | null;
  /** Classic tokens' OAuth scopes (`x-oauth-scopes`); null for fine-grained tokens. */
  scopes: string[] | null;
}

export interface IssueComment {
  id: number;
  body: string;
  url: string;
}

/** Plugins from innermost (closest to the wire) to outermost. */
function octokitClass(
  policy: GitHubPolicy,
  observe: Parameters<typeof observeResponses>[0],
  writeChain: WriteChain,
  etagCache?: EtagCache,
) {
  const base = Octokit.plugin(
    attemptDeadline(policy.requestTimeoutMs),
    observeResponses(observe),
    serializeWrites(writeChain),
    normalizeRateLimitErrors,
    throttling,
    retry,
    restEndpointMethods,
    paginateRest,
  );
  // The caller's deadline goes outside everything, the cache included, so no wait outlasts it.
  return (etagCache ? base.plugin(etagPlugin(etagCache)) : base).plugin(callerDeadline);
}

type ShepherdOctokitInstance = InstanceType<ReturnType<typeof octokitClass>>;

type HeaderBag = Record<string, string | number | null | undefined> | undefined;

function headerOf(headers: HeaderBag, name: string): string | undefined {
  const value = headers?.[name];
  return value === undefined || value === null ? undefined : String(value);
}

function header(error: RequestError, name: string): string | undefined {
  return headerOf(error.response?.headers, name);
}

function retryAfterSeconds(error: RequestError, now: number): number {
  const retryAfter = Number(header(error, "retry-after"));
  if (Number.isFinite(retryAfter) && retryAfter > 0) return retryAfter;
  const reset = Number(header(error, "x-ratelimit-reset"));
  if (header(error, "x-ratelimit-remaining") === "0" && Number.isFinite(reset)) {
    return Math.max(1, Math.ceil(reset - now / 1000));
  }
  return 0;
}

interface GraphqlErrorEntry {
  type?: string;
  message?: string;
}

/**
 * The GraphQL answers that carry errors with HTTP 200: @octokit/graphql's GraphqlResponseError,
 * or, on github.com, plugin-throttling's "GraphQL Rate Limit Exceeded" (a plain Error holding
 * the response) once it declines to wait.
 */
function graphqlFailure(error: unknown): { errors: GraphqlErrorEntry[]; headers: HeaderBag } | null {
  if (error instanceof GraphqlResponseError) {
    return { errors: (error.errors ?? []) as GraphqlErrorEntry[], headers: error.headers };
  }
  if (error instanceof RequestError || !(error instanceof Error)) return null;
  const response = (error as { response?: { headers?: HeaderBag; data?: { errors?: unknown } } }).response;
  const errors = response?.data?.errors;
  return Array.isArray(errors) ? { errors: errors as GraphqlErrorEntry[], headers: response?.headers } : null;
}

/** Until the window resets (GraphQL's exhausted budget names no `retry-after`), else 0. */
function graphqlRetryAfter(headers: HeaderBag, now: number): number {
  const retryAfter = Number(headerOf(headers, "retry-after"));
  if (Number.isFinite(retryAfter) && retryAfter > 0) return retryAfter;
  const reset = Number(headerOf(headers, "x-ratelimit-reset"));
  return headerOf(headers, "x-ratelimit-reset") !== undefined && Number.isFinite(reset)
    ? Math.max(1, Math.ceil(reset - now / 1000))
    : 0;
}

function graphqlError(
  failure: { errors: GraphqlErrorEntry[]; headers: HeaderBag },
  what: string,
  now: number,
  fallbackSeconds: number,
): GitHubError {
  const message = `${what}: ${failure.errors.map((entry) => entry.message ?? entry.type ?? "").join("; ")}`;
  if (failure.errors.some((entry) => entry.type === "RATE_LIMITED")) {
    return new RateLimited(graphqlRetryAfter(failure.headers, now) || fallbackSeconds, message, 200);
  }
  if (failure.errors.some((entry) => entry.type === "FORBIDDEN")) return new PermissionDenied(message);
  if (failure.errors.length > 0 && failure.errors.every((entry) => entry.type === "NOT_FOUND")) {
    return new NotFound(message);
  }
  return new GitHubError("api_error", message, 200);
}

/** Maps whatever a GitHub call threw to a provider-neutral GitHubError. */
export function toGitHubError(
  error: unknown,
  what: string,
  now: number = Date.now(),
  fallbackSeconds: number = DEFAULT_GITHUB_POLICY.secondaryLimitFallbackSeconds,
): GitHubError {
  if (error instanceof GitHubError) return error;
  const graphql = graphqlFailure(error);
  if (graphql) return graphqlError(graphql, what, now, fallbackSeconds);
  if (error instanceof RequestError) {
    const message = `${what}: ${error.message}`;
    const status = error.status;
    if (status === 401) return new AuthFailed(`${what}: GitHub rejected the token (401 Bad credentials)`);
    if (status === 403 || status === 429) {
      const limited =
        header(error, "x-ratelimit-remaining") === "0" ||
        /rate limit|abuse/i.test(error.message) ||
        status === 429;
      if (limited) return new RateLimited(retryAfterSeconds(error, now) || fallbackSeconds, message, status);
      return new PermissionDenied(message);
    }
    if (status === 404) return new NotFound(message);
    if (status === 422) {
      const errors = (error.response?.data as { errors?: { message?: string; code?: string }[] } | undefined)
        ?.errors;
      const details = (errors ?? []).map((e) => e.message ?? e.code ?? "").filter(Boolean);
      return new ValidationFailed(details.length ? `${message} (${details.join("; ")})` : message, details);
    }
    if (status >= 500 || error.response === undefined)
      return new GitHubUnavailable(message, status, { cause: error });
    return new GitHubError("api_error", message, status, { cause: error });
  }
  return new GitHubUnavailable(`${what}: ${error instanceof Error ? error.message : String(error)}`, null, {
    cause: error,
  });
}

function toPullRef(pull: {
  number: number;
  html_url: string;
  node_id: string;
  state: string;
  merged_at: string | null;
  draft?: boolean | undefined;
  title: string;
  head: { ref: string; sha: string; repo: { full_name: string } | null };
  base: { ref: string };
  updated_at: string;
}): PullRef {
  return {
    number: pull.number,
    url: pull.html_url,
    nodeId: pull.node_id,
    state: pull.state === "open" ? "open" : "closed",
    merged: pull.merged_at !== null,
    draft: Boolean(pull.draft),
    title: pull.title,
    headRef: pull.head.ref,
    headSha: pull.head.sha,
    headRepo: pull.head.repo?.full_name ?? null,
    baseRef: pull.base.ref,
    updatedAt: pull.updated_at,
  };
}

export interface GitHubClientOptions {
  apiUrl: string;
  token: string;
  policy: GitHubPolicy;
  budget: GitHubBudget;
  /** One group for the process: content-creating requests are serialized per token fingerprint. */
  writeGroup: Bottleneck.Group;
  /** Writes that notify people (PRs, comments): plugin-throttling keeps a separate group for them. */
  notificationGroup: Bottleneck.Group;
  /** Content-creating requests of this token, shared by its clients of every profile. */
  writeChain?: WriteChain;
  etagCache?: EtagCache;
  userAgent?: string;
}

/**
 * A GitHub client for one token: Octokit with throttling (rate limits, write spacing), retries
 * (network, 5xx), per-attempt deadlines, budget tracking and optional conditional GETs. Methods
 * return small provider-neutral records and throw GitHubError subclasses.
 */
export class GitHubClient {
  readonly fingerprint: string;
  readonly octokit: ShepherdOctokitInstance;
  readonly #policy: GitHubPolicy;

  constructor(options: GitHubClientOptions) {
    this.fingerprint = tokenFingerprint(options.token);
    const { policy, budget } = options;
    this.#policy = policy;
    const fingerprint = this.fingerprint;
    const Client = octokitClass(
      policy,
      (method, status, headers) => budget.observe(fingerprint, method, status, headers),
      options.writeChain ?? new WriteChain(),
      options.etagCache,
    );
    this.octokit = new Client({
      auth: options.token,
      baseUrl: options.apiUrl,
      userAgent: options.userAgent ?? "shepherd",
      log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
      throttle: {
        id: fingerprint,
        write: options.writeGroup,
        notifications: options.notificationGroup,
        fallbackSecondaryRateRetryAfter: policy.secondaryLimitFallbackSeconds,
        onRateLimit: (retryAfter: number, _options: unknown, _octokit: unknown, retryCount: number) =>
          retryCount < policy.rateLimitRetries && retryAfter <= policy.maxRateLimitWaitSeconds,
        onSecondaryRateLimit: (
          retryAfter: number,
          _options: unknown,
          _octokit: unknown,
          retryCount: number,
        ) => retryCount < policy.rateLimitRetries && retryAfter <= policy.maxRateLimitWaitSeconds,
      },
      retry: {
        retries: policy.serverErrorRetries,
        retryAfterBaseValue: policy.retryBaseMs,
        // Rate limits are the throttling plugin's (it waits as told); these are terminal.
        doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451],
      },
    });
  }

  /** The policy this client follows. */
  get policy(): GitHubPolicy {
    return this.#policy;
  }

  #fail(error: unknown, what: string): GitHubError {
    return toGitHubError(error, what, Date.now(), this.#policy.secondaryLimitFallbackSeconds);
  }

  async getRepository(owner: string, repo: string): Promise<RepositoryAccess> {
    try {
      const response = await this.octokit.rest.repos.get({ owner, repo });
      const scopes = response.headers["x-oauth-scopes"];
      return {
        fullName: response.data.full_name,
        defaultBranch: response.data.default_branch,
        private: response.data.private,
        permissions: response.data.permissions
          ? {
              admin: response.data.permissions.admin,
              push: response.data.permissions.push,
              pull: response.data.permissions.pull,
            }
          : null,
        scopes:
          scopes === undefined
            ? null
            : String(scopes)
                .split(",")
                .map((scope) => scope.trim())
                .filter(Boolean),
      };
    } catch (error) {
      throw this.#fail(error, `GET /repos/${owner}/${repo}`);
    }
  }

  async getAuthenticatedLogin(): Promise<string> {
    try {
      return (await this.octokit.rest.users.getAuthenticated()).data.login;
    } catch (error) {
      throw this.#fail(error, "GET /user");
    }
  }

  /** Pull requests whose head is `headOwner:branch`, newest first. */
  async findPulls(
    owner: string,
    repo: string,
    head: { owner: string; branch: string },
    state: "open" | "closed" | "all",
  ): Promise<PullRef[]> {
    try {
      const response = await this.octokit.rest.pulls.list({
        owner,
        repo,
        head: `${head.owner}:${head.branch}`,
        state,
        sort: "updated",
        direction: "desc",
        per_page: 100,
      });
      return response.data.map(toPullRef);
    } catch (error) {
      throw this.#fail(error, `GET /repos/${owner}/${repo}/pulls`);
    }
  }

  async createPull(input: {
    owner: string;
    repo: string;
    title: string;
    body: string;
    head: string;
    base: string;
  }): Promise<PullRef> {
    try {
      return toPullRef((await this.octokit.rest.pulls.create(input)).data);
    } catch (error) {
      throw this.#fail(error, `POST /repos/${input.owner}/${input.repo}/pulls`);
    }
  }

  async getPull(owner: string, repo: string, number: number): Promise<PullRef> {
    try {
      return toPullRef((await this.octokit.rest.pulls.get({ owner, repo, pull_number: number })).data);
    } catch (error) {
      throw this.#fail(error, `GET /repos/${owner}/${repo}/pulls/${number}`);
    }
  }

  async reopenPull(owner: string, repo: string, number: number): Promise<PullRef> {
    try {
      return toPullRef(
        (await this.octokit.rest.pulls.update({ owner, repo, pull_number: number, state: "open" })).data,
      );
    } catch (error) {
      throw this.#fail(error, `PATCH /repos/${owner}/${repo}/pulls/${number}`);
    }
  }

  async listIssueComments(owner: string, repo: string, number: number): Promise<IssueComment[]> {
    try {
      const comments = await this.octokit.paginate(this.octokit.rest.issues.listComments, {
        owner,
        repo,
        issue_number: number,
        per_page: 100,
      });
      return comments.map((comment) => ({
        id: Number(comment.id),
        body: comment.body ?? "",
        url: comment.html_url,
      }));
    } catch (error) {
      throw this.#fail(error, `GET /repos/${owner}/${repo}/issues/${number}/comments`);
    }
  }

  /**
   * Posts a conversation comment once: never retried blindly (a retried POST after a lost
   * answer would post it twice); callers check for their marker and try again themselves.
   */
  async createIssueComment(owner: string, repo: string, number: number, body: string): Promise<IssueComment> {
    try {
      const response = await this.octokit.rest.issues.createComment({
        owner,
        repo,
        issue_number: number,
        body,
        request: { retries: 0 },
      });
      return { id: Number(response.data.id), body: response.data.body ?? "", url: response.data.html_url };
    } catch (error) {
      throw this.#fail(error, `POST /repos/${owner}/${repo}/issues/${number}/comments`);
    }
  }
}

/**
 * Clients per token and profile, created on first use; a rotated token gets a new client (and
 * budget line). The clients of one token share its write spacing and write serialization.
 */
export class GitHubClients {
  readonly #clients = new Map<string, GitHubClient>();
  readonly #writeChains = new Map<string, WriteChain>();
  readonly #writeGroup: Bottleneck.Group;
  readonly #observerGate: Bottleneck.Group;
  readonly #notificationGroup: Bottleneck.Group;
  readonly #policies: Record<GitHubClientProfile, GitHubPolicy>;

  constructor(
    private readonly apiUrl: string,
    policy: GitHubPolicy,
    readonly budget: GitHubBudget,
    private readonly etagCache?: EtagCache,
    /** Over the base policy and OBSERVER_POLICY_OVERRIDES, e.g. the observer's `requestTimeoutMs`. */
    observerPolicy: Partial<GitHubPolicy> = {},
  ) {
    this.#policies = {
      default: policy,
      observer: { ...policy, ...OBSERVER_POLICY_OVERRIDES, ...observerPolicy },
    };
    this.#writeGroup = new Bottleneck.Group({ maxConcurrent: 1, minTime: policy.writeSpacingMs });
    // plugin-throttling puts every POST — GraphQL queries included — through the write group's
    // one-second spacing. GitHub asks for that pause between mutations only; the observer's
    // queries are reads, made one after another per token, and spacing them would delay every
    // webhook-triggered read behind the previous one. Its rare writes (a merge) still join the
    // token's write chain, so they never overlap the PR worker's.
    this.#observerGate = new Bottleneck.Group({ maxConcurrent: 1, minTime: 0 });
    // plugin-throttling spaces notifying writes (PRs, comments) 3 s apart by default; GitHub's own
    // guidance is one second between mutations (and at most 80 content-creating requests a minute).
    this.#notificationGroup = new Bottleneck.Group({ maxConcurrent: 1, minTime: policy.writeSpacingMs });
  }

  forToken(token: string, profile: GitHubClientProfile = "default"): GitHubClient {
    const fingerprint = tokenFingerprint(token);
    const key = `${profile}:${fingerprint}`;
    let client = this.#clients.get(key);
    if (!client) {
      let writeChain = this.#writeChains.get(fingerprint);
      if (!writeChain) {
        writeChain = new WriteChain();
        this.#writeChains.set(fingerprint, writeChain);
      }
      client = new GitHubClient({
        apiUrl: this.apiUrl,
        token,
        policy: this.#policies[profile],
        budget: this.budget,
        writeGroup: profile === "observer" ? this.#observerGate : this.#writeGroup,
        notificationGroup: this.#notificationGroup,
        writeChain,
        etagCache: this.etagCache,
      });
      this.#clients.set(key, client);
    }
    return client;
  }
}
