/**
 * The displayed status of a session (SPEC C6), derived from its stored facts by `deriveStatus`.
 * The order of `SESSION_STATUSES` is the precedence: when several could describe a session, the
 * earlier one is shown, so what needs a human is never hidden behind what is merely going on.
 */

/** Finished: the session has an outcome, and nothing further happens to it. */
export const TERMINAL_STATUSES = [
  "merged",
  "resolved",
  "escalated",
  "needs_review",
  "failed",
  "stopped",
] as const;
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

/** Paused until a human decides on a gated call or answers the agent. */
export const AWAITING_STATUSES = ["awaiting_approval", "awaiting_input"] as const;
export type AwaitingStatus = (typeof AWAITING_STATUSES)[number];

/** Driven by the session's open pull requests, worst first. */
export const PR_STATUSES = [
  "ci_failed",
  "changes_requested",
  "merge_conflict",
  "approved",
  "mergeable",
  "pr_open",
] as const;
export type PrStatus = (typeof PR_STATUSES)[number];

/** Driven by the run state alone. */
export const RUN_STATUSES = ["running", "queued", "idle", "stuck"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const SESSION_STATUSES = [
  ...TERMINAL_STATUSES,
  ...AWAITING_STATUSES,
  ...PR_STATUSES,
  ...RUN_STATUSES,
] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

const TERMINAL: ReadonlySet<SessionStatus> = new Set(TERMINAL_STATUSES);

export function isTerminalStatus(status: SessionStatus): status is TerminalStatus {
  return TERMINAL.has(status);
}
