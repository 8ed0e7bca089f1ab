import { readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { isScalar, visit } from "yaml";
import { checkSkillReferences, type AgentPrompt } from "./check-skill-references.js";
import { SkillPackError, type SkillProblem } from "./skill-pack-error.js";
import { parseToolPattern, skillFileSchema, toSkillMcpServer, type SkillFile } from "./skill-pack-schema.js";
import type { SkillAgent, SkillInput, SkillPack } from "./skill-pack.js";
import { skillSchemaProblems } from "./skill-schema-problems.js";
import { locate, parseYamlSource, positionAt, type YamlSource } from "./yaml-positions.js";

export const SKILL_FILE_NAME = "skill.yaml";
/** skill.yaml is a short description of a team; anything bigger is a mistake or an attack. */
const MAX_SKILL_FILE_BYTES = 1024 * 1024;

export interface SkillPackContext {
  /** Model names from shepherd.yaml's `llm.models`; an agent's `model` must be one or `default`. */
  models: readonly string[];
}

/** A problem with the file as a whole, which has no better place than its start. */
function fileProblem(file: string, message: string): SkillPackError {
  return new SkillPackError([{ file, line: 1, column: 1, message }]);
}

async function readSkillFile(file: string): Promise<string> {
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => error);
  if (info instanceof Error) {
    const missing = info.code === "ENOENT" || info.code === "ENOTDIR";
    throw fileProblem(
      file,
      missing
        ? `${SKILL_FILE_NAME} not found: a skill pack directory must hold one`
        : `cannot be read (${info.code})`,
    );
  }
  if (!info.isFile()) throw fileProblem(file, "is not a regular file");
  if (info.size > MAX_SKILL_FILE_BYTES)
    throw fileProblem(file, `is larger than ${MAX_SKILL_FILE_BYTES / 1024} KiB`);
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw fileProblem(file, `cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

/**
 * YAML gives `__proto__` keys to JavaScript as own keys, but zod drops them from records without a
 * word; report them rather than silently ignore part of the file.
 */
function reservedKeyProblems(source: YamlSource): SkillProblem[] {
  const problems: SkillProblem[] = [];
  visit(source.document, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === "__proto__") {
        problems.push({
          ...positionAt(source, pair.key.range?.[0] ?? 0),
          message: '"__proto__" is not a valid key',
        });
      }
    },
  });
  return problems;
}

/**
 * Loads and validates the skill pack in `dir` (SPEC C6). Throws a `SkillPackError` holding every
 * problem found, each at the file, line and column of the YAML node concerned. Secret refs are
 * parsed, never resolved.
 */
export async function loadSkillPack(dir: string, context: SkillPackContext): Promise<SkillPack> {
  const packDir = path.resolve(dir);
  const file = path.join(packDir, SKILL_FILE_NAME);
  const text = await readSkillFile(file);
  // skill.yaml was just read, so the directory exists: realpath fails only in a race.
  const realDir = await realpath(packDir);

  const { source, problems } = parseYamlSource(file, text);
  if (problems.length > 0) throw new SkillPackError(problems);
  problems.push(...reservedKeyProblems(source));
  let raw: unknown;
  try {
    raw = source.document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // Too many aliases (a "billion laughs" document) is the one way toJS fails.
    throw fileProblem(file, `YAML: ${(error as Error).message}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new SkillPackError([
      { ...locate(source, []), message: "skill.yaml must be a map with name, description, entry and agents" },
    ]);
  }
  const record = raw as Record<string, unknown>;

  const parsed = skillFileSchema.safeParse(record);
  if (!parsed.success) problems.push(...skillSchemaProblems(source, record, parsed.error));
  const references = await checkSkillReferences(source, record, {
    models: context.models,
    dir: packDir,
    realDir,
  });
  problems.push(...references.problems);
  if (problems.length > 0 || !parsed.success) throw new SkillPackError(problems);
  return toSkillPack(source, packDir, parsed.data, references.prompts);
}

function toSkillPack(
  source: YamlSource,
  dir: string,
  data: SkillFile,
  prompts: ReadonlyMap<string, AgentPrompt>,
): SkillPack {
  const inputs = new Map<string, SkillInput>(
    Object.entries(data.inputs ?? {}).map(([name, input]) => [
      name,
      { name, description: input.description, required: input.required, default: input.default ?? null },
    ]),
  );
  const agents = new Map<string, SkillAgent>();
  for (const [name, agent] of Object.entries(data.agents)) {
    const prompt = prompts.get(name);
    // checkSkillReferences read every prompt of a schema-valid agent, or reported why not.
    if (!prompt) throw new Error(`skill pack ${data.name}: no prompt read for agent ${name}`);
    agents.set(name, {
      name,
      description: agent.description ?? null,
      model: agent.model,
      prompt: prompt.text,
      promptFiles: prompt.files,
      toolPatterns: agent.tools.map((pattern, index) => ({
        pattern,
        ...parseToolPattern(pattern),
        at: locate(source, ["agents", name, "tools", index]),
      })),
      maxSteps: agent.max_steps,
      confidenceThreshold: agent.confidence_threshold ?? null,
      routes: agent.routes.map((route) => ({ when: route.when, next: route.next })),
    });
  }
  return {
    name: data.name,
    description: data.description,
    dir,
    file: source.file,
    nameAt: locate(source, ["name"]),
    entry: data.entry,
    inputs,
    mcpServers: new Map(
      Object.entries(data.mcp_servers ?? {}).map(([name, server]) => [name, toSkillMcpServer(name, server)]),
    ),
    declaredRisks: new Map(Object.entries(data.tools ?? {})),
    agents,
  };
}

/**
 * Loads several packs. Problems from every pack are reported together, and two packs with one
 * name are an error at the second, naming the first.
 */
export async function loadSkillPacks(
  dirs: readonly string[],
  context: SkillPackContext,
): Promise<SkillPack[]> {
  const problems: SkillProblem[] = [];
  const packs: SkillPack[] = [];
  for (const dir of dirs) {
    try {
      packs.push(await loadSkillPack(dir, context));
    } catch (error) {
      if (!(error instanceof SkillPackError)) throw error;
      problems.push(...error.problems);
    }
  }
  const byName = new Map<string, SkillPack>();
  for (const pack of packs) {
    const first = byName.get(pack.name);
    if (!first) {
      byName.set(pack.name, pack);
      continue;
    }
    const firstAt = `${first.nameAt.file}:${first.nameAt.line}:${first.nameAt.column}`;
    problems.push({
      ...pack.nameAt,
      message:
        first.file === pack.file
          ? `skill pack "${pack.name}" is listed twice`
          : `skill pack name "${pack.name}" is also used by ${firstAt}`,
    });
  }
  if (problems.length > 0) throw new SkillPackError(problems);
  return packs;
}
