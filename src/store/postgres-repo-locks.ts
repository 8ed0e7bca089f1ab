import { createHash } from "node:crypto";
import pg from "pg";
import type { RepoLock, RepoLocks } from "./repo-locks.js";

/** A signed 64-bit advisory lock key for a repo, namespaced so no other lock can collide with it. */
export function repoLockKey(repoId: string, namespace = "repo"): string {
  return createHash("sha256").update(`shepherd:${namespace}:${repoId}`).digest().readBigInt64BE(0).toString();
}

/**
 * Distributed mode: a PostgreSQL session advisory lock per repo, across every process. Each held
 * lock keeps one connection of a small dedicated pool checked out — idle, never in a transaction,
 * never a connection the queries need. If the process dies, PostgreSQL ends the session and the
 * lock is released with it.
 */
export class PostgresRepoLocks implements RepoLocks {
  readonly #pool: pg.Pool;

  /** `namespace`: what the keys name (`repo`, `session`); locks of two namespaces never collide. */
  constructor(
    connectionString: string,
    maxHeld: number,
    private readonly namespace = "repo",
  ) {
    this.#pool = new pg.Pool({
      connectionString,
      max: Math.max(1, maxHeld),
      application_name: `shepherd-${namespace}-locks`,
    });
    this.#pool.on("error", () => undefined);
  }

  async tryAcquire(repoId: string): Promise<RepoLock | null> {
    const client = await this.#pool.connect();
    const key = repoLockKey(repoId, this.namespace);
    try {
      const result = await client.query<{ locked: boolean }>(
        "SELECT pg_try_advisory_lock($1::bigint) AS locked",
        [key],
      );
      if (!result.rows[0]?.locked) {
        client.release();
        return null;
      }
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        try {
          await client.query("SELECT pg_advisory_unlock($1::bigint)", [key]);
          client.release();
        } catch (error) {
          // A broken connection takes its session, and the lock, with it.
          client.release(error as Error);
        }
      },
    };
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
