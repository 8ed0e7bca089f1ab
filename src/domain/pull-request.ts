/**
 * What Shepherd knows about a pull request (SPEC C4): provider-neutral facts, the checks, the
 * unresolved review feedback, and the semantic parts whose change is an observation worth
 * reacting to.
 */
export const PR_STATES = ["open", "closed", "merged"] as const;
export type PrState = (typeof PR_STATES)[number];

/** `none`: the head commit has no checks or statuses at all. */
export const CI_STATES = ["none", "pending", "success", "failure"] as const;
export type CiState = (typeof CI_STATES)[number];

/** `UNKNOWN` means "still being computed, ask again later" — never a conflict. */
export const MERGEABLE_STATES = ["MERGEABLE", "CONFLICTING", "UNKNOWN"] as const;
export type Mergeable = (typeof MERGEABLE_STATES)[number];

export const REVIEW_DECISIONS = ["APPROVED", "CHANGES_REQUESTED", "REVIEW_REQUIRED"] as const;
export type ReviewDecision = (typeof REVIEW_DECISIONS)[number];

export interface CheckResult {
  /** Stable within a PR: `check:<id>` for a check run, `status:<context>` for a commit status. */
  id: string;
  name: string;
  kind: "check_run" | "status";
  state: "pending" | "success" | "failure" | "neutral";
  /** The provider's own word (a check conclusion or status state), lower case. */
  conclusion: string | null;
  url: string | null;
  /** GitHub Actions job id (its log can be fetched), or null. */
  jobId: number | null;
  /** The last lines of the job log, fetched once when the check newly failed. */
  logTail: string | null;
}

export interface ReviewComment {
  id: string;
  author: string;
  isBot: boolean;
  body: string;
  url: string;
  createdAt: string;
}

/** An unresolved review thread with its latest comments. */
export interface ReviewThread {
  id: string;
  path: string | null;
  line: number | null;
  outdated: boolean;
  comments: ReviewComment[];
}

/** A review that requests changes (latest per reviewer), with its summary body. */
export interface ChangeRequest {
  id: string;
  author: string;
  isBot: boolean;
  body: string;
  url: string;
  submittedAt: string;
}

export interface ReviewFeedback {
  threads: ReviewThread[];
  changeRequests: ChangeRequest[];
  /** More threads exist than were read: the oldest are missing. */
  partial: boolean;
  /** Who Shepherd's token is: comments by this login are the agent's own and never fed back. */
  viewer: string | null;
}

export interface PrObservation {
  nodeId: string;
  number: number;
  url: string;
  title: string;
  author: string | null;
  state: PrState;
  draft: boolean;
  headRef: string;
  /** `owner/name` of the head repository; null when a fork was deleted. */
  headRepo: string | null;
  headSha: string;
  baseRef: string;
  /** GitHub's `updatedAt` (ISO 8601, whole seconds). */
  updatedAt: string;
  mergedAt: string | null;
  closedAt: string | null;
  mergeable: Mergeable;
  mergeStateStatus: string | null;
  reviewDecision: ReviewDecision | null;
  /** Conversation plus review comments: a cheap hint that review feedback moved. */
  commentsCount: number;
  ci: { state: CiState; checks: CheckResult[]; partial: boolean };
  /** Null when the threads were not read in this observation (the previous ones still hold). */
  review: ReviewFeedback | null;
}

export const OBSERVATION_PARTS = ["state", "ci", "review", "mergeability"] as const;
export type ObservationPart = (typeof OBSERVATION_PARTS)[number];

/**
 * The canonical text of each semantic part. Two observations that differ only in things no
 * reaction looks at (a fetch time, the order of checks) have equal parts.
 */
export function semanticParts(observation: PrObservation): Record<ObservationPart, string> {
  const checks = [...observation.ci.checks]
    .filter((check) => check.state !== "success" && check.state !== "neutral")
    .map((check) => `${check.id}=${check.state}:${check.conclusion ?? ""}`)
    .sort();
  const review = observation.review;
  const threadKeys = review
    ? review.threads
        .map((thread) => `${thread.id}:${thread.comments.map((comment) => comment.id).join(",")}`)
        .sort()
    : [];
  const requests = review ? review.changeRequests.map((request) => request.id).sort() : [];
  return {
    state: [
      observation.state,
      observation.draft ? "draft" : "ready",
      observation.headSha,
      observation.baseRef,
    ].join("|"),
    ci: [observation.ci.state, observation.headSha, ...checks].join("|"),
    review: [observation.reviewDecision ?? "", ...threadKeys, "/", ...requests].join("|"),
    mergeability: observation.mergeable,
  };
}

/** Which parts differ between two observations (all of them when there is no earlier one). */
export function changedParts(before: PrObservation | null, after: PrObservation): ObservationPart[] {
  if (before === null) return [...OBSERVATION_PARTS];
  const a = semanticParts(before);
  const b = semanticParts(after);
  return OBSERVATION_PARTS.filter((part) => a[part] !== b[part]);
}

/** A new observation whose threads were not read keeps the earlier review feedback. */
export function withCarriedReview(after: PrObservation, before: PrObservation | null): PrObservation {
  if (after.review !== null || before === null || before.state !== "open") return after;
  return { ...after, review: before.review };
}

/** Log tails already read for a failing check are kept, not fetched again. */
export function withCarriedLogTails(after: PrObservation, before: PrObservation | null): PrObservation {
  if (before === null) return after;
  const known = new Map(
    before.ci.checks.filter((check) => check.logTail !== null).map((check) => [check.id, check.logTail]),
  );
  if (known.size === 0) return after;
  return {
    ...after,
    ci: {
      ...after.ci,
      checks: after.ci.checks.map((check) =>
        check.state === "failure" && check.logTail === null && known.has(check.id)
          ? { ...check, logTail: known.get(check.id) ?? null }
          : check,
      ),
    },
  };
}

/** Failing checks that have a job log and no tail yet: the only log fetches an observation makes. */
export function checksNeedingLogTail(observation: PrObservation): CheckResult[] {
  return observation.ci.checks.filter(
    (check) => check.state === "failure" && check.jobId !== null && check.logTail === null,
  );
}

/** The unresolved feedback a reaction may pass on, bots included or not. */
export function unresolvedFeedback(
  review: ReviewFeedback | null,
  includeBots: boolean,
): { threads: ReviewThread[]; changeRequests: ChangeRequest[] } {
  if (review === null) return { threads: [], changeRequests: [] };
  const keepComment = (comment: ReviewComment): boolean =>
    (includeBots || !comment.isBot) && (review.viewer === null || comment.author !== review.viewer);
  const threads = review.threads
    .map((thread) => ({ ...thread, comments: thread.comments.filter(keepComment) }))
    .filter((thread) => thread.comments.length > 0);
  const changeRequests = review.changeRequests.filter(
    (request) =>
      (includeBots || !request.isBot) && (review.viewer === null || request.author !== review.viewer),
  );
  return { threads, changeRequests };
}
