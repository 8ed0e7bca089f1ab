import type { PrObservation } from "../../domain/pull-request.js";
import type { MergeMethod } from "../../domain/repo.js";

/**
 * What the observer needs from a code host (SPEC C4), for one token. The GitHub implementation
 * is in src/github/; errors are the provider-neutral GitHubError family (RateLimited,
 * AuthFailed, NotFound…).
 */
export interface RepoRef {
  owner: string;
  repo: string;
}

/** One entry of a repository's open-PR list. */
export interface OpenPullSummary {
  nodeId: string;
  number: number;
  url: string;
  title: string;
  author: string | null;
  headRef: string;
  /** `owner/name` of the head repository; null when a fork was deleted. */
  headRepo: string | null;
  headSha: string;
  baseRef: string;
  draft: boolean;
  updatedAt: string;
}

export interface OpenPullList {
  pulls: OpenPullSummary[];
  /** Every page was answered 304 (unchanged, free of primary budget). */
  unchanged: boolean;
  /** Primary-budget points the listing cost (pages answered 200). */
  cost: number;
}

export interface PullToFetch {
  owner: string;
  repo: string;
  number: number;
  /** Also read the review threads and change requests (the slower cadence). */
  threads: boolean;
}

export type FetchedPull =
  | { ref: PullToFetch; found: true; observation: PrObservation }
  /** GitHub says there is no such PR (deleted repository, transferred…): never read as "closed". */
  | { ref: PullToFetch; found: false; reason: string };

export interface FetchedBatch {
  pulls: FetchedPull[];
  /** GraphQL points this batch cost, as GitHub reported in `rateLimit { cost }`. */
  cost: number;
  /** GraphQL points left in the window, or null if not reported. */
  remaining: number | null;
}

export interface MergeResult {
  merged: boolean;
  /** The merge commit, when merged. */
  sha: string | null;
  /** GitHub's message (why it was refused, when it was). */
  message: string;
}

export interface ObserverScm {
  /** Open PRs of the repository; conditional requests per page, so an unchanged list is free. */
  listOpenPulls(repo: RepoRef, signal: AbortSignal): Promise<OpenPullList>;
  /** At most 25 PRs in one query; the result has one entry per requested PR, in order. */
  fetchPulls(pulls: readonly PullToFetch[], signal: AbortSignal): Promise<FetchedBatch>;
  /** The raw text of a GitHub Actions job log. */
  fetchJobLog(repo: RepoRef, jobId: number, signal: AbortSignal): Promise<string>;
  /** Merges if the head is still `sha`; a refusal is a result, not an error. */
  mergePull(repo: RepoRef, number: number, method: MergeMethod, sha: string): Promise<MergeResult>;
}
