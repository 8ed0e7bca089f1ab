import type { MergeMethod } from "./repo.js";

/**
 * Reactions (SPEC C5): a condition on a PR or a session → an action. Configured globally in
 * `shepherd.yaml`, overridable per repo; these are the resolved rules the domain works with.
 */
export const REACTION_KEYS = [
  "ci_failed",
  "changes_requested",
  "merge_conflict",
  "approved_and_green",
  "agent_stuck",
  "agent_needs_input",
  "pr_closed",
  "pr_merged",
] as const;
export type ReactionKey = (typeof REACTION_KEYS)[number];

/** Reactions driven by a PR's observation; the others by a session's facts. */
export const PR_REACTION_KEYS = [
  "ci_failed",
  "changes_requested",
  "merge_conflict",
  "approved_and_green",
  "pr_closed",
  "pr_merged",
] as const satisfies readonly ReactionKey[];
export type PrReactionKey = (typeof PR_REACTION_KEYS)[number];

export const SESSION_REACTION_KEYS = [
  "agent_stuck",
  "agent_needs_input",
] as const satisfies readonly ReactionKey[];
export type SessionReactionKey = (typeof SESSION_REACTION_KEYS)[number];

/** `none` turns a reaction off. `auto_merge` only makes sense for `approved_and_green`. */
export const REACTION_ACTIONS = ["send_to_agent", "notify", "auto_merge", "none"] as const;
export type ReactionActionKind = (typeof REACTION_ACTIONS)[number];

export const PRIORITIES = ["urgent", "action", "warning", "info"] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Escalate after this many attempts, or once the condition has lasted this long. */
export type EscalateAfter = { attempts: number } | { ms: number };

export interface ReactionRule {
  action: ReactionActionKind;
  /** Priority of the notifications this reaction sends (escalations are always urgent). */
  priority: Priority;
  /** Nudges within one episode before it escalates instead (`ci_failed`). */
  retries: number | null;
  escalateAfter: EscalateAfter | null;
  /** Cap on nudges within one episode; more feedback after the cap escalates (`changes_requested`). */
  maxNudges: number | null;
  /** How long a session may be silent before it counts as stuck (`agent_stuck`). */
  thresholdMs: number | null;
  /** Merge method for `auto_merge`; null uses the repo's. */
  method: MergeMethod | null;
  /** Whether review feedback from bots is passed on (`changes_requested`). */
  includeBots: boolean;
  /** A first line of the user's own to put before the generated nudge text. */
  message: string | null;
}

export type ReactionConfig = Record<ReactionKey, ReactionRule>;

/** Partial rules as written in `shepherd.yaml` (global or per repo), already validated. */
export type ReactionOverrides = Partial<Record<ReactionKey, Partial<ReactionRule>>>;

function rule(partial: Partial<ReactionRule> & Pick<ReactionRule, "action">): ReactionRule {
  return {
    priority: "action",
    retries: null,
    escalateAfter: null,
    maxNudges: null,
    thresholdMs: null,
    method: null,
    includeBots: false,
    message: null,
    ...partial,
  };
}

/** SPEC C5's defaults. */
export const DEFAULT_REACTIONS: ReactionConfig = {
  ci_failed: rule({ action: "send_to_agent", retries: 2, escalateAfter: { attempts: 2 } }),
  changes_requested: rule({ action: "send_to_agent", maxNudges: 3, escalateAfter: { ms: 30 * 60_000 } }),
  merge_conflict: rule({ action: "send_to_agent", escalateAfter: { ms: 15 * 60_000 } }),
  approved_and_green: rule({ action: "notify" }),
  agent_stuck: rule({ action: "notify", priority: "urgent", thresholdMs: 10 * 60_000 }),
  agent_needs_input: rule({ action: "notify", priority: "urgent" }),
  pr_closed: rule({ action: "notify" }),
  pr_merged: rule({ action: "notify", priority: "info" }),
};

/** Layers overrides (global, then a repo's) over the defaults, key by key and field by field. */
export function resolveReactions(...layers: (ReactionOverrides | undefined)[]): ReactionConfig {
  const resolved = { ...DEFAULT_REACTIONS };
  for (const layer of layers) {
    if (!layer) continue;
    for (const key of REACTION_KEYS) {
      const override = layer[key];
      if (override) resolved[key] = { ...resolved[key], ...override };
    }
  }
  return resolved;
}
