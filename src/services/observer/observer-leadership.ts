import { createHash } from "node:crypto";
import pg from "pg";

/**
 * Exactly one observer runs at a time (SPEC §1 distributed mode): GitHub budget is spent once
 * and every reaction is decided in one place. Embedded mode has one process, so it always leads.
 */
export interface ObserverLeadership {
  /** Resolves once this process leads; keeps trying until `stop()`. */
  acquire(signal: AbortSignal): Promise<boolean>;
  /** Whether the lead is still held (a lost connection loses it). */
  held(): boolean;
  release(): Promise<void>;
}

export class SoleLeadership implements ObserverLeadership {
  #held = false;

  async acquire(signal: AbortSignal): Promise<boolean> {
    this.#held = !signal.aborted;
    return this.#held;
  }

  held(): boolean {
    return this.#held;
  }

  async release(): Promise<void> {
    this.#held = false;
  }
}

const LEADER_KEY = createHash("sha256")
  .update("shepherd:observer-leader")
  .digest()
  .readBigInt64BE(0)
  .toString();

/**
 * PostgreSQL: a session advisory lock on a dedicated connection. The process that holds it
 * leads; the others retry every `retryMs`. If the leader dies or its connection drops,
 * PostgreSQL releases the lock and another process takes over.
 */
export class PostgresLeadership implements ObserverLeadership {
  #client: pg.Client | null = null;
  #held = false;

  constructor(
    private readonly connectionString: string,
    private readonly retryMs: number = 5000,
  ) {}

  async acquire(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      try {
        if (await this.#tryOnce()) return true;
      } catch {
        await this.#drop();
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.retryMs);
        signal.addEventListener(
          "abort",
          () => {
            clearTimeout(timer);
            resolve();
          },
          { once: true },
        );
      });
    }
    return false;
  }

  async #tryOnce(): Promise<boolean> {
    if (!this.#client) {
      const client = new pg.Client({
        connectionString: this.connectionString,
        application_name: "shepherd-observer",
      });
      client.on("error", () => {
        this.#held = false;
        this.#client = null;
      });
      await client.connect();
      this.#client = client;
    }
    const result = await this.#client.query<{ locked: boolean }>(
      "SELECT pg_try_advisory_lock($1::bigint) AS locked",
      [LEADER_KEY],
    );
    this.#held = result.rows[0]?.locked === true;
    return this.#held;
  }

  held(): boolean {
    return this.#held;
  }

  async #drop(): Promise<void> {
    this.#held = false;
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => undefined);
  }

  async release(): Promise<void> {
    // Ending the session releases the lock with it.
    await this.#drop();
  }
}
