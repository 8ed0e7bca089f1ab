import type { Kysely, Selectable } from "kysely";
import { newId } from "./ids.js";
import type { ApprovalsTable, Schema } from "./schema.js";

export const APPROVAL_STATES = ["pending", "approved", "rejected", "timed_out"] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

export interface ApprovalRecord {
  id: string;
  sessionId: string;
  toolCallId: string;
  state: ApprovalState;
  /** Why the gate asked (`high_risk_tool`, `gated_env`, …). */
  reason: string;
  requestedAt: number;
  expiresAt: number;
  decidedAt: number | null;
  /** The deciding token's id, or `system` (the watchdog). */
  decidedBy: string | null;
  rationale: string | null;
  version: number;
}

function toRecord(row: Selectable<ApprovalsTable>): ApprovalRecord {
  return {
    id: row.id,
    sessionId: row.session_id,
    toolCallId: row.tool_call_id,
    state: row.state as ApprovalState,
    reason: row.reason,
    requestedAt: Number(row.requested_at),
    expiresAt: Number(row.expires_at),
    decidedAt: row.decided_at === null ? null : Number(row.decided_at),
    decidedBy: row.decided_by,
    rationale: row.rationale,
    version: row.version,
  };
}

/** Human gates on tool calls (SPEC C6): written before the session pauses, decided once. */
export class ApprovalStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async create(
    input: { sessionId: string; toolCallId: string; reason: string; expiresAt: number },
    now: number,
    trx: Kysely<Schema> = this.db,
  ): Promise<ApprovalRecord> {
    const row = await trx
      .insertInto("approvals")
      .values({
        id: newId("apr", now),
        session_id: input.sessionId,
        tool_call_id: input.toolCallId,
        state: "pending",
        reason: input.reason,
        requested_at: now,
        expires_at: input.expiresAt,
        version: 1,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  }

  async get(id: string, trx: Kysely<Schema> = this.db): Promise<ApprovalRecord | null> {
    const row = await trx.selectFrom("approvals").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  async byToolCall(toolCallId: string, trx: Kysely<Schema> = this.db): Promise<ApprovalRecord | null> {
    const row = await trx
      .selectFrom("approvals")
      .selectAll()
      .where("tool_call_id", "=", toolCallId)
      .executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  /**
   * Decides a pending approval: one conditional UPDATE, so of any number of concurrent decisions
   * exactly one applies; the others get null and read what was decided.
   */
  async decide(
    id: string,
    decision: { state: Exclude<ApprovalState, "pending">; by: string; rationale: string | null },
    now: number,
    trx: Kysely<Schema> = this.db,
  ): Promise<ApprovalRecord | null> {
    const row = await trx
      .updateTable("approvals")
      .set((eb) => ({
        state: decision.state,
        decided_at: now,
        decided_by: decision.by,
        rationale: decision.rationale,
        version: eb("version", "+", 1),
      }))
      .where("id", "=", id)
      .where("state", "=", "pending")
      .returningAll()
      .executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  async list(filter: {
    state?: ApprovalState;
    sessionId?: string;
    limit: number;
  }): Promise<ApprovalRecord[]> {
    let query = this.db.selectFrom("approvals").selectAll();
    if (filter.state !== undefined) query = query.where("state", "=", filter.state);
    if (filter.sessionId !== undefined) query = query.where("session_id", "=", filter.sessionId);
    const rows = await query.orderBy("requested_at").orderBy("id").limit(filter.limit).execute();
    return rows.map(toRecord);
  }

  /** Pending approvals past their deadline: what the watchdog decides. Read from the database. */
  async listExpired(now: number, limit: number): Promise<ApprovalRecord[]> {
    const rows = await this.db
      .selectFrom("approvals")
      .selectAll()
      .where("state", "=", "pending")
      .where("expires_at", "<=", now)
      .orderBy("expires_at")
      .limit(limit)
      .execute();
    return rows.map(toRecord);
  }

  /**
   * Approvals decided before `decidedBefore` whose session still waits on them (paused for the
   * approval, the call not taken up): the decision committed but the session's resume was never
   * queued — the process stopped, or the enqueue failed, in between. Read from the database.
   */
  async listDecidedNotResumed(decidedBefore: number, limit: number): Promise<ApprovalRecord[]> {
    const rows = await this.db
      .selectFrom("sessions")
      .innerJoin("approvals", "approvals.session_id", "sessions.id")
      .innerJoin("tool_calls", "tool_calls.id", "approvals.tool_call_id")
      .selectAll("approvals")
      .where("sessions.run_state", "=", "paused")
      .where("sessions.pause_kind", "=", "approval")
      .where("sessions.outcome", "is", null)
      .where("approvals.state", "!=", "pending")
      .where("approvals.decided_at", "<=", decidedBefore)
      .where("tool_calls.status", "=", "pending_approval")
      .orderBy("approvals.decided_at")
      .limit(limit)
      .execute();
    return rows.map(toRecord);
  }
}
