import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import type { AppendEvent } from "../../src/services/event-log.js";
import { createTestDatabase, DATABASE_KINDS, HAS_PG, type TestDatabase } from "../support/databases.js";
import { prng, readSseEvents, readWsEvents, type ReceivedEvent } from "../support/event-clients.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

const here = path.dirname(fileURLToPath(import.meta.url));

function expectExactlyOnceInOrder(received: ReceivedEvent[], expected: number[]): void {
  const seqs = received.map((event) => event.seq);
  // Compared as whole lists: a duplicate, a gap or a reordering each fails with a readable diff.
  expect(seqs).toEqual(expected);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Appends `count` events in batches of 1–8, yielding between batches so readers interleave. */
async function appendConcurrently(server: TestServer, count: number, seed: number): Promise<void> {
  const random = prng(seed);
  let appended = 0;
  while (appended < count) {
    const size = Math.min(count - appended, 1 + Math.floor(random() * 8));
    const batch: AppendEvent[] = Array.from({ length: size }, (_, i) => ({
      kind: "pr.observed",
      sessionId: (appended + i) % 4 === 0 ? "sess-x" : null,
      payload: { n: appended + i },
    }));
    await server.running.events.appendMany(batch);
    appended += size;
    await new Promise((resolve) => setTimeout(resolve, random() < 0.3 ? 1 : 0));
  }
}

/**
 * Reads the stream in pieces: each connection takes a random number of events and drops, the
 * next resumes from the last seq seen. Stops once the writer is done (`writerDone()`) and a
 * connection then finds nothing more to read.
 */
async function readWithReconnects(
  url: string,
  token: string,
  writerDone: () => boolean,
  seed: number,
  resume: "last-event-id" | "since",
): Promise<{ events: ReceivedEvent[]; connections: number }> {
  const random = prng(seed);
  const all: ReceivedEvent[] = [];
  let last = 0;
  let connections = 0;
  for (;;) {
    const finishedBefore = writerDone();
    connections++;
    const take = 1 + Math.floor(random() * 60);
    const streamUrl = resume === "since" ? `${url}${url.includes("?") ? "&" : "?"}since=${last}` : url;
    const { events } = await readSseEvents(streamUrl, token, {
      lastEventId: resume === "last-event-id" ? last : undefined,
      take,
      stopAfterIdleMs: 300,
    });
    all.push(...events);
    last = events.at(-1)?.seq ?? last;
    if (finishedBefore && events.length === 0) return { events: all, connections };
    if (connections > 2000) throw new Error("too many reconnects: the stream is not making progress");
  }
}

describe.each(DATABASE_KINDS)("event stream resume on $kind", ({ kind, skip }) => {
  let server: TestServer | undefined;

  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it.skipIf(skip)(
    "an SSE client that keeps disconnecting and resuming under concurrent appends sees every event once, in order",
    async () => {
      server = await startTestServer({ kind });
      const live = server;
      let finalHead: number | null = null;
      const appending = appendConcurrently(live, 600, 7).then(async () => {
        finalHead = await live.running.events.head();
      });
      const reading = readWithReconnects(
        `${live.url}/api/v1/events?since=0`,
        live.adminToken,
        () => finalHead !== null,
        11,
        "last-event-id",
      );
      const [, { events, connections }] = await Promise.all([appending, reading]);
      expect(connections).toBeGreaterThan(5);
      expectExactlyOnceInOrder(events, range(1, finalHead ?? -1));
    },
  );

  it.skipIf(skip)("the same holds for ?since= resumption and a session filter", async () => {
    server = await startTestServer({ kind });
    const live = server;
    let finished = false;
    const appending = appendConcurrently(live, 400, 3).then(() => {
      finished = true;
    });
    const reading = readWithReconnects(
      `${live.url}/api/v1/events?session=sess-x`,
      live.adminToken,
      () => finished,
      5,
      "since",
    );
    const [, { events }] = await Promise.all([appending, reading]);
    const expected = (await live.running.events.list({ sessionId: "sess-x", limit: 10_000 }))
      .map((e) => e.seq)
      .reverse();
    expect(expected.length).toBe(100);
    expect(events.every((event) => event.sessionId === "sess-x")).toBe(true);
    expectExactlyOnceInOrder(events, expected);
  });

  it.skipIf(skip)("the per-session SSE endpoint streams only that session, from ?since=", async () => {
    server = await startTestServer({ kind });
    await server.running.events.appendMany([
      { kind: "session.created", sessionId: "s1", payload: {} },
      { kind: "session.created", sessionId: "s2", payload: {} },
      { kind: "agent.started", sessionId: "s1", payload: {} },
    ]);
    const { events } = await readSseEvents(
      `${server.url}/api/v1/sessions/s1/events?since=0`,
      server.adminToken,
      {
        take: 10,
        stopAfterIdleMs: 300,
      },
    );
    expect(events.map((e) => [e.kind, e.sessionId])).toEqual([
      ["session.created", "s1"],
      ["agent.started", "s1"],
    ]);
  });

  it.skipIf(skip)(
    "a WebSocket client resuming with ?since= under concurrent appends sees every event once",
    async () => {
      server = await startTestServer({ kind });
      const live = server;
      let finalHead: number | null = null;
      const appending = appendConcurrently(live, 300, 9).then(async () => {
        finalHead = await live.running.events.head();
      });
      const random = prng(23);
      const all: ReceivedEvent[] = [];
      let last = 0;
      for (;;) {
        const finishedBefore = finalHead !== null;
        const { events } = await readWsEvents(`${live.url}/api/v1/ws/events?since=${last}`, live.adminToken, {
          take: 1 + Math.floor(random() * 50),
          stopAfterIdleMs: 300,
        });
        all.push(...events);
        last = events.at(-1)?.seq ?? last;
        if (finishedBefore && events.length === 0) break;
      }
      await appending;
      expectExactlyOnceInOrder(all, range(1, finalHead ?? -1));
    },
  );

  it.skipIf(skip)("without since or Last-Event-ID a stream starts live, at the head", async () => {
    server = await startTestServer({ kind });
    const live = server;
    const reading = readSseEvents(`${live.url}/api/v1/events`, live.adminToken, { take: 2 });
    // The stream is open once the server has a subscriber; then append.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await live.running.events.appendMany([
      { kind: "pr.opened", payload: { n: 1 } },
      { kind: "pr.opened", payload: { n: 2 } },
    ]);
    const { events } = await reading;
    expect(events.map((e) => e.kind)).toEqual(["pr.opened", "pr.opened"]);
    expect(events.map((e) => (e.payload as { n: number }).n)).toEqual([1, 2]);
  });
});

describe.skipIf(!HAS_PG)("event streams across processes on PostgreSQL", () => {
  let database: TestDatabase | undefined;
  const servers: TestServer[] = [];

  afterEach(async () => {
    for (const server of servers.splice(0)) await server.stop();
    await database?.cleanup();
    database = undefined;
  });

  function appendFromChild(target: TestDatabase, count: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", path.join(here, "../support/event-appender-child.ts"), String(count)],
        {
          env: { ...process.env, APPENDER_TARGET: JSON.stringify(target.target) },
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
      child.on("exit", (code) => {
        const match = /done (\d+)/.exec(out);
        if (code === 0 && match) resolve(Number(match[1]));
        else reject(new Error(`appender exited with ${code}: ${out}`));
      });
    });
  }

  it("a client of one server process sees, exactly once and in order, events another process appends", async () => {
    database = await createTestDatabase("postgres");
    const server = await startTestServer({ database });
    servers.push(server);
    let finalHead: number | null = null;
    const appending = appendFromChild(database, 500).then((head) => {
      finalHead = head;
    });
    const { events, connections } = await readWithReconnects(
      `${server.url}/api/v1/events?since=0`,
      server.adminToken,
      () => finalHead !== null,
      17,
      "last-event-id",
    );
    await appending;
    expect(connections).toBeGreaterThan(3);
    expectExactlyOnceInOrder(events, range(1, finalHead ?? -1));
    expect(events.filter((e) => (e.payload as { from?: string }).from === "child")).toHaveLength(500);
  });

  it("two server processes sharing one database stream the same events (LISTEN/NOTIFY fan-out)", async () => {
    database = await createTestDatabase("postgres");
    const first = await startTestServer({ database });
    const second = await startTestServer({ database });
    servers.push(first, second);
    const head = await first.running.events.head();
    const readingFromFirst = readSseEvents(`${first.url}/api/v1/events?since=${head}`, first.adminToken, {
      take: 50,
    });
    const readingFromSecond = readSseEvents(`${second.url}/api/v1/events?since=${head}`, second.adminToken, {
      take: 50,
    });
    await appendFromChild(database, 50);
    const [a, b] = await Promise.all([readingFromFirst, readingFromSecond]);
    expect(a.events.map((e) => e.seq)).toEqual(range(head + 1, head + 50));
    expect(b.events.map((e) => e.seq)).toEqual(range(head + 1, head + 50));
  });
});
