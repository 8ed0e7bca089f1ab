import { sql, type Kysely } from "kysely";
import type { Migration } from "kysely/migration";
import type { Dialect } from "../database.js";

/**
 * Built-in agents and human gates (SPEC C6): the rest of a session's facts, its agent runs and
 * their conversation, tool calls, approvals, lessons (with full-text search in each dialect), and
 * follow-up proposals (C3 `followUpOf`).
 */
export function agentsMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      for (const [column, type] of [
        ["skill", "text"],
        ["inputs", "text"],
        ["environment", "text"],
        ["current_agent", "text"],
        ["retry_count", "integer"],
        ["last_error", "text"],
        ["last_confidence", "real"],
        ["queued_at", "bigint"],
        ["started_at", "bigint"],
        ["ended_at", "bigint"],
        // The status last announced with session.status_changed: only to notice a change, never
        // shown (the displayed status is always derived from the facts).
        ["announced_status", "text"],
      ] as const) {
        await db.schema.alterTable("sessions").addColumn(column, type).execute();
      }
      await db.schema
        .createIndex("sessions_queue")
        .on("sessions")
        .columns(["run_state", "queued_at"])
        .execute();

      await db.schema
        .createTable("agent_runs")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("session_id", "text", (c) => c.notNull().references("sessions.id"))
        .addColumn("agent", "text", (c) => c.notNull())
        .addColumn("attempt", "integer", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("provider", "text")
        .addColumn("model", "text")
        .addColumn("envelope", "text")
        .addColumn("signal", "text")
        .addColumn("confidence", "real")
        .addColumn("input_tokens", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("output_tokens", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("error", "text")
        .addColumn("started_at", "bigint", (c) => c.notNull())
        .addColumn("ended_at", "bigint")
        .execute();
      await db.schema
        .createIndex("agent_runs_session")
        .on("agent_runs")
        .columns(["session_id", "started_at"])
        .execute();

      // The conversation of an agent run, message by message, so that a paused or crashed run
      // resumes from exactly where it stopped.
      await db.schema
        .createTable("agent_messages")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("run_id", "text", (c) => c.notNull().references("agent_runs.id"))
        // Position in the run's conversation: two writers can never append the same position.
        .addColumn("idx", "integer", (c) => c.notNull())
        .addColumn("session_id", "text", (c) => c.notNull())
        .addColumn("role", "text", (c) => c.notNull())
        .addColumn("body", "text", (c) => c.notNull())
        .addColumn("input_tokens", "integer")
        .addColumn("output_tokens", "integer")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addUniqueConstraint("agent_messages_run_idx", ["run_id", "idx"])
        .execute();

      await db.schema
        .createTable("tool_calls")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("session_id", "text", (c) => c.notNull().references("sessions.id"))
        .addColumn("run_id", "text", (c) => c.notNull().references("agent_runs.id"))
        // The model's id for the call: a replayed answer names the same call, which runs once.
        .addColumn("llm_call_id", "text", (c) => c.notNull())
        .addColumn("server", "text", (c) => c.notNull())
        .addColumn("tool", "text", (c) => c.notNull())
        .addColumn("args", "text", (c) => c.notNull())
        .addColumn("risk", "text")
        .addColumn("gate_action", "text", (c) => c.notNull())
        .addColumn("gate_reason", "text", (c) => c.notNull())
        .addColumn("confidence", "real")
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("result", "text")
        .addColumn("error", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("started_at", "bigint")
        .addColumn("finished_at", "bigint")
        .addColumn("version", "integer", (c) => c.notNull())
        .addUniqueConstraint("tool_calls_run_llm_call", ["run_id", "llm_call_id"])
        .execute();
      await db.schema
        .createIndex("tool_calls_session")
        .on("tool_calls")
        .columns(["session_id", "created_at"])
        .execute();

      await db.schema
        .createTable("approvals")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("session_id", "text", (c) => c.notNull().references("sessions.id"))
        .addColumn("tool_call_id", "text", (c) => c.notNull().unique().references("tool_calls.id"))
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("reason", "text", (c) => c.notNull())
        .addColumn("requested_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addColumn("decided_at", "bigint")
        .addColumn("decided_by", "text")
        .addColumn("rationale", "text")
        .addColumn("version", "integer", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("approvals_state")
        .on("approvals")
        .columns(["state", "expires_at"])
        .execute();
      await db.schema.createIndex("approvals_session").on("approvals").columns(["session_id"]).execute();

      await db.schema
        .createTable("lessons")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("source_session_id", "text", (c) => c.notNull().references("sessions.id"))
        .addColumn("extractor_version", "integer", (c) => c.notNull())
        .addColumn("skill", "text")
        .addColumn("repo_id", "text")
        .addColumn("outcome", "text", (c) => c.notNull())
        .addColumn("summary", "text", (c) => c.notNull())
        .addColumn("signals", "text", (c) => c.notNull())
        .addColumn("tool_sequence", "text", (c) => c.notNull())
        .addColumn("confidence_final", "real")
        .addColumn("text", "text", (c) => c.notNull())
        .addColumn("embedding", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("deleted_at", "bigint")
        .addUniqueConstraint("lessons_source_version", ["source_session_id", "extractor_version"])
        .execute();
      if (dialect === "sqlite") {
        // An external-content FTS5 index over lessons.text, kept in step by triggers.
        await sql`create virtual table lessons_fts using fts5(text, content='lessons', content_rowid='rowid', tokenize='porter unicode61')`.execute(
          db,
        );
        await sql`create trigger lessons_fts_insert after insert on lessons begin
          insert into lessons_fts(rowid, text) values (new.rowid, new.text); end`.execute(db);
        await sql`create trigger lessons_fts_delete after delete on lessons begin
          insert into lessons_fts(lessons_fts, rowid, text) values ('delete', old.rowid, old.text); end`.execute(
          db,
        );
        await sql`create trigger lessons_fts_update after update of text on lessons begin
          insert into lessons_fts(lessons_fts, rowid, text) values ('delete', old.rowid, old.text);
          insert into lessons_fts(rowid, text) values (new.rowid, new.text); end`.execute(db);
      } else {
        await sql`alter table lessons add column text_search tsvector generated always as (to_tsvector('english', text)) stored`.execute(
          db,
        );
        await sql`create index lessons_text_search on lessons using gin (text_search)`.execute(db);
      }

      // A follow-up change to an existing PR (SPEC C3 `followUpOf`): the PR worker commits it on
      // that PR's branch instead of opening a new PR.
      await db.schema.alterTable("proposals").addColumn("follow_up_of", "text").execute();
      await db.schema.createIndex("proposals_follow_up_of").on("proposals").column("follow_up_of").execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex("proposals_follow_up_of").ifExists().execute();
      await db.schema.alterTable("proposals").dropColumn("follow_up_of").execute();
      if (dialect === "sqlite") {
        for (const trigger of ["lessons_fts_insert", "lessons_fts_delete", "lessons_fts_update"]) {
          await sql`drop trigger if exists ${sql.raw(trigger)}`.execute(db);
        }
        await sql`drop table if exists lessons_fts`.execute(db);
      }
      for (const table of ["lessons", "approvals", "tool_calls", "agent_messages", "agent_runs"]) {
        await db.schema.dropTable(table).execute();
      }
      await db.schema.dropIndex("sessions_queue").execute();
      for (const column of [
        "skill",
        "inputs",
        "environment",
        "current_agent",
        "retry_count",
        "last_error",
        "last_confidence",
        "queued_at",
        "started_at",
        "ended_at",
        "announced_status",
      ]) {
        await db.schema.alterTable("sessions").dropColumn(column).execute();
      }
    },
  };
}
