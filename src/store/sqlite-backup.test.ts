import { stat } from "node:fs/promises";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/support/databases.js";
import { EventStore } from "./event-store.js";
import { backupSqlite } from "./sqlite-backup.js";

describe("backupSqlite", () => {
  let testDb: TestDatabase | undefined;

  afterEach(async () => {
    await testDb?.cleanup();
  });

  it("writes a consistent, private copy while appends keep committing", async () => {
    testDb = await createTestDatabase("sqlite");
    if (testDb.target.kind !== "sqlite") throw new Error("unreachable");
    const store = new EventStore(await testDb.open());
    let writing = true;
    const writer = (async () => {
      while (writing) {
        // better-sqlite3 is synchronous under Kysely: yield, or timers (and the backup) never run.
        await new Promise((resolve) => setImmediate(resolve));
        await store.append(
          Array.from({ length: 20 }, (_, i) => ({
            kind: "pr.observed",
            sessionId: null,
            payloadJson: `{"i":${i}}`,
            ts: i,
          })),
        );
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const destination = path.join(path.dirname(testDb.target.path), "copy.db");
    const result = await backupSqlite(testDb.target.path, destination);
    writing = false;
    await writer;

    expect(result.bytes).toBeGreaterThan(0);
    expect((await stat(destination)).mode & 0o777).toBe(0o600);
    const copy = new BetterSqlite3(destination, { readonly: true });
    try {
      const events = copy.prepare("select count(*) as n, max(seq) as last from events").get() as {
        n: number;
        last: number;
      };
      const counter = copy.prepare("select last_seq from event_counter").get() as { last_seq: number };
      // A snapshot: the counter and the rows agree, whatever was committed after it was taken.
      expect(events.n).toBeGreaterThan(0);
      expect(events.last).toBe(counter.last_seq);
      expect(events.n).toBe(counter.last_seq);
      expect(copy.pragma("integrity_check", { simple: true })).toBe("ok");
    } finally {
      copy.close();
    }
  });

  it("refuses a source that does not exist", async () => {
    testDb = await createTestDatabase("sqlite");
    if (testDb.target.kind !== "sqlite") throw new Error("unreachable");
    const dir = path.dirname(testDb.target.path);
    await expect(backupSqlite(path.join(dir, "missing.db"), path.join(dir, "copy.db"))).rejects.toThrow();
  });
});
