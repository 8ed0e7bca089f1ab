import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { DatabaseTarget } from "../../src/config/config-schema.js";
import { openDatabase, type Database } from "../../src/store/database.js";
import { migrateToLatest } from "../../src/store/migrate.js";

/** The PostgreSQL server tests may use; unset means PostgreSQL tests are skipped (loudly). */
export const TEST_PG_URL = process.env.SHEPHERD_TEST_DATABASE_URL ?? "";
export const HAS_PG = TEST_PG_URL !== "";

export type DatabaseKind = "sqlite" | "postgres";

export interface TestDatabase {
  kind: DatabaseKind;
  target: DatabaseTarget;
  /** A fresh, migrated connection to the same database (a second one imitates a second process). */
  open(): Promise<Database>;
  /** Closes every connection opened through `open` and deletes the database. */
  cleanup(): Promise<void>;
}

/** A new, empty database of the given kind, with migrations applied once. */
export async function createTestDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  const opened: Database[] = [];
  let target: DatabaseTarget;
  let drop: () => Promise<void>;
  if (kind === "sqlite") {
    const dir = await mkdtemp(path.join(os.tmpdir(), "shepherd-test-"));
    const file = path.join(dir, "shepherd.db");
    target = { kind: "sqlite", path: file, url: `sqlite:${file}` };
    drop = () => rm(dir, { recursive: true, force: true });
  } else {
    if (!HAS_PG) throw new Error("SHEPHERD_TEST_DATABASE_URL is not set");
    const name = `shepherd_t_${randomBytes(6).toString("hex")}`;
    await adminQuery(`CREATE DATABASE ${name}`);
    const url = new URL(TEST_PG_URL);
    url.pathname = `/${name}`;
    target = { kind: "postgres", url: url.toString() };
    drop = () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
  const first = await openDatabase(target);
  await migrateToLatest(first);
  opened.push(first);
  let firstHandedOut = false;
  return {
    kind,
    target,
    async open() {
      if (!firstHandedOut) {
        firstHandedOut = true;
        return first;
      }
      const database = await openDatabase(target);
      opened.push(database);
      return database;
    },
    async cleanup() {
      await Promise.allSettled(opened.map((database) => database.close()));
      await drop();
    },
  };
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** The database kinds a contract suite runs against; PostgreSQL only when a server is configured. */
export const DATABASE_KINDS: readonly { kind: DatabaseKind; skip: boolean }[] = [
  { kind: "sqlite", skip: false },
  { kind: "postgres", skip: !HAS_PG },
];
