import { mkdirSync } from "node:fs";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { DatabaseTarget } from "../config/config-schema.js";
import type { Schema } from "./schema.js";
import { ShepherdSqliteDialect } from "./sqlite-dialect.js";

export type Dialect = "sqlite" | "postgres";

/** An open database: the Kysely handle plus what the adapters above need to know about it. */
export interface Database {
  readonly dialect: Dialect;
  readonly db: Kysely<Schema>;
  /** The pool behind `db` in PostgreSQL mode (LISTEN connections, advisory locks, pg-boss). */
  readonly pgPool: pg.Pool | null;
  /** Where the data lives, without credentials: safe to print. */
  readonly description: string;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";
}

const INT8_OID = 20;

/** Parses int8 (bigint, count(*)) as a number: our values (ms timestamps, seqs) stay below 2^53. */
const pgTypes = {
  getTypeParser: ((oid: number, format?: string): unknown =>
    oid === INT8_OID && format !== "binary"
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
};

export function describePostgresUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const database = parsed.pathname.replace(/^\//, "") || "(default)";
    return `postgres://${parsed.username ? `${decodeURIComponent(parsed.username)}@` : ""}${parsed.host}/${database}`;
  } catch {
    return "postgres://(unparsable URL)";
  }
}

export async function openDatabase(
  target: DatabaseTarget,
  options: { poolSize?: number; connectTimeoutMs?: number } = {},
): Promise<Database> {
  return target.kind === "sqlite" ? openSqlite(target.path) : openPostgres(target.url, options);
}

function openSqlite(file: string): Database {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let sqlite: BetterSqlite3.Database;
  try {
    sqlite = new BetterSqlite3(file);
    sqlite.pragma("journal_mode = WAL");
    // FULL: a committed transaction survives power loss, not only a process crash.
    sqlite.pragma("synchronous = FULL");
    sqlite.pragma("busy_timeout = 5000");
    sqlite.pragma("foreign_keys = ON");
  } catch (error) {
    throw new DatabaseUnavailableError(`cannot open SQLite database ${file}: ${(error as Error).message}`);
  }
  const db = new Kysely<Schema>({ dialect: new ShepherdSqliteDialect(sqlite) });
  return {
    dialect: "sqlite",
    db,
    pgPool: null,
    description: `sqlite:${file}`,
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
}

async function openPostgres(
  url: string,
  options: { poolSize?: number; connectTimeoutMs?: number },
): Promise<Database> {
  const description = describePostgresUrl(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    types: pgTypes,
    application_name: "shepherd",
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on("error", () => undefined);
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => undefined);
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new DatabaseUnavailableError(`cannot connect to PostgreSQL at ${description}: ${reason}`);
  }
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  return {
    dialect: "postgres",
    db,
    pgPool: pool,
    description,
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
}
