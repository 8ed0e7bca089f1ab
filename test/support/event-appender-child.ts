/**
 * A second process that appends events to a shared PostgreSQL database, for the cross-process
 * stream tests. Args: <count>. Env: APPENDER_TARGET (JSON DatabaseTarget). Prints "done <head>".
 * Run with `node --import tsx`.
 */
import type { DatabaseTarget } from "../../src/config/config-schema.js";
import { SecretRedactor } from "../../src/domain/redact.js";
import { EventHub } from "../../src/services/event-hub.js";
import { EventLog } from "../../src/services/event-log.js";
import { openDatabase } from "../../src/store/database.js";
import { LocalEventSignal } from "../../src/store/event-signal.js";
import { EventStore } from "../../src/store/event-store.js";

const target = JSON.parse(process.env.APPENDER_TARGET ?? "") as DatabaseTarget;
const count = Number(process.argv[2] ?? "100");
const database = await openDatabase(target);
const store = new EventStore(database);
const signal = new LocalEventSignal();
const events = new EventLog({
  store,
  signal,
  hub: new EventHub(store, signal),
  redactor: new SecretRedactor(),
});

let appended = 0;
let batch = 0;
while (appended < count) {
  const size = Math.min(count - appended, 1 + (batch % 7));
  await events.appendMany(
    Array.from({ length: size }, (_, i) => ({
      kind: "pr.observed" as const,
      sessionId: (appended + i) % 3 === 0 ? "sess-a" : null,
      payload: { n: appended + i, from: "child" },
    })),
  );
  appended += size;
  batch++;
  if (batch % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
}
process.stdout.write(`done ${await store.head()}\n`);
await database.close();
