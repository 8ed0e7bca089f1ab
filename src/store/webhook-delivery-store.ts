import type { Kysely } from "kysely";
import type { Schema } from "./schema.js";

export interface WebhookDelivery {
  /** `X-GitHub-Delivery`: GitHub reuses it when a delivery is redelivered. */
  deliveryId: string;
  repoId: string | null;
  event: string;
  action: string | null;
  receivedAt: number;
}

/** A live repo a webhook may be about, with what is needed to check its signature. */
export interface WebhookRepo {
  id: string;
  name: string;
  owner: string;
  repo: string;
  webhookSecretRef: string | null;
}

/** Received webhook deliveries (idempotency, SPEC C4) and the lookup of the repos they name. */
export class WebhookDeliveryStore {
  constructor(private readonly db: Kysely<Schema>) {}

  /**
   * Records a delivery once: false when this delivery id was already recorded. The primary key
   * decides, also between concurrent copies (a second insert waits for the first to commit).
   */
  async insert(trx: Kysely<Schema>, delivery: WebhookDelivery): Promise<boolean> {
    const row = await trx
      .insertInto("webhook_deliveries")
      .values({
        delivery_id: delivery.deliveryId,
        repo_id: delivery.repoId,
        event: delivery.event,
        action: delivery.action,
        received_at: delivery.receivedAt,
      })
      .onConflict((conflict) => conflict.column("delivery_id").doNothing())
      .returning("delivery_id")
      .executeTakeFirst();
    return row !== undefined;
  }

  async get(deliveryId: string): Promise<WebhookDelivery | null> {
    const row = await this.db
      .selectFrom("webhook_deliveries")
      .selectAll()
      .where("delivery_id", "=", deliveryId)
      .executeTakeFirst();
    if (!row) return null;
    return {
      deliveryId: row.delivery_id,
      repoId: row.repo_id,
      event: row.event,
      action: row.action,
      receivedAt: row.received_at,
    };
  }

  /** Forgets deliveries received before `before` (GitHub redelivers for a few days at most). */
  async pruneReceivedBefore(before: number): Promise<number> {
    const result = await this.db
      .deleteFrom("webhook_deliveries")
      .where("received_at", "<", before)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async count(): Promise<number> {
    const row = await this.db
      .selectFrom("webhook_deliveries")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Live repos registered for `owner/repo`, compared case-insensitively as GitHub does; oldest first. */
  async reposFor(owner: string, repo: string): Promise<WebhookRepo[]> {
    const rows = await this.db
      .selectFrom("repos")
      .select(["id", "name", "owner", "repo", "webhook_secret_ref"])
      .where("deleted_at", "is", null)
      .where((eb) => eb(eb.fn("lower", ["owner"]), "=", owner.toLowerCase()))
      .where((eb) => eb(eb.fn("lower", ["repo"]), "=", repo.toLowerCase()))
      .orderBy("id")
      .execute();
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      owner: row.owner,
      repo: row.repo,
      webhookSecretRef: row.webhook_secret_ref,
    }));
  }

  /** Numbers of the repo's tracked PRs whose head is `sha` (what a status or check event names). */
  async numbersAtHead(trx: Kysely<Schema>, repoId: string, sha: string): Promise<number[]> {
    const rows = await trx
      .selectFrom("pull_requests")
      .select("number")
      .where("repo_id", "=", repoId)
      .where("head_sha", "=", sha)
      .execute();
    return rows.map((row) => row.number);
  }
}
