import { describe, expect, it } from "vitest";
import { DEFAULT_GATE_POLICY, type GatePolicy, type ToolRisk } from "./gate-policy.js";
import { resolveToolRisk, shouldGate, type GateCall, type GateDecision } from "./should-gate.js";

function call(server: string, tool: string, declaredRisk: ToolRisk | null = null): GateCall {
  return { server, tool, declaredRisk };
}

function policy(tools: Record<string, ToolRisk>, over: Partial<GatePolicy> = {}): GatePolicy {
  return { ...DEFAULT_GATE_POLICY, tools, ...over };
}

const dev = { environment: "staging" };
const prod = { environment: "production" };
const none = { environment: null };

describe("DEFAULT_GATE_POLICY", () => {
  it("trusts nothing by name, wants 0.7 confidence and gates production", () => {
    expect(DEFAULT_GATE_POLICY).toEqual({
      tools: {},
      confidenceThreshold: 0.7,
      gatedEnvironments: ["production"],
    });
  });

  it("cannot be changed by a caller", () => {
    expect(Object.isFrozen(DEFAULT_GATE_POLICY)).toBe(true);
    expect(Object.isFrozen(DEFAULT_GATE_POLICY.tools)).toBe(true);
    expect(Object.isFrozen(DEFAULT_GATE_POLICY.gatedEnvironments)).toBe(true);
  });
});

describe("resolveToolRisk", () => {
  const all: Record<string, ToolRisk> = {
    "github:merge_pr": "high",
    merge_pr: "medium",
    "github:*": "low",
    "*": "deny",
  };

  it.each<[string, GateCall, Record<string, ToolRisk>, ToolRisk | null]>([
    ["qualified beats everything", call("github", "merge_pr"), all, "high"],
    ["bare beats server glob and *", call("gitlab", "merge_pr"), all, "medium"],
    ["server glob beats *", call("github", "list_issues"), all, "low"],
    ["* catches the rest", call("slack", "post"), all, "deny"],
    [
      "a more specific low beats a broader high",
      call("fs", "read"),
      { "fs:read": "low", "fs:*": "high" },
      "low",
    ],
    ["a more specific high beats a broader low", call("fs", "write"), { write: "high", "*": "low" }, "high"],
    ["a bare low beats a server glob deny", call("fs", "stat"), { stat: "low", "fs:*": "deny" }, "low"],
    ["a qualified deny beats a bare low", call("fs", "rm"), { "fs:rm": "deny", rm: "low" }, "deny"],
    [
      "the operator's map beats the declared risk",
      call("shepherd", "read_file", "low"),
      { read_file: "high" },
      "high",
    ],
    [
      "the operator's * beats the declared risk",
      call("shepherd", "read_file", "low"),
      { "*": "medium" },
      "medium",
    ],
    [
      "the declared risk applies when the map has no match",
      call("shepherd", "read_file", "low"),
      { "github:*": "high" },
      "low",
    ],
    ["no match and nothing declared → unknown", call("mcp", "anything"), { "github:*": "low" }, null],
    ["an empty map and nothing declared → unknown", call("mcp", "anything"), {}, null],
    // Exact keys: "*" is no pattern inside a name, and names never match by prefix or pattern.
    [
      "a key with * inside a name is not a pattern",
      call("github", "merge_pr"),
      { "github:merge_*": "low" },
      null,
    ],
    ["a server glob is for its server only", call("git", "push"), { "github:*": "low" }, null],
    ["a bare name is matched whole, not as a prefix", call("fs", "read_all"), { read: "low" }, null],
    ["matching is case-sensitive", call("fs", "Read"), { read: "low" }, null],
    ["regex syntax in a key is literal", call("fs", "read"), { "r.ad": "low", "fs:.*": "low" }, null],
    // Names that look like map syntax match only the levels they cannot spoof.
    [
      "a tool named like another server's tool does not take its bare entry",
      call("evil", "github:merge_pr"),
      { "github:merge_pr": "low" },
      null,
    ],
    [
      "a tool named * does not stand in for the catch-all ahead of its server glob",
      call("fs", "*"),
      { "*": "low", "fs:*": "high" },
      "high",
    ],
    ["a tool named * still gets its server glob", call("fs", "*"), { "fs:*": "medium" }, "medium"],
    ["a tool with : still gets the catch-all", call("evil", "a:b"), { "a:b": "low", "*": "high" }, "high"],
    [
      "a server with : does not take another's qualified entry",
      call("github:merge_pr", "x"),
      { "github:merge_pr:x": "low" },
      null,
    ],
    ["a server named * does not match the catch-all as its glob", call("*", "x"), { "*:*": "low" }, null],
    // Own keys only.
    ["a tool named constructor does not find Object.prototype's", call("mcp", "constructor"), {}, null],
    ["a tool named __proto__ does not find the prototype", call("mcp", "__proto__"), {}, null],
    ["a tool named toString is unknown", call("mcp", "toString", null), { "mcp:x": "low" }, null],
  ])("%s", (_name, input, tools, expected) => {
    expect(resolveToolRisk(input, policy(tools))).toBe(expected);
  });

  it("finds an own key named like a prototype member", () => {
    const tools: Record<string, ToolRisk> = { constructor: "low" as ToolRisk };
    expect(resolveToolRisk(call("mcp", "constructor"), policy(tools))).toBe("low");
  });
});

describe("shouldGate", () => {
  const tools: Record<string, ToolRisk> = {
    "fs:rm": "deny",
    "fs:write": "high",
    "fs:edit": "medium",
    "fs:read": "low",
  };
  const gate = (session: { environment: string | null }, input: GateCall, confidence: number | null) =>
    shouldGate(session, input, confidence, policy(tools));

  it.each<[string, () => GateDecision, GateDecision]>([
    // 1. deny first, whatever else holds.
    [
      "deny → deny",
      () => gate(dev, call("fs", "rm"), 0.9),
      { action: "deny", reason: "denied_tool", risk: "deny" },
    ],
    [
      "deny beats production and low confidence",
      () => gate(prod, call("fs", "rm"), 0.1),
      { action: "deny", reason: "denied_tool", risk: "deny" },
    ],
    // 2. unknown tools wait for a human.
    [
      "unknown → approve",
      () => gate(dev, call("mcp", "mystery"), 0.99),
      { action: "approve", reason: "unknown_tool", risk: null },
    ],
    [
      "unknown beats production",
      () => gate(prod, call("mcp", "mystery"), null),
      { action: "approve", reason: "unknown_tool", risk: null },
    ],
    // 3. high.
    [
      "high → approve",
      () => gate(dev, call("fs", "write"), 0.99),
      { action: "approve", reason: "high_risk_tool", risk: "high" },
    ],
    [
      "high beats production",
      () => gate(prod, call("fs", "write"), 0.99),
      { action: "approve", reason: "high_risk_tool", risk: "high" },
    ],
    [
      "high beats low confidence",
      () => gate(dev, call("fs", "write"), 0.1),
      { action: "approve", reason: "high_risk_tool", risk: "high" },
    ],
    // 4. gated environment.
    [
      "medium in production → approve",
      () => gate(prod, call("fs", "edit"), 0.99),
      { action: "approve", reason: "gated_env", risk: "medium" },
    ],
    [
      "gated environment beats low confidence",
      () => gate(prod, call("fs", "edit"), 0.1),
      { action: "approve", reason: "gated_env", risk: "medium" },
    ],
    [
      "environment names compare case-insensitively",
      () => gate({ environment: "PRODUCTION" }, call("fs", "edit"), null),
      { action: "approve", reason: "gated_env", risk: "medium" },
    ],
    [
      "configured names compare case-insensitively too",
      () =>
        shouldGate(
          { environment: "prod" },
          call("fs", "edit"),
          null,
          policy(tools, { gatedEnvironments: ["Prod"] }),
        ),
      { action: "approve", reason: "gated_env", risk: "medium" },
    ],
    [
      "an environment is matched whole",
      () => gate({ environment: "production-eu" }, call("fs", "edit"), null),
      { action: "notify", reason: "medium_risk", risk: "medium" },
    ],
    [
      "low in production → auto",
      () => gate(prod, call("fs", "read"), 0.1),
      { action: "auto", reason: "low_risk", risk: "low" },
    ],
    [
      "no gated environments configured",
      () => shouldGate(prod, call("fs", "edit"), null, policy(tools, { gatedEnvironments: [] })),
      { action: "notify", reason: "medium_risk", risk: "medium" },
    ],
    // 5. low confidence.
    [
      "medium, confidence below the threshold → approve",
      () => gate(dev, call("fs", "edit"), 0.69),
      { action: "approve", reason: "low_confidence", risk: "medium" },
    ],
    [
      "medium, confidence at the threshold is not low",
      () => gate(dev, call("fs", "edit"), 0.7),
      { action: "notify", reason: "medium_risk", risk: "medium" },
    ],
    [
      "medium, no confidence yet is not low",
      () => gate(dev, call("fs", "edit"), null),
      { action: "notify", reason: "medium_risk", risk: "medium" },
    ],
    [
      "medium, NaN confidence counts as low",
      () => gate(dev, call("fs", "edit"), Number.NaN),
      { action: "approve", reason: "low_confidence", risk: "medium" },
    ],
    [
      "medium, no environment, confidence 0 → approve",
      () => gate(none, call("fs", "edit"), 0),
      { action: "approve", reason: "low_confidence", risk: "medium" },
    ],
    [
      "the policy's threshold is used",
      () => shouldGate(dev, call("fs", "edit"), 0.69, policy(tools, { confidenceThreshold: 0.5 })),
      { action: "notify", reason: "medium_risk", risk: "medium" },
    ],
    [
      "low, low confidence → auto",
      () => gate(dev, call("fs", "read"), 0),
      { action: "auto", reason: "low_risk", risk: "low" },
    ],
    // An approved follow-up (followUps: auto) is a high-risk call that runs and notifies…
    [
      "high, approved follow-up → notify",
      () => gate(dev, { ...call("fs", "write"), approvedFollowUp: true }, 0.9),
      { action: "notify", reason: "follow_up_auto", risk: "high" },
    ],
    // …unless the environment or a low confidence asks for a human,…
    [
      "approved follow-up in production → approve",
      () => gate(prod, { ...call("fs", "write"), approvedFollowUp: true }, 0.9),
      { action: "approve", reason: "gated_env", risk: "high" },
    ],
    [
      "approved follow-up with low confidence → approve",
      () => gate(dev, { ...call("fs", "write"), approvedFollowUp: true }, 0.2),
      { action: "approve", reason: "low_confidence", risk: "high" },
    ],
    // …and it never loosens a refusal or an unknown tool, nor tightens a low one.
    [
      "approved follow-up of a denied tool → deny",
      () => gate(dev, { ...call("fs", "rm"), approvedFollowUp: true }, 0.9),
      { action: "deny", reason: "denied_tool", risk: "deny" },
    ],
    [
      "approved follow-up of an unknown tool → approve",
      () => gate(dev, { ...call("mcp", "mystery"), approvedFollowUp: true }, 0.9),
      { action: "approve", reason: "unknown_tool", risk: null },
    ],
    [
      "approved follow-up of a low tool → auto",
      () => gate(dev, { ...call("fs", "read"), approvedFollowUp: true }, 0.9),
      { action: "auto", reason: "low_risk", risk: "low" },
    ],
    // 6. and 7.
    [
      "medium → notify",
      () => gate(dev, call("fs", "edit"), 0.9),
      { action: "notify", reason: "medium_risk", risk: "medium" },
    ],
    [
      "low → auto",
      () => gate(none, call("fs", "read"), 0.9),
      { action: "auto", reason: "low_risk", risk: "low" },
    ],
    // Declared risk of built-ins.
    [
      "a built-in's declared low runs when the operator says nothing",
      () => gate(dev, call("shepherd", "search_code", "low"), null),
      { action: "auto", reason: "low_risk", risk: "low" },
    ],
    [
      "a built-in's declared medium is gated in production",
      () => gate(prod, call("shepherd", "propose_change", "medium"), null),
      { action: "approve", reason: "gated_env", risk: "medium" },
    ],
    [
      "a built-in cannot declare its way past the operator",
      () => shouldGate(dev, call("shepherd", "search_code", "low"), null, policy({ search_code: "deny" })),
      { action: "deny", reason: "denied_tool", risk: "deny" },
    ],
    [
      "the operator can lower a built-in's declared risk",
      () =>
        shouldGate(
          dev,
          call("shepherd", "propose_change", "high"),
          null,
          policy({ "shepherd:propose_change": "low" }),
        ),
      { action: "auto", reason: "low_risk", risk: "low" },
    ],
    [
      "a risk value outside TOOL_RISKS fails closed",
      () => shouldGate(dev, call("fs", "x"), 0.9, policy({ x: "LOW" as ToolRisk })),
      { action: "approve", reason: "unknown_tool", risk: null },
    ],
  ])("%s", (_name, run, expected) => {
    expect(run()).toEqual(expected);
  });
});
