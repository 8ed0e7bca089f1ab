import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EVENT_PAYLOAD_MAX_BYTES } from "../domain/event-kinds.js";
import { REDACTED, SecretRedactor } from "../domain/redact.js";
import { LocalEventSignal } from "../store/event-signal.js";
import { EventStore } from "../store/event-store.js";
import { createTestDatabase, type TestDatabase } from "../../test/support/databases.js";
import { EventHub, type StreamedEvent } from "./event-hub.js";
import { EventLog } from "./event-log.js";

/** An EventStore whose head() can be held at a chosen moment, to stage the races streams must survive. */
class PausableStore extends EventStore {
  beforeHead: (() => Promise<void>) | null = null;
  afterHead: (() => Promise<void>) | null = null;

  override async head(): Promise<number> {
    const before = this.beforeHead;
    this.beforeHead = null;
    await before?.();
    const value = await super.head();
    const after = this.afterHead;
    this.afterHead = null;
    await after?.();
    return value;
  }
}

async function take(stream: AsyncGenerator<StreamedEvent>, count: number): Promise<number[]> {
  const seqs: number[] = [];
  for await (const item of stream) {
    seqs.push(item.event.seq);
    if (seqs.length === count) break;
  }
  return seqs;
}

describe("EventLog", () => {
  let testDb: TestDatabase;
  let store: PausableStore;
  let hub: EventHub;
  let events: EventLog;
  let redactor: SecretRedactor;

  async function setUp(maxBuffered = 10_000): Promise<void> {
    const database = await testDb.open();
    store = new PausableStore(database);
    const signal = new LocalEventSignal();
    hub = new EventHub(store, signal, undefined, { maxBuffered });
    redactor = new SecretRedactor();
    events = new EventLog({ store, signal, hub, redactor });
    await hub.start();
  }

  beforeEach(async () => {
    testDb = await createTestDatabase("sqlite");
  });

  afterEach(async () => {
    hub.stop();
    await testDb.cleanup();
  });

  it("does not deliver twice an event committed after subscribing but before the head is read", async () => {
    await setUp();
    await events.append({ kind: "pr.opened", payload: { n: 1 } });
    const stream = events.stream({ since: 0 });
    // Appended while the stream holds its subscription but has not read the head: the event is
    // both in the backlog (seq <= head) and in the live buffer.
    store.beforeHead = async () => {
      await events.append({ kind: "pr.opened", payload: { n: 2 } });
      await new Promise((resolve) => setTimeout(resolve, 20));
    };
    const reading = take(stream, 3);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await events.append({ kind: "pr.opened", payload: { n: 3 } });
    expect(await reading).toEqual([1, 2, 3]);
  });

  it("does not miss an event committed after the head is read but before the backlog is replayed", async () => {
    await setUp();
    await events.append({ kind: "pr.opened", payload: { n: 1 } });
    const stream = events.stream({ since: 0 });
    store.afterHead = async () => {
      await events.append({ kind: "pr.opened", payload: { n: 2 } });
      await new Promise((resolve) => setTimeout(resolve, 20));
    };
    expect(await take(stream, 2)).toEqual([1, 2]);
  });

  it("a reader too slow for the live buffer catches up from the store, still exactly once", async () => {
    await setUp(5);
    const stream = events.stream({ since: 0 });
    const seen: number[] = [];
    const reading = (async () => {
      for await (const item of stream) {
        seen.push(item.event.seq);
        // Slow consumer: the hub overflows this subscriber's buffer of 5 several times.
        if (seen.length % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 30));
        if (seen.length === 200) break;
      }
    })();
    for (let i = 0; i < 40; i++) {
      await events.appendMany(
        Array.from({ length: 5 }, () => ({ kind: "pr.observed" as const, payload: {} })),
      );
    }
    await reading;
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it("ends a stream when its signal aborts and when the hub stops", async () => {
    await setUp();
    const controller = new AbortController();
    const aborted = take(events.stream({ since: 0, signal: controller.signal }), 10);
    const stopped = take(events.stream({ since: 0 }), 10);
    await events.append({ kind: "pr.opened", payload: {} });
    await new Promise((resolve) => setTimeout(resolve, 30));
    controller.abort();
    expect(await aborted).toEqual([1]);
    hub.stop();
    expect(await stopped).toEqual([1]);
  });

  it("refuses kinds outside the vocabulary", async () => {
    await setUp();
    await expect(events.append({ kind: "made.up" as never, payload: {} })).rejects.toThrow(
      /unknown event kind/,
    );
    expect(await events.head()).toBe(0);
  });

  it("redacts secrets in payloads before they are stored", async () => {
    await setUp();
    const known = "hunter2-but-longer";
    redactor.add(known);
    const pat = `ghp_${"A".repeat(36)}`;
    const stored = await events.append({
      kind: "error",
      payload: { message: `push failed for ${pat}`, nested: { value: known }, [pat]: "as a key" },
    });
    expect(stored.payloadJson).not.toContain(pat);
    expect(stored.payloadJson).not.toContain(known);
    expect(JSON.parse(stored.payloadJson)).toEqual({
      message: `push failed for ${REDACTED}`,
      nested: { value: REDACTED },
      [REDACTED]: "as a key",
    });
  });

  it("caps payloads at 16 KB: long strings are shortened, and what still does not fit is replaced", async () => {
    await setUp();
    const long = await events.append({
      kind: "tool.invoked",
      payload: { tool: "read_file", output: "x".repeat(50_000) },
    });
    const shortened = JSON.parse(long.payloadJson) as Record<string, unknown>;
    expect(Buffer.byteLength(long.payloadJson)).toBeLessThanOrEqual(EVENT_PAYLOAD_MAX_BYTES);
    expect(shortened.tool).toBe("read_file");
    expect(String(shortened.output)).toMatch(/…\[truncated \d+ chars\]$/);
    expect(shortened._truncated).toEqual({ originalBytes: expect.any(Number) as number });

    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`key${i}`, "y".repeat(900)]));
    const wide = await events.append({ kind: "tool.invoked", payload: many });
    const replaced = JSON.parse(wide.payloadJson) as Record<string, unknown>;
    expect(Buffer.byteLength(wide.payloadJson)).toBeLessThanOrEqual(EVENT_PAYLOAD_MAX_BYTES);
    expect(replaced._truncated).toEqual({ originalBytes: expect.any(Number) as number });
    expect(typeof replaced.preview).toBe("string");
  });

  it("appends a batch with consecutive seqs in one call", async () => {
    await setUp();
    const stored = await events.appendMany([
      { kind: "session.created", sessionId: "s1" },
      { kind: "agent.started", sessionId: "s1" },
      { kind: "agent.finished", sessionId: "s1", payload: { tokens: 12 } },
    ]);
    expect(stored.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(await events.count({ sessionId: "s1" })).toBe(3);
  });
});
