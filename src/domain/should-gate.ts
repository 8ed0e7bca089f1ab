import type { GateAction, GatePolicy, GateReason, ToolRisk } from "./gate-policy.js";

/** One tool call about to run. */
export interface GateCall {
  /** The MCP server, or the name Shepherd gives built-in and harness tools. */
  server: string;
  tool: string;
  /** What Shepherd's built-in tool declares; null for MCP and harness tools. */
  declaredRisk: ToolRisk | null;
  /**
   * A follow-up to a PR an operator already approved, on a repo whose `followUps` is `auto`
   * (SPEC C3): a high-risk call is treated as medium — it runs and notifies, unless the
   * environment or a low confidence asks for a human anyway.
   */
  approvedFollowUp?: boolean;
}

export interface GateSession {
  environment: string | null;
}

export interface GateDecision {
  action: GateAction;
  reason: GateReason;
  /** The risk the decision was made on; null when the tool is unknown. */
  risk: ToolRisk | null;
}

/**
 * A name that could be read as map syntax: it may only be matched by the levels it cannot spoof.
 * Otherwise a tool named "github:merge" on another server would pick up the operator's entry for
 * GitHub's merge tool by its bare name, and a tool named "*" would take the catch-all's place
 * ahead of its server's glob.
 */
function plainName(name: string): boolean {
  return name !== "*" && !name.includes(":");
}

function lookup(tools: GatePolicy["tools"], key: string): ToolRisk | null {
  // Own keys only: a tool named "constructor" or "__proto__" must not find Object.prototype's.
  return Object.hasOwn(tools, key) ? (tools[key] ?? null) : null;
}

/**
 * The risk of a call: the operator's map first, most specific key winning (qualified
 * "server:tool" > bare "tool" > "server:*" > "*"), then the risk a built-in tool declares, else
 * null (unknown). The operator's word comes first because only the operator may override the
 * operator: a built-in's own declaration is the fallback, never a way around the policy. Keys are
 * compared exactly — "*" is a wildcard only as the whole key or after "server:" — and names
 * containing ":" or equal to "*" never match the levels they could impersonate.
 */
export function resolveToolRisk(call: GateCall, policy: GatePolicy): ToolRisk | null {
  const { tools } = policy;
  const server = plainName(call.server);
  const tool = plainName(call.tool);
  return (
    (server && tool ? lookup(tools, `${call.server}:${call.tool}`) : null) ??
    (tool ? lookup(tools, call.tool) : null) ??
    (server ? lookup(tools, `${call.server}:*`) : null) ??
    lookup(tools, "*") ??
    call.declaredRisk
  );
}

function decision(action: GateAction, reason: GateReason, risk: ToolRisk | null): GateDecision {
  return { action, reason, risk };
}

/**
 * Whether a tool call may run (SPEC C6 "Gate"). First match wins: a denied tool is refused; an
 * unknown tool and a high-risk tool wait for a human; a call above `low` waits for a human when
 * the session's environment is gated (so production gates everything above low) or when the agent
 * reported a confidence below the threshold (null = no signal yet, not low; NaN is a broken
 * signal and counts as low, so it can never relax a gate); otherwise `medium` runs and notifies
 * and `low` runs. An approved follow-up turns a high-risk call into one handled like `medium`.
 * Refusal and approval come first so that no later rule can loosen them.
 */
export function shouldGate(
  session: GateSession,
  call: GateCall,
  confidence: number | null,
  policy: GatePolicy,
): GateDecision {
  const risk = resolveToolRisk(call, policy);
  if (risk === "deny") return decision("deny", "denied_tool", risk);
  if (risk === null) return decision("approve", "unknown_tool", risk);
  const followUp = risk === "high" && call.approvedFollowUp === true;
  if (risk === "high" && !followUp) return decision("approve", "high_risk_tool", risk);
  // Only `medium` (or an approved follow-up) is left above `low`.
  if (risk === "medium" || followUp) {
    const environment = session.environment?.toLowerCase() ?? null;
    if (
      environment !== null &&
      policy.gatedEnvironments.some((gated) => gated.toLowerCase() === environment)
    ) {
      return decision("approve", "gated_env", risk);
    }
    if (confidence !== null && !(confidence >= policy.confidenceThreshold)) {
      return decision("approve", "low_confidence", risk);
    }
    return decision("notify", followUp ? "follow_up_auto" : "medium_risk", risk);
  }
  if (risk === "low") return decision("auto", "low_risk", risk);
  // A value outside TOOL_RISKS got past config validation: fail closed, as for an unknown tool.
  return decision("approve", "unknown_tool", null);
}
