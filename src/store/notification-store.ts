import type { ExpressionBuilder, Kysely, Selectable } from "kysely";
import type { Priority } from "../domain/reaction-config.js";
import type { NotificationDeliveriesTable, NotificationsTable, Schema } from "./schema.js";

export const DELIVERY_STATES = ["pending", "delivered", "failed"] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** Which notifications a list shows: not yet acknowledged, acknowledged, or both. */
export const NOTIFICATION_LIST_STATES = ["open", "acknowledged", "all"] as const;
export type NotificationListState = (typeof NOTIFICATION_LIST_STATES)[number];

export interface NotificationRecord {
  id: string;
  dedupKey: string | null;
  kind: string;
  priority: Priority;
  title: string;
  body: string;
  repoId: string | null;
  prId: string | null;
  sessionId: string | null;
  createdAt: number;
  acknowledgedAt: number | null;
  /** The token id of whoever acknowledged it. */
  acknowledgedBy: string | null;
}

export interface DeliveryRecord {
  id: string;
  notificationId: string;
  /** `dashboard` or `webhook:<name>`. */
  target: string;
  state: DeliveryState;
  attempts: number;
  lastError: string | null;
  jobId: string | null;
  createdAt: number;
  updatedAt: number;
  deliveredAt: number | null;
}

export type NewNotification = Omit<NotificationRecord, "createdAt" | "acknowledgedAt" | "acknowledgedBy">;

export interface NewDelivery {
  id: string;
  target: string;
  state: Extract<DeliveryState, "pending" | "delivered">;
}

export interface NotificationFilter {
  state?: NotificationListState | undefined;
  priority?: Priority | undefined;
}

export type AcknowledgeResult =
  | { ok: true; record: NotificationRecord }
  /** Already acknowledged (the record as it is), or no such notification (null). */
  | { ok: false; current: NotificationRecord | null };

function toRecord(row: Selectable<NotificationsTable>): NotificationRecord {
  return {
    id: row.id,
    dedupKey: row.dedup_key,
    kind: row.kind,
    priority: row.priority as Priority,
    title: row.title,
    body: row.body,
    repoId: row.repo_id,
    prId: row.pr_id,
    sessionId: row.session_id,
    createdAt: row.created_at,
    acknowledgedAt: row.acknowledged_at,
    acknowledgedBy: row.acknowledged_by,
  };
}

function toDelivery(row: Selectable<NotificationDeliveriesTable>): DeliveryRecord {
  return {
    id: row.id,
    notificationId: row.notification_id,
    target: row.target,
    state: row.state as DeliveryState,
    attempts: row.attempts,
    lastError: row.last_error,
    jobId: row.job_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deliveredAt: row.delivered_at,
  };
}

function matches(eb: ExpressionBuilder<Schema, "notifications">, filter: NotificationFilter) {
  const state = filter.state ?? "open";
  return eb.and([
    ...(state === "open" ? [eb("acknowledged_at", "is", null)] : []),
    ...(state === "acknowledged" ? [eb("acknowledged_at", "is not", null)] : []),
    ...(filter.priority === undefined ? [] : [eb("priority", "=", filter.priority)]),
  ]);
}

/**
 * Notifications (the inbox) and their deliveries to each routed target (SPEC C5). Creation is
 * idempotent by dedup key; acknowledging and every delivery state change is one conditional UPDATE.
 */
export class NotificationStore {
  constructor(private readonly db: Kysely<Schema>) {}

  /**
   * Inserts the notification unless one with the same dedup key exists (then returns that one,
   * `created: false`). Concurrent callers with one key wait on the unique index: exactly one creates.
   */
  async insertOnce(
    trx: Kysely<Schema>,
    input: NewNotification,
    now: number,
  ): Promise<{ record: NotificationRecord; created: boolean }> {
    const inserted = await trx
      .insertInto("notifications")
      .values({
        id: input.id,
        dedup_key: input.dedupKey,
        kind: input.kind,
        priority: input.priority,
        title: input.title,
        body: input.body,
        repo_id: input.repoId,
        pr_id: input.prId,
        session_id: input.sessionId,
        created_at: now,
        acknowledged_at: null,
        acknowledged_by: null,
      })
      .onConflict((conflict) => conflict.column("dedup_key").doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted) return { record: toRecord(inserted), created: true };
    const existing = await trx
      .selectFrom("notifications")
      .selectAll()
      .where("dedup_key", "=", input.dedupKey)
      .executeTakeFirstOrThrow();
    return { record: toRecord(existing), created: false };
  }

  async insertDeliveries(
    trx: Kysely<Schema>,
    notificationId: string,
    deliveries: readonly NewDelivery[],
    now: number,
  ): Promise<DeliveryRecord[]> {
    if (deliveries.length === 0) return [];
    const rows = await trx
      .insertInto("notification_deliveries")
      .values(
        deliveries.map((delivery) => ({
          id: delivery.id,
          notification_id: notificationId,
          target: delivery.target,
          state: delivery.state,
          attempts: delivery.state === "delivered" ? 1 : 0,
          last_error: null,
          job_id: null,
          created_at: now,
          updated_at: now,
          delivered_at: delivery.state === "delivered" ? now : null,
        })),
      )
      .returningAll()
      .execute();
    return rows.map(toDelivery).sort((a, b) => a.id.localeCompare(b.id));
  }

  async get(id: string): Promise<NotificationRecord | null> {
    const row = await this.db.selectFrom("notifications").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  async list(
    filter: NotificationFilter & { before?: string | undefined; limit: number },
  ): Promise<NotificationRecord[]> {
    let query = this.db
      .selectFrom("notifications")
      .selectAll()
      .where((eb) => matches(eb, filter))
      .orderBy("id", "desc")
      .limit(filter.limit);
    if (filter.before !== undefined) query = query.where("id", "<", filter.before);
    return (await query.execute()).map(toRecord);
  }

  async count(filter: NotificationFilter): Promise<number> {
    const row = await this.db
      .selectFrom("notifications")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where((eb) => matches(eb, filter))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Acknowledges an open notification; an acknowledged one is left exactly as it is. */
  async acknowledge(id: string, by: string | null, now: number): Promise<AcknowledgeResult> {
    const row = await this.db
      .updateTable("notifications")
      .set({ acknowledged_at: now, acknowledged_by: by })
      .where("id", "=", id)
      .where("acknowledged_at", "is", null)
      .returningAll()
      .executeTakeFirst();
    if (row) return { ok: true, record: toRecord(row) };
    return { ok: false, current: await this.get(id) };
  }

  /** The deliveries of each notification, oldest first, keyed by notification id. */
  async deliveriesOf(notificationIds: readonly string[]): Promise<Map<string, DeliveryRecord[]>> {
    const byNotification = new Map<string, DeliveryRecord[]>(notificationIds.map((id) => [id, []]));
    if (notificationIds.length === 0) return byNotification;
    const rows = await this.db
      .selectFrom("notification_deliveries")
      .selectAll()
      .where("notification_id", "in", notificationIds)
      .orderBy("id", "asc")
      .execute();
    for (const row of rows) byNotification.get(row.notification_id)?.push(toDelivery(row));
    return byNotification;
  }

  async getDelivery(id: string): Promise<DeliveryRecord | null> {
    const row = await this.db
      .selectFrom("notification_deliveries")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row ? toDelivery(row) : null;
  }

  /** Pending webhook deliveries, oldest first, after `afterId` (for paging through them). */
  async listPendingWebhooks(options: {
    afterId?: string | undefined;
    limit: number;
  }): Promise<DeliveryRecord[]> {
    let query = this.db
      .selectFrom("notification_deliveries")
      .selectAll()
      .where("state", "=", "pending")
      .where("target", "like", "webhook:%")
      .orderBy("id", "asc")
      .limit(options.limit);
    if (options.afterId !== undefined) query = query.where("id", ">", options.afterId);
    return (await query.execute()).map(toDelivery);
  }

  /** Remembers the job that delivers a pending delivery. */
  async setJobId(id: string, jobId: string, now: number): Promise<void> {
    await this.db
      .updateTable("notification_deliveries")
      .set({ job_id: jobId, updated_at: now })
      .where("id", "=", id)
      .where("state", "=", "pending")
      .execute();
  }

  async markDelivered(id: string, now: number): Promise<DeliveryRecord | null> {
    const row = await this.db
      .updateTable("notification_deliveries")
      .set((eb) => ({
        state: "delivered",
        attempts: eb("attempts", "+", 1),
        delivered_at: now,
        updated_at: now,
      }))
      .where("id", "=", id)
      .where("state", "=", "pending")
      .returningAll()
      .executeTakeFirst();
    return row ? toDelivery(row) : null;
  }

  /**
   * Records a failed attempt: the delivery stays `pending` (to be retried) or, when `final`,
   * becomes `failed`. Null when the delivery was no longer pending (another attempt settled it).
   */
  async recordFailure(
    id: string,
    failure: { error: string; final: boolean },
    now: number,
    trx: Kysely<Schema> = this.db,
  ): Promise<DeliveryRecord | null> {
    const row = await trx
      .updateTable("notification_deliveries")
      .set((eb) => ({
        state: failure.final ? "failed" : "pending",
        attempts: eb("attempts", "+", 1),
        last_error: failure.error,
        updated_at: now,
      }))
      .where("id", "=", id)
      .where("state", "=", "pending")
      .returningAll()
      .executeTakeFirst();
    return row ? toDelivery(row) : null;
  }
}
