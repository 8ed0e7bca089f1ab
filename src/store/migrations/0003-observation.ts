import type { Kysely } from "kysely";
import type { Migration } from "kysely/migration";

/**
 * PR observation (SPEC C4), reactions and notifications (C5), and the first facts of sessions
 * (C6) that the observer needs: a session's repo and branch (PR discovery), its run state and
 * pause kind (whether a nudge may be delivered), and the messages delivered to it.
 */
export function observationMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("sessions")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("goal", "text", (c) => c.notNull())
        .addColumn("repo_id", "text", (c) => c.references("repos.id"))
        .addColumn("branch", "text")
        .addColumn("agent", "text", (c) => c.notNull())
        .addColumn("run_state", "text", (c) => c.notNull())
        .addColumn("pause_kind", "text")
        .addColumn("paused_at", "bigint")
        .addColumn("outcome", "text")
        .addColumn("last_activity_at", "bigint")
        .addColumn("reactions", "text", (c) => c.notNull())
        .addColumn("created_by", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addColumn("version", "integer", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("sessions_repo_branch")
        .on("sessions")
        .columns(["repo_id", "branch"])
        .execute();
      await db.schema.createIndex("sessions_run_state").on("sessions").columns(["run_state", "id"]).execute();

      await db.schema
        .createTable("session_messages")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("session_id", "text", (c) => c.notNull().references("sessions.id"))
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("text", "text", (c) => c.notNull())
        .addColumn("full_text", "text")
        .addColumn("pr_id", "text")
        // A nudge is delivered once per key (reaction, PR, signature): a re-run finds it and stops.
        .addColumn("dedup_key", "text", (c) => c.unique())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("consumed_at", "bigint")
        .execute();
      await db.schema
        .createIndex("session_messages_session")
        .on("session_messages")
        .columns(["session_id", "id"])
        .execute();

      await db.schema
        .createTable("pull_requests")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("node_id", "text", (c) => c.notNull().unique())
        .addColumn("repo_id", "text", (c) => c.notNull().references("repos.id"))
        .addColumn("number", "integer", (c) => c.notNull())
        .addColumn("url", "text", (c) => c.notNull())
        .addColumn("title", "text", (c) => c.notNull())
        .addColumn("author", "text")
        .addColumn("head_ref", "text", (c) => c.notNull())
        .addColumn("head_repo", "text")
        .addColumn("head_sha", "text", (c) => c.notNull())
        .addColumn("base_ref", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("draft", "integer", (c) => c.notNull())
        .addColumn("mergeable", "text", (c) => c.notNull())
        .addColumn("merge_state_status", "text")
        .addColumn("ci_state", "text", (c) => c.notNull())
        .addColumn("review_decision", "text")
        .addColumn("unresolved_threads", "integer", (c) => c.notNull())
        .addColumn("comments_count", "integer")
        .addColumn("gh_updated_at", "text")
        .addColumn("session_id", "text")
        .addColumn("proposal_id", "text")
        .addColumn("observation", "text")
        .addColumn("observed_hash", "text")
        .addColumn("reacted_hash", "text")
        .addColumn("reactions", "text", (c) => c.notNull())
        .addColumn("dirty_at", "bigint")
        .addColumn("fetched_at", "bigint")
        .addColumn("threads_fetched_at", "bigint")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addColumn("version", "integer", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("pull_requests_repo_state")
        .on("pull_requests")
        .columns(["repo_id", "state"])
        .execute();
      await db.schema
        .createIndex("pull_requests_repo_number")
        .on("pull_requests")
        .columns(["repo_id", "number"])
        .execute();
      await db.schema
        .createIndex("pull_requests_session")
        .on("pull_requests")
        .columns(["session_id"])
        .execute();
      await db.schema
        .createIndex("pull_requests_proposal")
        .on("pull_requests")
        .columns(["proposal_id"])
        .execute();

      await db.schema
        .createTable("repo_observations")
        .addColumn("repo_id", "text", (c) => c.primaryKey().references("repos.id"))
        .addColumn("health", "text", (c) => c.notNull())
        .addColumn("health_reason", "text")
        .addColumn("health_since", "bigint")
        /** The token (by fingerprint) that failed: the failure is sticky until the token changes. */
        .addColumn("failed_token", "text")
        .addColumn("last_polled_at", "bigint")
        .addColumn("last_success_at", "bigint")
        /** A webhook said the open-PR list changed (a PR opened, closed or reopened). */
        .addColumn("dirty_at", "bigint")
        .addColumn("webhook_hook_id", "integer")
        .addColumn("webhook_last_delivery_at", "bigint")
        .addColumn("webhook_missed_at", "bigint")
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("webhook_deliveries")
        .addColumn("delivery_id", "text", (c) => c.primaryKey())
        .addColumn("repo_id", "text")
        .addColumn("event", "text", (c) => c.notNull())
        .addColumn("action", "text")
        .addColumn("received_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("webhook_deliveries_received")
        .on("webhook_deliveries")
        .columns(["received_at"])
        .execute();

      await db.schema
        .createTable("notifications")
        .addColumn("id", "text", (c) => c.primaryKey())
        // The same reaction episode never notifies twice, also when it is re-run after a crash.
        .addColumn("dedup_key", "text", (c) => c.unique())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("priority", "text", (c) => c.notNull())
        .addColumn("title", "text", (c) => c.notNull())
        .addColumn("body", "text", (c) => c.notNull())
        .addColumn("repo_id", "text")
        .addColumn("pr_id", "text")
        .addColumn("session_id", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("acknowledged_at", "bigint")
        .addColumn("acknowledged_by", "text")
        .execute();
      await db.schema
        .createIndex("notifications_open")
        .on("notifications")
        .columns(["acknowledged_at", "id"])
        .execute();

      await db.schema
        .createTable("notification_deliveries")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("notification_id", "text", (c) => c.notNull().references("notifications.id"))
        .addColumn("target", "text", (c) => c.notNull())
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull())
        .addColumn("last_error", "text")
        .addColumn("job_id", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addColumn("delivered_at", "bigint")
        .execute();
      await db.schema
        .createIndex("notification_deliveries_notification")
        .on("notification_deliveries")
        .columns(["notification_id"])
        .execute();
      await db.schema
        .createIndex("notification_deliveries_state")
        .on("notification_deliveries")
        .columns(["state"])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      for (const table of [
        "notification_deliveries",
        "notifications",
        "webhook_deliveries",
        "repo_observations",
        "pull_requests",
        "session_messages",
        "sessions",
      ]) {
        await db.schema.dropTable(table).execute();
      }
    },
  };
}
