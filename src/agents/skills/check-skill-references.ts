import { readSkillPrompt } from "./read-skill-prompt.js";
import type { SkillProblem } from "./skill-pack-error.js";
import {
  parseToolPattern,
  skillAgentSchema,
  TOOL_PATTERN,
  type SkillAgentInput,
} from "./skill-pack-schema.js";
import { BUILTIN_SERVER, DEFAULT_MODEL, DEFAULT_ROUTE, END_OF_SESSION } from "./skill-pack.js";
import { locate, problemAt, type YamlSource } from "./yaml-positions.js";

export interface SkillReferenceContext {
  /** Model names from shepherd.yaml's `llm.models`. */
  models: readonly string[];
  /** The pack directory, absolute, and its realpath (for the symlink check). */
  dir: string;
  realDir: string;
}

export interface AgentPrompt {
  text: string;
  files: string[];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Own keys, minus `__proto__` (reported on its own as reserved). */
function keysOf(value: unknown): string[] {
  return isPlainObject(value) ? Object.keys(value).filter((key) => key !== "__proto__") : [];
}

function quotedList(names: Iterable<string>): string {
  return [...names].map((name) => `"${name}"`).join(", ");
}

/**
 * The checks that need the whole file or the disk: `entry` and route targets, default routes,
 * models, tool servers and prompt files. They run on the raw document, each agent on its own,
 * so one agent's schema error neither hides another agent's problems nor causes false ones
 * (its name still counts as defined).
 */
export async function checkSkillReferences(
  source: YamlSource,
  raw: Record<string, unknown>,
  context: SkillReferenceContext,
): Promise<{ problems: SkillProblem[]; prompts: Map<string, AgentPrompt> }> {
  const problems: SkillProblem[] = [];
  const prompts = new Map<string, AgentPrompt>();
  const agentNames = new Set(keysOf(raw.agents));
  const serverNames = new Set(keysOf(raw.mcp_servers));

  const entry = raw.entry;
  if (typeof entry === "string" && entry !== "" && agentNames.size > 0 && !agentNames.has(entry)) {
    problems.push(
      problemAt(source, ["entry"], `entry "${entry}" names no agent; agents: ${quotedList(agentNames)}`),
    );
  }

  const checkServer = (pattern: string, keyPath: PropertyKey[], asKey: boolean): void => {
    if (!TOOL_PATTERN.test(pattern)) return;
    const { server } = parseToolPattern(pattern);
    if (server === null || server === BUILTIN_SERVER || serverNames.has(server)) return;
    const declared = serverNames.size > 0 ? `declared: ${quotedList(serverNames)}` : "none is declared";
    problems.push(
      problemAt(
        source,
        keyPath,
        `tool "${pattern}" names MCP server "${server}", which is not under mcp_servers (${declared})`,
        { key: asKey },
      ),
    );
  };
  for (const pattern of keysOf(raw.tools)) checkServer(pattern, ["tools", pattern], true);

  const agents = isPlainObject(raw.agents) ? raw.agents : {};
  for (const name of agentNames) {
    const parsed = skillAgentSchema.safeParse(agents[name]);
    if (!parsed.success) continue;
    const at = ["agents", name];
    checkModel(source, at, parsed.data, context.models, problems);
    checkRoutes(source, at, parsed.data, agentNames, problems);
    const seen = new Set<string>();
    parsed.data.tools.forEach((pattern, index) => {
      if (seen.has(pattern)) {
        problems.push(problemAt(source, [...at, "tools", index], `tool "${pattern}" is listed twice`));
      }
      seen.add(pattern);
      checkServer(pattern, [...at, "tools", index], false);
    });
    const prompt = await readPrompts(source, at, parsed.data, context, problems);
    if (prompt) prompts.set(name, prompt);
  }
  return { problems, prompts };
}

function checkModel(
  source: YamlSource,
  at: string[],
  agent: SkillAgentInput,
  models: readonly string[],
  problems: SkillProblem[],
): void {
  if (agent.model === DEFAULT_MODEL || models.includes(agent.model)) return;
  const known =
    models.length > 0
      ? `configured models: ${models.join(", ")}`
      : `no models are configured (llm.models in shepherd.yaml), so only "${DEFAULT_MODEL}" can be used`;
  problems.push(problemAt(source, [...at, "model"], `unknown model "${agent.model}"; ${known}`));
}

function checkRoutes(
  source: YamlSource,
  at: string[],
  agent: SkillAgentInput,
  agentNames: ReadonlySet<string>,
  problems: SkillProblem[],
): void {
  const firstIndex = new Map<string, number>();
  agent.routes.forEach((route, index) => {
    const first = firstIndex.get(route.when);
    if (first === undefined) {
      firstIndex.set(route.when, index);
    } else {
      const firstLine = locate(source, [...at, "routes", first, "when"]).line;
      problems.push(
        problemAt(
          source,
          [...at, "routes", index, "when"],
          `a second route for "${route.when}" (the first is on line ${firstLine})`,
        ),
      );
    }
    if (route.next !== END_OF_SESSION && !agentNames.has(route.next)) {
      problems.push(
        problemAt(
          source,
          [...at, "routes", index, "next"],
          `next "${route.next}" names no agent; use one of ${quotedList(agentNames)} or "${END_OF_SESSION}"`,
        ),
      );
    }
  });
  if (!firstIndex.has(DEFAULT_ROUTE)) {
    problems.push(
      problemAt(
        source,
        [...at, "routes"],
        `agent "${at[at.length - 1]}" has no "when: ${DEFAULT_ROUTE}" route (taken when no other route matches)`,
      ),
    );
  }
}

async function readPrompts(
  source: YamlSource,
  at: string[],
  agent: SkillAgentInput,
  context: SkillReferenceContext,
  problems: SkillProblem[],
): Promise<AgentPrompt | null> {
  const entries: Array<[string, PropertyKey[]]> =
    typeof agent.prompt === "string"
      ? [[agent.prompt, [...at, "prompt"]]]
      : agent.prompt.map((written, index) => [written, [...at, "prompt", index]]);
  const texts: string[] = [];
  const files: string[] = [];
  let failed = false;
  for (const [written, keyPath] of entries) {
    const read = await readSkillPrompt(context.dir, context.realDir, written);
    if (!read.ok) {
      problems.push(problemAt(source, keyPath, read.message));
      failed = true;
      continue;
    }
    // Files are joined by one blank line whatever their own trailing whitespace.
    texts.push(read.text.replace(/\s+$/, ""));
    files.push(read.file);
  }
  return failed ? null : { text: texts.join("\n\n"), files };
}
