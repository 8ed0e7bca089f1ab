import type { Kysely, Selectable } from "kysely";
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
}

export interface NewSession {
  goal: string;
  repoId: string | null;
  branch: string | null;
  agent: Record<string, unknown>;
  runState?: RunState;
  createdBy: string | null;
}

export type SessionFactsPatch = Partial<
  Pick<SessionRecord, "runState" | "pauseKind" | "pausedAt" | "outcome" | "lastActivityAt" | "branch">
>;

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
  };
}

/** Sessions' stored facts (SPEC C6); every write is versioned so a stale one never clobbers. */
export class SessionStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async create(input: NewSession, now: number): Promise<SessionRecord> {
    const row = await this.db
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

  async updateFacts(
    id: string,
    expectedVersion: number,
    patch: SessionFactsPatch,
    now: number,
  ): Promise<SessionRecord> {
    const set: Record<string, unknown> = { updated_at: now };
    if (patch.runState !== undefined) set.run_state = patch.runState;
    if (patch.pauseKind !== undefined) set.pause_kind = patch.pauseKind;
    if (patch.pausedAt !== undefined) set.paused_at = patch.pausedAt;
    if (patch.outcome !== undefined)
      set.outcome = patch.outcome === null ? null : JSON.stringify(patch.outcome);
    if (patch.lastActivityAt !== undefined) set.last_activity_at = patch.lastActivityAt;
    if (patch.branch !== undefined) set.branch = patch.branch;
    return toRecord(await updateVersioned(this.db, "sessions", id, expectedVersion, set));
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
