import { sql, type Kysely } from "kysely";
import type { Migration } from "kysely/migration";

/** Repos (SPEC C2), proposals (C3), and job deferral for the embedded queue. */
export function reposAndProposalsMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("repos")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("owner", "text", (c) => c.notNull())
        .addColumn("repo", "text", (c) => c.notNull())
        .addColumn("base_branch", "text", (c) => c.notNull())
        .addColumn("token_ref", "text", (c) => c.notNull())
        .addColumn("webhook_secret_ref", "text")
        .addColumn("auto_merge", "integer", (c) => c.notNull())
        .addColumn("merge_method", "text", (c) => c.notNull())
        .addColumn("follow_ups", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addColumn("deleted_at", "bigint")
        .addColumn("version", "integer", (c) => c.notNull())
        .execute();
      // Names are unique among live repos; the database is the authority when two creates race.
      await db.schema
        .createIndex("repos_live_name")
        .on("repos")
        .column("name")
        .unique()
        .where(sql.ref("deleted_at"), "is", null)
        .execute();

      await db.schema
        .createTable("proposals")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("repo_id", "text", (c) => c.notNull().references("repos.id"))
        .addColumn("session_id", "text")
        .addColumn("title", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("change", "text", (c) => c.notNull())
        .addColumn("evidence", "text")
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("rejected_reason", "text")
        .addColumn("pr_open_error", "text")
        .addColumn("branch", "text")
        .addColumn("pr_number", "integer")
        .addColumn("pr_url", "text")
        .addColumn("pr_node_id", "text")
        .addColumn("open_job_id", "text")
        .addColumn("open_requested_at", "bigint")
        .addColumn("opened_at", "bigint")
        .addColumn("created_by", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addColumn("version", "integer", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("proposals_repo_status")
        .on("proposals")
        .columns(["repo_id", "status"])
        .execute();
      await db.schema.createIndex("proposals_status").on("proposals").columns(["status", "id"]).execute();
      await db.schema.createIndex("proposals_session").on("proposals").columns(["session_id"]).execute();

      // When a job was first put back because its resource was busy (lock contention budgets).
      await db.schema.alterTable("jobs").addColumn("deferred_since", "bigint").execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable("jobs").dropColumn("deferred_since").execute();
      await db.schema.dropTable("proposals").execute();
      await db.schema.dropTable("repos").execute();
    },
  };
}
