import { sql, type Kysely } from "kysely";
import type { Migration } from "kysely/migration";
import type { Dialect } from "../database.js";

/** Tokens, the event log and the embedded job queue's table. */
export function foundationMigration(dialect: Dialect): Migration {
  // SQLite: `integer primary key` makes seq the rowid (no second index); Postgres needs bigint.
  const seqType = dialect === "sqlite" ? "integer" : "bigint";
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("tokens")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("role", "text", (c) => c.notNull())
        .addColumn("session_id", "text")
        .addColumn("token_hash", "text", (c) => c.notNull().unique())
        .addColumn("hint", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("created_by", "text")
        .addColumn("last_used_at", "bigint")
        .addColumn("expires_at", "bigint")
        .addColumn("revoked_at", "bigint")
        .execute();

      await db.schema
        .createTable("events")
        .addColumn("seq", sql.raw(seqType), (c) => c.primaryKey())
        .addColumn("session_id", "text")
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("payload", "text", (c) => c.notNull())
        .addColumn("ts", "bigint", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("events_session_seq").on("events").columns(["session_id", "seq"]).execute();

      await db.schema
        .createTable("event_counter")
        .addColumn("id", "integer", (c) => c.primaryKey())
        .addColumn("last_seq", "bigint", (c) => c.notNull())
        .execute();
      await sql`insert into event_counter (id, last_seq) values (1, 0)`.execute(db);

      await db.schema
        .createTable("jobs")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("queue", "text", (c) => c.notNull())
        .addColumn("payload", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("dedup_key", "text")
        .addColumn("attempts", "integer", (c) => c.notNull())
        .addColumn("max_attempts", "integer", (c) => c.notNull())
        .addColumn("backoff_ms", "integer", (c) => c.notNull())
        .addColumn("run_at", "bigint", (c) => c.notNull())
        .addColumn("lease_until", "bigint")
        .addColumn("lease_token", "text")
        .addColumn("last_error", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addColumn("finished_at", "bigint")
        .execute();
      // Claim order: runnable queued jobs of a queue by run_at.
      await db.schema.createIndex("jobs_claim").on("jobs").columns(["queue", "state", "run_at"]).execute();
      // In-flight dedup: at most one queued-or-active job per (queue, dedup_key). The database
      // is the authority, so two racing enqueues cannot both insert.
      await db.schema
        .createIndex("jobs_in_flight_dedup")
        .on("jobs")
        .columns(["queue", "dedup_key"])
        .unique()
        .where(sql.ref("state"), "in", sql`('queued', 'active')`)
        .execute();
    },
    async down(db: Kysely<unknown>) {
      for (const table of ["jobs", "event_counter", "events", "tokens"]) {
        await db.schema.dropTable(table).execute();
      }
    },
  };
}
