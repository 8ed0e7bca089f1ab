import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { Kysely } from "kysely";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DatabaseTarget } from "../../src/config/config-schema.js";
import { openDatabase, type Database } from "../../src/store/database.js";
import { EventStore, type NewEvent, type StoredEvent } from "../../src/store/event-store.js";
import { newId } from "../../src/store/ids.js";
import { currentMigration, migrateToLatest, pendingMigrations } from "../../src/store/migrate.js";
import { TokenStore, type NewToken } from "../../src/store/token-store.js";
import { StaleVersionError, transition, updateVersioned } from "../../src/store/transitions.js";
import {
  createTestDatabase,
  TEST_PG_URL,
  type DatabaseKind,
  type TestDatabase,
} from "../support/databases.js";
import { appenderBatch, migrateFromProcesses, startAppenders } from "../support/store-processes.js";

const ALL_MIGRATIONS = ["0001-foundation", "0002-repos-and-proposals", "0003-observation", "0004-agents"];
const LATEST_MIGRATION = ALL_MIGRATIONS.at(-1);

/** A table that exists only in these tests, for the generic helpers of transitions.ts. */
interface ScratchTable {
  id: string;
  status: string;
  version: number;
  note: string | null;
}
type ScratchDb = Kysely<{ scratch: ScratchTable }>;

/** A small deterministic generator, so a failing run can be replayed with the same batch sizes. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/** An empty database of `kind` with no migration applied, and a way to delete it. */
async function createBlankTarget(
  kind: DatabaseKind,
): Promise<{ target: DatabaseTarget; drop(): Promise<void> }> {
  if (kind === "sqlite") {
    const dir = await mkdtemp(path.join(os.tmpdir(), "shepherd-blank-"));
    const file = path.join(dir, "shepherd.db");
    return {
      target: { kind: "sqlite", path: file, url: `sqlite:${file}` },
      drop: () => rm(dir, { recursive: true, force: true }),
    };
  }
  const name = `shepherd_b_${randomBytes(6).toString("hex")}`;
  const admin = async (text: string) => {
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${name}`;
  return {
    target: { kind: "postgres", url: url.toString() },
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** The storage behaviour both databases must have (SPEC C1 "Storage" and "Event log"). */
export function storeContract(kind: DatabaseKind): void {
  describe(`store contract (${kind})`, () => {
    let testDb: TestDatabase;
    let database: Database;

    beforeEach(async () => {
      testDb = await createTestDatabase(kind);
      database = await testDb.open();
    });

    afterEach(async () => {
      await testDb.cleanup();
    });

    /** `count` connections to the test database, the first being `database`: separate writers. */
    async function connections(count: number): Promise<Database[]> {
      const extra = await Promise.all(range(2, count).map(() => testDb.open()));
      return [database, ...extra];
    }

    describe("migrations", () => {
      it("applies nothing on a migrated database and reports the newest migration", async () => {
        expect(await pendingMigrations(database)).toEqual([]);
        expect(await currentMigration(database)).toBe(LATEST_MIGRATION);
        const report = await migrateToLatest(database);
        expect(report).toEqual({ applied: [], current: LATEST_MIGRATION });
        expect(await pendingMigrations(database)).toEqual([]);
      });

      it("does not fail when two connections migrate a migrated database at once", async () => {
        const [a, b] = await connections(2);
        const reports = await Promise.all([migrateToLatest(a!), migrateToLatest(b!)]);
        expect(reports).toEqual([
          { applied: [], current: LATEST_MIGRATION },
          { applied: [], current: LATEST_MIGRATION },
        ]);
      });

      it("migrates a blank database, listing the pending migrations first", async () => {
        const blank = await createBlankTarget(kind);
        const fresh = await openDatabase(blank.target);
        try {
          expect(await pendingMigrations(fresh)).toEqual(ALL_MIGRATIONS);
          expect(await currentMigration(fresh)).toBeNull();
          expect(await migrateToLatest(fresh)).toEqual({
            applied: ALL_MIGRATIONS,
            current: LATEST_MIGRATION,
          });
          expect(await pendingMigrations(fresh)).toEqual([]);
          expect(await new EventStore(fresh).head()).toBe(0);
        } finally {
          await fresh.close();
          await blank.drop();
        }
      });

      it("applies each migration exactly once when several processes migrate a blank database at once", async () => {
        // The race is decided by scheduling, so a few rounds make a lost race near certain to show.
        for (let round = 1; round <= 3; round++) {
          const blank = await createBlankTarget(kind);
          try {
            const outcomes = await migrateFromProcesses(blank.target, 4);
            expect(outcomes.flatMap((o) => (o.ok ? [] : [`round ${round}: ${o.error}`]))).toEqual([]);
            const applied = outcomes.flatMap((o) => (o.ok ? o.report.applied : []));
            expect(applied).toEqual(ALL_MIGRATIONS);
            const check = await openDatabase(blank.target);
            try {
              expect(await pendingMigrations(check)).toEqual([]);
              // The counter row was inserted once: the first append gets seq 1.
              const [stored] = await new EventStore(check).append([
                { sessionId: null, kind: "session.created", payloadJson: "{}", ts: 1 },
              ]);
              expect(stored?.seq).toBe(1);
            } finally {
              await check.close();
            }
          } finally {
            await blank.drop();
          }
        }
      }, 60_000);
    });

    describe("TokenStore", () => {
      let tokens: TokenStore;
      const now = 1_750_000_000_000;

      beforeEach(() => {
        tokens = new TokenStore(database.db);
      });

      function newToken(overrides: Partial<NewToken> = {}): NewToken {
        const createdAt = overrides.createdAt ?? now;
        return {
          id: newId("tok", createdAt),
          name: "ci",
          role: "operator",
          sessionId: null,
          hint: "shp_…abcd",
          createdAt,
          createdBy: null,
          expiresAt: null,
          tokenHash: randomBytes(32).toString("hex"),
          ...overrides,
        };
      }

      it("inserts a token and reads it back by id", async () => {
        const input = newToken({
          role: "agent",
          sessionId: "ses_1",
          createdBy: "tok_admin",
          expiresAt: now + 60_000,
        });
        const inserted = await tokens.insert(input);
        const expected = {
          id: input.id,
          name: "ci",
          role: "agent",
          sessionId: "ses_1",
          hint: "shp_…abcd",
          createdAt: now,
          createdBy: "tok_admin",
          lastUsedAt: null,
          expiresAt: now + 60_000,
          revokedAt: null,
        };
        expect(inserted).toEqual(expected);
        expect(await tokens.get(input.id)).toEqual(expected);
        expect(await tokens.get("tok_missing")).toBeNull();
      });

      it("finds a usable token by hash, ignoring revoked and expired ones", async () => {
        const live = await tokens.insert(newToken({ createdAt: now - 4 }));
        const liveUntilLater = await tokens.insert(newToken({ createdAt: now - 3, expiresAt: now + 1 }));
        const expired = await tokens.insert(newToken({ createdAt: now - 2, expiresAt: now - 1 }));
        const expiringNow = await tokens.insert(newToken({ createdAt: now - 1, expiresAt: now }));
        const revokedInput = newToken({ createdAt: now });
        const revoked = await tokens.insert(revokedInput);
        expect(await tokens.revoke(revoked.id, now)).not.toBeNull();

        const hashOf = async (id: string) =>
          (
            await database.db
              .selectFrom("tokens")
              .select("token_hash")
              .where("id", "=", id)
              .executeTakeFirstOrThrow()
          ).token_hash;

        expect((await tokens.findUsable(await hashOf(live.id), now))?.id).toBe(live.id);
        expect((await tokens.findUsable(await hashOf(liveUntilLater.id), now))?.id).toBe(liveUntilLater.id);
        expect(await tokens.findUsable(await hashOf(expired.id), now)).toBeNull();
        // expires_at is exclusive: a token is no longer usable at its expiry instant.
        expect(await tokens.findUsable(await hashOf(expiringNow.id), now)).toBeNull();
        expect(await tokens.findUsable(revokedInput.tokenHash, now)).toBeNull();
        expect(await tokens.findUsable("0".repeat(64), now)).toBeNull();
        // The same token, checked before its expiry, was usable.
        expect((await tokens.findUsable(await hashOf(expired.id), now - 2))?.id).toBe(expired.id);
      });

      it("rejects a second token with the same hash (unique in the database)", async () => {
        const first = newToken({ createdAt: now });
        await tokens.insert(first);
        await expect(
          tokens.insert(newToken({ createdAt: now + 1, tokenHash: first.tokenHash })),
        ).rejects.toThrow(/unique|duplicate/i);
        expect(await tokens.count()).toBe(1);
        expect((await tokens.findUsable(first.tokenHash, now))?.id).toBe(first.id);
      });

      it("lists newest first by id, pages with `before`, and counts", async () => {
        const inputs = range(1, 7).map((i) => newToken({ createdAt: now + i * 1000, name: `t${i}` }));
        // Insert out of order: the listing order must come from the ids, not from insertion.
        for (const index of [3, 0, 6, 1, 5, 2, 4]) await tokens.insert(inputs[index]!);
        const newestFirst = inputs.map((t) => t.id).reverse();

        expect(await tokens.count()).toBe(7);
        const pages: string[][] = [];
        let before: string | undefined;
        for (;;) {
          const page = await tokens.list({ before, limit: 3 });
          if (page.length === 0) break;
          pages.push(page.map((t) => t.id));
          before = page.at(-1)!.id;
        }
        expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
        expect(pages.flat()).toEqual(newestFirst);
        expect((await tokens.list({ limit: 100 })).map((t) => t.name)).toEqual([
          "t7",
          "t6",
          "t5",
          "t4",
          "t3",
          "t2",
          "t1",
        ]);
        expect((await tokens.list({ before: inputs[2]!.id, limit: 100 })).map((t) => t.id)).toEqual([
          inputs[1]!.id,
          inputs[0]!.id,
        ]);
      });

      it("revokes once: the second revoke is a reported no-op that keeps the first time", async () => {
        const token = await tokens.insert(newToken());
        const first = await tokens.revoke(token.id, now + 10);
        expect(first).toEqual({ ...token, revokedAt: now + 10 });
        expect(await tokens.revoke(token.id, now + 20)).toBeNull();
        expect((await tokens.get(token.id))?.revokedAt).toBe(now + 10);
        expect(await tokens.revoke("tok_missing", now)).toBeNull();
      });

      it("lets exactly one of 20 concurrent revokes of a token win", async () => {
        const token = await tokens.insert(newToken());
        const stores = (await connections(4)).map((c) => new TokenStore(c.db));
        const results = await Promise.all(
          range(1, 20).map((i) => stores[i % stores.length]!.revoke(token.id, now + i)),
        );
        const winners = results.filter((r) => r !== null);
        expect(winners).toHaveLength(1);
        expect((await tokens.get(token.id))?.revokedAt).toBe(winners[0]!.revokedAt);
      });

      it("touch records the last use", async () => {
        const token = await tokens.insert(newToken());
        await tokens.touch(token.id, now + 5);
        expect((await tokens.get(token.id))?.lastUsedAt).toBe(now + 5);
        await tokens.touch(token.id, now + 9);
        expect(await tokens.get(token.id)).toEqual({ ...token, lastUsedAt: now + 9 });
        await expect(tokens.touch("tok_missing", now)).resolves.toBeUndefined();
      });
    });

    describe("EventStore", () => {
      let events: EventStore;

      beforeEach(() => {
        events = new EventStore(database);
      });

      function event(overrides: Partial<NewEvent> = {}): NewEvent {
        return {
          sessionId: null,
          kind: "session.created",
          payloadJson: "{}",
          ts: 1_750_000_000_000,
          ...overrides,
        };
      }

      function seqs(list: readonly StoredEvent[]): number[] {
        return list.map((e) => e.seq);
      }

      /** Appends a fixed mix: seq 1..9 over sessions a/b/none and three kinds. */
      async function appendMix(): Promise<StoredEvent[]> {
        const plan: [string | null, string][] = [
          ["ses_a", "session.created"],
          ["ses_b", "session.created"],
          ["ses_a", "agent.turn"],
          [null, "repo.health_changed"],
          ["ses_a", "agent.turn"],
          ["ses_b", "agent.turn"],
          ["ses_a", "session.status_changed"],
          [null, "repo.health_changed"],
          ["ses_b", "session.status_changed"],
        ];
        return events.append(
          plan.map(([sessionId, kind], i) =>
            event({ sessionId, kind, payloadJson: JSON.stringify({ i }), ts: i }),
          ),
        );
      }

      it("starts empty", async () => {
        expect(await events.head()).toBe(0);
        expect(await events.readAfter({ after: 0, limit: 10 })).toEqual([]);
        expect(await events.count()).toBe(0);
        expect(await events.append([])).toEqual([]);
        expect(await events.head()).toBe(0);
      });

      it("appends one event and reads it back as stored", async () => {
        const input = event({
          sessionId: "ses_1",
          kind: "agent.turn",
          payloadJson: '{"confidence":0.5}',
          ts: 42,
        });
        const stored = await events.append([input]);
        expect(stored).toEqual([{ ...input, seq: 1 }]);
        expect(await events.head()).toBe(1);
        expect(await events.readAfter({ after: 0, limit: 10 })).toEqual(stored);
        const next = await events.append([event({ ts: 43 })]);
        expect(seqs(next)).toEqual([2]);
        expect(await events.head()).toBe(2);
      });

      it("appends a batch larger than one insert chunk with contiguous increasing seqs", async () => {
        await events.append([event()]);
        const batch = range(1, 2500).map((i) =>
          event({ sessionId: i % 2 === 0 ? "ses_even" : null, payloadJson: JSON.stringify({ i }), ts: i }),
        );
        const stored = await events.append(batch);
        expect(seqs(stored)).toEqual(range(2, 2501));
        expect(stored.map((e) => e.payloadJson)).toEqual(batch.map((e) => e.payloadJson));
        expect(await events.head()).toBe(2501);
        expect(await events.count()).toBe(2501);
        const read = await events.readAfter({ after: 1, limit: 10_000 });
        expect(read).toEqual(stored);
        expect(await events.count({ sessionId: "ses_even" })).toBe(1250);
      });

      it("rolls back a failing batch entirely, leaving no hole in seqs", async () => {
        await events.append([event()]);
        // A NOT NULL violation in the second insert chunk must undo the first chunk and the counter.
        const bad = range(1, 1500).map((i) =>
          i === 1200 ? event({ kind: null as unknown as string }) : event(),
        );
        await expect(events.append(bad)).rejects.toThrow();
        expect(await events.head()).toBe(1);
        expect(await events.count()).toBe(1);
        expect(seqs(await events.append([event()]))).toEqual([2]);
      });

      it("readAfter honours after, upTo, sessionId and limit, oldest first", async () => {
        const all = await appendMix();
        expect(seqs(all)).toEqual(range(1, 9));
        expect(seqs(await events.readAfter({ after: 0, limit: 100 }))).toEqual(range(1, 9));
        expect(seqs(await events.readAfter({ after: 6, limit: 100 }))).toEqual([7, 8, 9]);
        expect(seqs(await events.readAfter({ after: 2, upTo: 5, limit: 100 }))).toEqual([3, 4, 5]);
        expect(seqs(await events.readAfter({ after: 5, upTo: 5, limit: 100 }))).toEqual([]);
        expect(seqs(await events.readAfter({ after: 0, limit: 4 }))).toEqual([1, 2, 3, 4]);
        expect(seqs(await events.readAfter({ after: 0, sessionId: "ses_a", limit: 100 }))).toEqual([
          1, 3, 5, 7,
        ]);
        expect(seqs(await events.readAfter({ after: 3, sessionId: "ses_a", limit: 100 }))).toEqual([5, 7]);
        expect(seqs(await events.readAfter({ after: 0, upTo: 6, sessionId: "ses_b", limit: 100 }))).toEqual([
          2, 6,
        ]);
        expect(seqs(await events.readAfter({ after: 0, sessionId: "ses_b", limit: 2 }))).toEqual([2, 6]);
        expect(await events.readAfter({ after: 9, limit: 100 })).toEqual([]);
        expect(await events.readAfter({ after: 0, sessionId: "ses_none", limit: 100 })).toEqual([]);
        const [third] = await events.readAfter({ after: 2, limit: 1 });
        expect(third).toEqual(all[2]);
      });

      it("listNewestFirst honours before, sessionId, kind and limit", async () => {
        await appendMix();
        expect(seqs(await events.listNewestFirst({ limit: 100 }))).toEqual(range(1, 9).reverse());
        expect(seqs(await events.listNewestFirst({ limit: 3 }))).toEqual([9, 8, 7]);
        expect(seqs(await events.listNewestFirst({ before: 7, limit: 3 }))).toEqual([6, 5, 4]);
        expect(seqs(await events.listNewestFirst({ before: 1, limit: 3 }))).toEqual([]);
        expect(seqs(await events.listNewestFirst({ sessionId: "ses_a", limit: 100 }))).toEqual([7, 5, 3, 1]);
        expect(seqs(await events.listNewestFirst({ kind: "agent.turn", limit: 100 }))).toEqual([6, 5, 3]);
        expect(
          seqs(await events.listNewestFirst({ sessionId: "ses_b", kind: "agent.turn", limit: 100 })),
        ).toEqual([6]);
        expect(seqs(await events.listNewestFirst({ before: 5, kind: "agent.turn", limit: 100 }))).toEqual([
          3,
        ]);

        // Paging with `before` = the last seq of the previous page visits every event once.
        const visited: number[] = [];
        let before: number | undefined;
        for (;;) {
          const page = await events.listNewestFirst({ before, sessionId: "ses_a", limit: 3 });
          if (page.length === 0) break;
          visited.push(...seqs(page));
          before = page.at(-1)!.seq;
        }
        expect(visited).toEqual([7, 5, 3, 1]);
      });

      it("counts with and without filters", async () => {
        await appendMix();
        expect(await events.count()).toBe(9);
        expect(await events.count({ sessionId: "ses_a" })).toBe(4);
        expect(await events.count({ sessionId: "ses_b" })).toBe(3);
        expect(await events.count({ kind: "repo.health_changed" })).toBe(2);
        expect(await events.count({ sessionId: "ses_a", kind: "agent.turn" })).toBe(2);
        expect(await events.count({ sessionId: "ses_b", kind: "repo.health_changed" })).toBe(0);
      });

      it("gives concurrent appenders on separate connections gap-free, unique seqs", async () => {
        const random = seededRandom(20_250_101);
        const plans = range(1, 10).map(() => range(1, 50).map(() => 1 + Math.floor(random() * 5)));
        const total = plans.flat().reduce((sum, n) => sum + n, 0);

        const appenders = await startAppenders(testDb, plans);
        let results: StoredEvent[][][];
        try {
          appenders.releaseLastBatches();
          results = await appenders.results;
        } finally {
          appenders.stop();
        }

        // One batch is one transaction: its seqs are contiguous, in input order.
        for (const [a, batches] of results.entries()) {
          for (const [b, stored] of batches.entries()) {
            const first = stored[0]?.seq ?? 0;
            expect(seqs(stored)).toEqual(range(first, first + plans[a]![b]! - 1));
            expect(stored.map((e) => e.payloadJson)).toEqual(
              appenderBatch(a, b, plans[a]![b]!).map((e) => e.payloadJson),
            );
          }
        }
        const returned = results.flat(2);
        expect(returned.map((e) => e.seq).sort((x, y) => x - y)).toEqual(range(1, total));
        expect(await events.head()).toBe(total);

        // Every appended event is readable exactly once, under the seq its append returned.
        const read = await events.readAfter({ after: 0, limit: total + 100 });
        expect(seqs(read)).toEqual(range(1, total));
        const returnedBySeq = new Map(returned.map((e) => [e.seq, e]));
        expect(read.filter((e) => !isDeepStrictEqual(returnedBySeq.get(e.seq), e))).toEqual([]);
        const expectedPayloads = plans.flatMap((sizes, a) =>
          sizes.flatMap((size, b) => appenderBatch(a, b, size).map((e) => e.payloadJson)),
        );
        expect(read.map((e) => e.payloadJson).sort()).toEqual(expectedPayloads.sort());
      }, 60_000);

      it("never shows a reader a hole below head() while appenders commit concurrently", async () => {
        const random = seededRandom(7);
        const plans = range(1, 8).map(() => range(1, 40).map(() => 1 + Math.floor(random() * 5)));
        const total = plans.flat().reduce((sum, n) => sum + n, 0);
        const reader = new EventStore(await testDb.open());

        const appenders = await startAppenders(testDb, plans);
        const holes: string[] = [];
        let midFlightReads = 0;
        let done = false;
        const readerLoop = (async () => {
          while (!done) {
            const head = await reader.head();
            const read = await reader.readAfter({ after: 0, upTo: head, limit: 1_000_000_000 });
            if (read.length !== head || read.some((e, i) => e.seq !== i + 1)) {
              const present = new Set(seqs(read));
              const missing = range(1, head).filter((s) => !present.has(s));
              holes.push(`head ${head}: read ${read.length}, missing ${missing.slice(0, 10).join(",")}`);
            }
            if (head > 0 && head < total) {
              midFlightReads++;
              // The appenders hold back their last batch until a read has seen the log mid-way,
              // so at least one read is certain to overlap the appends.
              appenders.releaseLastBatches();
            }
            // Lets the appenders (their I/O callbacks) run between reads.
            await new Promise((resolve) => setImmediate(resolve));
          }
        })();
        try {
          await appenders.results;
        } finally {
          done = true;
          appenders.stop();
          await readerLoop;
        }

        expect(holes).toEqual([]);
        expect(midFlightReads).toBeGreaterThan(0);
        expect(await reader.head()).toBe(total);
        expect(seqs(await reader.readAfter({ after: 0, limit: total + 1 }))).toEqual(range(1, total));
      }, 60_000);
    });

    describe("transitions", () => {
      let scratch: ScratchDb;

      beforeEach(async () => {
        await database.db.schema
          .createTable("scratch")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("version", "integer", (c) => c.notNull())
          .addColumn("note", "text")
          .execute();
        scratch = database.db.withTables<{ scratch: ScratchTable }>();
        await scratch
          .insertInto("scratch")
          .values([
            { id: "r1", status: "pending", version: 0, note: null },
            { id: "r2", status: "running", version: 3, note: "keep" },
          ])
          .execute();
      });

      async function rowOf(id: string): Promise<ScratchTable | undefined> {
        return scratch.selectFrom("scratch").selectAll().where("id", "=", id).executeTakeFirst();
      }

      /** Handles on `count` connections, each able to see the scratch table. */
      async function scratchHandles(count: number): Promise<ScratchDb[]> {
        return (await connections(count)).map((c): ScratchDb => c.db.withTables<{ scratch: ScratchTable }>());
      }

      describe("transition", () => {
        it("moves a row from an expected state and returns the updated row", async () => {
          const result = await transition(scratch, "scratch", {
            id: "r1",
            column: "status",
            from: ["pending"],
            to: "done",
            set: { note: "finished" },
          });
          expect(result).toEqual({
            ok: true,
            row: { id: "r1", status: "done", version: 0, note: "finished" },
          });
          expect(await rowOf("r1")).toEqual({ id: "r1", status: "done", version: 0, note: "finished" });
        });

        it("accepts any of several expected states", async () => {
          const result = await transition(scratch, "scratch", {
            id: "r2",
            column: "status",
            from: ["pending", "running"],
            to: "done",
          });
          expect(result).toEqual({ ok: true, row: { id: "r2", status: "done", version: 3, note: "keep" } });
        });

        it("reports the current state and writes nothing when the row is in another state", async () => {
          const result = await transition(scratch, "scratch", {
            id: "r2",
            column: "status",
            from: ["pending"],
            to: "done",
            set: { note: "overwritten" },
          });
          expect(result).toEqual({ ok: false, current: "running" });
          expect(await rowOf("r2")).toEqual({ id: "r2", status: "running", version: 3, note: "keep" });
        });

        it("reports current null for a missing row", async () => {
          const result = await transition(scratch, "scratch", {
            id: "nope",
            column: "status",
            from: ["pending"],
            to: "done",
          });
          expect(result).toEqual({ ok: false, current: null });
          expect(await rowOf("nope")).toBeUndefined();
        });

        it("refuses a transition with no expected state", async () => {
          await expect(
            transition(scratch, "scratch", { id: "r1", column: "status", from: [], to: "done" }),
          ).rejects.toThrow(/at least one expected state/);
          expect((await rowOf("r1"))?.status).toBe("pending");
        });

        it("lets exactly one of 20 concurrent pending→done transitions win", async () => {
          const handles = await scratchHandles(4);
          const results = await Promise.all(
            range(1, 20).map((i) =>
              transition(handles[i % handles.length]!, "scratch", {
                id: "r1",
                column: "status",
                from: ["pending"],
                to: "done",
                set: { note: `writer ${i}` },
              }),
            ),
          );
          const winners = results.filter((r) => r.ok);
          expect(winners).toHaveLength(1);
          expect(results.filter((r) => !r.ok)).toEqual(
            Array.from({ length: 19 }, () => ({ ok: false, current: "done" })),
          );
          const winner = winners[0]!;
          expect(winner.ok && winner.row.note).toBe((await rowOf("r1"))?.note);
        });
      });

      describe("updateVersioned", () => {
        it("writes and bumps the version when the expected version matches", async () => {
          const row = await updateVersioned(scratch, "scratch", "r2", 3, { note: "edited" });
          expect(row).toEqual({ id: "r2", status: "running", version: 4, note: "edited" });
          expect(await rowOf("r2")).toEqual(row);
          const again = await updateVersioned(scratch, "scratch", "r2", 4, { status: "done" });
          expect(again).toEqual({ id: "r2", status: "done", version: 5, note: "edited" });
        });

        it("throws StaleVersionError on a stale version and leaves the row alone", async () => {
          const error = await updateVersioned(scratch, "scratch", "r2", 2, { note: "clobber" }).catch(
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(StaleVersionError);
          expect(error).toMatchObject({ table: "scratch", id: "r2", expectedVersion: 2 });
          expect(await rowOf("r2")).toEqual({ id: "r2", status: "running", version: 3, note: "keep" });
        });

        it("throws StaleVersionError for a missing row", async () => {
          await expect(updateVersioned(scratch, "scratch", "nope", 0, { note: "x" })).rejects.toBeInstanceOf(
            StaleVersionError,
          );
          expect(await rowOf("nope")).toBeUndefined();
        });

        it("lets exactly one of 20 concurrent writers with the same expected version succeed", async () => {
          const handles = await scratchHandles(4);
          const outcomes = await Promise.allSettled(
            range(1, 20).map((i) =>
              updateVersioned(handles[i % handles.length]!, "scratch", "r1", 0, { note: `writer ${i}` }),
            ),
          );
          const succeeded = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
          const failed = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason as unknown] : []));
          expect(succeeded).toHaveLength(1);
          expect(failed).toHaveLength(19);
          expect(failed.every((e) => e instanceof StaleVersionError)).toBe(true);
          expect(await rowOf("r1")).toEqual({ ...succeeded[0], version: 1 });
        });
      });
    });
  });
}
