import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { SecretRedactor } from "../../src/domain/redact.js";
import { EventHub } from "../../src/services/event-hub.js";
import { EventLog, type AppendEvent } from "../../src/services/event-log.js";
import { SessionFacts } from "../../src/services/sessions/session-facts.js";
import { AgentRunStore } from "../../src/store/agent-run-store.js";
import type { Database } from "../../src/store/database.js";
import { LocalEventSignal } from "../../src/store/event-signal.js";
import { EventStore } from "../../src/store/event-store.js";
import { SessionStore, type SessionFactsPatch, type SessionRecord } from "../../src/store/session-store.js";
import { StaleVersionError } from "../../src/store/transitions.js";
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from "../support/databases.js";
import { startPrHarness, type PrHarness } from "../support/pr-harness.js";
import { deferred, waitFor } from "../support/wait-for.js";

/**
 * The races SPEC C6 names for one session: concurrent resumes (one wins, the others get 429
 * SESSION_BUSY with Retry-After) and stale versioned writes (a stale write gets StaleVersion and is
 * retried or yields, never clobbers). Both run against SQLite and PostgreSQL.
 */

/**
 * An MCP server (streamable HTTP, in this process) with one tool, `hold {label}`, that answers only
 * once the test releases its label: while a session's agent is inside it, its run holds the
 * session's lock, so the test knows the session is busy without guessing at timings.
 */
interface HoldServer {
  url: string;
  /** How many calls of `hold` with this label reached the server. */
  entered(label: string): number;
  /** Lets the held calls of this label (and any later one) answer. */
  release(label: string): void;
  close(): Promise<void>;
}

async function startHoldServer(): Promise<HoldServer> {
  const entered = new Map<string, number>();
  const gates = new Map<string, ReturnType<typeof deferred<void>>>();
  const gate = (label: string): ReturnType<typeof deferred<void>> => {
    let found = gates.get(label);
    if (!found) {
      found = deferred();
      gates.set(label, found);
    }
    return found;
  };
  const sessions = new Map<string, { server: McpServer; transport: StreamableHTTPServerTransport }>();

  const newServer = (): McpServer => {
    const server = new McpServer({ name: "hold", version: "1.0.0" });
    server.registerTool(
      "hold",
      { description: "Answers once the test releases the label.", inputSchema: { label: z.string() } },
      async ({ label }, extra) => {
        entered.set(label, (entered.get(label) ?? 0) + 1);
        const cancelled = new Promise<void>((resolve) =>
          extra.signal.addEventListener("abort", () => resolve(), { once: true }),
        );
        await Promise.race([gate(label).promise, cancelled]);
        return { content: [{ type: "text", text: `released ${label}` }] };
      },
    );
    return server;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const id = req.headers["mcp-session-id"];
    if (typeof id === "string") {
      const session = sessions.get(id);
      if (!session) {
        res.writeHead(404).end();
        return;
      }
      await session.transport.handleRequest(req, res);
      return;
    }
    const server = newServer();
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sessionId) => {
        sessions.set(sessionId, { server, transport });
      },
    });
    await server.connect(transport);
    await transport.handleRequest(req, res);
  };
  const http = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    entered: (label) => entered.get(label) ?? 0,
    release: (label) => gate(label).resolve(),
    async close() {
      for (const pending of gates.values()) pending.resolve();
      const open = [...sessions.values()];
      sessions.clear();
      await Promise.all(open.map(({ server }) => server.close()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  retryAfter: string | undefined;
}

interface ErrorBody {
  error: { code: string; retryable: boolean; details?: Record<string, unknown> };
}

const BURST = 20;

/** Pack `approver`: its one call is high risk, so it waits for a decision, then the agent resolves. */
const APPROVER_PACK = (url: string) => `name: approver
description: Holds a gated call
entry: worker
mcp_servers:
  gate: { url: ${JSON.stringify(url)} }
tools:
  "gate:hold": high
agents:
  worker:
    model: approver
    prompt: prompts/worker.md
    tools: ["gate:hold", mark_resolved]
    routes:
      - { when: default, next: end }
`;

/** Pack `retrier`: its one call is low risk and runs at once, then the agent resolves. */
const RETRIER_PACK = (url: string) => `name: retrier
description: Holds a call
entry: worker
mcp_servers:
  work: { url: ${JSON.stringify(url)} }
tools:
  "work:hold": low
agents:
  worker:
    model: retrier
    prompt: prompts/worker.md
    tools: ["work:hold", mark_resolved]
    routes:
      - { when: default, next: end }
`;

/** Pack `stopper`: like `retrier`, for the stop test (its own held label). */
const STOPPER_PACK = (url: string) =>
  RETRIER_PACK(url).replace("name: retrier", "name: stopper").replace("model: retrier", "model: stopper");

const script = (tool: string, label: string) => `steps:
  - tool_calls: [{ name: ${tool}, args: { label: ${label} } }]
  - tool_calls: [{ name: mark_resolved, args: { summary: "the held call answered", confidence: 0.9 } }]
`;

describe.each(DATABASE_KINDS)("concurrent resumes of one session ($kind)", ({ kind, skip }) => {
  let harness: PrHarness;
  let hold: HoldServer;
  let dir: string;

  beforeAll(async () => {
    if (skip) return;
    hold = await startHoldServer();
    dir = await mkdtemp(path.join(os.tmpdir(), "shepherd-races-"));
    for (const [name, pack] of [
      ["approver", APPROVER_PACK(hold.url)],
      ["retrier", RETRIER_PACK(hold.url)],
      ["stopper", STOPPER_PACK(hold.url)],
    ] as const) {
      await mkdir(path.join(dir, name, "prompts"), { recursive: true });
      await writeFile(path.join(dir, name, "skill.yaml"), pack);
      await writeFile(path.join(dir, name, "prompts", "worker.md"), "You call hold, then resolve.\n");
    }
    await writeFile(path.join(dir, "approver.yaml"), script("gate__hold", "approved-call"));
    await writeFile(path.join(dir, "retrier.yaml"), script("work__hold", "retried-run"));
    await writeFile(path.join(dir, "stopper.yaml"), script("work__hold", "stopped-run"));
    harness = await startPrHarness({
      kind,
      extraYaml: [
        "llm:",
        "  providers:",
        `    approvestub: { kind: stub, script: ${JSON.stringify(path.join(dir, "approver.yaml"))} }`,
        `    retrystub: { kind: stub, script: ${JSON.stringify(path.join(dir, "retrier.yaml"))} }`,
        `    stopstub: { kind: stub, script: ${JSON.stringify(path.join(dir, "stopper.yaml"))} }`,
        "  models:",
        "    approver: { provider: approvestub, model: replay }",
        "    retrier: { provider: retrystub, model: replay }",
        "    stopper: { provider: stopstub, model: replay }",
        "  default: approver",
        "agents:",
        `  skillPacks: [${["approver", "retrier", "stopper"].map((name) => JSON.stringify(path.join(dir, name))).join(", ")}]`,
        "  approvals: { scanIntervalSeconds: 3600 }",
      ].join("\n"),
    });
  });

  afterAll(async () => {
    // Released first, so that no agent is left inside a call when the server stops.
    await hold?.close();
    await harness?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function post(url: string, body?: Record<string, unknown>): Promise<Answer> {
    const response = await harness.server.app.inject({
      method: "POST",
      url,
      headers: { authorization: `Bearer ${harness.server.adminToken}` },
      ...(body === undefined ? {} : { payload: body }),
    });
    const retryAfter = response.headers["retry-after"];
    return {
      status: response.statusCode,
      body: JSON.parse(response.body) as Record<string, unknown>,
      retryAfter: retryAfter === undefined ? undefined : String(retryAfter),
    };
  }

  function expectBusy(answer: Answer): void {
    expect(answer.status).toBe(429);
    expect((answer.body as unknown as ErrorBody).error).toMatchObject({
      code: "SESSION_BUSY",
      retryable: true,
    });
    expect(answer.retryAfter).toBe("1");
  }

  async function sessionEvents(sessionId: string, kind: string) {
    const events = await harness.server.running.events.list({ sessionId, kind, limit: 1000 });
    return events.map((event) => JSON.parse(event.payloadJson) as Record<string, unknown>).reverse();
  }

  async function resolved(sessionId: string): Promise<SessionRecord> {
    const sessions = harness.server.running.sessions;
    return waitFor(
      async () => {
        const current = await sessions.get(sessionId);
        return current.outcome ? current : null;
      },
      { timeoutMs: 30_000, message: `session ${sessionId} never ended` },
    );
  }

  it.skipIf(skip)(
    `${BURST} concurrent decisions of one approval: one resumes the session and its call runs once; the others are SESSION_BUSY or already decided`,
    async () => {
      const created = await harness.api<{ id: string }>("POST", "/api/v1/sessions", {
        goal: "Run the held call once approved",
        agent: { skill: "approver" },
      });
      expect(created.status).toBe(201);
      const sessionId = created.body.id;
      const approval = await waitFor(
        async () =>
          (
            await harness.server.running.sessions.listApprovals({ state: "pending", sessionId, limit: 10 })
          )[0] ?? null,
        { timeoutMs: 30_000, message: "no pending approval" },
      );

      const answers = await Promise.all(
        Array.from({ length: BURST }, (_, i) =>
          post(`/api/v1/approvals/${approval.id}`, { decision: "approve", rationale: `decision ${i}` }),
        ),
      );
      const applied = answers.filter((answer) => answer.status === 200);
      expect(applied).toHaveLength(1);
      const winner = applied[0]?.body as { state: string; rationale: string };
      expect(winner.state).toBe("approved");
      for (const answer of answers) {
        if (answer.status === 200) continue;
        // Refused while the decision or the resumed run held the session; or found it decided.
        if (answer.status === 429) {
          expectBusy(answer);
        } else {
          expect(answer.status).toBe(409);
          expect((answer.body as unknown as ErrorBody).error).toMatchObject({
            code: "APPROVAL_ALREADY_DECIDED",
            details: { state: "approved" },
          });
        }
      }
      const decided = await harness.server.running.sessions.listApprovals({ sessionId, limit: 10 });
      expect(decided).toMatchObject([{ id: approval.id, state: "approved", rationale: winner.rationale }]);
      expect(await sessionEvents(sessionId, "approval.decided")).toHaveLength(1);

      // The resumed run is inside the approved call and holds the session: every other resume of
      // it, sent all at once, is told to come back later.
      await waitFor(() => hold.entered("approved-call") === 1, { message: "the approved call never ran" });
      const whileRunning = await Promise.all(
        Array.from({ length: BURST }, () =>
          post(`/api/v1/approvals/${approval.id}`, { decision: "reject", rationale: "too late" }),
        ),
      );
      for (const answer of whileRunning) expectBusy(answer);

      hold.release("approved-call");
      const ended = await resolved(sessionId);
      expect(ended.outcome).toMatchObject({ kind: "resolved" });
      expect(hold.entered("approved-call")).toBe(1);
      const calls = await new AgentRunStore(harness.server.running.database.db).listToolCalls(sessionId);
      expect(calls.map((call) => [`${call.server}:${call.tool}`, call.status])).toEqual([
        ["gate:hold", "executed"],
        ["builtin:mark_resolved", "executed"],
      ]);
      expect(await sessionEvents(sessionId, "approval.decided")).toHaveLength(1);
      const invoked = await sessionEvents(sessionId, "tool.invoked");
      expect(invoked.filter((event) => event.tool === "gate:hold")).toHaveLength(1);
    },
  );

  it.skipIf(skip)(
    `${BURST} concurrent retries of one failed session: one queues it again and its agent runs once; the others are SESSION_BUSY or find it no longer failed`,
    async () => {
      // A session whose agent's first model call timed out: what the runner writes on LLM_TIMEOUT
      // (a transient error, so the retry policy allows a retry).
      const db = harness.server.running.database.db;
      const store = new SessionStore(db);
      const facts = new SessionFacts({
        sessions: store,
        events: harness.server.running.events,
        clock: Date.now,
      });
      const now = Date.now();
      const session = await store.create(
        {
          goal: "Run the held call after a retry",
          repoId: null,
          branch: null,
          agent: { skill: "retrier" },
          runState: "exited",
          createdBy: null,
          skill: "retrier",
          currentAgent: "worker",
        },
        now,
      );
      await facts.write(
        session.id,
        session.version,
        {
          outcome: { kind: "failed", detail: "LLM_TIMEOUT" },
          lastError: { code: "LLM_TIMEOUT", message: "the model did not answer in time" },
          endedAt: now,
        },
        "agent_failed",
      );
      const preview = await harness.api<{ retry: boolean }>(
        "GET",
        `/api/v1/sessions/${session.id}/retry-preview`,
      );
      expect(preview.body).toEqual({ retry: true, reason: "auto_retry" });

      const answers = await Promise.all(
        Array.from({ length: BURST }, () => post(`/api/v1/sessions/${session.id}/retry`)),
      );
      const retried = answers.filter((answer) => answer.status === 200 && answer.body.retry === true);
      expect(retried).toHaveLength(1);
      expect(retried[0]?.body).toMatchObject({
        reason: "auto_retry",
        session: { retryCount: 1, outcome: null, runState: "queued" },
      });
      for (const answer of answers) {
        if (answer === retried[0]) continue;
        if (answer.status === 429) {
          expectBusy(answer);
        } else {
          // After the winner let go: the session is no longer failed, so there is nothing to retry.
          expect(answer.status).toBe(409);
          expect((answer.body as unknown as ErrorBody).error).toMatchObject({
            code: "INVALID_STATE_TRANSITION",
          });
        }
      }

      // Its agent runs again and is inside the held call: the session is busy for every retry.
      await waitFor(() => hold.entered("retried-run") === 1, { message: "the retried agent never ran" });
      const whileRunning = await Promise.all(
        Array.from({ length: BURST }, () => post(`/api/v1/sessions/${session.id}/retry`)),
      );
      for (const answer of whileRunning) expectBusy(answer);

      hold.release("retried-run");
      const ended = await resolved(session.id);
      expect(ended).toMatchObject({ outcome: { kind: "resolved" }, retryCount: 1 });
      expect(hold.entered("retried-run")).toBe(1);
      const runs = await new AgentRunStore(db).listRuns(session.id);
      expect(runs.map((run) => [run.attempt, run.status])).toEqual([[2, "completed"]]);
      const retriedChanges = (await sessionEvents(session.id, "session.status_changed")).filter(
        (event) => event.cause === "retried",
      );
      expect(retriedChanges).toEqual([{ from: "failed", to: "queued", cause: "retried" }]);
    },
  );

  it.skipIf(skip)(
    "stop reaches an agent busy in a call: the session ends stopped at once, and nothing runs after the call",
    async () => {
      const created = await harness.api<{ id: string }>("POST", "/api/v1/sessions", {
        goal: "Be stopped while busy",
        agent: { skill: "stopper" },
      });
      expect(created.status).toBe(201);
      const sessionId = created.body.id;
      await waitFor(() => hold.entered("stopped-run") === 1, { message: "the agent never entered its call" });

      // The run holds the session's lock; a stop does not wait for it.
      const stopped = await post(`/api/v1/sessions/${sessionId}/stop`);
      expect(stopped.status).toBe(200);
      expect(stopped.body).toMatchObject({ status: "stopped", outcome: { kind: "stopped" } });

      hold.release("stopped-run");
      await waitFor(
        async () =>
          (await new AgentRunStore(harness.server.running.database.db).listRuns(sessionId)).every(
            (run) => run.status !== "running",
          ),
        { timeoutMs: 30_000, message: "the stopped run never ended" },
      );
      const after = await harness.server.running.sessions.get(sessionId);
      expect(after.outcome).toMatchObject({ kind: "stopped" });
      const calls = await new AgentRunStore(harness.server.running.database.db).listToolCalls(sessionId);
      expect(calls.map((call) => `${call.server}:${call.tool}`)).toEqual(["work:hold"]);
      const changes = await sessionEvents(sessionId, "session.status_changed");
      expect(changes.filter((change) => change.to === "stopped")).toHaveLength(1);
      expect(changes.at(-1)).toMatchObject({ to: "stopped", cause: "stopped" });
    },
  );
});

describe.each(DATABASE_KINDS)("stale session writes ($kind)", ({ kind, skip }) => {
  let testDb: TestDatabase;
  let database: Database;
  let sessions: SessionStore;
  let events: EventLog;
  let facts: SessionFacts;

  beforeAll(async () => {
    if (skip) return;
    testDb = await createTestDatabase(kind);
    database = await testDb.open();
    sessions = new SessionStore(database.db);
    const store = new EventStore(database);
    const signal = new LocalEventSignal();
    events = new EventLog({
      store,
      signal,
      hub: new EventHub(store, signal),
      redactor: new SecretRedactor(),
    });
    facts = new SessionFacts({ sessions, events, clock: Date.now });
  });

  afterAll(async () => {
    await testDb?.cleanup();
  });

  /** A queued session at version 1, its status announced, as SessionService.create makes it. */
  async function newSession(): Promise<SessionRecord> {
    const now = Date.now();
    const { result } = await events.transaction(async (trx, emit) => {
      const session = await sessions.create(
        { goal: "race", repoId: null, branch: null, agent: {}, createdBy: null, queuedAt: now },
        now,
        trx,
      );
      await facts.announceWithin(trx, emit, session, "created", now);
      return session;
    });
    expect(result.version).toBe(1);
    return result;
  }

  async function payloads(sessionId: string, kind: "session.status_changed" | "agent.turn") {
    const found = await events.list({ sessionId, kind, limit: 10_000 });
    return found.map((event) => JSON.parse(event.payloadJson) as Record<string, unknown>).reverse();
  }

  /** `also` for a write: an event that commits only with that write, naming who wrote it. */
  const signed =
    (writer: string) =>
    async (_trx: unknown, emit: (event: AppendEvent) => void, written: SessionRecord): Promise<void> =>
      emit({ kind: "agent.turn", sessionId: written.id, payload: { writer } });

  it.skipIf(skip)(
    "two writers at one version: one applies, the other gets StaleVersionError and none of its transaction commits; re-read and retried, it applies on top",
    async () => {
      const session = await newSession();
      const now = Date.now();
      const writers: { cause: string; patch: SessionFactsPatch; status: string }[] = [
        {
          cause: "writer_a",
          patch: {
            runState: "running",
            pauseKind: null,
            pausedAt: null,
            startedAt: now,
            lastActivityAt: now,
            currentAgent: "alpha",
            lastConfidence: 0.9,
          },
          status: "running",
        },
        {
          cause: "writer_b",
          patch: {
            runState: "paused",
            pauseKind: "input",
            pausedAt: now,
            lastActivityAt: now,
            currentAgent: "beta",
            lastConfidence: 0.2,
          },
          status: "awaiting_input",
        },
      ];
      const results = await Promise.allSettled(
        writers.map((writer) =>
          facts.write(session.id, session.version, writer.patch, writer.cause, signed(writer.cause)),
        ),
      );
      expect(results.map((result) => result.status).sort()).toEqual(["fulfilled", "rejected"]);
      const won = results.findIndex((result) => result.status === "fulfilled");
      const lost = 1 - won;
      const winner = writers[won] as (typeof writers)[number];
      const loser = writers[lost] as (typeof writers)[number];
      const failure = (results[lost] as PromiseRejectedResult).reason as unknown;
      expect(failure).toBeInstanceOf(StaleVersionError);
      expect(failure).toMatchObject({ table: "sessions", id: session.id, expectedVersion: 1 });
      expect((results[won] as PromiseFulfilledResult<{ change: unknown }>).value.change).toEqual({
        from: "queued",
        to: winner.status,
      });

      // The row is the winner's write, whole: no column of the loser's got in.
      const stored = await sessions.get(session.id);
      expect(stored).toMatchObject({ ...winner.patch, version: 2, announcedStatus: winner.status });
      expect(await payloads(session.id, "session.status_changed")).toEqual([
        { from: null, to: "queued", cause: "created" },
        { from: "queued", to: winner.status, cause: winner.cause },
      ]);
      expect(await payloads(session.id, "agent.turn")).toEqual([{ writer: winner.cause }]);

      // The loser re-reads and writes again: it applies on top of the winner's write, not over it.
      const fresh = (await sessions.get(session.id)) as SessionRecord;
      const retried = await facts.write(
        session.id,
        fresh.version,
        loser.patch,
        loser.cause,
        signed(loser.cause),
      );
      expect(retried.change).toEqual({ from: winner.status, to: loser.status });
      expect(await sessions.get(session.id)).toMatchObject({
        ...loser.patch,
        version: 3,
        announcedStatus: loser.status,
      });
      expect(await payloads(session.id, "session.status_changed")).toEqual([
        { from: null, to: "queued", cause: "created" },
        { from: "queued", to: winner.status, cause: winner.cause },
        { from: winner.status, to: loser.status, cause: loser.cause },
      ]);
      expect(await payloads(session.id, "agent.turn")).toEqual([
        { writer: winner.cause },
        { writer: loser.cause },
      ]);
    },
  );

  it.skipIf(skip)("50 writers at one version: exactly one applies, 49 get StaleVersionError", async () => {
    const session = await newSession();
    const now = Date.now();
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        facts.write(
          session.id,
          session.version,
          { runState: "running", startedAt: now, lastActivityAt: now, currentAgent: `w${i}`, retryCount: i },
          `writer_${i}`,
          signed(`writer_${i}`),
        ),
      ),
    );
    const applied = results.flatMap((result, i) => (result.status === "fulfilled" ? [i] : []));
    expect(applied).toHaveLength(1);
    for (const result of results) {
      if (result.status === "rejected") expect(result.reason).toBeInstanceOf(StaleVersionError);
    }
    const i = applied[0] as number;
    expect(await sessions.get(session.id)).toMatchObject({
      version: 2,
      currentAgent: `w${i}`,
      retryCount: i,
      runState: "running",
    });
    expect(await payloads(session.id, "session.status_changed")).toEqual([
      { from: null, to: "queued", cause: "created" },
      { from: "queued", to: "running", cause: `writer_${i}` },
    ]);
    expect(await payloads(session.id, "agent.turn")).toEqual([{ writer: `writer_${i}` }]);
  });

  it.skipIf(skip)(
    "50 concurrent read-modify-write writers that re-read on StaleVersionError: each applies exactly once, none is lost",
    async () => {
      const session = await newSession();
      const WRITERS = 50;
      let stale = 0;
      // Each writer counts itself in (retryCount + 1) and flips the run state, so each applied
      // write changes the derived status: a lost update shows in the count, a double one too.
      const writer = async (i: number): Promise<{ version: number; changed: boolean }> => {
        for (let attempt = 0; attempt < 10 * WRITERS; attempt++) {
          const current = (await sessions.get(session.id)) as SessionRecord;
          const now = Date.now();
          const flip: SessionFactsPatch =
            current.runState === "running"
              ? { runState: "paused", pauseKind: "input", pausedAt: now }
              : { runState: "running", pauseKind: null, pausedAt: null };
          try {
            const written = await facts.write(
              session.id,
              current.version,
              { ...flip, lastActivityAt: now, retryCount: current.retryCount + 1 },
              `writer_${i}`,
              signed(`writer_${i}`),
            );
            return { version: written.session.version, changed: written.change !== null };
          } catch (error) {
            if (!(error instanceof StaleVersionError)) throw error;
            stale += 1;
          }
        }
        throw new Error(`writer ${i} never applied`);
      };
      const applied = await Promise.all(Array.from({ length: WRITERS }, (_, i) => writer(i)));
      const versions = applied.map((write) => write.version);

      // Every write applied at a version of its own, one after another: 2, 3, … 51.
      expect([...versions].sort((a, b) => a - b)).toEqual(Array.from({ length: WRITERS }, (_, i) => i + 2));
      const final = (await sessions.get(session.id)) as SessionRecord;
      expect(final.version).toBe(1 + WRITERS);
      expect(final.retryCount).toBe(WRITERS);
      // The race was real: writers read versions that moved on before they wrote.
      expect(stale).toBeGreaterThan(0);

      const signatures = (await payloads(session.id, "agent.turn")).map((payload) => payload.writer);
      expect(new Set(signatures).size).toBe(WRITERS);
      expect(signatures).toHaveLength(WRITERS);
      // One status change per applied write, each from where the previous one left it.
      expect(applied.every((write) => write.changed)).toBe(true);
      const changes = await payloads(session.id, "session.status_changed");
      expect(changes).toHaveLength(1 + WRITERS);
      for (let k = 1; k < changes.length; k++) {
        expect(changes[k]?.from).toBe(changes[k - 1]?.to);
        expect(changes[k]?.to).not.toBe(changes[k]?.from);
      }
      expect(changes.at(-1)?.to).toBe(final.announcedStatus);
      expect(final.announcedStatus).toBe(final.runState === "running" ? "running" : "awaiting_input");
    },
  );
});
