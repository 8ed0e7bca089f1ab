/**
 * The operator's gate policy (SPEC C6 "Gate"): how risky each tool is, how confident an agent must
 * be to act without a human, and which environments gate everything above `low`.
 */

/** In increasing order of risk; `deny` is never executed. */
export const TOOL_RISKS = ["low", "medium", "high", "deny"] as const;
export type ToolRisk = (typeof TOOL_RISKS)[number];

/** `auto`: run it; `notify`: run it and tell a human; `approve`: wait for a human; `deny`: refuse it. */
export const GATE_ACTIONS = ["auto", "notify", "approve", "deny"] as const;
export type GateAction = (typeof GATE_ACTIONS)[number];

export const GATE_REASONS = [
  "low_risk",
  "medium_risk",
  "high_risk_tool",
  "unknown_tool",
  "gated_env",
  "low_confidence",
  "denied_tool",
  "follow_up_auto",
] as const;
export type GateReason = (typeof GATE_REASONS)[number];

export interface GatePolicy {
  /**
   * Operator's risk per tool: keys are a qualified name "server:tool", a bare name "tool",
   * "server:*", or "*". The most specific match wins: qualified > bare > server glob > "*".
   */
  tools: Readonly<Record<string, ToolRisk>>;
  /** An agent's confidence strictly below this is low. */
  confidenceThreshold: number;
  /** Sessions in these environments (case-insensitive) gate every call above `low`. */
  gatedEnvironments: readonly string[];
}

export const DEFAULT_GATE_POLICY: GatePolicy = Object.freeze({
  tools: Object.freeze({}),
  confidenceThreshold: 0.7,
  gatedEnvironments: Object.freeze(["production"]),
});
