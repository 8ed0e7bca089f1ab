import type { Database as BetterSqliteDatabase } from "better-sqlite3";
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
} from "kysely";

/**
 * Every transaction starts with `BEGIN IMMEDIATE`: it takes SQLite's write lock up front, so a
 * second process waits for it (busy_timeout) instead of failing later when a read-then-write
 * transaction tries to upgrade its lock against a newer snapshot.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }
}

/**
 * SQLite does support transactional DDL; saying so makes Kysely run migrations inside one
 * (immediate) transaction: processes migrating one file at once are serialized, and a migration
 * that fails leaves no half-built schema.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

export class ShepherdSqliteDialect extends SqliteDialect {
  readonly #database: BetterSqliteDatabase;

  constructor(database: BetterSqliteDatabase) {
    super({ database });
    this.#database = database;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver({ database: this.#database });
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}
