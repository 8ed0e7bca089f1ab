import { shouldGate, type GateDecision } from "../../domain/should-gate.js";
import type { GatePolicy } from "../../domain/gate-policy.js";
import { fillInjectedArgs, stripInjectedArgs } from "../../domain/inject-args.js";
import type { LlmToolSpec } from "../../agents/llm/llm-port.js";
import type { McpConnections } from "../../agents/mcp/mcp-connections.js";
import type { McpTool } from "../../agents/mcp/mcp-tool.js";
import {
  builtinTool,
  builtinToolSchema,
  type BuiltinToolContext,
  type ToolOutcome,
} from "../../agents/tools/builtin-tools.js";
import { BUILTIN_SERVER, type ToolRef } from "../../agents/skills/skill-pack.js";

/** Arguments the framework fills from the session; the LLM never sees or sets them. */
export const INJECTED_ARGS = ["sessionId", "repo", "environment"] as const;

/** A tool as one agent offers it: the name the LLM uses, and where the call goes. */
export interface AgentTool {
  llmName: string;
  server: string;
  tool: string;
  spec: LlmToolSpec;
  /** The schema the tool itself takes (injected arguments included). */
  fullSchema: Record<string, unknown>;
}

/** Provider-safe names: `read_file`, `metrics__get_ctr` (MCP server and tool joined by `__`). */
function llmName(ref: ToolRef): string {
  const raw = ref.server === BUILTIN_SERVER ? ref.name : `${ref.server}__${ref.name}`;
  return raw.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 64);
}

/** The tools an agent offers the LLM, from its resolved tool refs. */
export function agentTools(refs: readonly ToolRef[], mcpTools: readonly McpTool[]): AgentTool[] {
  return refs.map((ref) => {
    let description: string;
    let fullSchema: Record<string, unknown>;
    if (ref.server === BUILTIN_SERVER) {
      const builtin = builtinTool(ref.name);
      if (!builtin) throw new Error(`unknown built-in tool ${ref.name}`);
      description = builtin.description;
      fullSchema = builtinToolSchema(builtin);
    } else {
      const mcp = mcpTools.find((tool) => tool.server === ref.server && tool.name === ref.name);
      if (!mcp) throw new Error(`unknown MCP tool ${ref.server}:${ref.name}`);
      description = mcp.description;
      fullSchema = mcp.inputSchema;
    }
    const name = llmName(ref);
    return {
      llmName: name,
      server: ref.server,
      tool: ref.name,
      fullSchema,
      spec: { name, description, inputSchema: stripInjectedArgs(fullSchema, INJECTED_ARGS) },
    };
  });
}

export interface ToolCallPlan {
  args: Record<string, unknown>;
  gate: GateDecision;
  /** The LLM set an injected argument to something else: the framework's value was used. */
  overridden: string[];
}

/** Fills injected arguments and asks the gate (SPEC C6 "Gate"). */
export function planToolCall(
  tool: AgentTool,
  llmArgs: unknown,
  session: { id: string; repo: string | null; environment: string | null },
  confidence: number | null,
  policy: GatePolicy,
  approvedFollowUp = false,
): ToolCallPlan {
  const given =
    llmArgs !== null && typeof llmArgs === "object" && !Array.isArray(llmArgs)
      ? (llmArgs as Record<string, unknown>)
      : {};
  const { args, overridden } = fillInjectedArgs(
    given,
    { sessionId: session.id, repo: session.repo, environment: session.environment },
    tool.fullSchema,
  );
  const declaredRisk = tool.server === BUILTIN_SERVER ? (builtinTool(tool.tool)?.declaredRisk ?? null) : null;
  const gate = shouldGate(
    { environment: session.environment },
    { server: tool.server, tool: tool.tool, declaredRisk, approvedFollowUp },
    confidence,
    policy,
  );
  return { args, gate, overridden };
}

/** Runs one call: a built-in in process, an MCP tool on its server. Errors become error results. */
export async function executeTool(
  tool: AgentTool,
  args: Record<string, unknown>,
  context: BuiltinToolContext,
  mcp: McpConnections | null,
  signal?: AbortSignal,
): Promise<ToolOutcome> {
  if (tool.server === BUILTIN_SERVER) {
    const builtin = builtinTool(tool.tool);
    if (!builtin) return { result: { error: `unknown tool ${tool.tool}` }, isError: true };
    const parsed = builtin.schema.safeParse(args);
    if (!parsed.success) {
      return {
        result: { error: "invalid arguments", issues: parsed.error.issues.map((issue) => issue.message) },
        isError: true,
      };
    }
    try {
      return await builtin.run(parsed.data as never, context);
    } catch (error) {
      return { result: { error: error instanceof Error ? error.message : String(error) }, isError: true };
    }
  }
  if (!mcp) return { result: { error: `MCP server ${tool.server} is not connected` }, isError: true };
  const answer = await mcp.callTool(tool.server, tool.tool, args, signal);
  return { result: answer.structuredContent ?? answer.text, isError: answer.isError };
}
