import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { createTestDatabase, HAS_PG } from "../support/databases.js";
import {
  cleanupAll,
  onCleanup,
  runCli,
  spawnCli,
  startServer,
  stopWithin,
  type CliResult,
} from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";

/** End to end in distributed mode: several `shepherd serve` processes on one PostgreSQL database. */

const TOKEN_SHAPE = /shp_[A-Za-z0-9]{40}/;

afterEach(cleanupAll);

function show(result: CliResult): string {
  return `exit=${result.code}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
}

async function freshDatabaseUrl(): Promise<string> {
  const database = await createTestDatabase("postgres");
  // cleanupAll kills the processes before it runs the extra cleanups, so the drop finds no users.
  onCleanup(() => database.cleanup());
  return database.target.url;
}

async function adminTokenOf(home: string): Promise<string> {
  return (await readFile(path.join(home, "admin.token"), "utf8")).trim();
}

describe.skipIf(!HAS_PG)("serve on PostgreSQL (distributed mode)", () => {
  test("--role api and --role worker start on one database; status shows postgres and pg-boss", async () => {
    const url = await freshDatabaseUrl();
    const env = { SHEPHERD_DATABASE_URL: url };
    const api = await startServer({ role: "api", env });
    const worker = await startServer({ role: "worker", env });
    expect(worker.proc.stderr).toMatch(/\(worker\) running/);
    expect(worker.proc.stderr).not.toMatch(/listening on/);

    const human = await runCli(["status"], api.target);
    expect(human.code, show(human)).toBe(0);
    expect(human.stdout).toMatch(/\bready\b/);
    expect(human.stdout).toMatch(/^role\s+api\b/m);
    expect(human.stdout).toMatch(/^database\s+postgres/m);
    expect(human.stdout).toMatch(/^queue\s+pg-boss\b/m);

    const json = await runCli(["status", "--json"], api.target);
    expect(json.code, show(json)).toBe(0);
    const report = JSON.parse(json.stdout) as {
      ready: { status: string };
      status: { role: string; database: { dialect: string; migration: string }; queue: { kind: string } };
    };
    expect(report.ready.status).toBe("ready");
    expect(report.status).toMatchObject({
      role: "api",
      database: { dialect: "postgres", migration: "0004-agents" },
      queue: { kind: "pg-boss" },
    });

    // Both keep running, and both stop cleanly.
    expect(worker.proc.running, worker.proc.describe()).toBe(true);
    const [apiExit, workerExit] = await Promise.all([
      stopWithin(api.proc, "SIGTERM"),
      stopWithin(worker.proc, "SIGTERM"),
    ]);
    expect(apiExit, api.proc.describe()).toEqual({ code: 0, signal: null });
    expect(workerExit, worker.proc.describe()).toEqual({ code: 0, signal: null });
  }, 60_000);

  test("an event caused through process B reaches a logs --follow client of process A", async () => {
    const url = await freshDatabaseUrl();
    const env = { SHEPHERD_DATABASE_URL: url };
    const a = await startServer({ env });
    const b = await startServer({ env });
    const bAdmin = await adminTokenOf(b.home);

    // The tokens table is shared: B's admin token is accepted by A.
    const onA = { ...a.target, env: { ...env, SHEPHERD_TOKEN: bAdmin } };
    const follower = spawnCli(["logs", "--follow", "--json"], onA);
    await follower.waitForOutput(/"kind":"token.created"/, { stream: "stdout" });
    // Wait until the follower's live stream is attached to A, so that what follows is live fan-out.
    await waitFor(
      async () => {
        const metrics = await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
        return /^shepherd_event_stream_clients\{transport="sse"\} [1-9]/m.test(metrics);
      },
      { timeoutMs: 15_000, message: "the follower's SSE stream on A" },
    );

    const created = await runCli(["token", "create", "via-b", "--role", "viewer"], b.target);
    expect(created.code, show(created)).toBe(0);
    const secret = TOKEN_SHAPE.exec(created.stdout)?.[0] as string;
    const id = /token (tok_[a-z0-9]+) /.exec(created.stdout)?.[1] as string;
    expect(secret, show(created)).toBeDefined();

    await follower.waitForOutput(new RegExp(`"tokenId":"${id}"`), { stream: "stdout", timeoutMs: 30_000 });
    const events = follower.stdout
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as { seq: number; kind: string; payload: { name?: string } });
    const viaB = events.filter((event) => event.payload.name === "via-b");
    expect(viaB, follower.describe()).toHaveLength(1);
    expect(viaB[0]?.kind).toBe("token.created");
    const seqs = events.map((event) => event.seq);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);

    // The token created through B works on A.
    const asViewerOnA = await runCli(["status"], { ...a.target, env: { ...env, SHEPHERD_TOKEN: secret } });
    expect(asViewerOnA.code, show(asViewerOnA)).toBe(0);

    follower.signal("SIGINT");
    expect(await follower.waitForExit(10_000), follower.describe()).toEqual({ code: 0, signal: null });
    const [aExit, bExit] = await Promise.all([stopWithin(a.proc), stopWithin(b.proc)]);
    expect(aExit, a.proc.describe()).toEqual({ code: 0, signal: null });
    expect(bExit, b.proc.describe()).toEqual({ code: 0, signal: null });
  }, 90_000);
});
