import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { sign } from "@octokit/webhooks-methods";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import type { Role } from "../../src/domain/roles.js";
import { generateTokenSecret, hashToken, tokenHint } from "../../src/services/token-service.js";
import { newId } from "../../src/store/ids.js";
import { AgentRunStore } from "../../src/store/agent-run-store.js";
import { ApprovalStore } from "../../src/store/approval-store.js";
import { PullRequestStore } from "../../src/store/pull-request-store.js";
import { ProposalStore } from "../../src/store/proposal-store.js";
import { TokenStore } from "../../src/store/token-store.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { waitFor } from "../support/wait-for.js";

/**
 * SPEC C1 "Auth" and §R "AuthZ: each role can do exactly its table; an agent token reaches only its
 * own session". The table below is written from the spec by hand, NOT derived from the routes'
 * declared `access`: the test compares what the app does against what the spec says.
 */
type Expected = { kind: "public" } | { kind: "roles"; roles: readonly Role[]; agentOwnSession?: true };

const PUBLIC_ROUTE: Expected = { kind: "public" };
const READERS: readonly Role[] = ["admin", "operator", "viewer"];
const ADMIN_ONLY: Expected = { kind: "roles", roles: ["admin"] };
const READER_STREAM: Expected = { kind: "roles", roles: READERS, agentOwnSession: true };

const EXPECTED: Record<string, Expected> = {
  "GET /healthz": PUBLIC_ROUTE,
  "GET /readyz": PUBLIC_ROUTE,
  "GET /metrics": PUBLIC_ROUTE,
  // Authenticated by its signature (X-Hub-Signature-256), not by a token (SPEC C1, C4).
  "POST /webhooks/github": PUBLIC_ROUTE,
  "GET /api/v1/openapi.json": { kind: "roles", roles: ["admin", "operator", "viewer", "agent"] },
  "GET /api/v1/status": { kind: "roles", roles: READERS },
  "GET /api/v1/tokens": ADMIN_ONLY,
  "POST /api/v1/tokens": ADMIN_ONLY,
  "GET /api/v1/tokens/:id": ADMIN_ONLY,
  "DELETE /api/v1/tokens/:id": ADMIN_ONLY,
  "GET /api/v1/events": READER_STREAM,
  "GET /api/v1/sessions/:id/events": READER_STREAM,
  "GET /api/v1/ws/events": READER_STREAM,
  "POST /api/v1/repos": ADMIN_ONLY,
  "GET /api/v1/repos": { kind: "roles", roles: READERS },
  "GET /api/v1/repos/:id": { kind: "roles", roles: READERS },
  "PATCH /api/v1/repos/:id": ADMIN_ONLY,
  "DELETE /api/v1/repos/:id": ADMIN_ONLY,
  "POST /api/v1/repos/:id/check": { kind: "roles", roles: ["admin", "operator"] },
  "POST /api/v1/repos/:id/webhook": ADMIN_ONLY,
  "POST /api/v1/proposals": { kind: "roles", roles: ["admin", "operator"], agentOwnSession: true },
  "GET /api/v1/proposals": READER_STREAM,
  "GET /api/v1/proposals/:id": { kind: "roles", roles: READERS },
  "POST /api/v1/proposals/:id/open-pr": { kind: "roles", roles: ["admin", "operator"] },
  "POST /api/v1/proposals/:id/reject": { kind: "roles", roles: ["admin", "operator"] },
  "POST /api/v1/proposals/:id/reopen": { kind: "roles", roles: ["admin", "operator"] },
  "GET /api/v1/pull-requests": READER_STREAM,
  "GET /api/v1/pull-requests/:id": { kind: "roles", roles: READERS },
  "GET /api/v1/notifications": { kind: "roles", roles: READERS },
  "GET /api/v1/notifications/:id": { kind: "roles", roles: READERS },
  "POST /api/v1/notifications/:id/acknowledge": { kind: "roles", roles: ["admin", "operator"] },
  // SPEC C1: operators spawn, stop and send to sessions and decide approvals; everyone reads.
  "POST /api/v1/sessions": { kind: "roles", roles: ["admin", "operator"] },
  "GET /api/v1/sessions": { kind: "roles", roles: READERS },
  "GET /api/v1/sessions/:id": { kind: "roles", roles: READERS, agentOwnSession: true },
  "POST /api/v1/sessions/:id/send": { kind: "roles", roles: ["admin", "operator"] },
  "POST /api/v1/sessions/:id/stop": { kind: "roles", roles: ["admin", "operator"] },
  "GET /api/v1/sessions/:id/retry-preview": { kind: "roles", roles: READERS },
  "GET /api/v1/sessions/:id/lessons": { kind: "roles", roles: READERS, agentOwnSession: true },
  "POST /api/v1/sessions/:id/retry": { kind: "roles", roles: ["admin", "operator"] },
  "GET /api/v1/approvals": { kind: "roles", roles: READERS },
  "POST /api/v1/approvals/:id": { kind: "roles", roles: ["admin", "operator"] },
};

/** Every stream request is about this session; "agent (own session)" is bound to it. */
const SESSION = "sess-own";
const OTHER_SESSION = "sess-other";

type Transport = "inject" | "sse" | "ws";

interface Probe {
  transport: Transport;
  method: string;
  path: string;
  body?: Record<string, unknown>;
  /** Request headers of the probe itself (the caller's Authorization is added to them). */
  headers?: Record<string, string>;
}

let uniqueCounter = 0;
function uniqueName(prefix: string): string {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}

/** A registered repo with a readable token file, for the repo and proposal fixtures. */
async function registeredRepo(server: TestServer): Promise<{ id: string; tokenFile: string }> {
  const name = uniqueName("repo");
  const tokenFile = path.join(server.home, "secrets", name);
  await writeFile(tokenFile, `ghp_${"x".repeat(36)}\n`, { mode: 0o600 });
  const repo = await server.running.repos.create(
    {
      name,
      url: `https://github.com/acme/${name}`,
      baseBranch: "main",
      tokenRef: `file:${name}`,
      webhookSecretRef: null,
      autoMerge: false,
      mergeMethod: "squash",
      followUps: "approve",
    },
    null,
  );
  return { id: repo.id, tokenFile };
}

/** A registered repo with a webhook secret and its own token, e.g. `acme/hooks-3`. */
async function webhookRepo(
  server: TestServer,
): Promise<{ id: string; repo: string; secret: string; token: string }> {
  const name = uniqueName("hooks");
  const secret = `hook-secret-${name}`;
  const token = `ghp_${name.replace(/-/g, "")}${"h".repeat(30)}`;
  await writeFile(path.join(server.home, "secrets", name), `${token}\n`, { mode: 0o600 });
  await writeFile(path.join(server.home, "secrets", `${name}-hook`), `${secret}\n`, { mode: 0o600 });
  const repo = await server.running.repos.create(
    {
      name,
      url: `https://github.com/acme/${name}`,
      baseBranch: "main",
      tokenRef: `file:${name}`,
      webhookSecretRef: `file:${name}-hook`,
      autoMerge: false,
      mergeMethod: "squash",
      followUps: "approve",
    },
    null,
  );
  return { id: repo.id, repo: name, secret, token };
}

async function pendingProposal(server: TestServer): Promise<string> {
  const repo = await registeredRepo(server);
  const proposal = await server.running.proposals.create(
    {
      repoId: repo.id,
      sessionId: SESSION,
      title: uniqueName("proposal"),
      kind: "files",
      change: { files: [{ path: "notes.txt", content: "x" }] },
      evidence: null,
    },
    null,
  );
  return proposal.id;
}

/** A session row of its own (no skill pack: no agent runs for it), or the one with `id`. */
async function storedSession(server: TestServer, id = newId("ses", Date.now())): Promise<string> {
  const now = Date.now();
  await server.running.database.db
    .insertInto("sessions")
    .values({
      id,
      goal: "probe",
      agent: "{}",
      run_state: "idle",
      reactions: "{}",
      created_at: now,
      updated_at: now,
      version: 1,
    })
    .onConflict((conflict) => conflict.column("id").doNothing())
    .execute();
  return id;
}

/** A session whose agent failed on a transient error: the one kind a retry (preview) acts on. */
async function failedSession(server: TestServer): Promise<string> {
  const id = await storedSession(server);
  await server.running.database.db
    .updateTable("sessions")
    .set({
      run_state: "exited",
      outcome: JSON.stringify({ kind: "failed", detail: "LLM_TIMEOUT" }),
      last_error: JSON.stringify({ code: "LLM_TIMEOUT", message: "the model did not answer in time" }),
    })
    .where("id", "=", id)
    .execute();
  return id;
}

/** A pending approval of a gated tool call, as the agent runner leaves one. */
async function pendingApproval(server: TestServer): Promise<string> {
  const sessionId = await storedSession(server);
  const now = Date.now();
  const runs = new AgentRunStore(server.running.database.db);
  const run = await runs.startRun({ sessionId, agent: "probe", attempt: 1 }, [], now);
  const call = await runs.createToolCall(
    {
      sessionId,
      runId: run.id,
      llmCallId: uniqueName("call"),
      server: "builtin",
      tool: "submit_proposal",
      args: {},
      risk: "high",
      gateAction: "approve",
      gateReason: "high_risk_tool",
      confidence: null,
      status: "pending_approval",
    },
    now,
  );
  const approval = await new ApprovalStore(server.running.database.db).create(
    { sessionId, toolCallId: call.id, reason: "high_risk_tool", expiresAt: now + 3_600_000 },
    now,
  );
  return approval.id;
}

async function trackedPullRequest(server: TestServer): Promise<string> {
  const repo = await registeredRepo(server);
  const record = await new PullRequestStore(server.running.database.db).track(
    {
      nodeId: uniqueName("PR_node"),
      repoId: repo.id,
      number: 7,
      url: "https://github.com/acme/x/pull/7",
      title: "A tracked PR",
      author: "octocat",
      headRef: "feature",
      headRepo: "acme/x",
      headSha: "a".repeat(40),
      baseRef: "main",
      state: "open",
      draft: false,
      ghUpdatedAt: null,
      sessionId: SESSION,
      proposalId: null,
    },
    Date.now(),
  );
  return record.id;
}

async function openNotification(server: TestServer): Promise<string> {
  const { id } = await server.running.notifications.notify({
    dedupKey: null,
    kind: "access-table",
    priority: "info",
    title: uniqueName("notification"),
    body: "",
  });
  return id;
}

/** A VALID request per route, so that an admitted caller gets a 2xx and never a validation 4xx. */
const FIXTURES: Record<string, (server: TestServer) => Promise<Probe>> = {
  "GET /healthz": async () => ({ transport: "inject", method: "GET", path: "/healthz" }),
  "GET /readyz": async () => ({ transport: "inject", method: "GET", path: "/readyz" }),
  "GET /metrics": async () => ({ transport: "inject", method: "GET", path: "/metrics" }),
  "POST /webhooks/github": async (server) => {
    // A ping signed with the repo's webhook secret, as GitHub sends to a new hook.
    const repo = await webhookRepo(server);
    const body = { zen: "Design for failure.", hook_id: 1, repository: { full_name: `acme/${repo.repo}` } };
    return {
      transport: "inject",
      method: "POST",
      path: "/webhooks/github",
      body,
      headers: {
        "x-github-event": "ping",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": await sign(repo.secret, JSON.stringify(body)),
      },
    };
  },
  "GET /api/v1/openapi.json": async () => ({
    transport: "inject",
    method: "GET",
    path: "/api/v1/openapi.json",
  }),
  "GET /api/v1/status": async () => ({ transport: "inject", method: "GET", path: "/api/v1/status" }),
  "GET /api/v1/tokens": async () => ({ transport: "inject", method: "GET", path: "/api/v1/tokens?limit=5" }),
  "POST /api/v1/tokens": async () => ({
    transport: "inject",
    method: "POST",
    path: "/api/v1/tokens",
    body: { name: uniqueName("access-table"), role: "viewer" },
  }),
  "GET /api/v1/tokens/:id": async (server) => {
    const { record } = await server.running.tokens.create({
      name: uniqueName("shown"),
      role: "viewer",
      createdBy: null,
    });
    return { transport: "inject", method: "GET", path: `/api/v1/tokens/${record.id}` };
  },
  "DELETE /api/v1/tokens/:id": async (server) => {
    const { record } = await server.running.tokens.create({
      name: uniqueName("revoked"),
      role: "viewer",
      createdBy: null,
    });
    return { transport: "inject", method: "DELETE", path: `/api/v1/tokens/${record.id}` };
  },
  "GET /api/v1/events": async () => ({
    transport: "sse",
    method: "GET",
    path: `/api/v1/events?session=${SESSION}`,
  }),
  "GET /api/v1/sessions/:id/events": async () => ({
    transport: "sse",
    method: "GET",
    path: `/api/v1/sessions/${SESSION}/events`,
  }),
  "GET /api/v1/ws/events": async () => ({
    transport: "ws",
    method: "GET",
    path: `/api/v1/ws/events?session=${SESSION}`,
  }),
  "POST /api/v1/repos": async (server) => {
    const name = uniqueName("new-repo");
    await writeFile(path.join(server.home, "secrets", name), `ghp_${"y".repeat(36)}\n`, { mode: 0o600 });
    return {
      transport: "inject",
      method: "POST",
      path: "/api/v1/repos",
      body: { name, url: `https://github.com/acme/${name}`, tokenRef: `file:${name}` },
    };
  },
  "GET /api/v1/repos": async () => ({ transport: "inject", method: "GET", path: "/api/v1/repos?limit=5" }),
  "GET /api/v1/repos/:id": async (server) => ({
    transport: "inject",
    method: "GET",
    path: `/api/v1/repos/${(await registeredRepo(server)).id}`,
  }),
  "PATCH /api/v1/repos/:id": async (server) => ({
    transport: "inject",
    method: "PATCH",
    path: `/api/v1/repos/${(await registeredRepo(server)).id}`,
    body: { autoMerge: true },
  }),
  "DELETE /api/v1/repos/:id": async (server) => ({
    transport: "inject",
    method: "DELETE",
    path: `/api/v1/repos/${(await registeredRepo(server)).id}`,
  }),
  "POST /api/v1/repos/:id/check": async (server) => {
    // An unreadable token makes the check answer at once (a 200 listing the problem), without GitHub.
    const repo = await registeredRepo(server);
    await rm(repo.tokenFile);
    return { transport: "inject", method: "POST", path: `/api/v1/repos/${repo.id}/check` };
  },
  "POST /api/v1/repos/:id/webhook": async (server) => {
    // GitHub answers for this repo's token only, from an Octokit request hook (no network): no
    // hook yet, so an admitted caller creates one. The server's public URL is set in beforeAll.
    const repo = await webhookRepo(server);
    server.running.github.forToken(repo.token).octokit.hook.wrap("request", async (request, options) => {
      if (!/\/repos\/[^/]+\/[^/]+\/hooks(\?|$)/.test(String(options.url))) return request(options);
      const created = options.method === "POST";
      const hook = { id: 4242, active: true, events: ["pull_request"], config: { url: "x" } };
      return {
        status: created ? 201 : 200,
        url: String(options.url),
        headers: {},
        data: created ? hook : [],
      };
    });
    return { transport: "inject", method: "POST", path: `/api/v1/repos/${repo.id}/webhook` };
  },
  "POST /api/v1/proposals": async (server) => ({
    transport: "inject",
    method: "POST",
    path: "/api/v1/proposals",
    body: {
      repoId: (await registeredRepo(server)).id,
      sessionId: SESSION,
      title: uniqueName("proposed"),
      kind: "params",
      change: { path: "config/params.json", set: { "boost.title": { to: 2 } } },
    },
  }),
  "GET /api/v1/proposals": async () => ({
    transport: "inject",
    method: "GET",
    path: `/api/v1/proposals?session=${SESSION}&limit=5`,
  }),
  "GET /api/v1/proposals/:id": async (server) => ({
    transport: "inject",
    method: "GET",
    path: `/api/v1/proposals/${await pendingProposal(server)}`,
  }),
  "POST /api/v1/proposals/:id/open-pr": async (server) => ({
    transport: "inject",
    method: "POST",
    path: `/api/v1/proposals/${await pendingProposal(server)}/open-pr`,
  }),
  "POST /api/v1/proposals/:id/reject": async (server) => ({
    transport: "inject",
    method: "POST",
    path: `/api/v1/proposals/${await pendingProposal(server)}/reject`,
    body: { reason: "not now" },
  }),
  "POST /api/v1/proposals/:id/reopen": async (server) => {
    const id = await pendingProposal(server);
    // As the PR observer does when the PR is closed unmerged.
    const store = new ProposalStore(server.running.database.db);
    await store.followPr(id, ["pending"], "closed", Date.now());
    return { transport: "inject", method: "POST", path: `/api/v1/proposals/${id}/reopen` };
  },
  "GET /api/v1/pull-requests": async () => ({
    transport: "inject",
    method: "GET",
    path: `/api/v1/pull-requests?session=${SESSION}&limit=5`,
  }),
  "GET /api/v1/pull-requests/:id": async (server) => ({
    transport: "inject",
    method: "GET",
    path: `/api/v1/pull-requests/${await trackedPullRequest(server)}`,
  }),
  "GET /api/v1/notifications": async () => ({
    transport: "inject",
    method: "GET",
    path: "/api/v1/notifications?state=all&limit=5",
  }),
  "GET /api/v1/notifications/:id": async (server) => ({
    transport: "inject",
    method: "GET",
    path: `/api/v1/notifications/${await openNotification(server)}`,
  }),
  "POST /api/v1/notifications/:id/acknowledge": async (server) => ({
    transport: "inject",
    method: "POST",
    path: `/api/v1/notifications/${await openNotification(server)}/acknowledge`,
  }),
  "POST /api/v1/sessions": async () => ({
    transport: "inject",
    method: "POST",
    path: "/api/v1/sessions",
    body: { goal: "Probe the access table", agent: { skill: "probe" } },
  }),
  "GET /api/v1/sessions": async () => ({
    transport: "inject",
    method: "GET",
    path: "/api/v1/sessions?limit=5",
  }),
  "GET /api/v1/sessions/:id": async (server) => ({
    transport: "inject",
    method: "GET",
    path: `/api/v1/sessions/${await storedSession(server, SESSION)}`,
  }),
  "POST /api/v1/sessions/:id/send": async (server) => ({
    transport: "inject",
    method: "POST",
    path: `/api/v1/sessions/${await storedSession(server)}/send`,
    body: { text: "Please go on." },
  }),
  "POST /api/v1/sessions/:id/stop": async (server) => ({
    transport: "inject",
    method: "POST",
    path: `/api/v1/sessions/${await storedSession(server)}/stop`,
  }),
  "GET /api/v1/sessions/:id/lessons": async (server) => ({
    transport: "inject",
    method: "GET",
    path: `/api/v1/sessions/${await storedSession(server, SESSION)}/lessons`,
  }),
  "GET /api/v1/sessions/:id/retry-preview": async (server) => ({
    transport: "inject",
    method: "GET",
    path: `/api/v1/sessions/${await failedSession(server)}/retry-preview`,
  }),
  "POST /api/v1/sessions/:id/retry": async (server) => ({
    transport: "inject",
    method: "POST",
    path: `/api/v1/sessions/${await failedSession(server)}/retry`,
  }),
  "GET /api/v1/approvals": async () => ({
    transport: "inject",
    method: "GET",
    path: "/api/v1/approvals?state=pending",
  }),
  "POST /api/v1/approvals/:id": async (server) => ({
    transport: "inject",
    method: "POST",
    path: `/api/v1/approvals/${await pendingApproval(server)}`,
    body: { decision: "reject", rationale: "probe" },
  }),
};

interface Answer {
  status: number;
  code: string | undefined;
  contentType: string | undefined;
  wwwAuthenticate: string | undefined;
  requestId: string | undefined;
}

function codeOf(text: string): string | undefined {
  try {
    return (JSON.parse(text) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

function headerValue(value: string | string[] | number | undefined): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(", ") : String(value);
}

async function viaInject(server: TestServer, probe: Probe, headers: Record<string, string>): Promise<Answer> {
  const response = await server.app.inject({
    method: probe.method as "GET" | "POST" | "DELETE",
    url: probe.path,
    headers: { ...probe.headers, ...headers },
    ...(probe.body ? { payload: probe.body } : {}),
  });
  return {
    status: response.statusCode,
    code: response.statusCode >= 400 ? codeOf(response.body) : undefined,
    contentType: headerValue(response.headers["content-type"]),
    wwwAuthenticate: headerValue(response.headers["www-authenticate"]),
    requestId: headerValue(response.headers["x-request-id"]),
  };
}

/** SSE responses never end: read the status and content type over real HTTP, then hang up. */
async function viaSse(server: TestServer, probe: Probe, headers: Record<string, string>): Promise<Answer> {
  const controller = new AbortController();
  try {
    const response = await fetch(server.url + probe.path, { headers, signal: controller.signal });
    const answer: Answer = {
      status: response.status,
      code: undefined,
      contentType: response.headers.get("content-type") ?? undefined,
      wwwAuthenticate: response.headers.get("www-authenticate") ?? undefined,
      requestId: response.headers.get("x-request-id") ?? undefined,
    };
    if (response.status >= 400) answer.code = codeOf(await response.text());
    return answer;
  } finally {
    controller.abort();
  }
}

function wsUrl(server: TestServer, pathAndQuery: string): string {
  return server.url.replace(/^http/, "ws") + pathAndQuery;
}

/** A WebSocket handshake: 'open' is success; a refusal arrives as 'unexpected-response'. */
async function viaWebSocket(
  server: TestServer,
  probe: Probe,
  headers: Record<string, string>,
): Promise<Answer> {
  const socket = new WebSocket(wsUrl(server, probe.path), { headers });
  try {
    return await new Promise<Answer>((resolve, reject) => {
      socket.once("open", () =>
        resolve({
          status: 101,
          code: undefined,
          contentType: undefined,
          wwwAuthenticate: undefined,
          requestId: undefined,
        }),
      );
      socket.once("unexpected-response", (_request, response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            code: codeOf(Buffer.concat(chunks).toString("utf8")),
            contentType: headerValue(response.headers["content-type"]),
            wwwAuthenticate: headerValue(response.headers["www-authenticate"]),
            requestId: headerValue(response.headers["x-request-id"]),
          }),
        );
        response.on("error", reject);
      });
      socket.once("error", reject);
    });
  } finally {
    socket.on("error", () => undefined);
    socket.terminate();
  }
}

function send(server: TestServer, probe: Probe, headers: Record<string, string>): Promise<Answer> {
  if (probe.transport === "sse") return viaSse(server, probe, headers);
  if (probe.transport === "ws") return viaWebSocket(server, probe, headers);
  return viaInject(server, probe, headers);
}

/** One line per request, so that a mismatch shows as a readable diff. */
function describeAnswer(probe: Probe, answer: Answer): string {
  const admitted =
    probe.transport === "ws" ? answer.status === 101 : answer.status >= 200 && answer.status < 300;
  if (admitted) {
    if (probe.transport === "sse" && !/^text\/event-stream/.test(answer.contentType ?? "")) {
      return `2xx but content-type ${answer.contentType ?? "(none)"}`;
    }
    return "allowed";
  }
  let line = `${answer.status} ${answer.code ?? "(no error code)"}`;
  if (answer.status === 401 && !answer.wwwAuthenticate) line += " without www-authenticate";
  if (!answer.requestId) line += " without x-request-id";
  return line;
}

const CALLERS = [
  "no token",
  "admin",
  "operator",
  "viewer",
  "agent (own session)",
  "agent (other session)",
] as const;
type Caller = (typeof CALLERS)[number];

function expectedAnswer(expected: Expected, caller: Caller): string {
  if (expected.kind === "public") return "allowed";
  if (caller === "no token") return "401 UNAUTHENTICATED";
  const role: Role = caller.startsWith("agent") ? "agent" : (caller as Role);
  if (expected.roles.includes(role)) return "allowed";
  if (caller === "agent (own session)" && expected.agentOwnSession) return "allowed";
  return "403 FORBIDDEN";
}

function routeKey(entry: { method: string; url: string }): string {
  return `${entry.method} ${entry.url}`;
}

describe("access table: every registered route × every caller", () => {
  let server: TestServer;
  const tokens = new Map<Caller, string>();

  let packDir: string | undefined;

  beforeAll(async () => {
    // A skill pack and a scripted model, so that POST /api/v1/sessions has something to start.
    packDir = await mkdtemp(path.join(os.tmpdir(), "shepherd-access-pack-"));
    await mkdir(path.join(packDir, "probe"));
    await writeFile(
      path.join(packDir, "probe", "skill.yaml"),
      "name: probe\ndescription: Access-table probe\nentry: main\nagents:\n  main:\n    prompt: main.md\n    tools: [mark_resolved]\n    routes: [{ when: default, next: end }]\n",
    );
    await writeFile(path.join(packDir, "probe", "main.md"), "You probe.\n");
    await writeFile(
      path.join(packDir, "script.yaml"),
      'steps:\n  - text: \'{"content": "done", "confidence": 0.9, "rationale": "probe", "signal": "success"}\'\n',
    );
    // A public URL, for the webhook registration route (GitHub needs somewhere to deliver to).
    server = await startTestServer({
      env: { SHEPHERD_PUBLIC_URL: "https://shepherd.example.com" },
      configYaml: [
        "llm:",
        `  providers: { offline: { kind: stub, script: ${JSON.stringify(path.join(packDir, "script.yaml"))} } }`,
        "  models: { replay: { provider: offline, model: replay } }",
        "agents:",
        `  skillPacks: [${JSON.stringify(path.join(packDir, "probe"))}]`,
      ].join("\n"),
    });
    tokens.set("admin", server.adminToken);
    tokens.set("operator", await server.tokenFor("operator"));
    tokens.set("viewer", await server.tokenFor("viewer"));
    tokens.set("agent (own session)", await server.tokenFor("agent", SESSION));
    tokens.set("agent (other session)", await server.tokenFor("agent", OTHER_SESSION));
  });

  afterAll(async () => {
    await server?.stop();
    if (packDir) await rm(packDir, { recursive: true, force: true });
  });

  function bearer(token: string): Record<string, string> {
    return { authorization: `Bearer ${token}` };
  }

  it("EXPECTED lists exactly the routes the app registers (none missing, none extra)", () => {
    const registered = server.app.routeTable.map(routeKey).sort();
    expect(registered.length).toBeGreaterThan(0);
    expect(new Set(registered).size).toBe(registered.length);
    expect(registered).toEqual(Object.keys(EXPECTED).sort());
    expect(Object.keys(FIXTURES).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it("only the WebSocket route is flagged as one, and its fixture speaks WebSocket", async () => {
    for (const entry of server.app.routeTable) {
      const fixture = FIXTURES[routeKey(entry)];
      expect(fixture, routeKey(entry)).toBeDefined();
      const probe = await (fixture as (s: TestServer) => Promise<Probe>)(server);
      expect(probe.transport === "ws", routeKey(entry)).toBe(entry.websocket);
    }
  });

  it.each(CALLERS)("caller %s gets exactly the answers of the spec on every route", async (caller) => {
    const token = tokens.get(caller);
    const headers = token === undefined ? {} : bearer(token);
    const actual: string[] = [];
    const wanted: string[] = [];
    // Iterates what the app registered, so a new route without an EXPECTED row fails here.
    for (const entry of server.app.routeTable) {
      const key = routeKey(entry);
      const expected = EXPECTED[key];
      const fixture = FIXTURES[key];
      if (!expected || !fixture) {
        actual.push(`${key}: registered`);
        wanted.push(`${key}: missing from EXPECTED or FIXTURES`);
        continue;
      }
      const probe = await fixture(server);
      const answer = await send(server, probe, headers);
      actual.push(`${key} → ${describeAnswer(probe, answer)}`);
      wanted.push(`${key} → ${expectedAnswer(expected, caller)}`);
    }
    expect(actual).toEqual(wanted);
  });

  it("an agent token on a stream route with no session filter is refused (403)", async () => {
    const headers = bearer(tokens.get("agent (own session)") as string);
    const sse = await viaSse(server, { transport: "sse", method: "GET", path: "/api/v1/events" }, headers);
    expect([sse.status, sse.code]).toEqual([403, "FORBIDDEN"]);
    const json = await server.app.inject({
      method: "GET",
      url: "/api/v1/events",
      headers: { ...headers, accept: "application/json" },
    });
    expect([json.statusCode, codeOf(json.body)]).toEqual([403, "FORBIDDEN"]);
    const ws = await viaWebSocket(
      server,
      { transport: "ws", method: "GET", path: "/api/v1/ws/events" },
      headers,
    );
    expect([ws.status, ws.code]).toEqual([403, "FORBIDDEN"]);
  });

  it("an agent token may page through its own session's events as JSON, and only those", async () => {
    const headers = { ...bearer(tokens.get("agent (own session)") as string), accept: "application/json" };
    const own = await server.app.inject({ method: "GET", url: `/api/v1/events?session=${SESSION}`, headers });
    expect(own.statusCode).toBe(200);
    const page = own.json<{ data: { sessionId: string | null }[] }>();
    // tokenFor("agent", SESSION) appended a token.created event for this session.
    expect(page.data.length).toBeGreaterThan(0);
    expect(page.data.every((event) => event.sessionId === SESSION)).toBe(true);
    const other = await server.app.inject({
      method: "GET",
      url: `/api/v1/events?session=${OTHER_SESSION}`,
      headers,
    });
    expect([other.statusCode, codeOf(other.body)]).toEqual([403, "FORBIDDEN"]);
  });

  describe("tokens that must not authenticate", () => {
    const readerRoute = { transport: "inject", method: "GET", path: "/api/v1/status" } as const;

    function expectUnauthenticated(answer: Answer): void {
      expect([answer.status, answer.code]).toEqual([401, "UNAUTHENTICATED"]);
      expect(answer.wwwAuthenticate).toMatch(/^Bearer /);
      expect(answer.requestId).toMatch(/^req_/);
    }

    it("a revoked token is refused (401) on a plain route and on a stream", async () => {
      const secret = await server.tokenFor("viewer");
      const ok = await send(server, readerRoute, bearer(secret));
      expect(ok.status).toBe(200);
      const principal = await server.running.tokens.authenticate(secret);
      const revoke = await server.app.inject({
        method: "DELETE",
        url: `/api/v1/tokens/${principal?.tokenId ?? "missing"}`,
        headers: bearer(server.adminToken),
      });
      expect(revoke.statusCode).toBe(200);
      expectUnauthenticated(await send(server, readerRoute, bearer(secret)));
      expectUnauthenticated(
        await viaSse(server, { transport: "sse", method: "GET", path: "/api/v1/events" }, bearer(secret)),
      );
      expectUnauthenticated(
        await viaWebSocket(
          server,
          { transport: "ws", method: "GET", path: "/api/v1/ws/events" },
          bearer(secret),
        ),
      );
    });

    async function insertToken(expiresAt: number): Promise<string> {
      const secret = generateTokenSecret();
      await new TokenStore(server.running.database.db).insert({
        id: newId("tok"),
        name: uniqueName("expiring"),
        role: "admin",
        sessionId: null,
        hint: tokenHint(secret),
        createdAt: Date.now() - 120_000,
        createdBy: null,
        expiresAt,
        tokenHash: hashToken(secret),
      });
      return secret;
    }

    it("an expired token is refused (401); the same kind of token not yet expired is accepted", async () => {
      const expired = await insertToken(Date.now() - 60_000);
      expectUnauthenticated(await send(server, readerRoute, bearer(expired)));
      const tokensRoute = { transport: "inject", method: "GET", path: "/api/v1/tokens" } as const;
      expectUnauthenticated(await send(server, tokensRoute, bearer(expired)));
      // Control: the insert path itself yields working tokens.
      const current = await insertToken(Date.now() + 3_600_000);
      expect((await send(server, readerRoute, bearer(current))).status).toBe(200);
    });

    it.each([
      ["a scheme other than Bearer", () => `Basic ${Buffer.from("admin:admin").toString("base64")}`],
      ["Bearer without a token", () => "Bearer"],
      ["Bearer with two words", (admin: string) => `Bearer ${admin} extra`],
      ["a bare token without a scheme", (admin: string) => admin],
      ["a token of the wrong shape", () => "Bearer shp_tooshort"],
      ["a well-shaped token nobody issued", () => `Bearer ${generateTokenSecret()}`],
      ["an empty header", () => ""],
    ])("an Authorization header with %s is refused (401)", async (_name, header) => {
      const answer = await send(server, readerRoute, { authorization: header(server.adminToken) });
      expectUnauthenticated(answer);
    });
  });

  describe("?access_token= (streams only)", () => {
    it("works on the SSE routes, for readers and for an agent on its own session", async () => {
      const viewer = tokens.get("viewer") as string;
      const agent = tokens.get("agent (own session)") as string;
      for (const pathAndQuery of [
        `/api/v1/events?access_token=${viewer}`,
        `/api/v1/sessions/${SESSION}/events?access_token=${viewer}`,
        `/api/v1/events?session=${SESSION}&access_token=${agent}`,
        `/api/v1/sessions/${SESSION}/events?access_token=${agent}`,
      ]) {
        const answer = await viaSse(server, { transport: "sse", method: "GET", path: pathAndQuery }, {});
        expect(answer.status, pathAndQuery).toBe(200);
        expect(answer.contentType, pathAndQuery).toMatch(/^text\/event-stream/);
      }
    });

    it("is checked like a header token on the SSE routes (bad → 401, other session → 403)", async () => {
      const bad = await viaSse(
        server,
        { transport: "sse", method: "GET", path: `/api/v1/events?access_token=${generateTokenSecret()}` },
        {},
      );
      expect([bad.status, bad.code]).toEqual([401, "UNAUTHENTICATED"]);
      const other = await viaSse(
        server,
        {
          transport: "sse",
          method: "GET",
          path: `/api/v1/sessions/${SESSION}/events?access_token=${tokens.get("agent (other session)") ?? ""}`,
        },
        {},
      );
      expect([other.status, other.code]).toEqual([403, "FORBIDDEN"]);
    });

    it("works on the WebSocket route", async () => {
      const viewer = tokens.get("viewer") as string;
      const agent = tokens.get("agent (own session)") as string;
      const asViewer = await viaWebSocket(
        server,
        { transport: "ws", method: "GET", path: `/api/v1/ws/events?access_token=${viewer}` },
        {},
      );
      expect(asViewer.status).toBe(101);
      const asAgent = await viaWebSocket(
        server,
        {
          transport: "ws",
          method: "GET",
          path: `/api/v1/ws/events?session=${SESSION}&access_token=${agent}`,
        },
        {},
      );
      expect(asAgent.status).toBe(101);
      const bad = await viaWebSocket(
        server,
        { transport: "ws", method: "GET", path: `/api/v1/ws/events?access_token=${generateTokenSecret()}` },
        {},
      );
      expect([bad.status, bad.code]).toEqual([401, "UNAUTHENTICATED"]);
    });

    it("is ignored on every other route: no token → 401, never 200", async () => {
      // Authentication runs in onRequest, before query validation, and only stream routes read the
      // token from the query: a non-stream route sees no token at all and answers 401.
      const admin = server.adminToken;
      for (const pathAndQuery of [
        `/api/v1/tokens?access_token=${admin}`,
        `/api/v1/status?access_token=${admin}`,
        `/api/v1/openapi.json?access_token=${admin}`,
      ]) {
        const response = await server.app.inject({ method: "GET", url: pathAndQuery });
        expect([response.statusCode, codeOf(response.body)], pathAndQuery).toEqual([401, "UNAUTHENTICATED"]);
        expect(response.headers["www-authenticate"]).toBeDefined();
      }
    });

    it("is an unknown query key on other routes when the header authenticates (422)", async () => {
      const response = await server.app.inject({
        method: "GET",
        url: `/api/v1/tokens?access_token=${server.adminToken}`,
        headers: bearer(server.adminToken),
      });
      expect([response.statusCode, codeOf(response.body)]).toEqual([422, "VALIDATION_ERROR"]);
    });
  });
});

describe("server.publicMetrics: false in shepherd.yaml", () => {
  let server: TestServer | undefined;
  let configDir: string | undefined;

  afterEach(async () => {
    await server?.stop();
    if (configDir) await rm(configDir, { recursive: true, force: true });
    server = undefined;
    configDir = undefined;
  });

  it("makes /metrics need a reader token", async () => {
    configDir = await mkdtemp(path.join(os.tmpdir(), "shepherd-config-"));
    const configFile = path.join(configDir, "shepherd.yaml");
    await writeFile(configFile, "server:\n  publicMetrics: false\n");
    server = await startTestServer({ env: { SHEPHERD_CONFIG: configFile } });
    expect(server.config.server.publicMetrics).toBe(false);
    const metrics = (headers: Record<string, string>) =>
      server!.app.inject({ method: "GET", url: "/metrics", headers });

    const anonymous = await metrics({});
    expect([anonymous.statusCode, codeOf(anonymous.body)]).toEqual([401, "UNAUTHENTICATED"]);
    expect(anonymous.headers["www-authenticate"]).toBeDefined();

    const agent = await metrics({ authorization: `Bearer ${await server.tokenFor("agent", SESSION)}` });
    expect([agent.statusCode, codeOf(agent.body)]).toEqual([403, "FORBIDDEN"]);

    for (const role of ["viewer", "operator", "admin"] as const) {
      const secret = role === "admin" ? server.adminToken : await server.tokenFor(role);
      const answer = await metrics({ authorization: `Bearer ${secret}` });
      expect(answer.statusCode, role).toBe(200);
      expect(answer.body, role).toContain("shepherd_http_request_duration_seconds");
    }

    // The other public routes stay public.
    expect((await server.app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    expect((await server.app.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(200);
  });
});

/**
 * A WebSocket upgrade that the app refuses with an HTTP answer must not leave its connection open:
 * the socket is detached from Node's HTTP server at upgrade time, so nothing else will ever close
 * it, and `server.close()` waits for it (SPEC C1: graceful shutdown within 10 s).
 */
describe("WebSocket upgrades refused with an HTTP answer", () => {
  let server: TestServer | undefined;

  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  async function start(): Promise<TestServer> {
    server = await startTestServer();
    return server;
  }

  /** Sends a raw upgrade request and keeps the connection open, like a keep-alive client. */
  async function rawUpgrade(
    target: TestServer,
    pathAndQuery: string,
    authorization?: string,
  ): Promise<{ status: number; closed: () => boolean; socket: net.Socket }> {
    const socket = net.connect(Number(new URL(target.url).port), "127.0.0.1");
    let text = "";
    let closed = false;
    socket.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
    socket.on("close", () => (closed = true));
    socket.on("error", () => undefined);
    socket.write(
      `GET ${pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        (authorization ? `Authorization: ${authorization}\r\n` : "") +
        "\r\n",
    );
    const head = await waitFor(() => /^HTTP\/1\.1 (\d{3})/.exec(text), { message: "no HTTP answer" });
    return { status: Number(head[1]), closed: () => closed, socket };
  }

  it.each([
    ["no token (401 from authentication)", "none", 401],
    ["an unknown token (401 from authentication)", "unknown", 401],
    ["an agent token for another session (403 after validation)", "agent-other", 403],
    ["an unknown query key (422 from validation)", "viewer-bad-query", 422],
  ] as const)("the server closes the connection after refusing %s", async (_name, who, status) => {
    const target = await start();
    let authorization: string | undefined;
    let pathAndQuery = `/api/v1/ws/events?session=${SESSION}`;
    if (who === "unknown") authorization = `Bearer ${generateTokenSecret()}`;
    if (who === "agent-other") authorization = `Bearer ${await target.tokenFor("agent", OTHER_SESSION)}`;
    if (who === "viewer-bad-query") {
      authorization = `Bearer ${await target.tokenFor("viewer")}`;
      pathAndQuery += "&bogus=1";
    }
    const answer = await rawUpgrade(target, pathAndQuery, authorization);
    expect(answer.status).toBe(status);
    try {
      await waitFor(answer.closed, {
        timeoutMs: 5000,
        message: `the server kept the connection of a refused upgrade (${status}) open`,
      });
    } finally {
      answer.socket.destroy();
    }
  });

  it("server.stop() still finishes within 10 s after a refused upgrade whose client stays connected", async () => {
    const target = await start();
    const answer = await rawUpgrade(target, "/api/v1/ws/events");
    expect(answer.status).toBe(401);
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      target.stop().then(() => "stopped"),
      new Promise<string>(
        (resolve) => (timer = setTimeout(() => resolve("still stopping after 10 s"), 10_000)),
      ),
    ]);
    clearTimeout(timer);
    answer.socket.destroy();
    expect(outcome).toBe("stopped");
  });
});
