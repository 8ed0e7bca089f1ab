import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { DatabaseTarget } from "../../src/config/config-schema.js";
import type { NewEvent, StoredEvent } from "../../src/store/event-store.js";
import { EventStore } from "../../src/store/event-store.js";
import type { MigrationReport } from "../../src/store/migrate.js";
import type { TestDatabase } from "./databases.js";
import { deferred } from "./wait-for.js";

const here = path.dirname(fileURLToPath(import.meta.url));

/** The events appender `appender` appends as its batch number `batch`: each one identifiable. */
export function appenderBatch(appender: number, batch: number, size: number): NewEvent[] {
  return Array.from({ length: size }, (_, index) => ({
    sessionId: `ses_${appender}`,
    kind: "agent.turn",
    payloadJson: JSON.stringify({ appender, batch, index }),
    ts: batch,
  }));
}

interface StoreChild {
  process: ChildProcess;
  ready: Promise<void>;
  /** The child's `result` line, parsed; rejects with the child's error. */
  result: Promise<unknown>;
  send(line: string): void;
}

function spawnStoreChild(target: DatabaseTarget, args: string[]): StoreChild {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(here, "store-child.ts"), ...args], {
    env: { ...process.env, STORE_CHILD_TARGET: JSON.stringify(target) },
    stdio: ["pipe", "pipe", "inherit"],
  });
  // A child that has exited closes its stdin; a late line to it is not an error of the test.
  child.stdin?.on("error", () => undefined);
  const ready = deferred();
  const result = new Promise<unknown>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (out.startsWith("ready\n")) ready.resolve();
    });
    child.on("exit", (code) => {
      const line = (prefix: string) => out.split("\n").find((l) => l.startsWith(prefix));
      const ok = line("result ");
      const failed = line("error ");
      if (ok !== undefined && code === 0) resolve(JSON.parse(ok.slice("result ".length)));
      else reject(new Error(`store child ${args.join(" ")} exited with ${code}: ${failed ?? out}`));
    });
  });
  // Failures are reported through `result` to whoever awaits it; this keeps an unawaited one quiet.
  result.catch(() => undefined);
  // A child that dies before `ready` must not leave the caller waiting for it.
  const readyOrExit = Promise.race([ready.promise, result.then(() => undefined)]);
  return {
    process: child,
    ready: readyOrExit,
    result,
    send: (line) => child.stdin?.write(`${line}\n`),
  };
}

export type MigrationOutcome = { ok: true; report: MigrationReport } | { ok: false; error: string };

/** Runs migrateToLatest on `target` from `count` processes started together. */
export async function migrateFromProcesses(
  target: DatabaseTarget,
  count: number,
): Promise<MigrationOutcome[]> {
  const children = Array.from({ length: count }, () => spawnStoreChild(target, ["migrate"]));
  try {
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.send("go");
    const settled = await Promise.allSettled(children.map((c) => c.result));
    return settled.map((s) =>
      s.status === "fulfilled"
        ? { ok: true, report: s.value as MigrationReport }
        : { ok: false, error: (s.reason as Error).message },
    );
  } finally {
    for (const c of children) c.process.kill("SIGKILL");
  }
}

export interface ConcurrentAppenders {
  /** Per appender, per batch: what its append returned. */
  results: Promise<StoredEvent[][][]>;
  /** Lets every appender append its last batch (held back until then). */
  releaseLastBatches(): void;
  /** Kills appender processes still running (after a failure). */
  stop(): void;
}

/**
 * Starts one appender per plan (a list of batch sizes), each on its own connection. PostgreSQL:
 * a pool per appender in this process. SQLite: a process per appender on the same file, as
 * better-sqlite3 waits for a busy lock synchronously: a second handle in this process would block
 * the event loop, so the transaction holding the lock could never commit.
 */
export async function startAppenders(
  testDb: TestDatabase,
  plans: readonly number[][],
): Promise<ConcurrentAppenders> {
  if (testDb.kind === "postgres") {
    const release = deferred();
    const stores = await Promise.all(plans.map(async () => new EventStore(await testDb.open())));
    const results = Promise.all(
      stores.map(async (store, appender) => {
        const sizes = plans[appender] ?? [];
        const batches: StoredEvent[][] = [];
        for (const [batch, size] of sizes.entries()) {
          if (batch === sizes.length - 1) await release.promise;
          batches.push(await store.append(appenderBatch(appender, batch, size)));
        }
        return batches;
      }),
    );
    return { results, releaseLastBatches: () => release.resolve(), stop: () => undefined };
  }
  const children = plans.map((sizes, appender) =>
    spawnStoreChild(testDb.target, ["append", String(appender), JSON.stringify(sizes)]),
  );
  const stop = () => children.forEach((c) => c.process.kill("SIGKILL"));
  try {
    await Promise.all(children.map((c) => c.ready));
  } catch (error) {
    stop();
    throw error;
  }
  for (const c of children) c.send("go");
  let released = false;
  return {
    results: Promise.all(children.map((c) => c.result as Promise<StoredEvent[][]>)),
    releaseLastBatches: () => {
      if (released) return;
      released = true;
      for (const c of children) c.send("last");
    },
    stop,
  };
}
