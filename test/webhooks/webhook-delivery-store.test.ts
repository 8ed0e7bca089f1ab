import { afterEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/store/database.js";
import { migrateToLatest } from "../../src/store/migrate.js";
import { WebhookDeliveryStore } from "../../src/store/webhook-delivery-store.js";
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from "../support/databases.js";

describe.each(DATABASE_KINDS)("webhook delivery ids ($kind)", ({ kind, skip }) => {
  let target: TestDatabase;
  let database: Database;

  afterEach(async () => {
    if (skip) return;
    await database.close();
    await target.cleanup();
  });

  it.skipIf(skip)("are forgotten once older than the memory window, and only those", async () => {
    target = await createTestDatabase(kind);
    database = await openDatabase(target.target);
    await migrateToLatest(database);
    const store = new WebhookDeliveryStore(database.db);
    const day = 24 * 60 * 60_000;
    const now = Date.now();
    for (const [id, age] of [
      ["old-1", 20 * day],
      ["old-2", 15 * day],
      ["recent", 2 * day],
    ] as const) {
      expect(
        await store.insert(database.db, {
          deliveryId: id,
          repoId: null,
          event: "ping",
          action: null,
          receivedAt: now - age,
        }),
      ).toBe(true);
    }
    expect(await store.pruneReceivedBefore(now - 14 * day)).toBe(2);
    expect(await store.get("old-1")).toBeNull();
    expect(await store.get("recent")).not.toBeNull();
    // A forgotten id is new again; a remembered one is still a replay.
    expect(
      await store.insert(database.db, {
        deliveryId: "recent",
        repoId: null,
        event: "ping",
        action: null,
        receivedAt: now,
      }),
    ).toBe(false);
  });
});
