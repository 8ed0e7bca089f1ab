/**
 * The PostgreSQL server the benchmarks may use: SHEPHERD_BENCH_DATABASE_URL, else
 * SHEPHERD_TEST_DATABASE_URL, else the local default. Each run works in a throwaway database.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export const BENCH_PG_URL =
  process.env.SHEPHERD_BENCH_DATABASE_URL ??
  process.env.SHEPHERD_TEST_DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/postgres";

/** Without credentials: safe to print. */
export function describeUrl(url: string): string {
  const parsed = new URL(url);
  parsed.password = "";
  return parsed.toString();
}

export type PostgresProbe = { reachable: true; version: string } | { reachable: false; reason: string };

/** Whether the server answers, and its version (`select version()`). */
export async function probePostgres(url = BENCH_PG_URL): Promise<PostgresProbe> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    const result = await client.query<{ version: string }>("select version() as version");
    return { reachable: true, version: result.rows[0]?.version ?? "unknown" };
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return { reachable: false, reason };
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface ThrowawayDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function adminQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** A new, empty database on the same server (the technique of test/support/databases.ts). */
export async function createThrowawayDatabase(url = BENCH_PG_URL): Promise<ThrowawayDatabase> {
  const name = `shepherd_bench_${randomBytes(6).toString("hex")}`;
  await adminQuery(url, `CREATE DATABASE ${name}`);
  const target = new URL(url);
  target.pathname = `/${name}`;
  return {
    url: target.toString(),
    name,
    drop: () => adminQuery(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
