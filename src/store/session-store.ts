import type { Expression, ExpressionBuilder, Kysely, Selectable, SqlBool } from "kysely";
import { parseReactionHistory, type ReactionHistory } from "../domain/reaction-history.js";
import type { PauseKind, RunState, SessionOutcome } from "../domain/session.js";
import { newId } from "./ids.js";
import type { Schema, SessionsTable } from "./schema.js";
import { updateVersioned } from "./transitions.js";

export interface SessionRecord {
  id: string;
  goal: string;
  repoId: string | null;
  branch: string | null;
  agent: Record<string, unknown>;
  runState: RunState;
  pauseKind: PauseKind | null;
  pausedAt: number | null;
  outcome: SessionOutcome | null;
  lastActivityAt: number | null;
  reactions: ReactionHistory;
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
  version: number;
  skill: string | null;
  inputs: Record<string, unknown>;
  environment: string | null;
  currentAgent: string | null;
  retryCount: number;
  lastError: SessionError | null;
  lastConfidence: number | null;
  queuedAt: number | null;
  startedAt: number | null;
  endedAt: number | null;
  announcedStatus: string | null;
}

/** Why a session's last run failed: a stable code (it decides whether a retry may help) and text. */
export interface SessionError {
  code: string;
  message: string;
}

export interface NewSession {
  goal: string;
  repoId: string | null;
  branch: string | null;
  agent: Record<string, unknown>;
  runState?: RunState;
  createdBy: string | null;
  skill?: string | null;
  inputs?: Record<string, unknown>;
  environment?: string | null;
  currentAgent?: string | null;
  queuedAt?: number | null;
}

export type SessionFactsPatch = Partial<
  Pick<
    SessionRecord,
    | "runState"
    | "pauseKind"
    | "pausedAt"
    | "outcome"
    | "lastActivityAt"
    | "branch"
    | "currentAgent"
    | "retryCount"
    | "lastError"
    | "lastConfidence"
    | "queuedAt"
    | "startedAt"
    | "endedAt"
  >
>;

export interface SessionFilter {
  repoId?: string;
  skill?: string;
  runState?: RunState;
  /** Only sessions without an outcome (true) or with one (false). */
  live?: boolean;
  /** Newest first; ids below this one (keyset pagination). */
  before?: string;
  limit: number;
}

const PATCH_COLUMNS = {
  runState: "run_state",
  pauseKind: "pause_kind",
  pausedAt: "paused_at",
  lastActivityAt: "last_activity_at",
  branch: "branch",
  currentAgent: "current_agent",
  retryCount: "retry_count",
  lastConfidence: "last_confidence",
  queuedAt: "queued_at",
  startedAt: "started_at",
  endedAt: "ended_at",
} as const satisfies Partial<Record<keyof SessionFactsPatch, keyof SessionsTable>>;

/** The columns a facts patch writes (JSON columns serialized). */
function sessionPatchColumns(patch: SessionFactsPatch): Record<string, unknown> {
  const set: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(PATCH_COLUMNS)) {
    const value = patch[key as keyof typeof PATCH_COLUMNS];
    if (value !== undefined) set[column] = value;
  }
  if (patch.outcome !== undefined)
    set.outcome = patch.outcome === null ? null : JSON.stringify(patch.outcome);
  if (patch.lastError !== undefined)
    set.last_error = patch.lastError === null ? null : JSON.stringify(patch.lastError);
  return set;
}

function toRecord(row: Selectable<SessionsTable>): SessionRecord {
  return {
    id: row.id,
    goal: row.goal,
    repoId: row.repo_id,
    branch: row.branch,
    agent: JSON.parse(row.agent) as Record<string, unknown>,
    runState: row.run_state as RunState,
    pauseKind: row.pause_kind as PauseKind | null,
    pausedAt: row.paused_at,
    outcome: row.outcome ? (JSON.parse(row.outcome) as SessionOutcome) : null,
    lastActivityAt: row.last_activity_at,
    reactions: parseReactionHistory(row.reactions),
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: row.version,
    skill: row.skill,
    inputs: row.inputs ? (JSON.parse(row.inputs) as Record<string, unknown>) : {},
    environment: row.environment,
    currentAgent: row.current_agent,
    retryCount: row.retry_count ?? 0,
    lastError: row.last_error ? (JSON.parse(row.last_error) as SessionError) : null,
    lastConfidence: row.last_confidence,
    queuedAt: row.queued_at === null ? null : Number(row.queued_at),
    startedAt: row.started_at === null ? null : Number(row.started_at),
    endedAt: row.ended_at === null ? null : Number(row.ended_at),
    announcedStatus: row.announced_status,
  };
}

function sessionConditions(
  eb: ExpressionBuilder<Schema, "sessions">,
  filter: Omit<SessionFilter, "before" | "limit">,
): Expression<SqlBool> {
  const conditions: Expression<SqlBool>[] = [];
  if (filter.repoId !== undefined) conditions.push(eb("repo_id", "=", filter.repoId));
  if (filter.skill !== undefined) conditions.push(eb("skill", "=", filter.skill));
  if (filter.runState !== undefined) conditions.push(eb("run_state", "=", filter.runState));
  if (filter.live === true) conditions.push(eb("outcome", "is", null));
  if (filter.live === false) conditions.push(eb("outcome", "is not", null));
  return eb.and(conditions);
}

/** Sessions' stored facts (SPEC C6); every write is versioned so a stale one never clobbers. */
export class SessionStore {
  constructor(private readonly db: Kysely<Schema>) {}

  /** The handle this store reads with (for reads that must see the same data). */
  get database(): Kysely<Schema> {
    return this.db;
  }

  async create(input: NewSession, now: number, trx: Kysely<Schema> = this.db): Promise<SessionRecord> {
    const row = await trx
      .insertInto("sessions")
      .values({
        id: newId("ses", now),
        goal: input.goal,
        repo_id: input.repoId,
        branch: input.branch,
        agent: JSON.stringify(input.agent),
        run_state: input.runState ?? "queued",
        pause_kind: null,
        paused_at: null,
        outcome: null,
        last_activity_at: null,
        reactions: "{}",
        created_by: input.createdBy,
        created_at: now,
        updated_at: now,
        version: 1,
        skill: input.skill ?? null,
        inputs: JSON.stringify(input.inputs ?? {}),
        environment: input.environment ?? null,
        current_agent: input.currentAgent ?? null,
        retry_count: 0,
        queued_at: input.queuedAt ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  }

  async get(id: string, trx: Kysely<Schema> = this.db): Promise<SessionRecord | null> {
    const row = await trx.selectFrom("sessions").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  /** Unfinished sessions with a branch in these repos: the ones whose PRs are discovered by branch. */
  async listWithBranch(repoIds: readonly string[]): Promise<SessionRecord[]> {
    if (repoIds.length === 0) return [];
    const rows = await this.db
      .selectFrom("sessions")
      .selectAll()
      .where("repo_id", "in", repoIds)
      .where("branch", "is not", null)
      .where("outcome", "is", null)
      .orderBy("id")
      .execute();
    return rows.map(toRecord);
  }

  /** Unfinished sessions that are not exited: the ones session reactions watch. */
  async listLive(): Promise<SessionRecord[]> {
    const rows = await this.db
      .selectFrom("sessions")
      .selectAll()
      .where("outcome", "is", null)
      .where("run_state", "!=", "exited")
      .orderBy("id")
      .execute();
    return rows.map(toRecord);
  }

  /**
   * Writes facts if the session is still at `expectedVersion` (else StaleVersionError). Only the
   * session facts writer calls this with a transaction, so that the status it announces and the
   * facts commit together.
   */
  async updateFacts(
    id: string,
    expectedVersion: number,
    patch: SessionFactsPatch,
    now: number,
    trx: Kysely<Schema> = this.db,
  ): Promise<SessionRecord> {
    const set = { ...sessionPatchColumns(patch), updated_at: now };
    return toRecord(await updateVersioned(trx, "sessions", id, expectedVersion, set));
  }

  /**
   * Records the status just announced, unless another writer announced a change first (then
   * false: that writer's event stands, and this one must not emit a second).
   */
  async markAnnounced(trx: Kysely<Schema>, id: string, from: string | null, to: string): Promise<boolean> {
    const result = await trx
      .updateTable("sessions")
      .set({ announced_status: to })
      .where("id", "=", id)
      .where((eb) => (from === null ? eb("announced_status", "is", null) : eb("announced_status", "=", from)))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async list(filter: SessionFilter): Promise<SessionRecord[]> {
    let query = this.db
      .selectFrom("sessions")
      .selectAll()
      .where((eb) => sessionConditions(eb, filter));
    if (filter.before !== undefined) query = query.where("id", "<", filter.before);
    const rows = await query.orderBy("id", "desc").limit(filter.limit).execute();
    return rows.map(toRecord);
  }

  async count(filter: Omit<SessionFilter, "before" | "limit">): Promise<number> {
    const row = await this.db
      .selectFrom("sessions")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where((eb) => sessionConditions(eb, filter))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Sessions waiting for a running slot, oldest first. */
  async listQueued(limit: number): Promise<SessionRecord[]> {
    const rows = await this.db
      .selectFrom("sessions")
      .selectAll()
      .where("run_state", "=", "queued")
      .where("outcome", "is", null)
      // Only built-in agents wait for a slot here.
      .where("skill", "is not", null)
      .orderBy("queued_at")
      .orderBy("id")
      .limit(limit)
      .execute();
    return rows.map(toRecord);
  }

  /** Sessions whose agent holds a running slot. */
  async countRunning(trx: Kysely<Schema> = this.db): Promise<number> {
    const row = await trx
      .selectFrom("sessions")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("run_state", "=", "running")
      .where("outcome", "is", null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async saveReactions(
    id: string,
    expectedVersion: number,
    reactions: ReactionHistory,
    now: number,
  ): Promise<SessionRecord> {
    return toRecord(
      await updateVersioned(this.db, "sessions", id, expectedVersion, {
        reactions: JSON.stringify(reactions),
        updated_at: now,
      }),
    );
  }
}
