/**
 * Stored facts of a session (SPEC C6). The displayed status is derived from these, never stored.
 * `idle`: a built-in agent between turns, waiting for a nudge or input (it holds no worker).
 */
export const RUN_STATES = ["queued", "running", "idle", "paused", "exited"] as const;
export type RunState = (typeof RUN_STATES)[number];

/** Why a paused session waits: a human decision on a gated call, or an answer from a human. */
export const PAUSE_KINDS = ["approval", "input"] as const;
export type PauseKind = (typeof PAUSE_KINDS)[number];

export const OUTCOME_KINDS = [
  "resolved",
  "escalated",
  "needs_review",
  "failed",
  "stopped",
  "merged",
] as const;
export type OutcomeKind = (typeof OUTCOME_KINDS)[number];

export interface SessionOutcome {
  kind: OutcomeKind;
  /** `escalated`: the team; `needs_review`: the reason; `failed`: the error. */
  detail?: string;
}

/** Why a nudge cannot be delivered to a session right now, if it cannot. */
export type NudgeRefusal = "not_found" | "terminal" | "exited" | "blocked";

/**
 * A nudge may be typed into a session only when someone is there to read it: never into a
 * finished or exited session, never while it is blocked on a permission (approval) prompt.
 */
export function nudgeRefusal(
  session: { runState: RunState; pauseKind: PauseKind | null; outcome: SessionOutcome | null } | null,
): NudgeRefusal | null {
  if (session === null) return "not_found";
  if (session.outcome !== null) return "terminal";
  if (session.runState === "exited") return "exited";
  if (session.runState === "paused" && session.pauseKind === "approval") return "blocked";
  return null;
}
