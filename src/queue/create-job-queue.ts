import type { Database } from "../store/database.js";
import type { JobQueue } from "./job-queue.js";
import type { QueueObserver } from "./queue-observer.js";
import { SqliteJobQueue } from "./sqlite-job-queue.js";

export interface JobQueueSettings {
  leaseMs: number;
  /** PostgreSQL connection URL; required for the pg-boss queue. */
  postgresUrl?: string;
  /** Tests shorten pg-boss's sweep for lapsed leases and the embedded queue's backstop poll. */
  superviseIntervalSeconds?: number;
  pollMs?: number;
  redact?: (text: string) => string;
  observer?: QueueObserver;
}

/**
 * The embedded queue on SQLite, pg-boss on PostgreSQL (SPEC §1 deployment modes). pg-boss is
 * loaded only in PostgreSQL mode: an embedded server starts without its hundred-odd modules.
 */
export async function createJobQueue(database: Database, settings: JobQueueSettings): Promise<JobQueue> {
  if (database.dialect === "sqlite") {
    return new SqliteJobQueue(database.db, {
      leaseMs: settings.leaseMs,
      pollMs: settings.pollMs,
      redact: settings.redact,
      observer: settings.observer,
    });
  }
  if (!settings.postgresUrl) throw new Error("the pg-boss queue needs the PostgreSQL URL");
  const { PgBossJobQueue } = await import("./pg-boss-job-queue.js");
  return new PgBossJobQueue({
    connectionString: settings.postgresUrl,
    leaseSeconds: settings.leaseMs / 1000,
    superviseIntervalSeconds: settings.superviseIntervalSeconds,
    redact: settings.redact,
    observer: settings.observer,
  });
}
