import type { PauseKind, RunState, SessionOutcome } from "./session.js";
import { PR_STATUSES, type PrStatus, type SessionStatus } from "./session-status.js";

/** What `deriveStatus` needs to know about one pull request linked to a session. */
export interface SessionPrFacts {
  state: "open" | "closed" | "merged";
  draft: boolean;
  ci: "success" | "failure" | "pending" | "none";
  /** `UNKNOWN`: GitHub is still computing it — never a conflict. */
  mergeable: "MERGEABLE" | "CONFLICTING" | "UNKNOWN";
  /** GitHub's, e.g. "CLEAN", "BLOCKED". */
  mergeStateStatus: string | null;
  /** null: no review is required. */
  reviewDecision: "APPROVED" | "CHANGES_REQUESTED" | "REVIEW_REQUIRED" | null;
  /** Unresolved review items the agent should address. */
  unresolvedFeedback: number;
}

/** The stored facts of a session that its displayed status is derived from. */
export interface SessionStatusFacts {
  runState: RunState;
  pauseKind: PauseKind | null;
  outcome: SessionOutcome | null;
  /** ms epoch; null when the session has shown no activity yet. */
  lastActivityAt: number | null;
  prs: readonly SessionPrFacts[];
}

export interface StatusPolicy {
  /** A running session silent for longer than this is `stuck`. */
  stuckAfterMs: number;
}

export const DEFAULT_STATUS_POLICY: StatusPolicy = Object.freeze({ stuckAfterMs: 10 * 60_000 });

/**
 * Ready to merge as GitHub would see it. BLOCKED means branch protection still wants something
 * (e.g. resolved conversations), so GitHub would refuse the merge even when everything else is green.
 */
function readyToMerge(pr: SessionPrFacts): boolean {
  return (
    !pr.draft &&
    (pr.ci === "success" || pr.ci === "none") &&
    pr.mergeable === "MERGEABLE" &&
    (pr.reviewDecision === "APPROVED" || pr.reviewDecision === null) &&
    pr.mergeStateStatus !== "BLOCKED"
  );
}

/** One open PR's status. `approved` is checked after readiness, so one PR is never both. */
function prStatus(pr: SessionPrFacts): PrStatus {
  if (pr.ci === "failure") return "ci_failed";
  if (pr.reviewDecision === "CHANGES_REQUESTED" || pr.unresolvedFeedback > 0) return "changes_requested";
  if (pr.mergeable === "CONFLICTING") return "merge_conflict";
  if (readyToMerge(pr)) return "mergeable";
  if (pr.reviewDecision === "APPROVED") return "approved";
  return "pr_open";
}

/**
 * The status a session shows (SPEC C6), derived at read time from its stored facts and never
 * stored, so it cannot drift from them. First match wins: an outcome; then a pause (a paused
 * session without a pause kind counts as awaiting input — a pause must never look like work); then
 * the worst status among the session's open PRs (closed and merged PRs no longer drive anything);
 * then the run state, where a running session silent for `stuckAfterMs` or longer is `stuck` (the
 * same boundary as the `agent_stuck` reaction) and an exited session without an outcome is `idle`.
 */
export function deriveStatus(
  facts: SessionStatusFacts,
  now: number,
  policy: StatusPolicy = DEFAULT_STATUS_POLICY,
): SessionStatus {
  if (facts.outcome !== null) return facts.outcome.kind;
  if (facts.runState === "paused") {
    return facts.pauseKind === "approval" ? "awaiting_approval" : "awaiting_input";
  }

  let worst: PrStatus | null = null;
  for (const pr of facts.prs) {
    if (pr.state !== "open") continue;
    const status = prStatus(pr);
    // PR_STATUSES is in precedence order: the earlier, the worse.
    if (worst === null || PR_STATUSES.indexOf(status) < PR_STATUSES.indexOf(worst)) worst = status;
  }
  if (worst !== null) return worst;

  switch (facts.runState) {
    case "queued":
      return "queued";
    case "running":
      return facts.lastActivityAt !== null && now - facts.lastActivityAt >= policy.stuckAfterMs
        ? "stuck"
        : "running";
    case "idle":
    case "exited":
      return "idle";
  }
}

/**
 * The change to announce as `session.status_changed {from, to}`, or null when the derived status
 * did not change — so re-deriving an unchanged session never emits an event.
 */
export function statusChange(
  before: SessionStatus,
  after: SessionStatus,
): { from: SessionStatus; to: SessionStatus } | null {
  return before === after ? null : { from: before, to: after };
}
