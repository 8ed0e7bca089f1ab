import { readFileSync } from "node:fs";
import { readFile, stat, writeFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { WebSocket } from "ws";
import {
  cleanupAll,
  freePort,
  ManagedProcess,
  newHome,
  onCleanup,
  REPO_ROOT,
  runCli,
  SHUTDOWN_BOUND_MS,
  spawnCli,
  startServer,
  stopWithin,
  tempDir,
  childEnv,
  type CliResult,
  type ShepherdServer,
} from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";

/**
 * End to end: `shepherd serve` as a real process, the real CLI (compiled dist/ through
 * bin/shepherd.js), plain HTTP. Needs `npm run build` first (the test command does it).
 */

const TOKEN_SHAPE = /shp_[A-Za-z0-9]{40}/;
const TOKEN_SHAPE_G = /shp_[A-Za-z0-9]{40}/g;
const STACK_LINE = /^\s+at /m;
const VERSION = (
  JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string }
).version;

afterEach(cleanupAll);

interface EventLine {
  seq: number;
  kind: string;
  sessionId: string | null;
  ts: string;
  payload: Record<string, unknown>;
}

function show(result: CliResult): string {
  return `exit=${result.code} signal=${result.signal}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
}

/** A user error: exactly one line on stderr, `shepherd: …`, no stack trace, the given exit code. */
function expectUserError(result: CliResult, exit: number | "non-zero", message: RegExp): void {
  const context = show(result);
  if (exit === "non-zero") {
    expect(result.code, context).not.toBe(0);
    expect(result.code, context).not.toBeNull();
  } else {
    expect(result.code, context).toBe(exit);
  }
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines, context).toHaveLength(1);
  expect(lines[0], context).toMatch(/^shepherd: /);
  expect(lines[0], context).toMatch(message);
  expect(result.stderr, context).not.toMatch(STACK_LINE);
  expect(result.stdout, context).not.toMatch(STACK_LINE);
}

function expectSuccess(result: CliResult): void {
  expect(result.code, show(result)).toBe(0);
}

async function adminTokenOf(home: string): Promise<string> {
  return (await readFile(path.join(home, "admin.token"), "utf8")).trim();
}

function get(server: ShepherdServer, urlPath: string, token?: string, accept?: string): Promise<Response> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (accept) headers.accept = accept;
  return fetch(`http://127.0.0.1:${server.port}${urlPath}`, { headers });
}

/** Creates a token through the CLI (admin token from the home) and returns its id and secret. */
async function createToken(
  server: ShepherdServer,
  name: string,
  role = "viewer",
): Promise<{ id: string; secret: string }> {
  const result = await runCli(["token", "create", name, "--role", role], server.target);
  expectSuccess(result);
  const id = /token (tok_[a-z0-9]+) /.exec(result.stdout)?.[1];
  const secret = TOKEN_SHAPE.exec(result.stdout)?.[0];
  expect(id, show(result)).toBeDefined();
  expect(secret, show(result)).toBeDefined();
  return { id: id as string, secret: secret as string };
}

/** `promise`'s value, or `fallback` if it has not settled after `ms`. */
async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<F>((resolve) => (timer = setTimeout(resolve, ms, fallback))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function parseNdjson(text: string): EventLine[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as EventLine);
}

function expectStrictlyIncreasing(seqs: number[]): void {
  for (let i = 1; i < seqs.length; i++) {
    expect(seqs[i], `seqs ${seqs.join(",")}`).toBeGreaterThan(seqs[i - 1] as number);
  }
}

/** All events (ascending seq) from the JSON listing of GET /api/v1/events. */
async function listedSeqs(server: ShepherdServer, token: string): Promise<number[]> {
  const response = await get(server, "/api/v1/events?limit=200", token, "application/json");
  expect(response.status).toBe(200);
  const body = (await response.json()) as { data: EventLine[]; hasMore: boolean };
  expect(body.hasMore).toBe(false);
  return body.data.map((event) => event.seq).reverse();
}

function followerEvents(follower: ManagedProcess): EventLine[] {
  return parseNdjson(follower.stdout);
}

interface SseClient {
  status: number | undefined;
  contentType: string | undefined;
  received(): string;
  /** "ended" when the server ends the response, "failed: …" if the connection breaks. */
  ended: Promise<string>;
}

/**
 * An SSE client that, like a browser's EventSource or a Node keep-alive agent, keeps its
 * connection open for reuse after a response ends (it does not hang up by itself).
 */
function openSse(port: number, token: string): Promise<SseClient> {
  const agent = new http.Agent({ keepAlive: true });
  onCleanup(() => agent.destroy());
  return new Promise((resolve, reject) => {
    const request = http.get(
      {
        host: "127.0.0.1",
        port,
        path: "/api/v1/events?since=0",
        agent,
        headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (text += chunk));
        const ended = new Promise<string>((done) => {
          response.on("end", () => done("ended"));
          response.on("aborted", () => done("failed: aborted"));
          response.on("error", (error) => done(`failed: ${error.message}`));
        });
        resolve({
          status: response.statusCode,
          contentType: response.headers["content-type"],
          received: () => text,
          ended,
        });
      },
    );
    request.on("error", reject);
  });
}

describe("serve: first start on an empty home", () => {
  test("creates <home>/admin.token (0600, shp_ + 40 alphanumerics), prints its path but never the token", async () => {
    const home = await newHome();
    const server = await startServer({ home });
    const file = path.join(home, "admin.token");
    await server.proc.waitForOutput(/Admin token/, { stream: "stderr" });

    expect(server.proc.stderr).toContain(file);
    const content = await readFile(file, "utf8");
    expect(content).toMatch(/^shp_[A-Za-z0-9]{40}\n?$/);
    const token = content.trim();
    expect(server.proc.stdout).not.toContain(token);
    expect(server.proc.stderr).not.toContain(token);
    expect(server.proc.stdout).not.toMatch(TOKEN_SHAPE);
    expect(server.proc.stderr).not.toMatch(TOKEN_SHAPE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    const exit = await stopWithin(server.proc, "SIGTERM");
    expect(exit, server.proc.describe()).toEqual({ code: 0, signal: null });
    // Nothing printed during shutdown reveals it either.
    expect(`${server.proc.stdout}${server.proc.stderr}`).not.toContain(token);
  });

  test("a second start on the same home reuses the admin token", async () => {
    const home = await newHome();
    const port = await freePort();
    const first = await startServer({ home, port });
    const token = await adminTokenOf(home);
    expect(await stopWithin(first.proc), first.proc.describe()).toEqual({ code: 0, signal: null });

    const second = await startServer({ home, port });
    const line = await second.proc.waitForOutput(/Admin token: (.*)/, { stream: "stderr" });
    expect(line[1]?.trim()).toBe(path.join(home, "admin.token"));
    expect(await adminTokenOf(home)).toBe(token);
    expect((await stat(path.join(home, "admin.token"))).mode & 0o777).toBe(0o600);
    expect(`${second.proc.stdout}${second.proc.stderr}`).not.toContain(token);
    // The reused token still works against the restarted server.
    expect((await get(second, "/api/v1/tokens", token)).status).toBe(200);
  });

  test("GET /healthz is public; openapi.json and /api/v1/tokens need the token", async () => {
    const server = await startServer();
    const token = await adminTokenOf(server.home);

    const health = await get(server, "/healthz");
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok" });

    const anonymous = await get(server, "/api/v1/openapi.json");
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { code: "UNAUTHENTICATED" } });

    const openapi = await get(server, "/api/v1/openapi.json", token);
    expect(openapi.status).toBe(200);
    const document = (await openapi.json()) as { openapi: string; info: unknown; paths: object };
    expect(document.openapi).toMatch(/^3\.1\./);
    expect(document.paths).toHaveProperty("/api/v1/tokens");

    const tokens = await get(server, "/api/v1/tokens", token);
    expect(tokens.status).toBe(200);
    expect(tokens.headers.get("x-total-count")).toBe("1");
    const page = (await tokens.json()) as { data: { role: string }[]; hasMore: boolean; nextCursor: unknown };
    expect(page.hasMore).toBe(false);
    expect(page.nextCursor).toBeNull();
    expect(page.data).toHaveLength(1);
    expect(page.data[0]?.role).toBe("admin");
    expect(JSON.stringify(page)).not.toMatch(TOKEN_SHAPE);

    expect((await get(server, "/api/v1/tokens")).status).toBe(401);
  });
});

describe("shepherd status", () => {
  test("finds <home>/admin.token by itself and reports ready, database and queue", async () => {
    const server = await startServer();

    const human = await runCli(["status"], server.target);
    expectSuccess(human);
    expect(human.stdout).toMatch(/\bready\b/);
    expect(human.stdout).toContain(`sqlite:${path.join(server.home, "shepherd.db")}`);
    expect(human.stdout).toMatch(/^queue\s+sqlite\b/m);
    expect(human.stderr).toBe("");

    const json = await runCli(["status", "--json"], server.target);
    expectSuccess(json);
    const report = JSON.parse(json.stdout) as {
      ready: { status: string };
      status: { version: string; role: string; database: { dialect: string }; queue: { kind: string } };
    };
    expect(report.ready.status).toBe("ready");
    expect(report.status.version).toBe(VERSION);
    expect(report.status).toMatchObject({ role: "all", database: { dialect: "sqlite" } });

    // The token came from the server's home: the same command from another home is refused.
    const elsewhere = await runCli(["status"], { home: await newHome(), port: server.port });
    expectUserError(elsewhere, 1, /\[UNAUTHENTICATED\]/);
  });
});

describe("shepherd token", () => {
  test("create prints the token once; ls never shows one; viewers are forbidden; revoke stops it", async () => {
    const server = await startServer();
    const adminToken = await adminTokenOf(server.home);

    const created = await runCli(["token", "create", "ci", "--role", "viewer"], server.target);
    expectSuccess(created);
    const secrets = created.stdout.match(TOKEN_SHAPE_G) ?? [];
    expect(secrets, show(created)).toHaveLength(1);
    const secret = secrets[0] as string;
    expect(secret).not.toBe(adminToken);
    expect(created.stderr).not.toMatch(TOKEN_SHAPE);
    const id = /token (tok_[a-z0-9]+) \(ci\)/.exec(created.stdout)?.[1] as string;
    expect(id, show(created)).toBeDefined();

    const ls = await runCli(["token", "ls"], server.target);
    expectSuccess(ls);
    expect(ls.stdout).not.toMatch(TOKEN_SHAPE);
    const row = ls.stdout.split("\n").find((line) => line.startsWith(id));
    expect(row, show(ls)).toBeDefined();
    expect(row).toMatch(/\bci\b.*\bviewer\b.*\bactive$/);
    expect(ls.stdout).toMatch(/\badmin\b/);

    const lsJson = await runCli(["token", "ls", "--json"], server.target);
    expectSuccess(lsJson);
    expect(lsJson.stdout).not.toMatch(TOKEN_SHAPE);
    expect((JSON.parse(lsJson.stdout) as { id: string }[]).map((t) => t.id)).toContain(id);

    const asViewer = { ...server.target, env: { SHEPHERD_TOKEN: secret } };
    expectSuccess(await runCli(["status"], asViewer));
    expectUserError(await runCli(["token", "ls"], asViewer), 1, /\[FORBIDDEN\]/);

    const revoked = await runCli(["token", "revoke", id], server.target);
    expectSuccess(revoked);
    expect(revoked.stdout).toContain(id);

    expectUserError(await runCli(["status"], asViewer), 1, /\[UNAUTHENTICATED\]/);
    const after = await runCli(["token", "ls"], server.target);
    expectSuccess(after);
    expect(after.stdout.split("\n").find((line) => line.startsWith(id))).toMatch(/revoked$/);
  });

  test("--token-file is an alternative to SHEPHERD_TOKEN", async () => {
    const server = await startServer();
    const viewer = await createToken(server, "file-viewer");
    const dir = await tempDir();
    const viewerFile = path.join(dir, "viewer.token");
    await writeFile(viewerFile, `${viewer.secret}\n`, { mode: 0o600 });

    // The file's token is used instead of <home>/admin.token: a viewer may read status but not tokens.
    expectSuccess(await runCli(["--token-file", viewerFile, "status"], server.target));
    expectUserError(
      await runCli(["--token-file", viewerFile, "token", "ls"], server.target),
      1,
      /\[FORBIDDEN\]/,
    );

    // From a home without admin.token, the server's admin token in a file works.
    const elsewhere = { home: await newHome(), port: server.port };
    const adminFile = path.join(server.home, "admin.token");
    const ls = await runCli(["token", "ls", "--token-file", adminFile], elsewhere);
    expectSuccess(ls);
    expect(ls.stdout).toContain(viewer.id);

    expectSuccess(await runCli(["token", "revoke", viewer.id], server.target));
    expectUserError(
      await runCli(["--token-file", viewerFile, "status"], server.target),
      1,
      /\[UNAUTHENTICATED\]/,
    );
    expectUserError(
      await runCli(["--token-file", path.join(dir, "missing.token"), "status"], server.target),
      1,
      /token file/,
    );
  });
});

describe("shepherd logs", () => {
  test("prints recent events", async () => {
    const server = await startServer();
    await createToken(server, "logged-one");

    const logs = await runCli(["logs"], server.target);
    expectSuccess(logs);
    const lines = logs.stdout.split("\n").filter((line) => line.includes("token.created"));
    expect(lines.length, show(logs)).toBe(2);
    expect(logs.stdout).toContain('"name":"logged-one"');
    expect(logs.stdout).not.toMatch(TOKEN_SHAPE);
  });

  test("--follow --json prints NDJSON, receives a new event and exits 0 on SIGINT", async () => {
    const server = await startServer();
    const follower = spawnCli(["logs", "--follow", "--json"], server.target);
    await follower.waitForOutput(/"kind":"token.created"/, { stream: "stdout" });

    const live = await createToken(server, "live-one");
    await follower.waitForOutput(new RegExp(`"tokenId":"${live.id}"`), { stream: "stdout" });

    follower.signal("SIGINT");
    const exit = await follower.waitForExit(SHUTDOWN_BOUND_MS);
    await follower.drain();
    expect(exit, follower.describe()).toEqual({ code: 0, signal: null });

    const events = followerEvents(follower);
    expect(events.map((e) => e.kind)).toEqual(["token.created", "token.created"]);
    expect(events[1]?.payload).toMatchObject({ tokenId: live.id, name: "live-one", role: "viewer" });
    for (const event of events) {
      expect(Number.isInteger(event.seq), JSON.stringify(event)).toBe(true);
      expect(Number.isNaN(Date.parse(event.ts)), JSON.stringify(event)).toBe(false);
    }
    expectStrictlyIncreasing(events.map((e) => e.seq));
    expect(follower.stderr).not.toMatch(STACK_LINE);
  });

  test("--follow resumes across a server restart: every event exactly once, no gaps", async () => {
    const server = await startServer();
    const token = await adminTokenOf(server.home);
    const follower = spawnCli(["logs", "--follow", "--json"], server.target);
    await follower.waitForOutput(/"kind":"token.created"/, { stream: "stdout" });
    const before = await createToken(server, "before-restart");
    await follower.waitForOutput(new RegExp(`"tokenId":"${before.id}"`), { stream: "stdout" });

    expect(await stopWithin(server.proc, "SIGTERM"), server.proc.describe()).toEqual({
      code: 0,
      signal: null,
    });
    expect(follower.running, follower.describe()).toBe(true);

    const restarted = await startServer({ home: server.home, port: server.port });
    const after = await createToken(restarted, "after-restart");
    const more = await createToken(restarted, "after-restart-2");
    await follower.waitForOutput(new RegExp(`"tokenId":"${more.id}"`), {
      stream: "stdout",
      timeoutMs: 45_000,
    });

    const listed = await listedSeqs(restarted, token);
    const seqs = followerEvents(follower).map((e) => e.seq);
    expectStrictlyIncreasing(seqs);
    expect(seqs).toEqual(listed);
    // The log itself is gap-free: 1..n.
    expect(listed).toEqual(Array.from({ length: listed.length }, (_, i) => i + 1));
    expect(follower.stdout).toContain(`"tokenId":"${after.id}"`);

    follower.signal("SIGINT");
    expect(await follower.waitForExit(SHUTDOWN_BOUND_MS), follower.describe()).toEqual({
      code: 0,
      signal: null,
    });
    expect(follower.stderr).not.toMatch(STACK_LINE);
  }, 90_000);
});

describe("user errors: one line, no stack trace, non-zero exit", () => {
  test("token create with an unknown --role exits 2", async () => {
    const result = await runCli(["token", "create", "x", "--role", "superuser"], { home: await newHome() });
    expectUserError(result, 2, /--role must be one of admin, operator, viewer, agent; got "superuser"/);
  });

  test("revoking an unknown token id exits 1 with TOKEN_NOT_FOUND", async () => {
    const server = await startServer();
    const result = await runCli(["token", "revoke", "tok_doesnotexist"], server.target);
    expectUserError(result, 1, /\[TOKEN_NOT_FOUND\]/);
  });

  test("an unknown command exits 2 with commander's message", async () => {
    const result = await runCli(["frobnicate"], { home: await newHome() });
    expect(result.code, show(result)).toBe(2);
    expect(result.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(result.stderr).not.toMatch(STACK_LINE);
  });

  test("status where nothing listens exits 1: cannot reach Shepherd", async () => {
    const port = await freePort();
    const result = await runCli(["status"], { home: await newHome(), port });
    expectUserError(result, 1, new RegExp(`cannot reach Shepherd at http://127\\.0\\.0\\.1:${port}`));
  });

  test("an invalid shepherd.yaml names the key path and file:line:col", async () => {
    const dir = await tempDir();
    const file = path.join(dir, "shepherd.yaml");
    await writeFile(file, "server:\n  host: 127.0.0.1\n  bogus: 1\nlog:\n  level: info\n");
    const home = await newHome();
    const where = new RegExp(
      `${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3:3 server\\.bogus: unknown key`,
    );

    expectUserError(await runCli(["status"], { home, env: { SHEPHERD_CONFIG: file } }), "non-zero", where);
    expectUserError(await runCli(["--config", file, "status"], { home }), "non-zero", where);
    const serve = await runCli(["serve"], { home, port: await freePort(), env: { SHEPHERD_CONFIG: file } });
    expectUserError(serve, "non-zero", where);
  });

  test("SHEPHERD_PORT=abc is refused naming the variable", async () => {
    const home = await newHome();
    const env = { SHEPHERD_PORT: "abc" };
    expectUserError(await runCli(["status"], { home, env }), "non-zero", /SHEPHERD_PORT server\.port/);
    expectUserError(await runCli(["serve"], { home, env }), "non-zero", /SHEPHERD_PORT server\.port/);
  });
});

describe("serve refuses to start", () => {
  test("when the port is taken: 'already in use'", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    onCleanup(() => new Promise((resolve) => blocker.close(resolve)));
    const port = (blocker.address() as net.AddressInfo).port;

    const result = await runCli(["serve"], { home: await newHome(), port });
    expectUserError(result, "non-zero", new RegExp(`port ${port} .*already in use`));
  });

  test("when PostgreSQL is unreachable: 'cannot connect to PostgreSQL'", async () => {
    const result = await runCli(["serve"], {
      home: await newHome(),
      port: await freePort(),
      env: { SHEPHERD_DATABASE_URL: "postgres://postgres@127.0.0.1:1/nope" },
    });
    expectUserError(result, "non-zero", /cannot connect to PostgreSQL/);
  });

  test("without printing the database password", async () => {
    const result = await runCli(["serve"], {
      home: await newHome(),
      port: await freePort(),
      env: { SHEPHERD_DATABASE_URL: "postgres://u:s3cretpass@127.0.0.1:1/x" },
    });
    expectUserError(result, "non-zero", /cannot connect to PostgreSQL/);
    expect(result.stdout).not.toContain("s3cretpass");
    expect(result.stderr).not.toContain("s3cretpass");
  });

  test("with --role worker or --role api on SQLite: needs PostgreSQL", async () => {
    for (const role of ["worker", "api"]) {
      const result = await runCli(["serve", "--role", role], {
        home: await newHome(),
        port: await freePort(),
      });
      expectUserError(result, "non-zero", /PostgreSQL/);
    }
    const bad = await runCli(["serve", "--role", "boss"], { home: await newHome(), port: await freePort() });
    expectUserError(bad, 2, /--role must be one of api, worker, all/);
  });
});

describe("graceful shutdown", () => {
  const signals = ["SIGTERM", "SIGINT"] as const;

  test.each(signals)("%s: exits 0 within 10 s", async (signal) => {
    const server = await startServer();
    const exit = await stopWithin(server.proc, signal);
    expect(exit, server.proc.describe()).toEqual({ code: 0, signal: null });
    expect(server.proc.stderr).toContain(`${signal} received`);
    expect(server.proc.stderr).not.toMatch(STACK_LINE);
  });

  test.each(signals)("%s: exits 0 within 10 s and ends a connected SSE stream", async (signal) => {
    const server = await startServer();
    const sse = await openSse(server.port, await adminTokenOf(server.home));
    expect(sse.status).toBe(200);
    expect(sse.contentType).toMatch(/^text\/event-stream/);
    await waitFor(() => sse.received().includes("event: token.created"), { timeoutMs: 15_000 });

    server.proc.signal(signal);
    const [exit, outcome] = await Promise.all([
      server.proc.waitForExit(SHUTDOWN_BOUND_MS),
      within(sse.ended, SHUTDOWN_BOUND_MS, "still open"),
    ]);
    expect(outcome).toBe("ended");
    expect(exit, server.proc.describe()).toEqual({ code: 0, signal: null });
  });

  test.each(signals)("%s: exits 0 within 10 s and closes a connected WebSocket", async (signal) => {
    const server = await startServer();
    const token = await adminTokenOf(server.home);
    const socket = new WebSocket(`ws://127.0.0.1:${server.port}/api/v1/ws/events?since=0`, {
      headers: { authorization: `Bearer ${token}` },
    });
    onCleanup(() => socket.terminate());
    const messages: string[] = [];
    socket.on("message", (data: Buffer) => messages.push(data.toString("utf8")));
    socket.on("error", () => undefined);
    const closed = new Promise<number>((resolve) => socket.on("close", (code: number) => resolve(code)));
    await waitFor(() => messages.length > 0, { timeoutMs: 15_000 });
    expect(JSON.parse(messages[0] as string)).toMatchObject({ seq: 1, kind: "token.created" });

    server.proc.signal(signal);
    const [exit, code] = await Promise.all([
      server.proc.waitForExit(SHUTDOWN_BOUND_MS),
      within(closed, SHUTDOWN_BOUND_MS, "still open"),
    ]);
    expect(exit, server.proc.describe()).toEqual({ code: 0, signal: null });
    // The server says why (1001 going away), rather than dropping the connection (1006) or
    // closing without a status (1005).
    expect(code).toBe(1001);
  });
});

describe("shepherd migrate", () => {
  test("applies every migration on a fresh home, then says up to date", async () => {
    const home = await newHome();
    const first = await runCli(["migrate"], { home });
    expectSuccess(first);
    expect(first.stdout).toMatch(
      /applied 0001-foundation, 0002-repos-and-proposals, 0003-observation, 0004-agents/,
    );

    const again = await runCli(["migrate"], { home });
    expectSuccess(again);
    expect(again.stdout).toMatch(/up to date/);

    const json = await runCli(["migrate", "--json"], { home });
    expectSuccess(json);
    expect(JSON.parse(json.stdout)).toMatchObject({ applied: [], current: "0004-agents" });

    // The server starts on the migrated home without migrating again.
    const server = await startServer({ home });
    await server.proc.waitForOutput(/Server listening at/, { stream: "stdout" });
    expect(server.proc.stdout).not.toContain('"applied"');
  });
});

describe("npm start (the README's command)", () => {
  test("serves /healthz with SHEPHERD_HOME and SHEPHERD_PORT set, and stops on SIGINT", async () => {
    const home = await newHome();
    const port = await freePort();
    const npm = new ManagedProcess("npm start", "npm", ["start"], {
      cwd: REPO_ROOT,
      env: childEnv({ SHEPHERD_HOME: home, SHEPHERD_PORT: String(port) }),
    });
    await npm.waitForOutput(/listening on http:\/\/127\.0\.0\.1:\d+/, {
      stream: "stderr",
      timeoutMs: 90_000,
    });

    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok", version: VERSION });
    expect((await stat(path.join(home, "admin.token"))).mode & 0o777).toBe(0o600);

    // Ctrl-C in a terminal signals the whole foreground process group (npm and the server).
    npm.signal("SIGINT", { group: true });
    // The server's 10 s, plus a little for npm itself.
    const closed = await within(
      npm.closed.then(() => true),
      SHUTDOWN_BOUND_MS + 5000,
      false,
    );
    expect(closed, npm.describe()).toBe(true);
    expect(npm.stderr).toContain("SIGINT received");
    expect(npm.stdout).toMatch(/"msg":"stopped"/);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  }, 120_000);
});

describe("output into a closed pipe", () => {
  test("a reader that stops early (`shepherd … | head`) ends the output quietly, with no stack", async () => {
    const { spawn } = await import("node:child_process");
    const child = spawn(process.execPath, [path.join(REPO_ROOT, "bin", "shepherd.js"), "--help"], {
      env: childEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    // The reading end goes away before the CLI has written a byte.
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).not.toMatch(/EPIPE|^\s+at /m);
    expect(code).toBe(0);
  });
});
