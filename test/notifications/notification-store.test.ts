import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Priority } from "../../src/domain/reaction-config.js";
import type { Database } from "../../src/store/database.js";
import { newId } from "../../src/store/ids.js";
import { NotificationStore, type NewDelivery } from "../../src/store/notification-store.js";
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from "../support/databases.js";

describe.each(DATABASE_KINDS)("NotificationStore on $kind", ({ kind, skip }) => {
  let testDb: TestDatabase;
  let database: Database;
  let store: NotificationStore;
  let clock = Date.UTC(2026, 0, 1);

  async function create(
    priority: Priority,
    options: { dedupKey?: string; deliveries?: Omit<NewDelivery, "id">[] } = {},
  ) {
    clock += 1000;
    const now = clock;
    return database.db.transaction().execute(async (trx) => {
      const result = await store.insertOnce(
        trx,
        {
          id: newId("ntf", now),
          dedupKey: options.dedupKey ?? null,
          kind: "test",
          priority,
          title: `${priority} at ${now}`,
          body: "",
          repoId: null,
          prId: null,
          sessionId: null,
        },
        now,
      );
      const wanted = options.deliveries ?? [];
      // Ids made in one millisecond sort randomly: sort them so they follow the given order.
      const ids = wanted.map(() => newId("ntd", now)).sort();
      const deliveries = result.created
        ? await store.insertDeliveries(
            trx,
            result.record.id,
            wanted.map((delivery, index) => ({ ...delivery, id: ids[index] as string })),
            now,
          )
        : [];
      return { ...result, deliveries };
    });
  }

  beforeAll(async () => {
    if (skip) return;
    testDb = await createTestDatabase(kind);
    database = await testDb.open();
    store = new NotificationStore(database.db);
  });

  afterAll(async () => {
    await testDb?.cleanup();
  });

  it.skipIf(skip)("insertOnce: a dedup key is used once; null keys never collide", async () => {
    const first = await create("info", { dedupKey: "k-1" });
    const again = await create("urgent", { dedupKey: "k-1" });
    expect(first.created).toBe(true);
    expect(again.created).toBe(false);
    expect(again.record).toEqual(first.record);
    const a = await create("info");
    const b = await create("info");
    expect([a.created, b.created]).toEqual([true, true]);
    expect(a.record.id).not.toBe(b.record.id);
  });

  it.skipIf(skip)("lists newest first with state and priority filters, pages by id and counts", async () => {
    const before = await store.count({ state: "all" });
    const made = [];
    for (const priority of ["urgent", "info", "urgent", "warning", "urgent"] as const) {
      made.push((await create(priority)).record);
    }
    await store.acknowledge(made[2]?.id ?? "", "tok_x", clock);

    expect(await store.count({ state: "all" })).toBe(before + 5);
    const urgentOpen = await store.list({ priority: "urgent", limit: 100 });
    expect(urgentOpen.map((record) => record.id)).toEqual(
      [made[4], made[0]].map((record) => record?.id).filter((id) => id !== undefined),
    );
    expect(urgentOpen.every((record) => record.acknowledgedAt === null)).toBe(true);
    expect(await store.count({ state: "open", priority: "urgent" })).toBe(2);
    const acknowledged = await store.list({ state: "acknowledged", limit: 100 });
    expect(acknowledged.map((record) => record.id)).toContain(made[2]?.id);
    expect(acknowledged.every((record) => record.acknowledgedAt !== null)).toBe(true);
    expect(await store.count({ state: "all", priority: "urgent" })).toBeGreaterThanOrEqual(3);

    const firstPage = await store.list({ state: "all", limit: 2 });
    const secondPage = await store.list({ state: "all", limit: 2, before: firstPage[1]?.id });
    expect(firstPage.map((record) => record.id)).toEqual([made[4]?.id, made[3]?.id]);
    expect(secondPage.map((record) => record.id)).toEqual([made[2]?.id, made[1]?.id]);
  });

  it.skipIf(skip)("acknowledge is a conditional update: the second one changes nothing", async () => {
    const { record } = await create("action");
    const first = await store.acknowledge(record.id, "tok_first", 5000);
    expect(first).toMatchObject({ ok: true, record: { acknowledgedAt: 5000, acknowledgedBy: "tok_first" } });
    const second = await store.acknowledge(record.id, "tok_second", 9000);
    expect(second).toMatchObject({
      ok: false,
      current: { id: record.id, acknowledgedAt: 5000, acknowledgedBy: "tok_first" },
    });
    expect(await store.acknowledge("ntf_00000000000000000000000000", "tok", 1)).toEqual({
      ok: false,
      current: null,
    });
  });

  it.skipIf(skip)("delivery state changes apply only to pending deliveries", async () => {
    const { deliveries } = await create("urgent", {
      deliveries: [
        { target: "dashboard", state: "delivered" },
        { target: "webhook:a", state: "pending" },
        { target: "webhook:b", state: "pending" },
      ],
    });
    const [dashboard, a, b] = deliveries;
    expect(dashboard).toMatchObject({ state: "delivered", attempts: 1 });
    expect(dashboard?.deliveredAt).not.toBeNull();

    const retrying = await store.recordFailure(a?.id ?? "", { error: "HTTP 500", final: false }, 10);
    expect(retrying).toMatchObject({ state: "pending", attempts: 1, lastError: "HTTP 500" });
    const delivered = await store.markDelivered(a?.id ?? "", 20);
    expect(delivered).toMatchObject({
      state: "delivered",
      attempts: 2,
      deliveredAt: 20,
      lastError: "HTTP 500",
    });
    expect(await store.markDelivered(a?.id ?? "", 30)).toBeNull();
    expect(await store.recordFailure(a?.id ?? "", { error: "late", final: true }, 30)).toBeNull();

    const failed = await store.recordFailure(b?.id ?? "", { error: "HTTP 404", final: true }, 40);
    expect(failed).toMatchObject({ state: "failed", attempts: 1, lastError: "HTTP 404", deliveredAt: null });
    expect(await store.markDelivered(b?.id ?? "", 50)).toBeNull();
    expect(await store.recordFailure(dashboard?.id ?? "", { error: "x", final: true }, 50)).toBeNull();
  });

  it.skipIf(skip)("lists pending webhook deliveries only, oldest first, in pages", async () => {
    const { deliveries } = await create("urgent", {
      deliveries: [
        { target: "dashboard", state: "delivered" },
        { target: "webhook:p1", state: "pending" },
        { target: "webhook:p2", state: "pending" },
        { target: "webhook:p3", state: "pending" },
      ],
    });
    await store.recordFailure(deliveries[3]?.id ?? "", { error: "gone", final: true }, clock);
    const all = [];
    let afterId: string | undefined;
    for (;;) {
      const page = await store.listPendingWebhooks({ afterId, limit: 1 });
      all.push(...page);
      if (page.length < 1) break;
      afterId = page.at(-1)?.id;
    }
    const mine = all.filter((delivery) => delivery.notificationId === deliveries[0]?.notificationId);
    expect(mine.map((delivery) => delivery.target)).toEqual(["webhook:p1", "webhook:p2"]);
    expect(
      all.every((delivery) => delivery.state === "pending" && delivery.target.startsWith("webhook:")),
    ).toBe(true);
    await store.setJobId(deliveries[1]?.id ?? "", "job_1", clock);
    expect((await store.getDelivery(deliveries[1]?.id ?? ""))?.jobId).toBe("job_1");

    const byId = await store.deliveriesOf([deliveries[0]?.notificationId ?? "", "ntf_none"]);
    expect(byId.get(deliveries[0]?.notificationId ?? "")?.map((delivery) => delivery.target)).toEqual([
      "dashboard",
      "webhook:p1",
      "webhook:p2",
      "webhook:p3",
    ]);
    expect(byId.get("ntf_none")).toEqual([]);
  });
});
