import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import type { DatabaseTarget } from "../../src/config/config-schema.js";
import { ApprovalStore } from "../../src/store/approval-store.js";
import { openDatabase } from "../../src/store/database.js";
import { createTestDatabase, DATABASE_KINDS, type DatabaseKind } from "../support/databases.js";
import { exampleServerStdioCommand } from "../support/mcp/example-tools-server.js";
import {
  cleanupAll,
  newHome,
  onCleanup,
  startServer,
  stopWithin,
  tempDir,
  type ShepherdServer,
} from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";

/**
 * End to end, SPEC C6 across restarts of a real `shepherd serve`: "a tool call id executes at most
 * once" and "the watchdog scans the database, not memory". The agent (the scripted stub model)
 * calls `record` on a real stdio MCP server — a side effect we can count in a file — through the
 * gate, then `mark_resolved`. The server is killed (SIGKILL of its process group, MCP children
 * included) or stopped at the moments that matter and started again on the same home and
 * database; what must hold afterwards is read from the API, the event log, the record file and
 * the MCP server's own log of the calls it received.
 */

const VALUE = "side-effect-1";
/** Long enough that only a kill ends these calls. */
const HOLD_MS = 120_000;
const SETTLE_MS = 90_000;

interface World {
  kind: DatabaseKind;
  home: string;
  env: Record<string, string>;
  target: DatabaseTarget;
  /** Lines written by `record`: the side effect. */
  recordFile: string;
  /** One line per `tools/call` the MCP servers received, before the tool runs. */
  callsFile: string;
}

interface WorldOptions {
  /** `record` answers this long after writing its line (0: at once). */
  recordHoldMs?: number;
  /** A second pack, `sleeper`, whose agent runs `slow` (auto-approved) for two minutes. */
  sleeper?: boolean;
  extraAgentsYaml?: string[];
}

interface ApprovalView {
  id: string;
  sessionId: string;
  toolCallId: string;
  state: string;
  expiresAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  rationale: string | null;
}

interface SessionDetailView {
  id: string;
  status: string;
  outcome: { kind: string; detail?: string } | null;
  toolCalls: { id: string; tool: string; status: string }[];
  approvals: ApprovalView[];
}

interface EventView {
  seq: number;
  kind: string;
  payload: Record<string, unknown>;
}

afterAll(async () => {
  await cleanupAll();
});

function packYaml(name: string, model: string, tools: string[], mcpEnv: Record<string, string>): string {
  const { command, args } = exampleServerStdioCommand();
  return [
    `name: ${name}`,
    "description: Calls the example MCP server",
    "entry: main",
    "mcp_servers:",
    "  example:",
    `    command: ${JSON.stringify(command)}`,
    `    args: ${JSON.stringify(args)}`,
    `    env: ${JSON.stringify(mcpEnv)}`,
    "agents:",
    "  main:",
    `    model: ${model}`,
    "    prompt: main.md",
    `    tools: ${JSON.stringify(tools)}`,
    "    routes: [{ when: default, next: end }]",
    "",
  ].join("\n");
}

async function writePack(dir: string, yaml: string): Promise<void> {
  await mkdir(dir);
  await writeFile(path.join(dir, "skill.yaml"), yaml);
  await writeFile(path.join(dir, "main.md"), "You do what the goal says.\n");
}

async function makeWorld(kind: DatabaseKind, options: WorldOptions = {}): Promise<World> {
  const workDir = await tempDir(`shepherd-restart-${kind}-`);
  const recordFile = path.join(workDir, "record.jsonl");
  const callsFile = path.join(workDir, "calls.jsonl");
  const mcpEnv = {
    EXAMPLE_RECORD_FILE: recordFile,
    EXAMPLE_CALLS_FILE: callsFile,
    ...(options.recordHoldMs ? { EXAMPLE_RECORD_HOLD_MS: String(options.recordHoldMs) } : {}),
  };
  await writePack(
    path.join(workDir, "recorder"),
    packYaml("recorder", "replay", ["example:record", "mark_resolved"], mcpEnv),
  );
  await writeFile(
    path.join(workDir, "recorder.yaml"),
    [
      "steps:",
      `  - tool_calls: [{ name: example__record, args: { value: ${VALUE} } }]`,
      "  - tool_calls: [{ name: mark_resolved, args: { summary: 'Recorded', confidence: 0.9 } }]",
      "",
    ].join("\n"),
  );
  const packs = ["recorder"];
  const providers = ["recorder: { kind: stub, script: recorder.yaml }"];
  const models = ["replay: { provider: recorder, model: replay }"];
  if (options.sleeper) {
    await writePack(
      path.join(workDir, "sleeper"),
      packYaml("sleeper", "sleepy", ["example:slow", "mark_resolved"], { EXAMPLE_CALLS_FILE: callsFile }),
    );
    await writeFile(
      path.join(workDir, "sleeper.yaml"),
      [
        "steps:",
        `  - tool_calls: [{ name: example__slow, args: { ms: ${HOLD_MS} } }]`,
        "  - tool_calls: [{ name: mark_resolved, args: { summary: 'Slept', confidence: 0.9 } }]",
        "",
      ].join("\n"),
    );
    packs.push("sleeper");
    providers.push("sleeper: { kind: stub, script: sleeper.yaml }");
    models.push("sleepy: { provider: sleeper, model: sleepy }");
  }
  const configFile = path.join(workDir, "shepherd.yaml");
  await writeFile(
    configFile,
    [
      "llm:",
      `  providers: { ${providers.join(", ")} }`,
      `  models: { ${models.join(", ")} }`,
      "  default: replay",
      // The shortest lease: a job of a killed process is taken over 10 s later.
      "queue: { leaseSeconds: 10 }",
      "agents:",
      `  skillPacks: ${JSON.stringify(packs)}`,
      '  gate: { tools: { "example:record": high, "example:slow": low } }',
      ...(options.extraAgentsYaml ?? []),
      "",
    ].join("\n"),
  );
  const home = await newHome();
  const env: Record<string, string> = { SHEPHERD_CONFIG: configFile };
  let target: DatabaseTarget;
  if (kind === "postgres") {
    const database = await createTestDatabase("postgres");
    // cleanupAll kills the processes before it runs the extra cleanups, so the drop finds no users.
    onCleanup(() => database.cleanup());
    target = database.target;
    env.SHEPHERD_DATABASE_URL = target.url;
  } else {
    const file = path.join(home, "shepherd.db");
    target = { kind: "sqlite", path: file, url: `sqlite:${file}` };
  }
  return { kind, home, env, target, recordFile, callsFile };
}

function start(world: World): Promise<ShepherdServer> {
  return startServer({ home: world.home, env: world.env, readyTimeoutMs: 60_000 });
}

async function api<T>(
  server: ShepherdServer,
  method: "GET" | "POST",
  route: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const token = (await readFile(path.join(server.home, "admin.token"), "utf8")).trim();
  const response = await fetch(`${server.url}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      accept: "application/json",
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function ok<T>(
  server: ShepherdServer,
  method: "GET" | "POST",
  route: string,
  body?: unknown,
): Promise<T> {
  const response = await api<T>(server, method, route, body);
  expect(response.status, `${method} ${route}: ${JSON.stringify(response.body)}`).toBeLessThan(300);
  return response.body;
}

/** waitFor, with the server's output in the failure. */
async function until<T>(
  server: ShepherdServer,
  check: () => T | Promise<T>,
  message: string,
  timeoutMs = SETTLE_MS,
): Promise<NonNullable<T>> {
  try {
    return await waitFor(check, { timeoutMs, intervalMs: 100, message });
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${server.proc.describe()}`, { cause: error });
  }
}

async function startSession(server: ShepherdServer, skill: string, goal: string): Promise<string> {
  const created = await ok<{ id: string }>(server, "POST", "/api/v1/sessions", { goal, agent: { skill } });
  return created.id;
}

function detail(server: ShepherdServer, sessionId: string): Promise<SessionDetailView> {
  return ok<SessionDetailView>(server, "GET", `/api/v1/sessions/${sessionId}`);
}

async function pendingApproval(server: ShepherdServer, sessionId: string): Promise<ApprovalView> {
  return until(
    server,
    async () => {
      const listed = await ok<{ data: ApprovalView[] }>(
        server,
        "GET",
        `/api/v1/approvals?state=pending&session=${sessionId}`,
      );
      return listed.data[0] ?? null;
    },
    `no pending approval for ${sessionId}`,
  );
}

async function terminal(server: ShepherdServer, sessionId: string): Promise<SessionDetailView> {
  return until(
    server,
    async () => {
      const shown = await detail(server, sessionId);
      return shown.outcome ? shown : null;
    },
    `session ${sessionId} never reached an outcome`,
  );
}

async function events(server: ShepherdServer, sessionId: string, kind: string): Promise<EventView[]> {
  const page = await ok<{ data: EventView[]; hasMore: boolean }>(
    server,
    "GET",
    `/api/v1/events?session=${sessionId}&kind=${kind}&limit=200`,
  );
  expect(page.hasMore).toBe(false);
  return page.data.toReversed();
}

async function jsonLines(file: string): Promise<Record<string, unknown>[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function recordCallsReceived(world: World): Promise<number> {
  return (await jsonLines(world.callsFile)).filter((call) => call.tool === "record").length;
}

/** What the agent was given as the result of its calls of `toolName` (read from the database). */
async function toolResults(world: World, sessionId: string, toolName: string): Promise<unknown[]> {
  const database = await openDatabase(world.target);
  try {
    const rows = await database.db
      .selectFrom("agent_messages")
      .select(["body"])
      .where("session_id", "=", sessionId)
      .where("role", "=", "tool")
      .orderBy("created_at")
      .orderBy("idx")
      .execute();
    return rows
      .map((row) => JSON.parse(row.body) as { toolName: string; result: unknown; isError: boolean })
      .filter((message) => message.toolName === toolName)
      .map((message) => ({ result: message.result, isError: message.isError }));
  } finally {
    await database.close();
  }
}

/** The session's status changes to `to`, from the event log. */
async function statusChangesTo(server: ShepherdServer, sessionId: string, to: string): Promise<EventView[]> {
  return (await events(server, sessionId, "session.status_changed")).filter(
    (event) => event.payload.to === to,
  );
}

for (const { kind, skip } of DATABASE_KINDS) {
  describe.skipIf(skip)(`a session across a restart of shepherd serve (${kind})`, () => {
    test("SIGKILL right after the approval, before the call ran: after the restart it runs exactly once", async () => {
      // One running session at a time, and the sleeper holds that slot while it sleeps: the
      // approval's resume is queued, not started, when the process is killed. Without it the
      // kill would race the resume and the call might be cut off mid-way (the next test).
      const world = await makeWorld(kind, {
        sleeper: true,
        extraAgentsYaml: ["  maxRunningSessions: 1"],
      });
      const first = await start(world);
      const sessionId = await startSession(first, "recorder", "Record the value once");
      const approval = await pendingApproval(first, sessionId);
      const sleeperId = await startSession(first, "sleeper", "Sleep for a while");
      await until(
        first,
        async () => (await jsonLines(world.callsFile)).some((call) => call.tool === "slow"),
        "the sleeper's call never reached the MCP server",
      );

      const decided = await api<ApprovalView>(first, "POST", `/api/v1/approvals/${approval.id}`, {
        decision: "approve",
        rationale: "go ahead",
      });
      await first.proc.kill();
      expect(decided.status, JSON.stringify(decided.body)).toBe(200);
      expect(decided.body.state).toBe("approved");
      // The decision is committed; the call had not reached the MCP server.
      expect(await recordCallsReceived(world)).toBe(0);
      expect(await jsonLines(world.recordFile)).toEqual([]);

      const second = await start(world);
      const ended = await terminal(second, sessionId);
      expect(ended.status).toBe("resolved");
      expect(ended.outcome).toEqual({ kind: "resolved", detail: "Recorded" });
      expect(await jsonLines(world.recordFile)).toEqual([{ value: VALUE }]);
      expect(await recordCallsReceived(world)).toBe(1);
      expect(ended.approvals).toEqual([
        expect.objectContaining({ id: approval.id, state: "approved", rationale: "go ahead" }),
      ]);
      expect(ended.toolCalls.map((call) => [call.tool, call.status])).toEqual([
        ["example:record", "executed"],
        ["builtin:mark_resolved", "executed"],
      ]);
      expect(await toolResults(world, sessionId, "example__record")).toEqual([
        { result: `recorded ${VALUE}`, isError: false },
      ]);
      const invoked = (await events(second, sessionId, "tool.invoked")).filter(
        (event) => event.payload.tool === "example:record",
      );
      expect(invoked.map((event) => event.payload.status)).toEqual(["executed"]);
      expect(await statusChangesTo(second, sessionId, "resolved")).toHaveLength(1);

      // The sleeper's call was cut off by the kill: it is reported, not run again.
      const slept = await terminal(second, sleeperId);
      expect(slept.toolCalls.map((call) => [call.tool, call.status])).toEqual([
        ["example:slow", "interrupted"],
        ["builtin:mark_resolved", "executed"],
      ]);
      expect((await jsonLines(world.callsFile)).filter((call) => call.tool === "slow")).toHaveLength(1);
      expect(await jsonLines(world.recordFile)).toEqual([{ value: VALUE }]);
    }, 240_000);

    test("SIGKILL while the approved call runs, after its effect: the call is reported interrupted, never run again", async () => {
      const world = await makeWorld(kind, { recordHoldMs: HOLD_MS });
      const first = await start(world);
      const sessionId = await startSession(first, "recorder", "Record the value once");
      const approval = await pendingApproval(first, sessionId);
      await ok(first, "POST", `/api/v1/approvals/${approval.id}`, { decision: "approve" });
      // The effect happened; the tool holds its answer, so the result is not stored yet.
      await until(
        first,
        async () => (await jsonLines(world.recordFile)).length > 0,
        "the record call never wrote its line",
      );
      const running = await detail(first, sessionId);
      expect(running.toolCalls.map((call) => [call.tool, call.status])).toEqual([
        ["example:record", "executing"],
      ]);
      await first.proc.kill();

      const second = await start(world);
      const ended = await terminal(second, sessionId);
      expect(ended.status).toBe("resolved");
      expect(await jsonLines(world.recordFile)).toEqual([{ value: VALUE }]);
      expect(await recordCallsReceived(world)).toBe(1);
      expect(ended.toolCalls.map((call) => [call.tool, call.status])).toEqual([
        ["example:record", "interrupted"],
        ["builtin:mark_resolved", "executed"],
      ]);
      // The agent was told, as the call's result, that its effect is unknown.
      expect(await toolResults(world, sessionId, "example__record")).toEqual([
        {
          result: {
            error: "interrupted: Shepherd stopped while this call ran; check its effect before retrying",
          },
          isError: true,
        },
      ]);
      expect(await statusChangesTo(second, sessionId, "resolved")).toHaveLength(1);
    }, 240_000);

    test("the process died between an approval's decision and its resume: after the restart the session resumes", async () => {
      const world = await makeWorld(kind, {
        extraAgentsYaml: ["  approvals: { scanIntervalSeconds: 1 }"],
      });
      const first = await start(world);
      const sessionId = await startSession(first, "recorder", "Record the value once");
      const approval = await pendingApproval(first, sessionId);
      await first.proc.kill();
      // What the process leaves when it dies after the decision's transaction committed and
      // before the session's resume was queued (the same write the API does).
      const database = await openDatabase(world.target);
      try {
        const decided = await new ApprovalStore(database.db).decide(
          approval.id,
          { state: "approved", by: "tok_before_the_crash", rationale: "go ahead" },
          Date.now(),
        );
        expect(decided?.state).toBe("approved");
      } finally {
        await database.close();
      }

      const second = await start(world);
      const ended = await terminal(second, sessionId);
      expect(ended.status).toBe("resolved");
      expect(await jsonLines(world.recordFile)).toEqual([{ value: VALUE }]);
      expect(await recordCallsReceived(world)).toBe(1);
      expect(ended.toolCalls.map((call) => [call.tool, call.status])).toEqual([
        ["example:record", "executed"],
        ["builtin:mark_resolved", "executed"],
      ]);
      expect(await statusChangesTo(second, sessionId, "resolved")).toHaveLength(1);
    }, 240_000);

    test("the watchdog times out an approval that expired while the server was down, and the session goes on", async () => {
      // 60 s is the shortest approval timeout the configuration allows.
      const world = await makeWorld(kind, {
        extraAgentsYaml: ["  approvals: { timeoutSeconds: 60, scanIntervalSeconds: 1, onTimeout: reject }"],
      });
      const first = await start(world);
      const sessionId = await startSession(first, "recorder", "Record the value once");
      const approval = await pendingApproval(first, sessionId);
      const stopped = await stopWithin(first.proc, "SIGTERM");
      expect(stopped, first.proc.describe()).toEqual({ code: 0, signal: null });

      // Down past the deadline: nobody is there to notice it pass.
      const expiresAt = Date.parse(approval.expiresAt);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now() + 1500)));

      const restartedAt = Date.now();
      const second = await start(world);
      const timedOut = await until(
        second,
        async () => {
          const listed = await ok<{ data: ApprovalView[] }>(
            second,
            "GET",
            `/api/v1/approvals?session=${sessionId}`,
          );
          const found = listed.data.find((candidate) => candidate.id === approval.id);
          return found?.state === "pending" ? null : found;
        },
        "the expired approval was never decided",
      );
      expect(timedOut).toMatchObject({
        state: "timed_out",
        decidedBy: "system",
        rationale: "the approval window expired",
      });
      expect(Date.parse(timedOut.decidedAt as string)).toBeGreaterThanOrEqual(restartedAt);
      const decisions = await events(second, sessionId, "approval.decided");
      expect(decisions.map((event) => event.payload)).toEqual([
        expect.objectContaining({ approvalId: approval.id, decision: "timed_out", by: "system" }),
      ]);

      // The agent got the timeout as the call's result and went on to its next step.
      const ended = await terminal(second, sessionId);
      expect(ended.status).toBe("resolved");
      expect(ended.toolCalls.map((call) => [call.tool, call.status])).toEqual([
        ["example:record", "timed_out"],
        ["builtin:mark_resolved", "executed"],
      ]);
      expect(await toolResults(world, sessionId, "example__record")).toEqual([
        { result: { timeout: true, rationale: "the approval window expired" }, isError: true },
      ]);
      expect(await jsonLines(world.recordFile)).toEqual([]);
      expect(await recordCallsReceived(world)).toBe(0);
      const changes = await events(second, sessionId, "session.status_changed");
      expect(
        changes.map((event) => [event.payload.from, event.payload.to, event.payload.cause]),
      ).toContainEqual(["awaiting_approval", "running", "approval_decided"]);
      expect(changes.filter((event) => event.payload.to === "resolved")).toHaveLength(1);
    }, 240_000);
  });
}
