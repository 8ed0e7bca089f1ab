import pg from "pg";
import { EVENTS_CHANNEL } from "./event-store.js";
import { ListenerSet, type EventSignal, type EventSignalListener } from "./event-signal.js";

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;

/**
 * Distributed mode: PostgreSQL LISTEN/NOTIFY carries "seq N committed" from the process that
 * appended to every other process. A dedicated connection holds the LISTEN; if it drops, it is
 * re-established and listeners are told to re-check (events committed meanwhile are not lost,
 * because readers read the store, not the notifications).
 */
export class PostgresEventSignal implements EventSignal {
  readonly #listeners = new ListenerSet();
  #client: pg.Client | null = null;
  #closed = false;
  #reconnectDelay = RECONNECT_MIN_MS;
  #reconnectTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly connectionString: string,
    private readonly onError: (error: Error) => void = () => undefined,
  ) {}

  publishLocal(seq: number): void {
    this.#listeners.emit(seq);
  }

  subscribe(listener: EventSignalListener): () => void {
    return this.#listeners.add(listener);
  }

  async start(): Promise<void> {
    await this.#connect();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      application_name: "shepherd-listen",
    });
    client.on("notification", (message) => {
      if (message.channel !== EVENTS_CHANNEL) return;
      const seq = Number(message.payload);
      this.#listeners.emit(Number.isFinite(seq) ? seq : null);
    });
    const lost = (error?: Error): void => {
      if (this.#client !== client) return;
      this.#client = null;
      if (error) this.onError(error);
      client.end().catch(() => undefined);
      this.#scheduleReconnect();
    };
    client.on("error", lost);
    client.on("end", () => lost());
    await client.connect();
    await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    this.#client = client;
    this.#reconnectDelay = RECONNECT_MIN_MS;
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnectTimer) return;
    const delay = this.#reconnectDelay;
    this.#reconnectDelay = Math.min(this.#reconnectDelay * 2, RECONNECT_MAX_MS);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      if (this.#closed) return;
      this.#connect().then(
        // Anything committed while we were not listening is picked up by readers re-checking.
        () => this.#listeners.emit(null),
        (error: Error) => {
          this.onError(error);
          this.#scheduleReconnect();
        },
      );
    }, delay);
  }
}
