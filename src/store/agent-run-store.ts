import type { Kysely, Selectable } from "kysely";
import type { GateAction, GateReason } from "../domain/gate-policy.js";
import { newId } from "./ids.js";
import type { AgentRunsTable, Schema, ToolCallsTable } from "./schema.js";
import type { SessionError } from "./session-store.js";
import { updateVersioned } from "./transitions.js";

export const AGENT_RUN_STATUSES = ["running", "completed", "failed", "stopped"] as const;
export type AgentRunStatus = (typeof AGENT_RUN_STATUSES)[number];

/**
 * `pending_approval` → `approved` | `rejected` | `timed_out`; `approved` or a call the gate let
 * through → `executing` → `executed` | `failed`; `denied` by the gate; `interrupted` when the
 * process died while it ran (it is not run again blindly).
 */
export const TOOL_CALL_STATUSES = [
  "pending_approval",
  "approved",
  "rejected",
  "timed_out",
  "denied",
  "executing",
  "executed",
  "failed",
  "interrupted",
] as const;
export type ToolCallStatus = (typeof TOOL_CALL_STATUSES)[number];

export interface AgentRunRecord {
  id: string;
  sessionId: string;
  agent: string;
  attempt: number;
  status: AgentRunStatus;
  provider: string | null;
  model: string | null;
  envelope: Record<string, unknown> | null;
  signal: string | null;
  confidence: number | null;
  inputTokens: number;
  outputTokens: number;
  error: SessionError | null;
  startedAt: number;
  endedAt: number | null;
}

export interface StoredMessage {
  idx: number;
  role: string;
  body: unknown;
}

export interface ToolCallRecord {
  id: string;
  sessionId: string;
  runId: string;
  llmCallId: string;
  server: string;
  tool: string;
  args: Record<string, unknown>;
  risk: string | null;
  gateAction: GateAction;
  gateReason: GateReason;
  confidence: number | null;
  status: ToolCallStatus;
  result: unknown;
  error: SessionError | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  version: number;
}

function parse<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

function toRun(row: Selectable<AgentRunsTable>): AgentRunRecord {
  return {
    id: row.id,
    sessionId: row.session_id,
    agent: row.agent,
    attempt: row.attempt,
    status: row.status as AgentRunStatus,
    provider: row.provider,
    model: row.model,
    envelope: parse<Record<string, unknown>>(row.envelope),
    signal: row.signal,
    confidence: row.confidence,
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    error: parse<SessionError>(row.error),
    startedAt: Number(row.started_at),
    endedAt: row.ended_at === null ? null : Number(row.ended_at),
  };
}

function toToolCall(row: Selectable<ToolCallsTable>): ToolCallRecord {
  return {
    id: row.id,
    sessionId: row.session_id,
    runId: row.run_id,
    llmCallId: row.llm_call_id,
    server: row.server,
    tool: row.tool,
    args: JSON.parse(row.args) as Record<string, unknown>,
    risk: row.risk,
    gateAction: row.gate_action as GateAction,
    gateReason: row.gate_reason as GateReason,
    confidence: row.confidence,
    status: row.status as ToolCallStatus,
    result: parse<unknown>(row.result),
    error: parse<SessionError>(row.error),
    createdAt: Number(row.created_at),
    startedAt: row.started_at === null ? null : Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
    version: row.version,
  };
}

export interface NewToolCall {
  sessionId: string;
  runId: string;
  llmCallId: string;
  server: string;
  tool: string;
  args: Record<string, unknown>;
  risk: string | null;
  gateAction: GateAction;
  gateReason: GateReason;
  confidence: number | null;
  status: ToolCallStatus;
}

/** Agent runs, their conversation, and their tool calls (SPEC C6). */
export class AgentRunStore {
  /**
   * `redact` scrubs known secrets from everything written here — conversation, tool arguments,
   * results, errors, envelopes — so a secret a tool or a model echoes never reaches the database.
   */
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly redact: (value: unknown) => unknown = (value) => value,
  ) {}

  #json(value: unknown): string {
    return JSON.stringify(this.redact(value));
  }

  /**
   * Starts a run with its opening conversation — the goal, or the conversation it carries on —
   * in one transaction: a run is never seen half-written (a carried tool call without its
   * result would look pending, and run again).
   */
  async startRun(
    input: { sessionId: string; agent: string; attempt: number },
    messages: readonly { idx: number; role: string; body: unknown }[],
    now: number,
  ): Promise<AgentRunRecord> {
    return this.db.transaction().execute(async (trx) => {
      const run = await this.#insertRun(input, now, trx);
      for (const message of messages) {
        await this.appendMessage({ runId: run.id, sessionId: input.sessionId, ...message }, now, trx);
      }
      return run;
    });
  }

  async #insertRun(
    input: { sessionId: string; agent: string; attempt: number },
    now: number,
    trx: Kysely<Schema>,
  ): Promise<AgentRunRecord> {
    const row = await trx
      .insertInto("agent_runs")
      .values({
        id: newId("run", now),
        session_id: input.sessionId,
        agent: input.agent,
        attempt: input.attempt,
        status: "running",
        input_tokens: 0,
        output_tokens: 0,
        started_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRun(row);
  }

  /** The session's run in progress, if any (at most one runs at a time). */
  async currentRun(sessionId: string, trx: Kysely<Schema> = this.db): Promise<AgentRunRecord | null> {
    const row = await trx
      .selectFrom("agent_runs")
      .selectAll()
      .where("session_id", "=", sessionId)
      .where("status", "=", "running")
      .orderBy("started_at", "desc")
      .orderBy("id", "desc")
      .executeTakeFirst();
    return row ? toRun(row) : null;
  }

  async listRuns(sessionId: string): Promise<AgentRunRecord[]> {
    const rows = await this.db
      .selectFrom("agent_runs")
      .selectAll()
      .where("session_id", "=", sessionId)
      .orderBy("started_at")
      .orderBy("id")
      .execute();
    return rows.map(toRun);
  }

  async finishRun(
    id: string,
    patch: {
      status: AgentRunStatus;
      envelope?: Record<string, unknown> | null;
      signal?: string | null;
      confidence?: number | null;
      error?: SessionError | null;
    },
    now: number,
    trx: Kysely<Schema> = this.db,
  ): Promise<void> {
    await trx
      .updateTable("agent_runs")
      .set({
        status: patch.status,
        envelope: patch.envelope ? this.#json(patch.envelope) : null,
        signal: patch.signal ?? null,
        confidence: patch.confidence ?? null,
        error: patch.error ? this.#json(patch.error) : null,
        ended_at: now,
      })
      .where("id", "=", id)
      .where("status", "=", "running")
      .execute();
  }

  async addUsage(
    runId: string,
    usage: { provider: string; model: string; inputTokens: number; outputTokens: number },
    trx: Kysely<Schema> = this.db,
  ): Promise<void> {
    await trx
      .updateTable("agent_runs")
      .set((eb) => ({
        provider: usage.provider,
        model: usage.model,
        input_tokens: eb("input_tokens", "+", usage.inputTokens),
        output_tokens: eb("output_tokens", "+", usage.outputTokens),
      }))
      .where("id", "=", runId)
      .execute();
  }

  async messages(runId: string, trx: Kysely<Schema> = this.db): Promise<StoredMessage[]> {
    const rows = await trx
      .selectFrom("agent_messages")
      .select(["idx", "role", "body"])
      .where("run_id", "=", runId)
      .orderBy("idx")
      .execute();
    return rows.map((row) => ({ idx: row.idx, role: row.role, body: JSON.parse(row.body) as unknown }));
  }

  /**
   * Appends at position `idx` (the conversation's length as the writer read it). The unique
   * (run, idx) means two writers can never both append the same step: the loser gets an error.
   */
  async appendMessage(
    input: {
      runId: string;
      sessionId: string;
      idx: number;
      role: string;
      body: unknown;
      tokens?: { input: number | null; output: number | null };
    },
    now: number,
    trx: Kysely<Schema> = this.db,
  ): Promise<void> {
    await trx
      .insertInto("agent_messages")
      .values({
        id: newId("msg", now),
        run_id: input.runId,
        idx: input.idx,
        session_id: input.sessionId,
        role: input.role,
        body: this.#json(input.body),
        input_tokens: input.tokens?.input ?? null,
        output_tokens: input.tokens?.output ?? null,
        created_at: now,
      })
      .execute();
  }

  async toolCallByLlmId(
    runId: string,
    llmCallId: string,
    trx: Kysely<Schema> = this.db,
  ): Promise<ToolCallRecord | null> {
    const row = await trx
      .selectFrom("tool_calls")
      .selectAll()
      .where("run_id", "=", runId)
      .where("llm_call_id", "=", llmCallId)
      .executeTakeFirst();
    return row ? toToolCall(row) : null;
  }

  async listToolCalls(sessionId: string): Promise<ToolCallRecord[]> {
    const rows = await this.db
      .selectFrom("tool_calls")
      .selectAll()
      .where("session_id", "=", sessionId)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(toToolCall);
  }

  async createToolCall(
    input: NewToolCall,
    now: number,
    trx: Kysely<Schema> = this.db,
  ): Promise<ToolCallRecord> {
    const row = await trx
      .insertInto("tool_calls")
      .values({
        id: newId("tc", now),
        session_id: input.sessionId,
        run_id: input.runId,
        llm_call_id: input.llmCallId,
        server: input.server,
        tool: input.tool,
        args: this.#json(input.args),
        risk: input.risk,
        gate_action: input.gateAction,
        gate_reason: input.gateReason,
        confidence: input.confidence,
        status: input.status,
        created_at: now,
        version: 1,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toToolCall(row);
  }

  /** A versioned status change: a call moves once, whoever else tries. */
  async updateToolCall(
    call: ToolCallRecord,
    patch: { status: ToolCallStatus; result?: unknown; error?: SessionError | null },
    now: number,
    trx: Kysely<Schema> = this.db,
  ): Promise<ToolCallRecord> {
    const set: Record<string, unknown> = { status: patch.status };
    if (patch.status === "executing") set.started_at = now;
    if (["executed", "failed", "interrupted", "denied", "rejected", "timed_out"].includes(patch.status))
      set.finished_at = now;
    if (patch.result !== undefined) set.result = this.#json(patch.result);
    if (patch.error !== undefined) set.error = patch.error === null ? null : this.#json(patch.error);
    return toToolCall(await updateVersioned(trx, "tool_calls", call.id, call.version, set));
  }
}
