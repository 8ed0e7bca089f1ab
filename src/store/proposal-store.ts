import type { Kysely, Selectable } from "kysely";
import type { Evidence, ProposalChange, ProposalKind, ProposalStatus } from "../domain/proposal.js";
import type { ProposalsTable, Schema } from "./schema.js";
import { transition, type TransitionResult } from "./transitions.js";

export interface ProposalRecord {
  id: string;
  repoId: string;
  sessionId: string | null;
  title: string;
  kind: ProposalKind;
  change: ProposalChange;
  evidence: Evidence | null;
  /** The pull request (`pr_…`) this change is a follow-up to: committed on its branch (SPEC C3). */
  followUpOf: string | null;
  status: ProposalStatus;
  rejectedReason: string | null;
  prOpenError: string | null;
  branch: string | null;
  prNumber: number | null;
  prUrl: string | null;
  prNodeId: string | null;
  openJobId: string | null;
  openRequestedAt: number | null;
  openedAt: number | null;
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
  version: number;
}

function toRecord(row: Selectable<ProposalsTable>): ProposalRecord {
  return {
    id: row.id,
    repoId: row.repo_id,
    sessionId: row.session_id,
    title: row.title,
    kind: row.kind as ProposalKind,
    change: JSON.parse(row.change) as ProposalChange,
    evidence: row.evidence === null ? null : (JSON.parse(row.evidence) as Evidence),
    followUpOf: row.follow_up_of,
    status: row.status as ProposalStatus,
    rejectedReason: row.rejected_reason,
    prOpenError: row.pr_open_error,
    branch: row.branch,
    prNumber: row.pr_number,
    prUrl: row.pr_url,
    prNodeId: row.pr_node_id,
    openJobId: row.open_job_id,
    openRequestedAt: row.open_requested_at,
    openedAt: row.opened_at,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: row.version,
  };
}

export interface ProposalFilter {
  status?: ProposalStatus | undefined;
  repoId?: string | undefined;
  sessionId?: string | undefined;
}

export type ProposalTransition = TransitionResult<ProposalRecord>;

/**
 * Proposals. Every status change is one conditional UPDATE (SPEC C1 "Storage"): a lost race
 * comes back as `{ok: false, current}` for the caller to report.
 */
export class ProposalStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async insert(record: {
    id: string;
    repoId: string;
    sessionId: string | null;
    title: string;
    kind: ProposalKind;
    change: ProposalChange;
    evidence: Evidence | null;
    followUpOf: string | null;
    createdBy: string | null;
    createdAt: number;
  }): Promise<ProposalRecord> {
    const row = await this.db
      .insertInto("proposals")
      .values({
        id: record.id,
        repo_id: record.repoId,
        session_id: record.sessionId,
        title: record.title,
        kind: record.kind,
        change: JSON.stringify(record.change),
        evidence: record.evidence === null ? null : JSON.stringify(record.evidence),
        follow_up_of: record.followUpOf,
        status: "pending",
        created_by: record.createdBy,
        created_at: record.createdAt,
        updated_at: record.createdAt,
        version: 1,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  }

  async get(id: string): Promise<ProposalRecord | null> {
    const row = await this.db.selectFrom("proposals").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  /** The proposal that opened a PR and the follow-ups committed on its branch: they share its fate. */
  async listOfPr(prId: string, openedBy: string | null): Promise<ProposalRecord[]> {
    const rows = await this.db
      .selectFrom("proposals")
      .selectAll()
      .where((eb) =>
        openedBy === null
          ? eb("follow_up_of", "=", prId)
          : eb.or([eb("follow_up_of", "=", prId), eb("id", "=", openedBy)]),
      )
      .orderBy("id")
      .execute();
    return rows.map(toRecord);
  }

  async list(
    filter: ProposalFilter & { before?: string | undefined; limit: number },
  ): Promise<ProposalRecord[]> {
    let query = this.db.selectFrom("proposals").selectAll().orderBy("id", "desc").limit(filter.limit);
    if (filter.before !== undefined) query = query.where("id", "<", filter.before);
    if (filter.status !== undefined) query = query.where("status", "=", filter.status);
    if (filter.repoId !== undefined) query = query.where("repo_id", "=", filter.repoId);
    if (filter.sessionId !== undefined) query = query.where("session_id", "=", filter.sessionId);
    return (await query.execute()).map(toRecord);
  }

  async count(filter: ProposalFilter): Promise<number> {
    let query = this.db.selectFrom("proposals").select((eb) => eb.fn.countAll<number>().as("n"));
    if (filter.status !== undefined) query = query.where("status", "=", filter.status);
    if (filter.repoId !== undefined) query = query.where("repo_id", "=", filter.repoId);
    if (filter.sessionId !== undefined) query = query.where("session_id", "=", filter.sessionId);
    return Number((await query.executeTakeFirstOrThrow()).n);
  }

  async countPending(repoId: string): Promise<number> {
    return this.count({ repoId, status: "pending" });
  }

  async #transition(
    id: string,
    from: readonly ProposalStatus[],
    to: ProposalStatus,
    set: Record<string, unknown>,
    now: number,
  ): Promise<ProposalTransition> {
    const result = await transition(this.db, "proposals", {
      id,
      column: "status",
      from,
      to,
      set: { ...set, updated_at: now },
    });
    return result.ok ? { ok: true, row: toRecord(result.row) } : result;
  }

  /**
   * Records that an open-PR job was requested (stays pending). A fresh attempt starts with no
   * error: the last attempt's error is cleared, so nobody reads it as this attempt's outcome.
   */
  recordOpenRequested(id: string, jobId: string, fresh: boolean, now: number): Promise<ProposalTransition> {
    const set: Record<string, unknown> = { open_job_id: jobId, open_requested_at: now };
    if (fresh) set.pr_open_error = null;
    return this.#transition(id, ["pending"], "pending", set, now);
  }

  markOpened(
    id: string,
    pr: { number: number; url: string; nodeId: string; branch: string },
    now: number,
  ): Promise<ProposalTransition> {
    return this.#transition(
      id,
      ["pending"],
      "pr_opened",
      {
        pr_number: pr.number,
        pr_url: pr.url,
        pr_node_id: pr.nodeId,
        branch: pr.branch,
        pr_open_error: null,
        opened_at: now,
      },
      now,
    );
  }

  /** Sets `pr_open_error` while the proposal is still pending; never overwrites a rejection. */
  setOpenError(id: string, error: string, now: number): Promise<ProposalTransition> {
    return this.#transition(id, ["pending"], "pending", { pr_open_error: error }, now);
  }

  reject(id: string, reason: string, now: number): Promise<ProposalTransition> {
    return this.#transition(id, ["pending"], "rejected", { rejected_reason: reason }, now);
  }

  /** A closed PR's proposal goes back to pending; the old PR stays recorded until a new one opens. */
  reopen(id: string, now: number): Promise<ProposalTransition> {
    return this.#transition(id, ["closed"], "pending", { pr_open_error: null }, now);
  }

  /** The PR's fate, as observed later (merged / closed / reopened; SPEC C4). */
  followPr(
    id: string,
    from: readonly ProposalStatus[],
    to: ProposalStatus,
    now: number,
  ): Promise<ProposalTransition> {
    return this.#transition(id, from, to, {}, now);
  }
}
