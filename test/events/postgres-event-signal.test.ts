import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { EventStore } from "../../src/store/event-store.js";
import { PostgresEventSignal } from "../../src/store/postgres-event-signal.js";
import { createTestDatabase, HAS_PG, type TestDatabase } from "../support/databases.js";
import { waitFor } from "../support/wait-for.js";

describe.skipIf(!HAS_PG)("PostgresEventSignal (LISTEN/NOTIFY)", () => {
  let testDb: TestDatabase | undefined;
  let signal: PostgresEventSignal | undefined;

  afterEach(async () => {
    await signal?.close();
    await testDb?.cleanup();
    signal = undefined;
    testDb = undefined;
  });

  it("tells listeners the committed seq of an append made through another connection", async () => {
    testDb = await createTestDatabase("postgres");
    if (testDb.target.kind !== "postgres") throw new Error("unreachable");
    signal = new PostgresEventSignal(testDb.target.url);
    await signal.start();
    const heard: (number | null)[] = [];
    signal.subscribe((seq) => heard.push(seq));

    const writer = new EventStore(await testDb.open());
    await writer.append([{ kind: "pr.opened", sessionId: null, payloadJson: "{}", ts: 1 }]);
    await writer.append([
      { kind: "pr.opened", sessionId: null, payloadJson: "{}", ts: 2 },
      { kind: "pr.opened", sessionId: null, payloadJson: "{}", ts: 3 },
    ]);
    await waitFor(() => heard.length >= 2, { message: "no NOTIFY reached the listener" });
    expect(heard).toEqual([1, 3]);
  });

  it("does not notify for a transaction that rolls back", async () => {
    testDb = await createTestDatabase("postgres");
    if (testDb.target.kind !== "postgres") throw new Error("unreachable");
    signal = new PostgresEventSignal(testDb.target.url);
    await signal.start();
    const heard: (number | null)[] = [];
    signal.subscribe((seq) => heard.push(seq));
    const client = new pg.Client({ connectionString: testDb.target.url });
    await client.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_notify('shepherd_events', '99')");
      await client.query("ROLLBACK");
      await client.query("SELECT pg_notify('shepherd_events', '5')");
    } finally {
      await client.end();
    }
    await waitFor(() => heard.length >= 1);
    expect(heard).toEqual([5]);
  });

  it("re-listens after its connection is killed and tells listeners to re-check", async () => {
    testDb = await createTestDatabase("postgres");
    if (testDb.target.kind !== "postgres") throw new Error("unreachable");
    const url = testDb.target.url;
    const errors: Error[] = [];
    signal = new PostgresEventSignal(url, (error) => errors.push(error));
    await signal.start();
    const heard: (number | null)[] = [];
    signal.subscribe((seq) => heard.push(seq));

    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'shepherd-listen' AND datname = current_database()",
      );
      await waitFor(() => heard.includes(null), { message: "no re-check after reconnecting" });
      await admin.query("SELECT pg_notify('shepherd_events', '42')");
      await waitFor(() => heard.includes(42), { message: "no NOTIFY after reconnecting" });
    } finally {
      await admin.end();
    }
    expect(errors.length).toBeGreaterThan(0);
  });
});
