import { Migrator, type MigrationResult } from "kysely/migration";
import type { Database } from "./database.js";
import { migrationList } from "./migrations/migration-list.js";

export class MigrationError extends Error {
  override name = "MigrationError";
}

export interface MigrationReport {
  applied: string[];
  /** Name of the newest migration now in the database. */
  current: string | null;
}

function migrator(database: Database): Migrator {
  const migrations = migrationList(database.dialect);
  return new Migrator({
    db: database.db,
    provider: { getMigrations: async () => migrations },
  });
}

/**
 * Applies pending migrations in one transaction. Safe to run from several processes at once:
 * PostgreSQL takes an advisory lock, SQLite an immediate (write-locked) transaction.
 */
export async function migrateToLatest(database: Database): Promise<MigrationReport> {
  // The common case (nothing to do) only reads: no write lock on every start.
  if ((await pendingMigrations(database)).length === 0) {
    return { applied: [], current: await currentMigration(database) };
  }
  const { error, results } = await migrator(database).migrateToLatest();
  if (error) {
    const failed = results?.find((r: MigrationResult) => r.status === "Error");
    throw new MigrationError(
      `migration ${failed?.migrationName ?? "(unknown)"} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`,
      { cause: error },
    );
  }
  return { applied: (results ?? []).map((r) => r.migrationName), current: await currentMigration(database) };
}

export async function currentMigration(database: Database): Promise<string | null> {
  const all = await migrator(database).getMigrations();
  const executed = all.filter((m) => m.executedAt !== undefined);
  return executed.at(-1)?.name ?? null;
}

export async function pendingMigrations(database: Database): Promise<string[]> {
  const all = await migrator(database).getMigrations();
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}
