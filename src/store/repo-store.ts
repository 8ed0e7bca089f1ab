import type { Kysely, Selectable } from "kysely";
import type { FollowUpMode, MergeMethod } from "../domain/repo.js";
import type { ReposTable, Schema } from "./schema.js";
import { updateVersioned } from "./transitions.js";

export interface RepoRecord {
  id: string;
  name: string;
  owner: string;
  repo: string;
  baseBranch: string;
  tokenRef: string;
  webhookSecretRef: string | null;
  autoMerge: boolean;
  mergeMethod: MergeMethod;
  followUps: FollowUpMode;
  createdAt: number;
  updatedAt: number;
  version: number;
}

export type RepoPatch = Partial<
  Pick<RepoRecord, "baseBranch" | "tokenRef" | "webhookSecretRef" | "autoMerge" | "mergeMethod" | "followUps">
>;

function toRecord(row: Selectable<ReposTable>): RepoRecord {
  return {
    id: row.id,
    name: row.name,
    owner: row.owner,
    repo: row.repo,
    baseBranch: row.base_branch,
    tokenRef: row.token_ref,
    webhookSecretRef: row.webhook_secret_ref,
    autoMerge: row.auto_merge === 1,
    mergeMethod: row.merge_method as MergeMethod,
    followUps: row.follow_ups as FollowUpMode,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: row.version,
  };
}

/** A unique-constraint violation from either driver (the name race, SPEC C2). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE";
}

/** Registered repositories; a removed repo keeps its row (proposals refer to it) but frees its name. */
export class RepoStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async insert(record: Omit<RepoRecord, "version" | "updatedAt">): Promise<RepoRecord> {
    const row = await this.db
      .insertInto("repos")
      .values({
        id: record.id,
        name: record.name,
        owner: record.owner,
        repo: record.repo,
        base_branch: record.baseBranch,
        token_ref: record.tokenRef,
        webhook_secret_ref: record.webhookSecretRef,
        auto_merge: record.autoMerge ? 1 : 0,
        merge_method: record.mergeMethod,
        follow_ups: record.followUps,
        created_at: record.createdAt,
        updated_at: record.createdAt,
        deleted_at: null,
        version: 1,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  }

  async get(id: string): Promise<RepoRecord | null> {
    const row = await this.db
      .selectFrom("repos")
      .selectAll()
      .where("id", "=", id)
      .where("deleted_at", "is", null)
      .executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  /** A repo by id even after it was removed (its PRs and proposals still name it). */
  async getIncludingRemoved(id: string): Promise<RepoRecord | null> {
    const row = await this.db.selectFrom("repos").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  async getByName(name: string): Promise<RepoRecord | null> {
    const row = await this.db
      .selectFrom("repos")
      .selectAll()
      .where("name", "=", name)
      .where("deleted_at", "is", null)
      .executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  async list(options: { before?: string | undefined; limit: number }): Promise<RepoRecord[]> {
    let query = this.db
      .selectFrom("repos")
      .selectAll()
      .where("deleted_at", "is", null)
      .orderBy("id", "desc")
      .limit(options.limit);
    if (options.before !== undefined) query = query.where("id", "<", options.before);
    return (await query.execute()).map(toRecord);
  }

  /** Every live repo, oldest first (the observer's work list). */
  async listLive(): Promise<RepoRecord[]> {
    const rows = await this.db
      .selectFrom("repos")
      .selectAll()
      .where("deleted_at", "is", null)
      .orderBy("id")
      .execute();
    return rows.map(toRecord);
  }

  async count(): Promise<number> {
    const row = await this.db
      .selectFrom("repos")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("deleted_at", "is", null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** A versioned write: throws StaleVersionError if someone else changed the repo since `version`. */
  async update(id: string, version: number, patch: RepoPatch, now: number): Promise<RepoRecord> {
    const set: Record<string, unknown> = { updated_at: now };
    if (patch.baseBranch !== undefined) set.base_branch = patch.baseBranch;
    if (patch.tokenRef !== undefined) set.token_ref = patch.tokenRef;
    if (patch.webhookSecretRef !== undefined) set.webhook_secret_ref = patch.webhookSecretRef;
    if (patch.autoMerge !== undefined) set.auto_merge = patch.autoMerge ? 1 : 0;
    if (patch.mergeMethod !== undefined) set.merge_method = patch.mergeMethod;
    if (patch.followUps !== undefined) set.follow_ups = patch.followUps;
    return toRecord(await updateVersioned(this.db, "repos", id, version, set));
  }

  /** Marks the repo removed; false when it was not live. */
  async softDelete(id: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable("repos")
      .set((eb) => ({ deleted_at: now, updated_at: now, version: eb("version", "+", 1) }))
      .where("id", "=", id)
      .where("deleted_at", "is", null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }
}
