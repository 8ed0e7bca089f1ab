import type { Kysely, Selectable } from "kysely";
import { newId } from "./ids.js";
import type { Schema, SessionMessagesTable } from "./schema.js";

export interface SessionMessageRecord {
  id: string;
  sessionId: string;
  /** `nudge` (from a reaction) or `input` (from a human). */
  kind: string;
  /** Who sent it, e.g. `reaction:ci_failed` or `user:<token name>`. */
  source: string;
  /** What the agent is given (sanitized, length-capped). */
  text: string;
  /** The whole text when `text` was cut. */
  fullText: string | null;
  prId: string | null;
  dedupKey: string | null;
  createdAt: number;
  consumedAt: number | null;
}

export type NewSessionMessage = Omit<SessionMessageRecord, "id" | "createdAt" | "consumedAt">;

function toRecord(row: Selectable<SessionMessagesTable>): SessionMessageRecord {
  return {
    id: row.id,
    sessionId: row.session_id,
    kind: row.kind,
    source: row.source,
    text: row.text,
    fullText: row.full_text,
    prId: row.pr_id,
    dedupKey: row.dedup_key,
    createdAt: row.created_at,
    consumedAt: row.consumed_at,
  };
}

/** Messages delivered into sessions; a dedup key makes a delivery happen at most once. */
export class SessionMessageStore {
  constructor(private readonly db: Kysely<Schema>) {}

  /** Inserts the message unless one with the same dedup key exists; `created` says which. */
  async insertOnce(
    trx: Kysely<Schema>,
    message: NewSessionMessage,
    now: number,
  ): Promise<{ record: SessionMessageRecord; created: boolean }> {
    const inserted = await trx
      .insertInto("session_messages")
      .values({
        id: newId("msg", now),
        session_id: message.sessionId,
        kind: message.kind,
        source: message.source,
        text: message.text,
        full_text: message.fullText,
        pr_id: message.prId,
        dedup_key: message.dedupKey,
        created_at: now,
        consumed_at: null,
      })
      .onConflict((conflict) => conflict.column("dedup_key").doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted) return { record: toRecord(inserted), created: true };
    const existing = await trx
      .selectFrom("session_messages")
      .selectAll()
      .where("dedup_key", "=", message.dedupKey)
      .executeTakeFirstOrThrow();
    return { record: toRecord(existing), created: false };
  }

  async list(
    sessionId: string,
    page: { before?: string | undefined; limit: number },
  ): Promise<SessionMessageRecord[]> {
    let query = this.db.selectFrom("session_messages").selectAll().where("session_id", "=", sessionId);
    if (page.before) query = query.where("id", "<", page.before);
    const rows = await query.orderBy("id", "desc").limit(page.limit).execute();
    return rows.map(toRecord);
  }

  /** Messages the session's agent has not taken in yet, oldest first. */
  async unconsumed(sessionId: string, trx: Kysely<Schema> = this.db): Promise<SessionMessageRecord[]> {
    const rows = await trx
      .selectFrom("session_messages")
      .selectAll()
      .where("session_id", "=", sessionId)
      .where("consumed_at", "is", null)
      .orderBy("id")
      .execute();
    return rows.map(toRecord);
  }

  /**
   * Sessions an agent should be reading: an unread message older than `before`, the agent idle
   * or waiting for input — its wake-up was lost (the process stopped between the message and its
   * job). Read from the database.
   */
  async sessionsWithStaleUnread(before: number, limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom("session_messages")
      .innerJoin("sessions", "sessions.id", "session_messages.session_id")
      .select("session_messages.session_id")
      .distinct()
      .where("session_messages.consumed_at", "is", null)
      .where("session_messages.created_at", "<=", before)
      .where("sessions.outcome", "is", null)
      .where("sessions.skill", "is not", null)
      .where((eb) =>
        eb.or([
          eb("sessions.run_state", "=", "idle"),
          eb.and([eb("sessions.run_state", "=", "paused"), eb("sessions.pause_kind", "=", "input")]),
        ]),
      )
      .limit(limit)
      .execute();
    return rows.map((row) => row.session_id);
  }

  async markConsumed(ids: readonly string[], now: number, trx: Kysely<Schema> = this.db): Promise<void> {
    if (ids.length === 0) return;
    await trx
      .updateTable("session_messages")
      .set({ consumed_at: now })
      .where("id", "in", ids)
      .where("consumed_at", "is", null)
      .execute();
  }
}
