import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exampleServerStdioCommand } from "../support/mcp/example-tools-server.js";
import { startPrHarness, type PrHarness } from "../support/pr-harness.js";
import { waitFor } from "../support/wait-for.js";

/**
 * Secrets never reach the database or an API response (SPEC §R), even when a tool hands one
 * back: an MCP server given a secret in its environment returns it from a call, and what the
 * session stores — the tool call's result, the conversation — and what the API shows carry
 * `[REDACTED]` instead.
 */

const SECRET = "s3cr3t-mcp-token-4f9a1c7e";

describe("a secret a tool returns", () => {
  let harness: PrHarness;
  let dir: string;

  beforeAll(async () => {
    process.env.SHEPHERD_TEST_MCP_TOKEN = SECRET;
    dir = await mkdtemp(path.join(os.tmpdir(), "shepherd-secret-pack-"));
    const { command, args } = exampleServerStdioCommand();
    await mkdir(path.join(dir, "pack"), { recursive: true });
    await writeFile(
      path.join(dir, "pack", "skill.yaml"),
      [
        "name: leaky",
        "description: Calls a tool that returns its own token",
        "entry: main",
        "mcp_servers:",
        "  example:",
        `    command: ${JSON.stringify(command)}`,
        `    args: ${JSON.stringify(args)}`,
        '    env: { EXAMPLE_API_TOKEN: { secret: "env:SHEPHERD_TEST_MCP_TOKEN" } }',
        "agents:",
        "  main:",
        "    prompt: main.md",
        '    tools: ["example:env", mark_resolved]',
        "    routes: [{ when: default, next: end }]",
        "",
      ].join("\n"),
    );
    await writeFile(path.join(dir, "pack", "main.md"), "You check the environment.\n");
    await writeFile(
      path.join(dir, "script.yaml"),
      [
        "steps:",
        "  - tool_calls: [{ name: example__env, args: { name: EXAMPLE_API_TOKEN } }]",
        `  - tool_calls: [{ name: mark_resolved, args: { summary: "the token is ${SECRET}", confidence: 0.9 } }]`,
        "",
      ].join("\n"),
    );
    harness = await startPrHarness({
      extraYaml: [
        "llm:",
        `  providers: { offline: { kind: stub, script: ${JSON.stringify(path.join(dir, "script.yaml"))} } }`,
        "  models: { replay: { provider: offline, model: replay } }",
        "agents:",
        `  skillPacks: [${JSON.stringify(path.join(dir, "pack"))}]`,
        '  gate: { tools: { "example:env": low } }',
      ].join("\n"),
    });
  });

  afterAll(async () => {
    delete process.env.SHEPHERD_TEST_MCP_TOKEN;
    await harness?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("is stored and shown redacted", async () => {
    const created = await harness.api<{ id: string }>("POST", "/api/v1/sessions", {
      goal: "Check the token",
      agent: { skill: "leaky" },
    });
    expect(created.status).toBe(201);
    const sessionId = created.body.id;
    const detail = await waitFor(
      async () => {
        const answer = await harness.api<{ status: string; toolCalls: { tool: string; status: string }[] }>(
          "GET",
          `/api/v1/sessions/${sessionId}`,
        );
        return answer.body.status === "resolved" ? answer : null;
      },
      { timeoutMs: 30_000, message: "the session never resolved" },
    );
    // The tool really ran and really returned the secret (so the check below is not empty).
    expect(detail.body.toolCalls.map((call) => [call.tool, call.status])).toEqual([
      ["example:env", "executed"],
      ["builtin:mark_resolved", "executed"],
    ]);
    expect(JSON.stringify(detail.body)).not.toContain(SECRET);
    // The API shows what the tool returned, scrubbed.
    expect(JSON.stringify((detail.body.toolCalls[0] as { result?: unknown }).result)).toContain("[REDACTED]");

    const db = harness.server.running.database.db;
    const stored = JSON.stringify([
      await db.selectFrom("tool_calls").selectAll().where("session_id", "=", sessionId).execute(),
      await db.selectFrom("agent_messages").selectAll().where("session_id", "=", sessionId).execute(),
      await db.selectFrom("agent_runs").selectAll().where("session_id", "=", sessionId).execute(),
      await db.selectFrom("sessions").selectAll().where("id", "=", sessionId).execute(),
      await db.selectFrom("lessons").selectAll().where("source_session_id", "=", sessionId).execute(),
    ]);
    expect(stored).not.toContain(SECRET);
    expect(stored).toContain("[REDACTED]");
  });
});
