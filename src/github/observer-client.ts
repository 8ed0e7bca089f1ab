import { GraphqlResponseError } from "@octokit/graphql";
import { RequestError } from "@octokit/request-error";
import type {
  ChangeRequest,
  CheckResult,
  CiState,
  Mergeable,
  PrObservation,
  PrState,
  ReviewComment,
  ReviewDecision,
  ReviewFeedback,
  ReviewThread,
} from "../domain/pull-request.js";
import { REVIEW_DECISIONS } from "../domain/pull-request.js";
import type { MergeMethod } from "../domain/repo.js";
import type {
  FetchedBatch,
  FetchedPull,
  MergeResult,
  ObserverScm,
  OpenPullList,
  OpenPullSummary,
  PullToFetch,
  RepoRef,
} from "../services/observer/scm-port.js";
import type { GitHubBudget } from "./github-budget.js";
import { toGitHubError, type GitHubClient } from "./github-client.js";
import { GitHubError, GitHubUnavailable } from "./github-errors.js";
import type { CallerDeadlineOptions } from "./octokit-plugins.js";
import {
  buildPullsQuery,
  type ActorJson,
  type CheckRunJson,
  type PullJson,
  type PullQueryOptions,
  type PullsQueryData,
  type RollupJson,
  type StatusContextJson,
} from "./observer-queries.js";

/**
 * The GitHub side of the PR observer (SPEC C4): an ETag-guarded open-PR list per repository,
 * batched GraphQL reads mapped to provider-neutral observations, job logs and merges. Build it
 * on a client of the `observer` profile (`GitHubClients.forToken(token, "observer")`) so that a
 * rate limit ends the call at once instead of waiting. Every read takes the caller's deadline.
 */

const PULLS_PER_PAGE = 100;
/** 100,000 open PRs in one repository: past that, the paging itself is wrong. */
const MAX_PAGES = 1000;
/** GitHub's preview media type for `mergeStateStatus` (the `gh` CLI always sends it). */
const MERGE_INFO_PREVIEW = "merge-info-preview";
/** GitHub's name for a deleted account. */
const GHOST = "ghost";

interface GraphqlErrorJson {
  type?: string;
  path?: (string | number)[];
  message?: string;
}

interface RestPull {
  node_id: string;
  number: number;
  html_url: string;
  title: string;
  user: { login: string } | null;
  draft?: boolean;
  updated_at: string;
  head: { ref: string; sha: string; repo: { full_name: string } | null };
  base: { ref: string };
}

function toOpenPullSummary(pull: RestPull): OpenPullSummary {
  return {
    nodeId: pull.node_id,
    number: pull.number,
    url: pull.html_url,
    title: pull.title,
    author: pull.user?.login ?? null,
    headRef: pull.head.ref,
    headRepo: pull.head.repo?.full_name ?? null,
    headSha: pull.head.sha,
    baseRef: pull.base.ref,
    draft: Boolean(pull.draft),
    updatedAt: pull.updated_at,
  };
}

/** The `page` of the `rel="next"` link, or null when there is none. */
function nextPage(link: unknown): number | null {
  if (typeof link !== "string") return null;
  for (const part of link.split(",")) {
    const match = /<([^>]+)>\s*;\s*rel="next"/.exec(part);
    if (!match?.[1]) continue;
    const page = Number(new URL(match[1]).searchParams.get("page"));
    return Number.isSafeInteger(page) && page > 1 ? page : null;
  }
  return null;
}

const PR_STATE: Record<PullJson["state"], PrState> = { OPEN: "open", CLOSED: "closed", MERGED: "merged" };

function rollupState(rollup: RollupJson | null): CiState {
  if (rollup === null) return "none";
  switch (rollup.state) {
    case "SUCCESS":
      return "success";
    case "FAILURE":
    case "ERROR":
      return "failure";
    default:
      // PENDING, EXPECTED, and whatever GitHub adds: not a verdict yet.
      return "pending";
  }
}

const FAILED_CONCLUSIONS = new Set([
  "FAILURE",
  "TIMED_OUT",
  "CANCELLED",
  "ACTION_REQUIRED",
  "STARTUP_FAILURE",
  "STALE",
]);

function checkRunState(run: CheckRunJson): CheckResult["state"] {
  if (run.status !== "COMPLETED") return "pending";
  if (run.conclusion === "SUCCESS") return "success";
  if (run.conclusion === "NEUTRAL" || run.conclusion === "SKIPPED") return "neutral";
  if (run.conclusion !== null && FAILED_CONCLUSIONS.has(run.conclusion)) return "failure";
  // Completed without a conclusion GitHub documents: not green, so not success.
  return run.conclusion === null ? "pending" : "failure";
}

/** A GitHub Actions job link: `…/actions/runs/<run>/job/<job>`. */
export function jobIdFromDetailsUrl(url: string | null): number | null {
  if (url === null) return null;
  const match = /\/actions\/runs\/\d+\/job\/(\d+)(?:[/?#]|$)/.exec(url);
  const id = match?.[1] === undefined ? Number.NaN : Number(match[1]);
  return Number.isSafeInteger(id) && id > 0 ? id : null;
}

function toCheckResult(context: CheckRunJson | StatusContextJson): CheckResult {
  if (context.__typename === "CheckRun") {
    return {
      id: context.databaseId === null ? `check:name:${context.name}` : `check:${context.databaseId}`,
      name: context.name,
      kind: "check_run",
      state: checkRunState(context),
      conclusion: context.conclusion?.toLowerCase() ?? null,
      url: context.detailsUrl,
      jobId: jobIdFromDetailsUrl(context.detailsUrl),
      logTail: null,
    };
  }
  const state: CheckResult["state"] =
    context.state === "SUCCESS"
      ? "success"
      : context.state === "FAILURE" || context.state === "ERROR"
        ? "failure"
        : "pending";
  return {
    id: `status:${context.context}`,
    name: context.context,
    kind: "status",
    state,
    conclusion: context.state.toLowerCase(),
    url: context.targetUrl,
    jobId: null,
    logTail: null,
  };
}

function present<T>(items: readonly (T | null)[] | null | undefined): T[] {
  return (items ?? []).filter((item): item is T => item !== null);
}

function actor(author: ActorJson | null): { author: string; isBot: boolean } {
  // GraphQL names a bot without its "[bot]" suffix (REST keeps it): kept as given.
  return { author: author?.login ?? GHOST, isBot: author?.__typename === "Bot" };
}

function toReview(pull: PullJson, viewer: string | null): ReviewFeedback {
  const threads = present(pull.reviewThreads?.nodes);
  return {
    threads: threads
      .filter((thread) => !thread.isResolved)
      .map((thread): ReviewThread => ({
        id: thread.id,
        path: thread.path,
        line: thread.isOutdated ? null : thread.line,
        outdated: thread.isOutdated,
        comments: present(thread.comments.nodes).map((comment): ReviewComment => ({
          id: comment.id,
          ...actor(comment.author),
          body: comment.body,
          url: comment.url,
          createdAt: comment.createdAt,
        })),
      })),
    changeRequests: present(pull.latestOpinionatedReviews?.nodes)
      .filter((review) => review.state === "CHANGES_REQUESTED")
      .map((review): ChangeRequest => ({
        id: review.id,
        ...actor(review.author),
        body: review.body,
        url: review.url,
        submittedAt: review.submittedAt ?? "",
      })),
    partial: (pull.reviewThreads?.totalCount ?? 0) > threads.length,
    viewer,
  };
}

/** One pull request of the batch answer as an observation; `review` only when threads were read. */
export function toPrObservation(pull: PullJson, threads: boolean, viewer: string | null): PrObservation {
  const rollup = present(pull.commits.nodes).at(-1)?.commit.statusCheckRollup ?? null;
  const mergeable: Mergeable = pull.mergeable ?? "UNKNOWN";
  const decision: ReviewDecision | null =
    REVIEW_DECISIONS.find((candidate) => candidate === pull.reviewDecision) ?? null;
  return {
    nodeId: pull.id,
    number: pull.number,
    url: pull.url,
    title: pull.title,
    author: pull.author?.login ?? null,
    state: PR_STATE[pull.state],
    draft: pull.isDraft,
    headRef: pull.headRefName,
    headRepo: pull.headRepository?.nameWithOwner ?? null,
    headSha: pull.headRefOid,
    baseRef: pull.baseRefName,
    updatedAt: pull.updatedAt,
    mergedAt: pull.mergedAt,
    closedAt: pull.closedAt,
    mergeable,
    mergeStateStatus: pull.mergeStateStatus,
    reviewDecision: decision,
    commentsCount: pull.totalCommentsCount ?? 0,
    ci: {
      state: rollupState(rollup),
      checks: present(rollup?.contexts.nodes).map(toCheckResult),
      partial: rollup?.contexts.pageInfo.hasNextPage ?? false,
    },
    review: threads ? toReview(pull, viewer) : null,
  };
}

/** A NOT_FOUND on `[repo]` or `[repo, pull]`: that PR (or its repository) is gone. */
function notFoundAt(
  errors: readonly GraphqlErrorJson[],
  repo: string,
  pull: string,
): GraphqlErrorJson | undefined {
  return errors.find(
    (error) =>
      error.type === "NOT_FOUND" &&
      ((error.path?.length === 1 && error.path[0] === repo) ||
        (error.path?.length === 2 && error.path[0] === repo && error.path[1] === pull)),
  );
}

export type GitHubObserverClientOptions = PullQueryOptions;

export class GitHubObserverClient implements ObserverScm {
  readonly #client: GitHubClient;
  readonly #budget: GitHubBudget;
  readonly #options: GitHubObserverClientOptions;

  constructor(client: GitHubClient, budget: GitHubBudget, options: GitHubObserverClientOptions = {}) {
    this.#client = client;
    this.#budget = budget;
    this.#options = options;
  }

  #fail(error: unknown, what: string, signal?: AbortSignal): GitHubError {
    if (signal?.aborted) {
      return new GitHubUnavailable(`${what}: deadline exceeded before GitHub answered`, null, {
        cause: error,
      });
    }
    return toGitHubError(error, what, Date.now(), this.#client.policy.secondaryLimitFallbackSeconds);
  }

  #request(
    signal: AbortSignal | undefined,
    etagKey?: string,
  ): CallerDeadlineOptions & Record<string, unknown> {
    return {
      ...(signal === undefined ? {} : { callerSignal: signal }),
      ...(etagKey === undefined ? {} : { etagKey }),
    };
  }

  async listOpenPulls(repo: RepoRef, signal: AbortSignal): Promise<OpenPullList> {
    const what = `GET /repos/${repo.owner}/${repo.repo}/pulls`;
    // GitHub names repositories case-insensitively.
    const repoKey = `${repo.owner}/${repo.repo}`.toLowerCase();
    const pulls: OpenPullSummary[] = [];
    let cost = 0;
    let unchanged = true;
    let page: number | null = 1;
    try {
      while (page !== null) {
        // Per token (another token may see other PRs), repository and page.
        const etagKey = `observer:open-pulls:${this.#client.fingerprint}:${repoKey}:${page}`;
        const response: { headers: Record<string, unknown>; data: unknown } =
          await this.#client.octokit.request("GET /repos/{owner}/{repo}/pulls", {
            owner: repo.owner,
            repo: repo.repo,
            state: "open",
            sort: "created",
            direction: "asc",
            per_page: PULLS_PER_PAGE,
            page,
            request: this.#request(signal, etagKey),
          });
        const hit = response.headers["x-shepherd-cache"] === "hit";
        if (!hit) {
          cost += 1;
          unchanged = false;
        }
        const items = response.data as RestPull[];
        pulls.push(...items.map(toOpenPullSummary));
        // Oldest first, so a new PR lands on the last page; a full last page whose ETag held may
        // still have grown a next page (the ETag covers the body, not the Link header): look.
        const next: number | null =
          nextPage(response.headers.link) ?? (items.length === PULLS_PER_PAGE ? page + 1 : null);
        if (next !== null && (next <= page || next > MAX_PAGES)) {
          throw new GitHubError("api_error", `${what}: GitHub's pages do not end (page ${next})`, null);
        }
        page = next;
      }
    } catch (error) {
      throw this.#fail(error, what, signal);
    }
    return { pulls, unchanged, cost };
  }

  async fetchPulls(pulls: readonly PullToFetch[], signal: AbortSignal): Promise<FetchedBatch> {
    if (pulls.length === 0) return { pulls: [], cost: 0, remaining: null };
    const { query, variables, aliases } = buildPullsQuery(pulls, this.#options);
    const what = `POST /graphql (${pulls.length} pull requests)`;
    let data: PullsQueryData | null;
    let errors: GraphqlErrorJson[] = [];
    try {
      data = await this.#client.octokit.graphql<PullsQueryData>(query, {
        ...variables,
        mediaType: { previews: [MERGE_INFO_PREVIEW] },
        request: this.#request(signal),
      });
    } catch (error) {
      if (!(error instanceof GraphqlResponseError) || signal.aborted) throw this.#fail(error, what, signal);
      errors = (error.errors ?? []) as GraphqlErrorJson[];
      data = (error.data ?? null) as PullsQueryData | null;
      // Only missing pull requests or repositories are answers; anything else fails the batch.
      const unexpected = errors.some(
        (entry) => entry.type !== "NOT_FOUND" || entry.path === undefined || entry.path.length > 2,
      );
      if (unexpected || data === null) throw this.#fail(error, what, signal);
    }

    const cost = data.rateLimit?.cost ?? 0;
    this.#budget.addGraphqlCost(this.#client.fingerprint, cost);
    const viewer = data.viewer?.login ?? null;
    const fetched = pulls.map((ref, index): FetchedPull => {
      const alias = aliases[index];
      if (alias === undefined) throw new Error("pulls query lost an alias");
      const missing = notFoundAt(errors, alias.repo, alias.pull);
      const repoData = data[alias.repo] as Record<string, PullJson | null> | null | undefined;
      const pull = repoData?.[alias.pull] ?? null;
      if (missing !== undefined || pull === null) {
        return { ref, found: false, reason: missing?.message ?? "GitHub returned no pull request" };
      }
      return { ref, found: true, observation: toPrObservation(pull, ref.threads, viewer) };
    });
    return { pulls: fetched, cost, remaining: data.rateLimit?.remaining ?? null };
  }

  async fetchJobLog(repo: RepoRef, jobId: number, signal: AbortSignal): Promise<string> {
    const what = `GET /repos/${repo.owner}/${repo.repo}/actions/jobs/${jobId}/logs`;
    try {
      // GitHub redirects to a short-lived plain-text URL; fetch follows it. Asking for text/plain
      // gets a 406 from GitHub, so the usual JSON media type it is.
      const response = await this.#client.octokit.request(
        "GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs",
        {
          owner: repo.owner,
          repo: repo.repo,
          job_id: jobId,
          headers: { accept: "application/vnd.github+json" },
          request: this.#request(signal),
        },
      );
      const body: unknown = response.data;
      if (typeof body === "string") return body;
      if (body instanceof ArrayBuffer) return new TextDecoder().decode(body);
      throw new GitHubError("api_error", `${what}: the log is not text`, response.status);
    } catch (error) {
      throw this.#fail(error, what, signal);
    }
  }

  /**
   * One attempt, never retried blindly (a lost answer after a merge must not merge again, and the
   * `sha` guard makes a retry pointless anyway). `signal` bounds the wait for the write queue and
   * the attempt; it is optional because the port's contract has none.
   */
  async mergePull(
    repo: RepoRef,
    number: number,
    method: MergeMethod,
    sha: string,
    signal?: AbortSignal,
  ): Promise<MergeResult> {
    const what = `PUT /repos/${repo.owner}/${repo.repo}/pulls/${number}/merge`;
    try {
      const response = await this.#client.octokit.request(
        "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge",
        {
          owner: repo.owner,
          repo: repo.repo,
          pull_number: number,
          merge_method: method,
          sha,
          request: { ...this.#request(signal), retries: 0 },
        },
      );
      return { merged: response.data.merged, sha: response.data.sha ?? null, message: response.data.message };
    } catch (error) {
      // 405: not mergeable (conflict, draft, checks); 409: the head moved past `sha`.
      if (
        error instanceof RequestError &&
        (error.status === 405 || error.status === 409) &&
        !signal?.aborted
      ) {
        const data = error.response?.data as { message?: unknown } | undefined;
        const message = typeof data?.message === "string" ? data.message : error.message;
        return { merged: false, sha: null, message };
      }
      throw this.#fail(error, what, signal);
    }
  }
}
