import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loadSkillPack, loadSkillPacks } from "../../src/agents/skills/load-skill-pack.js";
import { SkillPackError, type SkillProblem } from "../../src/agents/skills/skill-pack-error.js";
import { skillFileSchema } from "../../src/agents/skills/skill-pack-schema.js";
import type { SkillPack, ToolRef } from "../../src/agents/skills/skill-pack.js";
import { resolveSkillTools } from "../../src/agents/skills/validate-skill-tools.js";

const MODELS = ["small", "large"];

let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "shepherd-skill-pack-"));
});

afterEach(async () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await rm(root, { recursive: true, force: true });
});

/** One YAML line per argument, so a line number in an assertion is the argument's position. */
function lines(...text: string[]): string {
  return `${text.join("\n")}\n`;
}

/** Writes a pack directory under the test's temp root; `files` maps relative paths to content. */
async function writePack(files: Record<string, string | Buffer>, name = "pack"): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(dir, { recursive: true });
  for (const [relative, content] of Object.entries(files)) {
    const file = path.join(dir, relative);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  return dir;
}

async function refusal(dir: string, models: readonly string[] = MODELS): Promise<SkillPackError> {
  try {
    await loadSkillPack(dir, { models });
  } catch (error) {
    if (error instanceof SkillPackError) return error;
    throw error;
  }
  throw new Error("expected loadSkillPack to throw a SkillPackError");
}

/** Loads a pack whose skill.yaml is `yaml` and expects exactly these problems, in this order. */
async function expectProblems(
  yaml: string,
  expected: Array<Omit<SkillProblem, "file">>,
  extraFiles: Record<string, string | Buffer> = {},
): Promise<SkillPackError> {
  const dir = await writePack({ "skill.yaml": yaml, "prompts/main.md": "Do the work.\n", ...extraFiles });
  const error = await refusal(dir);
  const file = path.join(dir, "skill.yaml");
  expect(error.problems).toEqual(expected.map((problem) => ({ file, ...problem })));
  return error;
}

/** A small valid pack; cases below change one line of it. */
const MINI = [
  "name: mini",
  "description: A small pack",
  "entry: main",
  "agents:",
  "  main:",
  "    prompt: prompts/main.md",
  "    routes:",
  "      - { when: default, next: end }",
];

function miniWith(replace: Record<number, string | string[]>, append: string[] = []): string {
  const out: string[] = [];
  MINI.forEach((line, index) => {
    const replacement = replace[index + 1];
    if (replacement === undefined) out.push(line);
    else out.push(...(Array.isArray(replacement) ? replacement : [replacement]));
  });
  return lines(...out, ...append);
}

const FULL_YAML = lines(
  "name: config-tuner",
  "description: Tunes a search params file from evidence",
  "entry: tuner",
  "inputs:",
  '  params_path: { description: "path of the params file in the repo", required: true }',
  '  goal_metric: { description: "metric to improve", default: "ndcg@10" }',
  "mcp_servers:",
  "  metrics:",
  "    command: node",
  "    args: [mcp/metrics-server.mjs]",
  '    env: { METRICS_MODE: offline, METRICS_TOKEN: { secret: "env:METRICS_TOKEN" } }',
  "    timeout_seconds: 30",
  "  tracker:",
  "    url: http://127.0.0.1:7001/mcp",
  '    headers: { Authorization: { secret: "file:tracker-token", prefix: "Bearer " } }',
  "tools:",
  '  "metrics:get_ctr": low',
  '  "tracker:*": high',
  "agents:",
  "  tuner:",
  "    description: Reads the params and proposes one change",
  "    model: small",
  "    prompt: [prompts/base.md, prompts/tuner.md]",
  '    tools: [read_file, "metrics:get_ctr", "tracker:*"]',
  "    max_steps: 12",
  "    confidence_threshold: 0.7",
  "    routes:",
  "      - { when: needs_review, next: reviewer }",
  "      - { when: default, next: end }",
  "  reviewer: { prompt: prompts/reviewer.md, tools: [read_file], routes: [{ when: default, next: end }] }",
);

const FULL_FILES = {
  "skill.yaml": FULL_YAML,
  "prompts/base.md": "You are careful.\n\n\n",
  "prompts/tuner.md": "Tune the params.\n",
  "prompts/reviewer.md": "Review the change.",
  "mcp/metrics-server.mjs": "// a server the pack ships\n",
};

describe("loadSkillPack: a valid pack", () => {
  it("loads to the typed pack: prompts concatenated, defaults applied, secrets parsed", async () => {
    const dir = await writePack(FULL_FILES);
    const file = path.join(dir, "skill.yaml");
    const pack = await loadSkillPack(dir, { models: MODELS });

    expect(pack).toEqual({
      name: "config-tuner",
      description: "Tunes a search params file from evidence",
      dir,
      file,
      nameAt: { file, line: 1, column: 7 },
      entry: "tuner",
      inputs: new Map([
        [
          "params_path",
          {
            name: "params_path",
            description: "path of the params file in the repo",
            required: true,
            default: null,
          },
        ],
        [
          "goal_metric",
          { name: "goal_metric", description: "metric to improve", required: false, default: "ndcg@10" },
        ],
      ]),
      mcpServers: new Map([
        [
          "metrics",
          {
            transport: "stdio",
            name: "metrics",
            command: "node",
            args: ["mcp/metrics-server.mjs"],
            env: new Map<string, unknown>([
              ["METRICS_MODE", "offline"],
              ["METRICS_TOKEN", { secret: { kind: "env", variable: "METRICS_TOKEN" }, prefix: "" }],
            ]),
            timeoutSeconds: 30,
          },
        ],
        [
          "tracker",
          {
            transport: "http",
            name: "tracker",
            url: "http://127.0.0.1:7001/mcp",
            headers: new Map([
              ["Authorization", { secret: { kind: "file", name: "tracker-token" }, prefix: "Bearer " }],
            ]),
            timeoutSeconds: 60,
          },
        ],
      ]),
      declaredRisks: new Map([
        ["metrics:get_ctr", "low"],
        ["tracker:*", "high"],
      ]),
      agents: new Map([
        [
          "tuner",
          {
            name: "tuner",
            description: "Reads the params and proposes one change",
            model: "small",
            prompt: "You are careful.\n\nTune the params.",
            promptFiles: [path.join(dir, "prompts/base.md"), path.join(dir, "prompts/tuner.md")],
            toolPatterns: [
              { pattern: "read_file", server: null, tool: "read_file", at: { file, line: 24, column: 13 } },
              {
                pattern: "metrics:get_ctr",
                server: "metrics",
                tool: "get_ctr",
                at: { file, line: 24, column: 24 },
              },
              { pattern: "tracker:*", server: "tracker", tool: "*", at: { file, line: 24, column: 43 } },
            ],
            maxSteps: 12,
            confidenceThreshold: 0.7,
            routes: [
              { when: "needs_review", next: "reviewer" },
              { when: "default", next: "end" },
            ],
          },
        ],
        [
          "reviewer",
          {
            name: "reviewer",
            description: null,
            model: "default",
            prompt: "Review the change.",
            promptFiles: [path.join(dir, "prompts/reviewer.md")],
            toolPatterns: [
              { pattern: "read_file", server: null, tool: "read_file", at: { file, line: 30, column: 52 } },
            ],
            maxSteps: 20,
            confidenceThreshold: null,
            routes: [{ when: "default", next: "end" }],
          },
        ],
      ]),
    });
  });

  it("keeps secret refs as refs: a secret's value never enters the pack", async () => {
    const canary = "canary-secret-value-4242";
    vi.stubEnv("METRICS_TOKEN", canary);
    const dir = await writePack(FULL_FILES);
    const pack = await loadSkillPack(dir, { models: MODELS });
    const dump = JSON.stringify(pack, (_key, value: unknown) =>
      value instanceof Map ? Object.fromEntries(value as Map<string, unknown>) : value,
    );
    expect(dump).toContain("METRICS_TOKEN");
    expect(dump).not.toContain(canary);
  });

  it("accepts a relative pack path and resolves it to an absolute dir", async () => {
    const dir = await writePack({ "skill.yaml": lines(...MINI), "prompts/main.md": "Hi.\n" });
    vi.spyOn(process, "cwd").mockReturnValue(root);
    const pack = await loadSkillPack(path.relative(root, dir), { models: [] });
    expect(pack.dir).toBe(dir);
    expect(pack.file).toBe(path.join(dir, "skill.yaml"));
    expect(pack.agents.get("main")?.model).toBe("default");
  });

  it("exports the schema, which accepts the documented example", () => {
    const parsed = skillFileSchema.safeParse({
      name: "config-tuner",
      description: "d",
      entry: "tuner",
      agents: { tuner: { prompt: "prompts/tuner.md", routes: [{ when: "default", next: "end" }] } },
    });
    expect(parsed.success).toBe(true);
    expect(parsed.data?.agents.tuner).toEqual({
      prompt: "prompts/tuner.md",
      model: "default",
      tools: [],
      max_steps: 20,
      routes: [{ when: "default", next: "end" }],
    });
  });
});

describe("loadSkillPack: the file itself", () => {
  it("refuses a directory without skill.yaml", async () => {
    const dir = await writePack({ "prompts/main.md": "Hi.\n" });
    const error = await refusal(dir);
    expect(error.problems).toEqual([
      {
        file: path.join(dir, "skill.yaml"),
        line: 1,
        column: 1,
        message: "skill.yaml not found: a skill pack directory must hold one",
      },
    ]);
    expect(error.message).toBe(
      `${path.join(dir, "skill.yaml")}:1:1: skill.yaml not found: a skill pack directory must hold one`,
    );
  });

  it("refuses a pack directory that does not exist", async () => {
    const dir = path.join(root, "nowhere");
    const error = await refusal(dir);
    expect(error.problems).toEqual([
      expect.objectContaining({ file: path.join(dir, "skill.yaml"), line: 1, column: 1 }),
    ]);
    expect(error.problems[0]?.message).toContain("not found");
  });

  it("reports YAML syntax errors at yaml's own positions, all of them", async () => {
    await expectProblems(lines("name: mini", "\tdescription: A pack", "entry: main: first"), [
      { line: 2, column: 1, message: "YAML: Tabs are not allowed as indentation" },
      { line: 3, column: 8, message: "YAML: Nested mappings are not allowed in compact mappings" },
    ]);
  });

  it("refuses a key given twice, at the second", async () => {
    await expectProblems(miniWith({ 3: ["entry: main", "name: again"] }), [
      { line: 4, column: 1, message: "YAML: Map keys must be unique" },
    ]);
  });

  it("refuses a document that expands aliases without bound", async () => {
    const ten = (item: string): string => `[${Array<string>(10).fill(item).join(", ")}]`;
    await expectProblems(
      miniWith({}, [
        `x-a: &a ${ten("lol")}`,
        `x-b: &b ${ten("*a")}`,
        `x-c: &c ${ten("*b")}`,
        `x-d: &d ${ten("*c")}`,
      ]),
      [
        {
          line: 1,
          column: 1,
          message: "YAML: Excessive alias count indicates a resource exhaustion attack",
        },
      ],
    );
  });

  it("refuses a document that is not a map", async () => {
    await expectProblems(lines("# a list is not a pack", "- name: mini"), [
      { line: 2, column: 1, message: "skill.yaml must be a map with name, description, entry and agents" },
    ]);
  });

  it("refuses an empty file", async () => {
    await expectProblems("", [
      { line: 1, column: 1, message: "skill.yaml must be a map with name, description, entry and agents" },
    ]);
  });

  it("refuses a __proto__ key instead of dropping it silently", async () => {
    await expectProblems(miniWith({}, ["__proto__: { polluted: true }"]), [
      { line: 9, column: 1, message: '"__proto__" is not a valid key' },
      { line: 9, column: 1, message: "__proto__: unknown key" },
    ]);
  });
});

describe("loadSkillPack: schema violations", () => {
  it("points an unknown key at the key itself, at any depth", async () => {
    await expectProblems(
      miniWith({ 6: ["    prompt: prompts/main.md", "    temperature: 0.2"] }, ["colour: blue"]),
      [
        { line: 7, column: 5, message: "agents.main.temperature: unknown key" },
        { line: 10, column: 1, message: "colour: unknown key" },
      ],
    );
  });

  it("reports a missing required key at the map that lacks it", async () => {
    await expectProblems(miniWith({ 2: [], 6: [] }), [
      { line: 1, column: 1, message: 'missing required key "description"' },
      { line: 4, column: 3, message: 'agents.main: missing required key "prompt"' },
    ]);
  });

  it("reports a wrong type and an out-of-range number at the value", async () => {
    await expectProblems(
      miniWith({
        6: ["    prompt: prompts/main.md", '    max_steps: "many"', "    confidence_threshold: 1.5"],
      }),
      [
        {
          line: 7,
          column: 16,
          message: "agents.main.max_steps: Invalid input: expected number, received string",
        },
        {
          line: 8,
          column: 27,
          message: "agents.main.confidence_threshold: Too big: expected number to be <=1",
        },
      ],
    );
  });

  it("refuses a pack name that does not match the pattern", async () => {
    await expectProblems(miniWith({ 1: "name: Config_Tuner" }), [
      {
        line: 1,
        column: 7,
        message: "name: must be lower-case letters, digits and -, starting with a letter (at most 63)",
      },
    ]);
  });

  it("refuses a description over 500 characters", async () => {
    await expectProblems(miniWith({ 2: `description: ${"x".repeat(501)}` }), [
      { line: 2, column: 14, message: "description: Too big: expected string to have <=500 characters" },
    ]);
  });

  it("points a bad agent name at the name, and reserves end", async () => {
    await expectProblems(
      miniWith({ 3: "entry: Main", 5: "  Main:" }, [
        "  end: { prompt: prompts/main.md, routes: [{ when: default, next: end }] }",
      ]),
      [
        {
          line: 5,
          column: 3,
          message:
            'agents: invalid name "Main": agent names are lower-case letters, digits and _, starting with a letter (at most 64)',
        },
        {
          line: 9,
          column: 3,
          message:
            'agents: invalid name "end": "end" is reserved: a route\'s next uses it to end the session',
        },
      ],
    );
  });

  it("refuses a pack without agents", async () => {
    await expectProblems(lines("name: mini", "description: A pack", "entry: main", "agents: {}"), [
      { line: 4, column: 1, message: "agents: needs at least one agent" },
    ]);
  });

  it("refuses a prompt that is neither a path nor a list of paths", async () => {
    await expectProblems(miniWith({ 6: "    prompt: 42" }), [
      {
        line: 6,
        column: 13,
        message: "agents.main.prompt: must be a path or a list of paths to .md files in the pack",
      },
    ]);
  });

  it("refuses a route signal that is not a signal name", async () => {
    await expectProblems(
      miniWith({ 8: ["      - { when: Needs-Review, next: end }", "      - { when: default, next: end }"] }),
      [
        {
          line: 8,
          column: 17,
          message:
            "agents.main.routes.0.when: must be a signal name (lower-case letters, digits and _, at most 32) or default",
        },
      ],
    );
  });

  it("refuses a tool entry that is not a tool pattern", async () => {
    await expectProblems(
      miniWith({ 6: ["    prompt: prompts/main.md", '    tools: [read_file, "metrics:"]'] }),
      [
        {
          line: 7,
          column: 24,
          message: 'agents.main.tools.1: must be a tool name ("read_file"), "server:tool" or "server:*"',
        },
      ],
    );
  });

  it("refuses an input that is required and has a default", async () => {
    await expectProblems(
      miniWith({}, ["inputs:", "  path: { description: the file, required: true, default: a.json }"]),
      [
        {
          line: 10,
          column: 59,
          message:
            "inputs.path.default: a required input has no default (set required: false, or remove default)",
        },
      ],
    );
  });

  it("refuses an unknown declared risk", async () => {
    await expectProblems(miniWith({}, ["tools:", "  read_file: extreme"]), [
      { line: 10, column: 14, message: "tools.read_file: must be one of low, medium, high, deny" },
    ]);
  });
});

describe("loadSkillPack: MCP servers", () => {
  const withServer = (...server: string[]): string => miniWith({}, ["mcp_servers:", ...server]);

  it("refuses a server with both command and url, at url", async () => {
    await expectProblems(
      withServer("  metrics:", "    command: node", "    url: http://127.0.0.1:7001/mcp"),
      [
        {
          line: 12,
          column: 10,
          message:
            "mcp_servers.metrics.url: give either command (a stdio server) or url (an HTTP server), not both",
        },
      ],
    );
  });

  it("refuses a server with neither command nor url, at its name", async () => {
    await expectProblems(withServer("  metrics:", "    timeout_seconds: 5"), [
      {
        line: 10,
        column: 3,
        message: "mcp_servers.metrics: needs command (a stdio server) or url (an HTTP server)",
      },
    ]);
  });

  it("refuses a url that is not http(s)", async () => {
    await expectProblems(withServer("  tracker: { url: 'file:///etc/passwd' }"), [
      { line: 10, column: 19, message: "mcp_servers.tracker.url: must be an http(s) URL" },
    ]);
  });

  it("refuses a bad secret ref, at the ref", async () => {
    await expectProblems(
      withServer("  metrics:", "    command: node", '    env: { TOKEN: { secret: "vault:metrics" } }'),
      [
        {
          line: 12,
          column: 29,
          message:
            'mcp_servers.metrics.env.TOKEN.secret: "vault:metrics" is not a secret ref; use file:<name> or env:<VAR>',
        },
      ],
    );
  });

  it("refuses a secret file ref that climbs out of the secrets directory", async () => {
    await expectProblems(
      withServer(
        "  tracker:",
        "    url: https://tracker.example/mcp",
        '    headers: { X-Key: { secret: "file:../x" } }',
      ),
      [
        {
          line: 12,
          column: 33,
          message:
            'mcp_servers.tracker.headers.X-Key.secret: "file:../x": ".." is not allowed in a file: ref',
        },
      ],
    );
  });

  it("refuses headers on a stdio server and a header value with a line break", async () => {
    await expectProblems(
      withServer(
        "  metrics: { command: node, headers: { A: b } }",
        '  tracker: { url: "http://127.0.0.1:1/mcp", headers: { A: "x\\r\\nInjected: 1" } }',
      ),
      [
        {
          line: 10,
          column: 29,
          message:
            "mcp_servers.metrics.headers: headers are for HTTP servers (url), not stdio servers (command)",
        },
        {
          line: 11,
          column: 59,
          message: "mcp_servers.tracker.headers.A: must not contain control characters",
        },
      ],
    );
  });

  it('reserves the server name "builtin" and checks the pattern', async () => {
    await expectProblems(withServer("  builtin: { command: node }", "  Metrics: { command: node }"), [
      {
        line: 10,
        column: 3,
        message: 'mcp_servers: invalid name "builtin": "builtin" is reserved for Shepherd\'s own tools',
      },
      {
        line: 11,
        column: 3,
        message:
          'mcp_servers: invalid name "Metrics": MCP server names are lower-case letters, digits, _ and -, starting with a letter (at most 32)',
      },
    ]);
  });

  it("refuses a timeout out of range", async () => {
    await expectProblems(withServer("  metrics: { command: node, timeout_seconds: 601 }"), [
      {
        line: 10,
        column: 46,
        message: "mcp_servers.metrics.timeout_seconds: Too big: expected number to be <=600",
      },
    ]);
  });
});

describe("loadSkillPack: references", () => {
  it("refuses an entry that names no agent", async () => {
    await expectProblems(miniWith({ 3: "entry: mian" }), [
      { line: 3, column: 8, message: 'entry "mian" names no agent; agents: "main"' },
    ]);
  });

  it("refuses a route to an agent that does not exist", async () => {
    await expectProblems(
      miniWith({
        8: ["      - { when: needs_review, next: reviewer }", "      - { when: default, next: end }"],
      }),
      [{ line: 8, column: 37, message: 'next "reviewer" names no agent; use one of "main" or "end"' }],
    );
  });

  it("refuses an agent without a default route, at its routes key", async () => {
    await expectProblems(miniWith({ 8: "      - { when: success, next: end }" }), [
      {
        line: 7,
        column: 5,
        message: 'agent "main" has no "when: default" route (taken when no other route matches)',
      },
    ]);
  });

  it("refuses two routes with the same when, at the second", async () => {
    await expectProblems(
      miniWith({
        8: [
          "      - { when: failed, next: end }",
          "      - { when: default, next: end }",
          "      - { when: failed, next: main }",
        ],
      }),
      [{ line: 10, column: 17, message: 'a second route for "failed" (the first is on line 8)' }],
    );
  });

  it("refuses an unknown model, listing the configured ones", async () => {
    await expectProblems(miniWith({ 6: ["    model: gpt-9", "    prompt: prompts/main.md"] }), [
      { line: 6, column: 12, message: 'unknown model "gpt-9"; configured models: small, large' },
    ]);
  });

  it("says so when no model is configured", async () => {
    const dir = await writePack({
      "skill.yaml": miniWith({ 6: ["    model: small", "    prompt: prompts/main.md"] }),
      "prompts/main.md": "Hi.\n",
    });
    const error = await refusal(dir, []);
    expect(error.problems).toEqual([
      {
        file: path.join(dir, "skill.yaml"),
        line: 6,
        column: 12,
        message:
          'unknown model "small"; no models are configured (llm.models in shepherd.yaml), so only "default" can be used',
      },
    ]);
  });

  it("refuses a tool naming an MCP server the pack does not declare", async () => {
    await expectProblems(
      miniWith({
        6: ["    prompt: prompts/main.md", '    tools: [read_file, "nope:x", "builtin:read_file"]'],
      }),
      [
        {
          line: 7,
          column: 24,
          message: 'tool "nope:x" names MCP server "nope", which is not under mcp_servers (none is declared)',
        },
      ],
    );
  });

  it("refuses a declared risk for an undeclared server, at the key", async () => {
    await expectProblems(
      miniWith({}, ["mcp_servers:", "  metrics: { command: node }", "tools:", '  "nope:*": high']),
      [
        {
          line: 12,
          column: 3,
          message:
            'tool "nope:*" names MCP server "nope", which is not under mcp_servers (declared: "metrics")',
        },
      ],
    );
  });

  it("refuses a tool listed twice in one agent", async () => {
    await expectProblems(
      miniWith({ 6: ["    prompt: prompts/main.md", "    tools: [read_file, read_file]"] }),
      [{ line: 7, column: 24, message: 'tool "read_file" is listed twice' }],
    );
  });
});

describe("loadSkillPack: prompt files", () => {
  const withPrompt = (prompt: string): string => miniWith({ 6: `    prompt: ${prompt}` });

  it("refuses a missing prompt file", async () => {
    await expectProblems(withPrompt("prompts/missing.md"), [
      { line: 6, column: 13, message: 'prompt file "prompts/missing.md" not found' },
    ]);
  });

  it("refuses a prompt that is not a .md file", async () => {
    await expectProblems(
      withPrompt("prompts/main.txt"),
      [{ line: 6, column: 13, message: 'prompt "prompts/main.txt" is not a Markdown (.md) file' }],
      { "prompts/main.txt": "Hi.\n" },
    );
  });

  it("refuses an empty (or blank) prompt file", async () => {
    await expectProblems(
      withPrompt("prompts/blank.md"),
      [{ line: 6, column: 13, message: 'prompt "prompts/blank.md" is empty' }],
      { "prompts/blank.md": " \n\n\t\n" },
    );
  });

  it("refuses a prompt file larger than 256 KiB, and takes one of exactly 256 KiB", async () => {
    await expectProblems(
      withPrompt("prompts/big.md"),
      [{ line: 6, column: 13, message: 'prompt "prompts/big.md" is larger than 256 KiB' }],
      { "prompts/big.md": "x".repeat(256 * 1024 + 1) },
    );

    const dir = await writePack(
      { "skill.yaml": withPrompt("prompts/edge.md"), "prompts/edge.md": "x".repeat(256 * 1024) },
      "edge",
    );
    const pack = await loadSkillPack(dir, { models: MODELS });
    expect(pack.agents.get("main")?.prompt).toHaveLength(256 * 1024);
  });

  it("refuses a prompt that is not UTF-8", async () => {
    await expectProblems(
      withPrompt("prompts/latin1.md"),
      [{ line: 6, column: 13, message: 'prompt "prompts/latin1.md" is not UTF-8 text' }],
      { "prompts/latin1.md": Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]) },
    );
  });

  it("refuses a path that climbs out with ..", async () => {
    await writeFile(path.join(root, "outside.md"), "secret plans\n");
    await expectProblems(withPrompt("../outside.md"), [
      { line: 6, column: 13, message: 'prompt "../outside.md" is outside the pack directory' },
    ]);
  });

  it("refuses an absolute path", async () => {
    const outside = path.join(root, "outside.md");
    await writeFile(outside, "secret plans\n");
    await expectProblems(withPrompt(JSON.stringify(outside)), [
      { line: 6, column: 13, message: `prompt "${outside}" must be a path relative to the pack directory` },
    ]);
  });

  it("refuses a symlink that resolves outside the pack, and takes one that stays inside", async () => {
    await writeFile(path.join(root, "outside.md"), "secret plans\n");
    const dir = await writePack({
      "skill.yaml": miniWith({ 6: "    prompt: [prompts/main.md, prompts/inside.md, prompts/escape.md]" }),
      "prompts/main.md": "Main.\n",
      "shared/inside-target.md": "Shared.\n",
    });
    await symlink(path.join(root, "outside.md"), path.join(dir, "prompts/escape.md"));
    await symlink("../shared/inside-target.md", path.join(dir, "prompts/inside.md"));
    const error = await refusal(dir);
    expect(error.problems).toEqual([
      {
        file: path.join(dir, "skill.yaml"),
        line: 6,
        column: 50,
        message: 'prompt "prompts/escape.md" is a symlink that resolves outside the pack directory',
      },
    ]);
  });

  it("refuses a prompt directory (a symlinked one escaping too)", async () => {
    await mkdir(path.join(root, "elsewhere"));
    await writeFile(path.join(root, "elsewhere", "p.md"), "secret plans\n");
    const dir = await writePack({
      "skill.yaml": miniWith({ 6: "    prompt: [prompts/main.md, linked/p.md, folder.md]" }),
      "prompts/main.md": "Main.\n",
    });
    await mkdir(path.join(dir, "folder.md"));
    await symlink(path.join(root, "elsewhere"), path.join(dir, "linked"));
    const error = await refusal(dir);
    const file = path.join(dir, "skill.yaml");
    expect(error.problems).toEqual([
      {
        file,
        line: 6,
        column: 31,
        message: 'prompt "linked/p.md" is a symlink that resolves outside the pack directory',
      },
      { file, line: 6, column: 44, message: 'prompt "folder.md" is not a regular file' },
    ]);
  });

  it("loads a pack reached through a symlinked directory", async () => {
    const dir = await writePack({ "skill.yaml": lines(...MINI), "prompts/main.md": "Hi.\n" });
    const link = path.join(root, "link-to-pack");
    await symlink(dir, link);
    const pack = await loadSkillPack(link, { models: [] });
    expect(pack.dir).toBe(link);
    expect(pack.agents.get("main")?.prompt).toBe("Hi.");
  });
});

describe("loadSkillPack: several problems", () => {
  it("reports every problem at once, one line each in the message, in file order", async () => {
    const dir = await writePack({
      "skill.yaml": lines(
        "name: mini",
        "description: A pack",
        "entry: start",
        "agents:",
        "  main:",
        "    model: gpt-9",
        "    prompt: prompts/missing.md",
        "    tools: [read_file, 'nope:x']",
        "    routes: [{ when: success, next: end }]",
        "  other:",
        "    prompt: prompts/main.md",
        "    max_steps: 0",
        "    routes: [{ when: default, next: nowhere }]",
        "extra: true",
      ),
      "prompts/main.md": "Hi.\n",
    });
    const error = await refusal(dir);
    const file = path.join(dir, "skill.yaml");
    const expected = [
      { line: 3, column: 8, message: 'entry "start" names no agent; agents: "main", "other"' },
      { line: 6, column: 12, message: 'unknown model "gpt-9"; configured models: small, large' },
      { line: 7, column: 13, message: 'prompt file "prompts/missing.md" not found' },
      {
        line: 8,
        column: 24,
        message: 'tool "nope:x" names MCP server "nope", which is not under mcp_servers (none is declared)',
      },
      {
        line: 9,
        column: 5,
        message: 'agent "main" has no "when: default" route (taken when no other route matches)',
      },
      { line: 12, column: 16, message: "agents.other.max_steps: Too small: expected number to be >=1" },
      { line: 14, column: 1, message: "extra: unknown key" },
    ].map((problem) => ({ file, ...problem }));
    expect(error.problems).toEqual(expected);
    expect(error.message.split("\n")).toEqual(
      expected.map((problem) => `${file}:${problem.line}:${problem.column}: ${problem.message}`),
    );
  });

  it("checks the routes of a schema-valid agent even when another agent is invalid", async () => {
    await expectProblems(
      miniWith({}, [
        "  broken: { prompt: prompts/main.md, max_steps: many, routes: [{ when: default, next: end }] }",
        "  lost: { prompt: prompts/main.md, routes: [{ when: default, next: broken }, { when: x, next: ghost }] }",
      ]),
      [
        {
          line: 9,
          column: 49,
          message: "agents.broken.max_steps: Invalid input: expected number, received string",
        },
        {
          line: 10,
          column: 95,
          message: 'next "ghost" names no agent; use one of "main", "broken", "lost" or "end"',
        },
      ],
    );
  });
});

describe("loadSkillPacks", () => {
  it("loads several packs in the order given", async () => {
    const a = await writePack({ "skill.yaml": lines(...MINI), "prompts/main.md": "A.\n" }, "a");
    const b = await writePack(
      { "skill.yaml": miniWith({ 1: "name: other-pack" }), "prompts/main.md": "B.\n" },
      "b",
    );
    const packs = await loadSkillPacks([a, b], { models: [] });
    expect(packs.map((pack) => pack.name)).toEqual(["mini", "other-pack"]);
  });

  it("refuses two packs with one name, naming both files", async () => {
    const a = await writePack({ "skill.yaml": lines(...MINI), "prompts/main.md": "A.\n" }, "a");
    const b = await writePack(
      { "skill.yaml": lines("# the same name again", ...MINI), "prompts/main.md": "B.\n" },
      "b",
    );
    let caught: unknown;
    await loadSkillPacks([a, b], { models: [] }).catch((error: unknown) => (caught = error));
    expect(caught).toBeInstanceOf(SkillPackError);
    expect((caught as SkillPackError).problems).toEqual([
      {
        file: path.join(b, "skill.yaml"),
        line: 2,
        column: 7,
        message: `skill pack name "mini" is also used by ${path.join(a, "skill.yaml")}:1:7`,
      },
    ]);
  });

  it("reports the problems of every pack together", async () => {
    const a = await writePack(
      { "skill.yaml": miniWith({ 3: "entry: nobody" }), "prompts/main.md": "A.\n" },
      "a",
    );
    const b = await writePack({ "prompts/main.md": "B.\n" }, "b");
    let caught: unknown;
    await loadSkillPacks([a, b], { models: [] }).catch((error: unknown) => (caught = error));
    expect((caught as SkillPackError).problems).toEqual([
      {
        file: path.join(a, "skill.yaml"),
        line: 3,
        column: 8,
        message: 'entry "nobody" names no agent; agents: "main"',
      },
      {
        file: path.join(b, "skill.yaml"),
        line: 1,
        column: 1,
        message: "skill.yaml not found: a skill pack directory must hold one",
      },
    ]);
  });
});

describe("resolveSkillTools", () => {
  const toolsYaml = (tools: string): string =>
    miniWith({ 6: ["    prompt: prompts/main.md", `    tools: ${tools}`] }, [
      "  second: { prompt: prompts/main.md, tools: [read_file], routes: [{ when: default, next: end }] }",
      "mcp_servers:",
      "  metrics: { command: node }",
      "  tracker: { url: http://127.0.0.1:7001/mcp }",
      "  empty: { command: node }",
    ]);

  async function packWithTools(tools: string): Promise<SkillPack> {
    const dir = await writePack({ "skill.yaml": toolsYaml(tools), "prompts/main.md": "Hi.\n" });
    return loadSkillPack(dir, { models: [] });
  }

  const AVAILABLE: ToolRef[] = [
    { server: "builtin", name: "read_file" },
    { server: "builtin", name: "search" },
    { server: "builtin", name: "mark_resolved" },
    { server: "metrics", name: "get_ctr" },
    { server: "metrics", name: "search" },
    { server: "tracker", name: "open_ticket" },
    { server: "tracker", name: "close_ticket" },
    { server: "tracker", name: "search" },
  ];

  function resolveFailure(pack: SkillPack, available: readonly ToolRef[]): SkillPackError {
    try {
      resolveSkillTools(pack, available);
    } catch (error) {
      if (error instanceof SkillPackError) return error;
      throw error;
    }
    throw new Error("expected resolveSkillTools to throw a SkillPackError");
  }

  it("resolves bare names, server:tool and server:*, without duplicates", async () => {
    const pack = await packWithTools(
      '[read_file, mark_resolved, "metrics:get_ctr", "tracker:*", "tracker:search"]',
    );
    const resolved = resolveSkillTools(pack, AVAILABLE);
    expect(resolved).toEqual(
      new Map([
        [
          "main",
          [
            { server: "builtin", name: "read_file" },
            { server: "builtin", name: "mark_resolved" },
            { server: "metrics", name: "get_ctr" },
            { server: "tracker", name: "open_ticket" },
            { server: "tracker", name: "close_ticket" },
            { server: "tracker", name: "search" },
          ],
        ],
        ["second", [{ server: "builtin", name: "read_file" }]],
      ]),
    );
  });

  it("refuses an ambiguous bare name, listing every match", async () => {
    const pack = await packWithTools("[read_file, search]");
    const error = resolveFailure(pack, AVAILABLE);
    expect(error.problems).toEqual([
      {
        file: pack.file,
        line: 7,
        column: 24,
        message:
          'tool "search" is ambiguous: builtin:search, metrics:search, tracker:search — write server:tool',
      },
    ]);
  });

  it("takes builtin:search or metrics:search where the bare name is ambiguous", async () => {
    const pack = await packWithTools('["builtin:search", "metrics:search"]');
    expect(resolveSkillTools(pack, AVAILABLE).get("main")).toEqual([
      { server: "builtin", name: "search" },
      { server: "metrics", name: "search" },
    ]);
  });

  it("does not count a tool listed twice by its server as ambiguous", async () => {
    const pack = await packWithTools("[get_ctr]");
    const twice = [...AVAILABLE, { server: "metrics", name: "get_ctr" }];
    expect(resolveSkillTools(pack, twice).get("main")).toEqual([{ server: "metrics", name: "get_ctr" }]);
  });

  it("collects every unresolved entry with its position", async () => {
    const pack = await packWithTools('[read_fil, "metrics:get_cr", "empty:*", search]');
    const error = resolveFailure(pack, AVAILABLE);
    const file = pack.file;
    expect(error.problems).toEqual([
      { file, line: 7, column: 13, message: 'unknown tool "read_fil"' },
      {
        file,
        line: 7,
        column: 23,
        message:
          'unknown tool "metrics:get_cr": MCP server "metrics" has no tool "get_cr"; it offers get_ctr, search',
      },
      { file, line: 7, column: 41, message: 'MCP server "empty" offers no tools, so "empty:*" matches none' },
      {
        file,
        line: 7,
        column: 52,
        message:
          'tool "search" is ambiguous: builtin:search, metrics:search, tracker:search — write server:tool',
      },
    ]);
  });

  it("reports entries of every agent, including built-ins named explicitly", async () => {
    const pack = await packWithTools('["builtin:propose"]');
    const error = resolveFailure(pack, [
      { server: "metrics", name: "read_file" },
      { server: "tracker", name: "read_file" },
    ]);
    expect(error.problems).toEqual([
      {
        file: pack.file,
        line: 7,
        column: 13,
        message: 'unknown tool "builtin:propose": there is no built-in tool "propose"',
      },
      {
        file: pack.file,
        line: 10,
        column: 46,
        message: 'tool "read_file" is ambiguous: metrics:read_file, tracker:read_file — write server:tool',
      },
    ]);
  });
});
