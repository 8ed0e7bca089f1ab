import { isEventKind, type EventKind } from "../domain/event-kinds.js";
import type { SecretRedactor } from "../domain/redact.js";
import type { EventSignal } from "../store/event-signal.js";
import type { Kysely } from "kysely";
import type { EventFilter, EventStore, NewEvent, StoredEvent } from "../store/event-store.js";
import type { Schema } from "../store/schema.js";
import { eventEnvelopeJson, encodePayload } from "./event-envelope.js";
import { StreamOverflowError, type EventHub, type StreamedEvent } from "./event-hub.js";

export interface AppendEvent {
  kind: EventKind;
  sessionId?: string | null;
  payload?: Record<string, unknown>;
}

export interface StreamOptions {
  /** Deliver events with seq greater than this. */
  since: number;
  sessionId?: string | undefined;
  /** Ends the stream when aborted. */
  signal?: AbortSignal;
}

export interface EventLogDeps {
  store: EventStore;
  signal: EventSignal;
  hub: EventHub;
  redactor: SecretRedactor;
  now?: () => number;
  onAppended?: (count: number) => void;
}

const BACKLOG_PAGE = 500;

/**
 * The event log service: validated, redacted, size-capped appends, and streams that replay the
 * backlog from the store and then follow live events — each event exactly once, in seq order.
 */
export class EventLog {
  readonly #deps: EventLogDeps;
  readonly #now: () => number;

  constructor(deps: EventLogDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  async append(event: AppendEvent): Promise<StoredEvent> {
    const [stored] = await this.appendMany([event]);
    return stored as StoredEvent;
  }

  /** Appends in one transaction: the events get consecutive seqs. */
  async appendMany(events: readonly AppendEvent[]): Promise<StoredEvent[]> {
    return this.#announce(await this.#deps.store.append(this.#rows(events)));
  }

  /**
   * Runs `work` in one database transaction; the events it emits are appended at the end of
   * that same transaction, so they exist exactly when its writes do. Streams hear of them after
   * the commit.
   */
  async transaction<T>(
    work: (trx: Kysely<Schema>, emit: (event: AppendEvent) => void) => Promise<T>,
  ): Promise<{ result: T; events: StoredEvent[] }> {
    const { result, stored } = await this.#deps.store.database.db.transaction().execute(async (trx) => {
      const pending: AppendEvent[] = [];
      const result = await work(trx, (event) => pending.push(event));
      return { result, stored: await this.#deps.store.appendWithin(trx, this.#rows(pending)) };
    });
    return { result, events: this.#announce(stored) };
  }

  #rows(events: readonly AppendEvent[]): NewEvent[] {
    const ts = this.#now();
    return events.map((event) => {
      // The vocabulary is closed: an unknown kind is a bug at the call site, not data.
      if (!isEventKind(event.kind)) throw new Error(`unknown event kind "${String(event.kind)}"`);
      return {
        kind: event.kind,
        sessionId: event.sessionId ?? null,
        payloadJson: encodePayload(event.payload ?? {}, this.#deps.redactor),
        ts,
      };
    });
  }

  #announce(stored: StoredEvent[]): StoredEvent[] {
    const last = stored.at(-1);
    if (last) {
      this.#deps.onAppended?.(stored.length);
      this.#deps.signal.publishLocal(last.seq);
    }
    return stored;
  }

  head(): Promise<number> {
    return this.#deps.store.head();
  }

  /** A page of events, newest first; `before` is the seq of the last event of the previous page. */
  list(options: EventFilter & { before?: number | undefined; limit: number }): Promise<StoredEvent[]> {
    return this.#deps.store.listNewestFirst(options);
  }

  count(filter: EventFilter): Promise<number> {
    return this.#deps.store.count(filter);
  }

  /**
   * Backlog, then live tail. The subscription is taken before the head is read, so an event
   * committed while the backlog is read is either in the backlog or arrives live (and is then
   * skipped by seq): none is missed, none is delivered twice.
   */
  async *stream(options: StreamOptions): AsyncGenerator<StreamedEvent> {
    const { store, hub } = this.#deps;
    let cursor = options.since;
    while (!options.signal?.aborted) {
      const subscription = hub.subscribe(options.sessionId);
      const abort = (): void => subscription.close();
      options.signal?.addEventListener("abort", abort, { once: true });
      try {
        const head = await store.head();
        while (cursor < head) {
          const page = await store.readAfter({
            after: cursor,
            upTo: head,
            sessionId: options.sessionId,
            limit: BACKLOG_PAGE,
          });
          for (const event of page) yield { event, json: eventEnvelopeJson(event) };
          if (page.length < BACKLOG_PAGE) break;
          cursor = (page.at(-1) as StoredEvent).seq;
        }
        cursor = Math.max(cursor, head);
        for await (const item of subscription) {
          if (item.event.seq <= cursor) continue;
          cursor = item.event.seq;
          yield item;
        }
        return;
      } catch (error) {
        // Too far behind for the in-memory buffer: catch up from the store and go on.
        if (!(error instanceof StreamOverflowError)) throw error;
      } finally {
        options.signal?.removeEventListener("abort", abort);
        subscription.close();
      }
    }
  }
}
