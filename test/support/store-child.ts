/**
 * A separate process working on a test database, for the store contract's concurrency tests:
 * `migrate` runs migrateToLatest; `append <appender> <sizes json>` appends one batch per size.
 * It opens the database, prints `ready`, waits for `go` on stdin (so that every child starts
 * together), holds back its last batch until `last`, and prints `result <json>` before exiting.
 * Run with `node --import tsx`.
 */
import { createInterface } from "node:readline";
import type { DatabaseTarget } from "../../src/config/config-schema.js";
import { openDatabase } from "../../src/store/database.js";
import { EventStore, type StoredEvent } from "../../src/store/event-store.js";
import { migrateToLatest } from "../../src/store/migrate.js";
import { appenderBatch } from "./store-processes.js";

const target = JSON.parse(process.env.STORE_CHILD_TARGET ?? "") as DatabaseTarget;
const [mode, appenderArg, sizesArg] = process.argv.slice(2);

const lines = createInterface({ input: process.stdin });
const waiting = new Map<string, () => void>();
const received = new Set<string>();
lines.on("line", (line) => {
  received.add(line);
  waiting.get(line)?.();
});
function waitForLine(line: string): Promise<void> {
  if (received.has(line)) return Promise.resolve();
  return new Promise((resolve) => waiting.set(line, resolve));
}

const database = await openDatabase(target);
try {
  process.stdout.write("ready\n");
  await waitForLine("go");
  let result: unknown;
  if (mode === "migrate") {
    result = await migrateToLatest(database);
  } else if (mode === "append") {
    const appender = Number(appenderArg);
    const sizes = JSON.parse(sizesArg ?? "[]") as number[];
    const store = new EventStore(database);
    const batches: StoredEvent[][] = [];
    for (const [batch, size] of sizes.entries()) {
      if (batch === sizes.length - 1) await waitForLine("last");
      batches.push(await store.append(appenderBatch(appender, batch, size)));
    }
    result = batches;
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  process.stdout.write(`result ${JSON.stringify(result)}\n`);
} catch (error) {
  process.stdout.write(`error ${JSON.stringify((error as Error).message)}\n`);
  process.exitCode = 1;
} finally {
  lines.close();
  process.stdin.destroy();
  await database.close();
}
