import { sql, type Kysely } from "kysely";
import type { Database } from "./database.js";
import type { EventsTable, Schema } from "./schema.js";

/** An event as stored: `payloadJson` is the serialized payload, parsed only when needed. */
export interface StoredEvent {
  seq: number;
  sessionId: string | null;
  kind: string;
  payloadJson: string;
  ts: number;
}

export interface NewEvent {
  sessionId: string | null;
  kind: string;
  payloadJson: string;
  ts: number;
}

/** Filters of event listings; `after` keeps events with a greater seq. */
export interface EventFilter {
  after?: number | undefined;
  sessionId?: string | undefined;
  kind?: string | undefined;
}

/** NOTIFY channel on which PostgreSQL tells every process the newest committed seq. */
export const EVENTS_CHANNEL = "shepherd_events";

const INSERT_CHUNK = 1000;

function fromRow(row: EventsTable): StoredEvent {
  return { seq: row.seq, sessionId: row.session_id, kind: row.kind, payloadJson: row.payload, ts: row.ts };
}

/**
 * The append-only event log. `seq` is global, gap-free and increasing in commit order: every
 * append takes the counter row's lock for the rest of its transaction, so a reader that has seen
 * seq N has seen everything before N (no later commit can fill a hole behind it).
 */
export class EventStore {
  constructor(readonly database: Database) {}

  async append(events: readonly NewEvent[]): Promise<StoredEvent[]> {
    if (events.length === 0) return [];
    return this.database.db.transaction().execute((trx) => this.appendWithin(trx, events));
  }

  /**
   * Appends inside the caller's transaction, so that a state change and its events commit
   * together. The counter row stays locked until that transaction ends: append last.
   */
  async appendWithin(trx: Kysely<Schema>, events: readonly NewEvent[]): Promise<StoredEvent[]> {
    if (events.length === 0) return [];
    const counter = await trx
      .updateTable("event_counter")
      .set((eb) => ({ last_seq: eb("last_seq", "+", events.length) }))
      .where("id", "=", 1)
      .returning("last_seq")
      .executeTakeFirstOrThrow();
    const last = Number(counter.last_seq);
    const first = last - events.length + 1;
    const stored = events.map((event, index) => ({ ...event, seq: first + index }));
    for (let start = 0; start < stored.length; start += INSERT_CHUNK) {
      const chunk = stored.slice(start, start + INSERT_CHUNK);
      await trx
        .insertInto("events")
        .values(
          chunk.map((event) => ({
            seq: event.seq,
            session_id: event.sessionId,
            kind: event.kind,
            payload: event.payloadJson,
            ts: event.ts,
          })),
        )
        .execute();
    }
    if (this.database.dialect === "postgres") {
      // Delivered to listeners only when this transaction commits.
      await sql`select pg_notify(${EVENTS_CHANNEL}, ${String(last)})`.execute(trx);
    }
    return stored;
  }

  /** Events with `after < seq <= upTo`, oldest first. */
  async readAfter(options: {
    after: number;
    upTo?: number | undefined;
    sessionId?: string | undefined;
    limit: number;
  }): Promise<StoredEvent[]> {
    let query = this.database.db
      .selectFrom("events")
      .selectAll()
      .where("seq", ">", options.after)
      .orderBy("seq", "asc")
      .limit(options.limit);
    if (options.upTo !== undefined) query = query.where("seq", "<=", options.upTo);
    if (options.sessionId !== undefined) query = query.where("session_id", "=", options.sessionId);
    return (await query.execute()).map(fromRow);
  }

  /** Newest first, for paginated listings; `before` is the seq of the last event of the previous page. */
  async listNewestFirst(
    options: EventFilter & { before?: number | undefined; limit: number },
  ): Promise<StoredEvent[]> {
    let query = this.database.db.selectFrom("events").selectAll().orderBy("seq", "desc").limit(options.limit);
    if (options.before !== undefined) query = query.where("seq", "<", options.before);
    if (options.after !== undefined) query = query.where("seq", ">", options.after);
    if (options.sessionId !== undefined) query = query.where("session_id", "=", options.sessionId);
    if (options.kind !== undefined) query = query.where("kind", "=", options.kind);
    return (await query.execute()).map(fromRow);
  }

  async count(options: EventFilter = {}): Promise<number> {
    let query = this.database.db.selectFrom("events").select((eb) => eb.fn.countAll<number>().as("n"));
    if (options.after !== undefined) query = query.where("seq", ">", options.after);
    if (options.sessionId !== undefined) query = query.where("session_id", "=", options.sessionId);
    if (options.kind !== undefined) query = query.where("kind", "=", options.kind);
    return Number((await query.executeTakeFirstOrThrow()).n);
  }

  /** The newest committed seq (0 when the log is empty). */
  async head(): Promise<number> {
    const row = await this.database.db
      .selectFrom("event_counter")
      .select("last_seq")
      .where("id", "=", 1)
      .executeTakeFirstOrThrow();
    return Number(row.last_seq);
  }
}
