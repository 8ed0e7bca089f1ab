import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { loadStubScript } from "../../src/agents/llm/stub-client.js";
import { loadSkillPack } from "../../src/agents/skills/load-skill-pack.js";
import { BUILTIN_SERVER } from "../../src/agents/skills/skill-pack.js";
import { resolveSkillTools } from "../../src/agents/skills/validate-skill-tools.js";
import { BUILTIN_TOOLS } from "../../src/agents/tools/builtin-tools.js";
import type { Config } from "../../src/config/config-schema.js";
import { loadConfig } from "../../src/config/load-config.js";
import type { Principal } from "../../src/domain/roles.js";
import { AgentRunStore } from "../../src/store/agent-run-store.js";
import type { SessionRecord } from "../../src/store/session-store.js";
import { startPrHarness, type PrHarness } from "../support/pr-harness.js";
import { waitFor } from "../support/wait-for.js";

/**
 * The example skill packs of examples/ work as shipped (SPEC C6): their configs load from the
 * repo root, their packs validate, and each runs end to end offline with its own stub script —
 * config-tuner through an approval to a PR on the GitHub simulator, triage through its own MCP
 * server to an escalation. Everything is read from examples/, nothing is copied.
 */

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const EXAMPLES = path.join(ROOT, "examples");
const OPERATOR: Principal = { tokenId: "tok_operator", role: "operator", name: "operator", sessionId: null };

function exampleDir(name: string): string {
  return path.join(EXAMPLES, name);
}

/** The shipped shepherd.yaml, loaded as `SHEPHERD_CONFIG=examples/<name>/shepherd.yaml` from the repo root would. */
function loadShippedConfig(name: string, home: string): Promise<Config> {
  const file = path.join("examples", name, "shepherd.yaml");
  return loadConfig({ env: { SHEPHERD_HOME: home, SHEPHERD_CONFIG: file }, cwd: ROOT });
}

/**
 * The shipped `llm:` and `agents:` sections for the harness's shepherd.yaml (which lives in a
 * temporary home): the same settings, with the relative paths made absolute against the example.
 */
async function shippedSectionsYaml(name: string): Promise<string> {
  const dir = exampleDir(name);
  const shipped = parseYaml(await readFile(path.join(dir, "shepherd.yaml"), "utf8")) as {
    llm: { providers: Record<string, { kind: string; script?: string }> };
    agents: { skillPacks: string[] };
  };
  for (const provider of Object.values(shipped.llm.providers)) {
    if (provider.script !== undefined) provider.script = path.resolve(dir, provider.script);
  }
  shipped.agents.skillPacks = shipped.agents.skillPacks.map((pack) => path.resolve(dir, pack));
  return stringifyYaml({ llm: shipped.llm, agents: shipped.agents });
}

/** Uncomments the OpenAI-compatible alternative of a shipped config, as examples/README.md says. */
function withRealEndpoint(text: string): string {
  const switched = text
    .replace(/^(\s*)# (local: \{.*\})$/gm, "$1$2")
    .replace(/^(\s*default:) replay\b/m, "$1 local");
  expect(switched).not.toBe(text);
  return switched;
}

describe.each(["config-tuner", "triage"])("the %s example as shipped", (name) => {
  let home: string;

  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), "shepherd-example-"));
  });
  afterAll(async () => {
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("its shepherd.yaml loads from the repo root, with paths relative to the file", async () => {
    const config = await loadShippedConfig(name, home);
    expect(config.agents.skillPacks).toEqual([exampleDir(name)]);
    expect(config.llm.default).toBe("replay");
    const stub = config.llm.providers.get("offline");
    expect(stub).toEqual({
      kind: "stub",
      name: "offline",
      script: path.join(exampleDir(name), "stub-script.yaml"),
    });
    const script = await loadStubScript(path.join(exampleDir(name), "stub-script.yaml"));
    expect(script.steps.length).toBeGreaterThan(1);
  });

  it("its commented OpenAI-compatible alternative is valid once uncommented", async () => {
    const text = await readFile(path.join(exampleDir(name), "shepherd.yaml"), "utf8");
    const variant = path.join(home, "shepherd.yaml");
    await writeFile(variant, withRealEndpoint(text));
    const config = await loadConfig({ configPath: variant, env: { SHEPHERD_HOME: home }, cwd: ROOT });
    expect(config.llm.default).toBe("local");
    expect(config.llm.providers.get("local")).toMatchObject({ kind: "openai-compatible" });
    expect(config.llm.models.get("local")).toMatchObject({ provider: "local" });
  });

  it("its skill pack passes the real loader", async () => {
    const config = await loadShippedConfig(name, home);
    const pack = await loadSkillPack(exampleDir(name), { models: [...config.llm.models.keys()] });
    expect(pack.name).toBe(name);
    expect(pack.agents.get(pack.entry)?.prompt.length).toBeGreaterThan(200);
    if (pack.mcpServers.size === 0) {
      const builtins = BUILTIN_TOOLS.map((tool) => ({ server: BUILTIN_SERVER, name: tool.name }));
      expect(() => resolveSkillTools(pack, builtins)).not.toThrow();
    }
  });
});

async function sessionEndedOr<T>(
  harness: PrHarness,
  sessionId: string,
  check: () => Promise<T | null>,
  message: string,
): Promise<T | SessionRecord> {
  return waitFor(
    async () => {
      const found = await check();
      if (found) return found;
      const session = await harness.server.running.sessions.get(sessionId);
      return session.outcome ? session : null;
    },
    { timeoutMs: 60_000, intervalMs: 50, message },
  );
}

function describeEnd(session: SessionRecord): string {
  return `the session ended ${JSON.stringify(session.outcome)}: ${JSON.stringify(session.lastError)}`;
}

describe("the config-tuner example end to end", () => {
  let harness: PrHarness;
  let simRepo: { owner: string; name: string; files: Record<string, string> };

  beforeAll(async () => {
    simRepo = JSON.parse(
      await readFile(path.join(exampleDir("config-tuner"), "sim-repo.json"), "utf8"),
    ) as typeof simRepo;
    harness = await startPrHarness({ extraYaml: await shippedSectionsYaml("config-tuner") });
  });
  afterAll(async () => {
    await harness?.stop();
  });

  it("reads the params file, waits for approval of its proposal, then opens the PR with the change", async () => {
    const repo = await harness.addRepo({ name: simRepo.name, files: simRepo.files });
    const sessions = harness.server.running.sessions;
    const session = await sessions.create(
      {
        goal: "Raise nDCG@10 of the storefront search",
        repoId: repo.repoId,
        agent: { skill: "config-tuner" },
        inputs: { params_path: "config/search.params.yaml" },
      },
      OPERATOR,
    );
    const approval = await sessionEndedOr(
      harness,
      session.id,
      async () =>
        (await sessions.listApprovals({ state: "pending", sessionId: session.id, limit: 10 }))[0] ?? null,
      "no approval was requested",
    );
    if ("goal" in approval) throw new Error(describeEnd(approval));
    expect(approval.reason).toBe("high_risk_tool");

    const runs = new AgentRunStore(harness.server.running.database.db);
    const before = await runs.listToolCalls(session.id);
    expect(before.map((call) => [call.tool, call.status])).toEqual([
      ["read_file", "executed"],
      ["read_file", "executed"],
      ["submit_proposal", "pending_approval"],
    ]);
    expect(JSON.stringify(before[0]?.result)).toContain("title_boost: 2.5");
    expect(JSON.stringify(before[1]?.result)).toContain("nDCG@10");

    await sessions.decideApproval(
      approval.id,
      { decision: "approve", rationale: "the study backs it" },
      OPERATOR,
    );
    const row = await waitFor(
      async () => {
        const rows = await harness.server.running.database.db
          .selectFrom("proposals")
          .select(["id", "status"])
          .where("session_id", "=", session.id)
          .execute();
        return rows[0]?.status === "pr_opened" ? rows[0] : null;
      },
      { timeoutMs: 60_000, message: "the proposal never became a PR" },
    );
    const proposal = await harness.proposal(row.id);
    expect(proposal.pr?.number).toBeGreaterThan(0);
    const detail = await harness.api<{ change: unknown; evidence: unknown; kind: string }>(
      "GET",
      `/api/v1/proposals/${row.id}`,
    );
    expect(detail.body).toMatchObject({
      kind: "params",
      change: {
        path: "config/search.params.yaml",
        set: { "ranking.title_boost": { from: 2.5, to: 1.8 } },
      },
      evidence: {
        metrics: [
          { name: "nDCG@10", baseline: 0.612, achieved: 0.644 },
          { name: "zero_result_rate", baseline: 0.041, achieved: 0.04 },
        ],
        importance: { "ranking.title_boost": 0.62 },
      },
    });

    // The PR's branch holds the edited file, comments kept; the base is untouched.
    const read = (ref: string) =>
      harness.sim.admin.readFile({
        owner: repo.owner,
        repo: repo.repo,
        ref,
        path: "config/search.params.yaml",
      });
    const branch = proposal.pr?.branch;
    if (!branch) throw new Error("the PR has no branch");
    const edited = await read(branch);
    expect(edited).toContain("title_boost: 1.8 # how much a title match outweighs a description match");
    expect(edited?.replace("title_boost: 1.8", "title_boost: 2.5")).toBe(
      simRepo.files["config/search.params.yaml"],
    );
    expect(await read("main")).toContain("title_boost: 2.5");

    const idle = await waitFor(
      async () => {
        const current = await sessions.get(session.id);
        return current.runState === "idle" ? current : null;
      },
      { timeoutMs: 30_000, message: "the session never went idle" },
    );
    expect(idle.outcome).toBeNull();
    expect(idle.lastConfidence).toBeCloseTo(0.84);
    expect(await sessions.status(idle)).toBe("pr_open");
  });
});

describe("the triage example end to end", () => {
  let harness: PrHarness;

  beforeAll(async () => {
    harness = await startPrHarness({ extraYaml: await shippedSectionsYaml("triage") });
  });
  afterAll(async () => {
    await harness?.stop();
  });

  it("investigates with its MCP server's tools and escalates to the owning team, leaving a lesson", async () => {
    const sessions = harness.server.running.sessions;
    const session = await sessions.create(
      {
        goal: "checkout-api: 5xx rate above 5% for 10 minutes",
        agent: { skill: "triage" },
        inputs: { service: "checkout-api" },
      },
      OPERATOR,
    );
    const ended = await waitFor(
      async () => {
        const current = await sessions.get(session.id);
        return current.outcome ? current : null;
      },
      { timeoutMs: 60_000, intervalMs: 50, message: "the session never ended" },
    );
    expect(ended.outcome, describeEnd(ended)).toEqual({ kind: "escalated", detail: "payments-oncall" });
    expect(await sessions.status(ended)).toBe("escalated");

    const calls = await new AgentRunStore(harness.server.running.database.db).listToolCalls(session.id);
    expect(calls.map((call) => [call.server, call.tool, call.status, call.gateAction])).toEqual([
      ["incidents", "service_status", "executed", "auto"],
      ["incidents", "recent_errors", "executed", "auto"],
      ["incidents", "recent_deploys", "executed", "auto"],
      [BUILTIN_SERVER, "mark_escalated", "executed", "auto"],
    ]);
    // The results come from the MCP server's canned data.
    expect(calls[0]?.result).toMatchObject({
      service: "checkout-api",
      health: "degraded",
      owner: "payments-oncall",
    });
    expect(calls[1]?.result).toMatchObject({
      errors: [{ group: "DatabasePoolTimeout" }, { group: "UpstreamTimeout" }, { group: "CardDeclined" }],
    });
    expect(calls[2]?.result).toMatchObject({ deploys: [{ version: "2024.11.3" }, { version: "2024.11.2" }] });
    expect(calls[3]?.args).toMatchObject({ team: "payments-oncall" });

    const lessons = await waitFor(
      async () => {
        const found = await sessions.lessons(session.id);
        return found.extracted.length > 0 ? found.extracted : null;
      },
      { timeoutMs: 10_000, message: "no lesson was extracted" },
    );
    expect(lessons[0]?.outcome).toEqual({ kind: "escalated", detail: "payments-oncall" });
    expect(lessons[0]?.skill).toBe("triage");
    // The escalation's reason is what the lesson teaches, not just the team's name.
    expect(lessons[0]?.summary).toMatch(/^Escalated to payments-oncall: checkout-api is degraded/);
    expect(lessons[0]?.toolSequence.map((step) => step.tool)).toEqual([
      "incidents:service_status",
      "incidents:recent_errors",
      "incidents:recent_deploys",
      "builtin:mark_escalated",
    ]);
  });
});
