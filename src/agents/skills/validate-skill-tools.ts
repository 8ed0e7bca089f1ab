import { SkillPackError, type SkillProblem } from "./skill-pack-error.js";
import { BUILTIN_SERVER, type SkillPack, type ToolRef } from "./skill-pack.js";

/** Enough names to spot a typo, few enough to keep the message on one screen. */
const MAX_LISTED = 20;

function qualified(tool: ToolRef): string {
  return `${tool.server}:${tool.name}`;
}

/** Shepherd's own tools first, then MCP servers by name: a stable order for messages. */
function byServer(a: ToolRef, b: ToolRef): number {
  if (a.server !== b.server) {
    if (a.server === BUILTIN_SERVER) return -1;
    if (b.server === BUILTIN_SERVER) return 1;
    return a.server < b.server ? -1 : 1;
  }
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Turns each agent's tool patterns into the concrete tools it may call, once the MCP servers have
 * been started and have listed their tools (`available`, built-ins with server `builtin`).
 * A bare name must match exactly one tool across all servers, so adding a server can never
 * silently change which tool an agent calls. Throws a `SkillPackError` with every problem, each
 * at its entry in skill.yaml.
 */
export function resolveSkillTools(pack: SkillPack, available: readonly ToolRef[]): Map<string, ToolRef[]> {
  const byName = new Map<string, ToolRef[]>();
  const byServerName = new Map<string, ToolRef[]>();
  const seen = new Set<string>();
  for (const tool of available) {
    const key = qualified(tool);
    if (seen.has(key)) continue;
    seen.add(key);
    const ref = { server: tool.server, name: tool.name };
    byName.set(tool.name, [...(byName.get(tool.name) ?? []), ref]);
    byServerName.set(tool.server, [...(byServerName.get(tool.server) ?? []), ref]);
  }

  const problems: SkillProblem[] = [];
  const resolved = new Map<string, ToolRef[]>();
  for (const agent of pack.agents.values()) {
    const tools: ToolRef[] = [];
    const taken = new Set<string>();
    const take = (tool: ToolRef): void => {
      if (taken.has(qualified(tool))) return;
      taken.add(qualified(tool));
      tools.push(tool);
    };
    for (const pattern of agent.toolPatterns) {
      const fail = (message: string): void => {
        problems.push({ ...pattern.at, message });
      };
      if (pattern.server === null) {
        const matches = [...(byName.get(pattern.tool) ?? [])].sort(byServer);
        const [only] = matches;
        if (matches.length === 1 && only) take(only);
        else if (matches.length === 0) fail(`unknown tool "${pattern.tool}"`);
        else {
          fail(
            `tool "${pattern.tool}" is ambiguous: ${matches.map(qualified).join(", ")} — write server:tool`,
          );
        }
        continue;
      }
      const offered = byServerName.get(pattern.server) ?? [];
      if (pattern.tool === "*") {
        if (offered.length === 0)
          fail(`MCP server "${pattern.server}" offers no tools, so "${pattern.pattern}" matches none`);
        for (const tool of offered) take(tool);
        continue;
      }
      const match = offered.find((tool) => tool.name === pattern.tool);
      if (match) take(match);
      else {
        const names = offered.map((tool) => tool.name).sort();
        const shown = `${names.slice(0, MAX_LISTED).join(", ")}${names.length > MAX_LISTED ? ", …" : ""}`;
        fail(
          pattern.server === BUILTIN_SERVER
            ? `unknown tool "${pattern.pattern}": there is no built-in tool "${pattern.tool}"` +
                (names.length > 0 ? `; built-in tools: ${shown}` : "")
            : `unknown tool "${pattern.pattern}": MCP server "${pattern.server}" has no tool "${pattern.tool}"; ` +
                (names.length > 0 ? `it offers ${shown}` : "it offers no tools"),
        );
      }
    }
    resolved.set(agent.name, tools);
  }
  if (problems.length > 0) throw new SkillPackError(problems);
  return resolved;
}
