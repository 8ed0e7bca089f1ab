import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  cleanupAll,
  runCli,
  startServer,
  tempDir,
  type CliResult,
  type ShepherdServer,
  type ShepherdTarget,
} from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";

/**
 * End to end, SPEC C6 through the CLI: a real `shepherd serve` with a skill pack and the scripted
 * stub model; the agent's terminal tool is made high-risk by the operator's gate policy, so the
 * session waits for `shepherd approve`, then ends resolved.
 */

const STACK_LINE = /^\s+at /m;
const SESSION_ID = /ses_[0-9a-z]{26}/;
const APPROVAL_ID = /apr_[0-9a-z]{26}/;

let server: ShepherdServer;
let cli: ShepherdTarget;

function show(result: CliResult): string {
  return `exit=${result.code}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
}

function shepherd(...args: string[]): Promise<CliResult> {
  return runCli(args, cli, { timeoutMs: 60_000 });
}

function expectSuccess(result: CliResult): void {
  expect(result.code, show(result)).toBe(0);
  expect(result.stderr, show(result)).not.toMatch(STACK_LINE);
}

function expectUserError(result: CliResult, message: RegExp): void {
  expect(result.code, show(result)).not.toBe(0);
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines, show(result)).toHaveLength(1);
  expect(lines[0], show(result)).toMatch(/^shepherd: /);
  expect(lines[0], show(result)).toMatch(message);
}

beforeAll(async () => {
  const workDir = await tempDir("shepherd-session-cli-");
  const pack = path.join(workDir, "closer");
  await mkdir(pack);
  await writeFile(
    path.join(pack, "skill.yaml"),
    [
      "name: closer",
      "description: Closes what it is given",
      "entry: main",
      "agents:",
      "  main:",
      "    prompt: main.md",
      "    tools: [mark_resolved]",
      "    routes: [{ when: default, next: end }]",
      "",
    ].join("\n"),
  );
  await writeFile(path.join(pack, "main.md"), "You close tickets.\n");
  await writeFile(
    path.join(workDir, "script.yaml"),
    [
      "steps:",
      "  - tool_calls: [{ name: mark_resolved, args: { summary: 'Nothing left to do', confidence: 0.9 } }]",
      "",
    ].join("\n"),
  );
  const configFile = path.join(workDir, "shepherd.yaml");
  await writeFile(
    configFile,
    [
      "llm:",
      `  providers: { offline: { kind: stub, script: ${JSON.stringify(path.join(workDir, "script.yaml"))} } }`,
      "  models: { replay: { provider: offline, model: replay } }",
      "agents:",
      "  skillPacks: [closer]",
      "  gate: { tools: { mark_resolved: high } }",
      "",
    ].join("\n"),
  );
  server = await startServer({ env: { SHEPHERD_CONFIG: configFile } });
  cli = { ...server.target, cwd: workDir };
});

afterAll(async () => {
  await cleanupAll();
});

describe("shepherd session and approvals", () => {
  test("start, a gated terminal tool waits for `shepherd approve`, then the session is resolved", async () => {
    const started = await shepherd("session", "start", "closer", "Close ticket 42");
    expectSuccess(started);
    const sessionId = SESSION_ID.exec(started.stdout)?.[0] as string;
    expect(sessionId, show(started)).toBeDefined();

    const approvalId = await waitFor(
      async () => {
        const listed = await shepherd("approvals");
        expectSuccess(listed);
        return APPROVAL_ID.exec(listed.stdout)?.[0] ?? null;
      },
      { timeoutMs: 30_000, intervalMs: 200, message: "no pending approval" },
    );
    const waiting = await shepherd("session", "show", sessionId);
    expectSuccess(waiting);
    expect(waiting.stdout).toMatch(/status\s+awaiting_approval/);
    expect(waiting.stdout).toContain(`shepherd approve ${approvalId}`);

    const approved = await shepherd("approve", approvalId, "--reason", "fine");
    expectSuccess(approved);
    expect(approved.stdout).toContain(`Approved ${approvalId}`);
    expectUserError(await shepherd("approve", approvalId), /APPROVAL_ALREADY_DECIDED|already decided/);

    const resolved = await waitFor(
      async () => {
        const shown = await shepherd("session", "show", sessionId, "--json");
        expectSuccess(shown);
        const detail = JSON.parse(shown.stdout) as {
          status: string;
          outcome: { kind: string } | null;
          lastConfidence: number | null;
        };
        return detail.status === "resolved" ? detail : null;
      },
      { timeoutMs: 30_000, intervalMs: 200, message: "the session never resolved" },
    );
    expect(resolved.outcome?.kind).toBe("resolved");
    // mark_resolved's confidence is the session's last word on it.
    expect(resolved.lastConfidence).toBe(0.9);

    // The ending taught something: the lesson extracted from it, over the API.
    const token = (await readFile(path.join(server.home, "admin.token"), "utf8")).trim();
    const lessons = await waitFor(
      async () => {
        const response = await fetch(`${server.url}/api/v1/sessions/${sessionId}/lessons`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(response.status).toBe(200);
        const body = (await response.json()) as {
          extracted: { outcome: { kind: string }; summary: string }[];
        };
        return body.extracted.length > 0 ? body.extracted : null;
      },
      { timeoutMs: 10_000, intervalMs: 200, message: "no lesson was extracted" },
    );
    expect(lessons).toEqual([
      expect.objectContaining({
        outcome: { kind: "resolved", detail: "Nothing left to do" },
        summary: "Nothing left to do",
      }),
    ]);

    const listed = await shepherd("session", "ls");
    expectSuccess(listed);
    expect(listed.stdout).toMatch(new RegExp(`${sessionId}\\s+resolved\\s+closer`));
  });

  test("user errors are one line each", async () => {
    expectUserError(
      await shepherd("session", "start", "nope", "A goal"),
      /unknown skill pack "nope".*closer/,
    );
    expectUserError(await shepherd("approve", "apr_00000000000000000000000000"), /no approval/);
    expectUserError(await shepherd("session", "show", "ses_00000000000000000000000000"), /no session/);
    expectUserError(
      await shepherd("session", "start", "closer", "A goal", "--input", "novalue"),
      /key=value/,
    );
  });
});
