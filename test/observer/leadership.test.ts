import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { PostgresLeadership } from "../../src/services/observer/observer-leadership.js";
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from "../support/databases.js";
import { waitFor } from "../support/wait-for.js";

const postgres = DATABASE_KINDS.find((entry) => entry.kind === "postgres");

/** Exactly one observer leads across processes; the lead passes on when the leader goes. */
describe.skipIf(!postgres || postgres.skip)("observer leadership on PostgreSQL", () => {
  let database: TestDatabase;
  const leaders: PostgresLeadership[] = [];
  const stops: AbortController[] = [];

  afterEach(async () => {
    for (const stop of stops.splice(0)) stop.abort();
    for (const leader of leaders.splice(0)) await leader.release();
    await database.cleanup();
  });

  function contender(): { leadership: PostgresLeadership; stop: AbortController } {
    const leadership = new PostgresLeadership(database.target.url, 50);
    const stop = new AbortController();
    leaders.push(leadership);
    stops.push(stop);
    return { leadership, stop };
  }

  it("one leads, the other waits, and takes over when the first releases", async () => {
    database = await createTestDatabase("postgres");
    const a = contender();
    const b = contender();
    expect(await a.leadership.acquire(a.stop.signal)).toBe(true);
    let bLeads = false;
    const waiting = b.leadership.acquire(b.stop.signal).then((won) => (bLeads = won));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(bLeads).toBe(false);
    expect(b.leadership.held()).toBe(false);
    await a.leadership.release();
    await waiting;
    expect(bLeads).toBe(true);
    expect(a.leadership.held()).toBe(false);
    expect(b.leadership.held()).toBe(true);
  });

  it("a leader whose database session dies loses the lead, and another process takes it", async () => {
    database = await createTestDatabase("postgres");
    const a = contender();
    const b = contender();
    expect(await a.leadership.acquire(a.stop.signal)).toBe(true);
    const waiting = b.leadership.acquire(b.stop.signal);
    const admin = new pg.Client({ connectionString: database.target.url });
    await admin.connect();
    try {
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'shepherd-observer' AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)",
      );
    } finally {
      await admin.end();
    }
    expect(await waiting).toBe(true);
    await waitFor(async () => (a.leadership.held() ? null : true), {
      timeoutMs: 5000,
      message: "a still thinks it leads",
    });
  });

  it("a stop ends the wait without leading", async () => {
    database = await createTestDatabase("postgres");
    const a = contender();
    const b = contender();
    expect(await a.leadership.acquire(a.stop.signal)).toBe(true);
    const waiting = b.leadership.acquire(b.stop.signal);
    b.stop.abort();
    expect(await waiting).toBe(false);
    expect(b.leadership.held()).toBe(false);
  });
});
