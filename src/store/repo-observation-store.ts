import type { Kysely, Selectable } from "kysely";
import type { RepoObservationsTable, Schema } from "./schema.js";

/**
 * `ok`: observed normally. `auth_failed`: GitHub refused the token (sticky until the token
 * changes or a call that really used it succeeds). `no_token`: the token ref cannot be read, so
 * the observer leaves the repo alone. `unknown`: not observed yet.
 */
export const REPO_HEALTH = ["ok", "auth_failed", "no_token", "unknown"] as const;
export type RepoHealth = (typeof REPO_HEALTH)[number];

export interface RepoObservationRecord {
  repoId: string;
  health: RepoHealth;
  healthReason: string | null;
  healthSince: number | null;
  /** Fingerprint of the token that failed. */
  failedToken: string | null;
  lastPolledAt: number | null;
  lastSuccessAt: number | null;
  dirtyAt: number | null;
  webhookHookId: number | null;
  webhookLastDeliveryAt: number | null;
  webhookMissedAt: number | null;
  updatedAt: number;
}

function toRecord(row: Selectable<RepoObservationsTable>): RepoObservationRecord {
  return {
    repoId: row.repo_id,
    health: row.health as RepoHealth,
    healthReason: row.health_reason,
    healthSince: row.health_since,
    failedToken: row.failed_token,
    lastPolledAt: row.last_polled_at,
    lastSuccessAt: row.last_success_at,
    dirtyAt: row.dirty_at,
    webhookHookId: row.webhook_hook_id,
    webhookLastDeliveryAt: row.webhook_last_delivery_at,
    webhookMissedAt: row.webhook_missed_at,
    updatedAt: row.updated_at,
  };
}

export function emptyRepoObservation(repoId: string, now: number): RepoObservationRecord {
  return {
    repoId,
    health: "unknown",
    healthReason: null,
    healthSince: null,
    failedToken: null,
    lastPolledAt: null,
    lastSuccessAt: null,
    dirtyAt: null,
    webhookHookId: null,
    webhookLastDeliveryAt: null,
    webhookMissedAt: null,
    updatedAt: now,
  };
}

/** The observer's per-repo state: health, poll times, webhook health, dirty marks. */
export class RepoObservationStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async get(repoId: string): Promise<RepoObservationRecord | null> {
    const row = await this.db
      .selectFrom("repo_observations")
      .selectAll()
      .where("repo_id", "=", repoId)
      .executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  async list(repoIds?: readonly string[]): Promise<RepoObservationRecord[]> {
    let query = this.db.selectFrom("repo_observations").selectAll();
    if (repoIds) {
      if (repoIds.length === 0) return [];
      query = query.where("repo_id", "in", repoIds);
    }
    return (await query.execute()).map(toRecord);
  }

  /** Writes the given fields, creating the row when the repo has none yet. */
  async update(
    repoId: string,
    fields: Partial<Omit<RepoObservationRecord, "repoId" | "updatedAt">>,
    now: number,
    trx: Kysely<Schema> = this.db,
  ): Promise<void> {
    const columns = {
      ...(fields.health !== undefined && { health: fields.health }),
      ...(fields.healthReason !== undefined && { health_reason: fields.healthReason }),
      ...(fields.healthSince !== undefined && { health_since: fields.healthSince }),
      ...(fields.failedToken !== undefined && { failed_token: fields.failedToken }),
      ...(fields.lastPolledAt !== undefined && { last_polled_at: fields.lastPolledAt }),
      ...(fields.lastSuccessAt !== undefined && { last_success_at: fields.lastSuccessAt }),
      ...(fields.dirtyAt !== undefined && { dirty_at: fields.dirtyAt }),
      ...(fields.webhookHookId !== undefined && { webhook_hook_id: fields.webhookHookId }),
      ...(fields.webhookLastDeliveryAt !== undefined && {
        webhook_last_delivery_at: fields.webhookLastDeliveryAt,
      }),
      ...(fields.webhookMissedAt !== undefined && { webhook_missed_at: fields.webhookMissedAt }),
      updated_at: now,
    };
    const empty = emptyRepoObservation(repoId, now);
    await trx
      .insertInto("repo_observations")
      .values({
        repo_id: repoId,
        health: empty.health,
        health_reason: null,
        health_since: null,
        failed_token: null,
        last_polled_at: null,
        last_success_at: null,
        dirty_at: null,
        webhook_hook_id: null,
        webhook_last_delivery_at: null,
        webhook_missed_at: null,
        ...columns,
      })
      .onConflict((conflict) => conflict.column("repo_id").doUpdateSet(columns))
      .execute();
  }

  /** A webhook said the repo's open-PR list changed; kept until a poll after `now` reads the list. */
  async markListDirty(trx: Kysely<Schema>, repoId: string, now: number): Promise<void> {
    await this.update(repoId, {}, now, trx);
    await trx
      .updateTable("repo_observations")
      .set((eb) => ({ dirty_at: eb.fn.coalesce("dirty_at", eb.val(now)) }))
      .where("repo_id", "=", repoId)
      .execute();
  }

  /** Clears the list dirty mark if no newer webhook set it since the poll began. */
  async clearListDirty(repoId: string, pollStartedAt: number): Promise<void> {
    await this.db
      .updateTable("repo_observations")
      .set({ dirty_at: null })
      .where("repo_id", "=", repoId)
      .where("dirty_at", "<", pollStartedAt)
      .execute();
  }
}
