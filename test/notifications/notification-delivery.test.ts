import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Priority } from "../../src/domain/reaction-config.js";
import type { JobQueue } from "../../src/queue/job-queue.js";
import { NotificationService, type NotificationDetails } from "../../src/services/notification-service.js";
import type { NotificationRequest } from "../../src/services/notifier.js";
import { SecretReader } from "../../src/services/secrets.js";
import { NotificationStore } from "../../src/store/notification-store.js";
import { DATABASE_KINDS } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";
import { waitFor } from "../support/wait-for.js";
import { WebhookReceiver } from "../support/webhook-receiver.js";

/**
 * SPEC C5 notifications, through a running Shepherd (in this process) on each database: routing
 * by priority, idempotence by dedup key, webhook delivery to a real local HTTP server with retries
 * and failures made visible, and a secret webhook URL that never leaks.
 */

const PUBLIC_URL = "https://shepherd.example.com";
const MAX_ATTEMPTS = 3;
/** A secret in the path of the `secret` webhook's URL (like the key in a Slack webhook URL). */
const CANARY = `hookcanary${randomBytes(12).toString("hex")}`;

let scenarioCounter = 0;
function scenario(name: string): string {
  scenarioCounter += 1;
  return `${name}-${scenarioCounter}`;
}

function request(overrides: Partial<NotificationRequest> & { priority: Priority }): NotificationRequest {
  return {
    dedupKey: null,
    kind: "ci_failed",
    title: "CI failed on acme/search#12",
    body: "2 checks failed",
    ...overrides,
  };
}

async function allDatabaseText(server: TestServer): Promise<string> {
  const { db, dialect } = server.running.database;
  const tables =
    dialect === "sqlite"
      ? (
          await sql<{
            name: string;
          }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`.execute(db)
        ).rows.map((row) => `"${row.name}"`)
      : (
          await sql<{ schema: string; name: string }>`
            select table_schema as schema, table_name as name from information_schema.tables
            where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`.execute(
            db,
          )
        ).rows.map((row) => `"${row.schema}"."${row.name}"`);
  expect(tables.length).toBeGreaterThan(5);
  const parts: string[] = [];
  for (const table of tables) {
    const rows = await sql<Record<string, unknown>>`select * from ${sql.raw(table)}`.execute(db);
    parts.push(
      JSON.stringify(rows.rows, (_key, value: unknown) =>
        typeof value === "bigint" ? String(value) : value,
      ),
    );
  }
  return parts.join("\n");
}

describe.each(DATABASE_KINDS)("notifications on $kind", ({ kind, skip }) => {
  let server: TestServer;
  let hooks: WebhookReceiver;
  let notifications: NotificationService;

  const api = async <T>(method: "GET" | "POST", url: string): Promise<{ status: number; body: T }> => {
    const response = await server.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${server.adminToken}` },
    });
    return { status: response.statusCode, body: JSON.parse(response.body) as T };
  };

  const settled = (id: string, timeoutMs = 20_000): Promise<NotificationDetails> =>
    waitFor(
      async () => {
        const found = await notifications.get(id);
        return found.deliveries.every((delivery) => delivery.state !== "pending") ? found : null;
      },
      { timeoutMs, intervalMs: 50, message: `deliveries of ${id} never settled` },
    );

  const eventsOf = async (eventKind: string) =>
    (await server.running.events.list({ kind: eventKind, limit: 10_000 })).map((event) => ({
      sessionId: event.sessionId,
      payload: JSON.parse(event.payloadJson) as Record<string, unknown>,
    }));

  beforeAll(async () => {
    if (skip) return;
    hooks = await new WebhookReceiver().start();
    server = await startTestServer({
      kind,
      configYaml: [
        "server:",
        `  publicUrl: ${PUBLIC_URL}`,
        "notifications:",
        "  routes:",
        "    urgent: [dashboard, webhook:slack, webhook:json]",
        "    action: [dashboard, webhook:slack]",
        "    warning: [webhook:secret]",
        "    info: [dashboard]",
        "  webhooks:",
        `    slack: { url: "${hooks.baseUrl}/slack", format: slack }`,
        `    json: { url: "${hooks.baseUrl}/json", format: json }`,
        "    secret: { urlRef: file:hook-url }",
        "",
      ].join("\n"),
      notificationTuning: { maxAttempts: MAX_ATTEMPTS, backoffMs: 50, requestTimeoutMs: 700 },
    });
    await writeFile(path.join(server.home, "secrets", "hook-url"), `${hooks.baseUrl}/secret/${CANARY}\n`, {
      mode: 0o600,
    });
    notifications = server.running.notifications;
  });

  afterAll(async () => {
    await server?.stop();
    await hooks?.stop();
  });

  describe.skipIf(skip)("creation", () => {
    it("routes by priority: urgent → dashboard and both webhooks, info → dashboard only, warning → its webhook only", async () => {
      const urgent = await notifications.notify(request({ priority: "urgent", sessionId: "sess-route" }));
      const info = await notifications.notify(request({ priority: "info" }));
      const warning = await notifications.notify(request({ priority: "warning" }));
      expect([urgent.created, info.created, warning.created]).toEqual([true, true, true]);

      const targets = async (id: string) =>
        (await notifications.get(id)).deliveries.map((delivery) => delivery.target);
      expect(await targets(urgent.id)).toEqual(["dashboard", "webhook:slack", "webhook:json"]);
      expect(await targets(info.id)).toEqual(["dashboard"]);
      expect(await targets(warning.id)).toEqual(["webhook:secret"]);

      // The inbox is delivered by being stored; webhooks start pending.
      const infoDetails = await notifications.get(info.id);
      expect(infoDetails.deliveries[0]).toMatchObject({ state: "delivered", attempts: 1 });
      expect(infoDetails.deliveries[0]?.deliveredAt).toBe(infoDetails.createdAt);

      const sent = (await eventsOf("notification.sent")).find(
        (event) => event.payload.notificationId === urgent.id,
      );
      expect(sent).toEqual({
        sessionId: "sess-route",
        payload: {
          notificationId: urgent.id,
          kind: "ci_failed",
          priority: "urgent",
          title: "CI failed on acme/search#12",
          targets: ["dashboard", "webhook:slack", "webhook:json"],
        },
      });
      await settled(urgent.id);
      await settled(warning.id);
    });

    it("creates one notification per dedup key: the same key again returns it, with no event and no delivery", async () => {
      const key = `reaction:ci_failed:pr_1:${scenario("dedup")}`;
      const first = await notifications.notify(request({ priority: "info", dedupKey: key }));
      const second = await notifications.notify(
        request({ priority: "urgent", dedupKey: key, title: "something else" }),
      );
      expect(first.created).toBe(true);
      expect(second).toEqual({ id: first.id, created: false });
      const details = await notifications.get(first.id);
      expect(details.priority).toBe("info");
      expect(details.deliveries.map((delivery) => delivery.target)).toEqual(["dashboard"]);
      const sent = (await eventsOf("notification.sent")).filter(
        (event) => event.payload.notificationId === first.id,
      );
      expect(sent).toHaveLength(1);
      const rows = await server.running.database.db
        .selectFrom("notifications")
        .select("id")
        .where("dedup_key", "=", key)
        .execute();
      expect(rows).toHaveLength(1);
    });

    it("20 concurrent notify() calls with one dedup key create exactly one notification", async () => {
      const key = `reaction:agent_stuck:${scenario("race")}`;
      const before = (await eventsOf("notification.sent")).length;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, index) =>
          notifications.notify(request({ priority: "info", dedupKey: key, title: `caller ${index}` })),
        ),
      );
      expect(results.filter((result) => result.created)).toHaveLength(1);
      expect(new Set(results.map((result) => result.id)).size).toBe(1);
      const rows = await server.running.database.db
        .selectFrom("notifications")
        .select("id")
        .where("dedup_key", "=", key)
        .execute();
      expect(rows).toHaveLength(1);
      const deliveries = await server.running.database.db
        .selectFrom("notification_deliveries")
        .select("id")
        .where("notification_id", "=", rows[0]?.id ?? "")
        .execute();
      expect(deliveries).toHaveLength(1);
      expect((await eventsOf("notification.sent")).length - before).toBe(1);
    });

    it("counts created notifications by priority in the metrics", async () => {
      const metric = async () =>
        (
          await server.running.metrics.registry.getSingleMetric("shepherd_notifications_created_total")?.get()
        )?.values.find((value) => value.labels.priority === "info")?.value ?? 0;
      const before = await metric();
      await notifications.notify(request({ priority: "info" }));
      await notifications.notify(request({ priority: "info", dedupKey: "metric-key" }));
      await notifications.notify(request({ priority: "info", dedupKey: "metric-key" }));
      expect(await metric()).toBe(before + 2);
    });
  });

  describe.skipIf(skip)("webhook delivery", () => {
    it("posts a Slack-compatible message (escaped mrkdwn, priority and title first, body, then the link) and marks it delivered", async () => {
      const name = scenario("slack-shape");
      const { id } = await notifications.notify(
        request({
          priority: "action",
          kind: "approved_and_green",
          title: `PR <#7> is green & approved ${"scenario:" + name}`,
          body: "Merge it: <script> & *go*",
          sessionId: "sess-42",
        }),
      );
      const details = await settled(id);
      const slack = details.deliveries.find((delivery) => delivery.target === "webhook:slack");
      expect(slack).toMatchObject({ state: "delivered", attempts: 1, lastError: null });
      expect(slack?.deliveredAt).not.toBeNull();

      const received = hooks.requestsFor(name);
      expect(received).toHaveLength(1);
      expect(received[0]?.path).toBe("/slack");
      expect(received[0]?.headers["content-type"]).toBe("application/json");
      expect(received[0]?.json).toEqual({
        text: [
          `*[ACTION]* PR &lt;#7&gt; is green &amp; approved scenario:${name}`,
          "Merge it: &lt;script&gt; &amp; *go*",
          `<${PUBLIC_URL}/sessions/sess-42|Open in Shepherd>`,
        ].join("\n"),
      });
    });

    it("posts the notification itself as JSON to a json-format webhook", async () => {
      const name = scenario("json-shape");
      const { id } = await notifications.notify(
        request({
          priority: "urgent",
          title: `Agent stuck scenario:${name}`,
          prId: "pr_1",
          repoId: "repo_1",
        }),
      );
      const details = await settled(id);
      expect(details.deliveries.map((delivery) => delivery.state)).toEqual([
        "delivered",
        "delivered",
        "delivered",
      ]);
      const received = hooks.requestsFor(name).find((entry) => entry.path === "/json");
      expect(received?.json).toEqual({
        id,
        kind: "ci_failed",
        priority: "urgent",
        title: `Agent stuck scenario:${name}`,
        body: "2 checks failed",
        repoId: "repo_1",
        prId: "pr_1",
        sessionId: null,
        createdAt: new Date(details.createdAt).toISOString(),
        url: `${PUBLIC_URL}/prs/pr_1`,
      });
    });

    it("retries: 500, 500, then 200 → delivered after 3 attempts", async () => {
      const name = scenario("flaky");
      hooks.script(name, [{ status: 500 }, { status: 500 }, { status: 200 }]);
      const { id } = await notifications.notify(request({ priority: "action", title: `scenario:${name}` }));
      const details = await settled(id, 30_000);
      const slack = details.deliveries.find((delivery) => delivery.target === "webhook:slack");
      expect(slack).toMatchObject({ state: "delivered", attempts: 3 });
      // The error of an earlier attempt stays visible as history; the state says it got through.
      expect(slack?.lastError).toBe("HTTP 500: error");
      expect(hooks.requestsFor(name)).toHaveLength(3);
      const errors = (await eventsOf("error")).filter((event) => event.payload.notificationId === id);
      expect(errors).toEqual([]);
    });

    it("always 500 → failed after the last attempt, with lastError and an error event, visible in the API", async () => {
      const name = scenario("down");
      hooks.script(name, [{ status: 500, body: `upstream down at ${hooks.baseUrl}/slack\n\tsee logs` }]);
      const { id } = await notifications.notify(
        request({ priority: "action", title: `scenario:${name}`, sessionId: "sess-down" }),
      );
      const details = await settled(id, 30_000);
      expect(hooks.requestsFor(name)).toHaveLength(MAX_ATTEMPTS);

      const answer = await api<{
        deliveries: {
          target: string;
          state: string;
          attempts: number;
          lastError: string | null;
          updatedAt: string;
        }[];
      }>("GET", `/api/v1/notifications/${id}`);
      expect(answer.status).toBe(200);
      const slack = answer.body.deliveries.find((delivery) => delivery.target === "webhook:slack");
      expect({ ...slack, updatedAt: typeof slack?.updatedAt }).toEqual({
        id: details.deliveries[1]?.id,
        target: "webhook:slack",
        state: "failed",
        attempts: MAX_ATTEMPTS,
        // The status and the start of the answer, on one line, without the URL.
        lastError: "HTTP 500: upstream down at [webhook URL] see logs",
        deliveredAt: null,
        updatedAt: "string",
      });
      const dashboard = answer.body.deliveries.find((delivery) => delivery.target === "dashboard");
      expect(dashboard?.state).toBe("delivered");

      const errors = (await eventsOf("error")).filter((event) => event.payload.notificationId === id);
      expect(errors).toEqual([
        {
          sessionId: "sess-down",
          payload: {
            code: "NOTIFICATION_DELIVERY_FAILED",
            notificationId: id,
            deliveryId: details.deliveries[1]?.id,
            target: "webhook:slack",
            attempts: MAX_ATTEMPTS,
            message: "HTTP 500: upstream down at [webhook URL] see logs",
          },
        },
      ]);
      const failedMetric = (
        await server.running.metrics.registry
          .getSingleMetric("shepherd_notification_webhook_deliveries_total")
          ?.get()
      )?.values.find((value) => value.labels.webhook === "slack" && value.labels.outcome === "failed");
      expect(failedMetric?.value).toBeGreaterThanOrEqual(1);
    });

    it("a 4xx other than 408/425/429 fails at once: it will not get better by retrying", async () => {
      const name = scenario("gone");
      hooks.script(name, [{ status: 404, body: "no_service" }]);
      const { id } = await notifications.notify(request({ priority: "action", title: `scenario:${name}` }));
      const details = await settled(id);
      expect(details.deliveries[1]).toMatchObject({
        target: "webhook:slack",
        state: "failed",
        attempts: 1,
        lastError: "HTTP 404: no_service",
      });
      expect(hooks.requestsFor(name)).toHaveLength(1);
    });

    it("a webhook that does not answer within the deadline is retried like a 5xx", async () => {
      const name = scenario("slow");
      hooks.script(name, [{ status: 200, delayMs: 2000 }, { status: 200 }]);
      const { id } = await notifications.notify(request({ priority: "action", title: `scenario:${name}` }));
      const details = await settled(id, 30_000);
      expect(details.deliveries[1]).toMatchObject({
        state: "delivered",
        attempts: 2,
        lastError: "no answer within 700 ms",
      });
    });

    it("a delivery whose enqueue failed stays pending, and resumePending() delivers it", async () => {
      const name = scenario("resume");
      const failingQueue = {
        enqueue: () => Promise.reject(new Error("queue unavailable")),
      } as unknown as JobQueue;
      const unlucky = new NotificationService({
        store: new NotificationStore(server.running.database.db),
        events: server.running.events,
        queue: failingQueue,
        secrets: new SecretReader(server.home, server.running.redactor),
        redactor: server.running.redactor,
        config: server.config.notifications,
        publicUrl: PUBLIC_URL,
        metrics: server.running.metrics,
        logger: server.running.logger,
      });
      const { id, created } = await unlucky.notify(
        request({ priority: "action", title: `scenario:${name}` }),
      );
      expect(created).toBe(true);
      const pending = await notifications.get(id);
      expect(pending.deliveries[1]).toMatchObject({ target: "webhook:slack", state: "pending", jobId: null });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(hooks.requestsFor(name)).toHaveLength(0);

      const resumed = await notifications.resumePending();
      expect(resumed.queued).toBeGreaterThanOrEqual(1);
      const details = await settled(id);
      expect(details.deliveries[1]).toMatchObject({ state: "delivered", attempts: 1 });
      expect(details.deliveries[1]?.jobId).not.toBeNull();
      expect(hooks.requestsFor(name)).toHaveLength(1);

      // Resuming again finds nothing pending for it, and delivers nothing twice.
      await notifications.resumePending();
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(hooks.requestsFor(name)).toHaveLength(1);
    });

    it("a webhook URL from a secret ref never appears in logs, events, API answers or the database", async () => {
      const name = scenario("canary");
      hooks.script(name, [
        { status: 500, body: `cannot route ${hooks.baseUrl}/secret/${CANARY}` },
        { status: 502, body: `bad path /secret/${CANARY}` },
        { status: 503, body: `token ${CANARY}` },
      ]);
      const { id } = await notifications.notify(request({ priority: "warning", title: `scenario:${name}` }));
      const details = await settled(id, 30_000);
      // The secret URL was really used…
      const received = hooks.requestsFor(name);
      expect(received).toHaveLength(MAX_ATTEMPTS);
      expect(received.every((entry) => entry.path === `/secret/${CANARY}`)).toBe(true);
      expect(details.deliveries[0]).toMatchObject({ target: "webhook:secret", state: "failed" });
      expect(details.deliveries[0]?.lastError).toBe("HTTP 503: token [REDACTED]");

      // …and shows nowhere.
      const list = await server.app.inject({
        method: "GET",
        url: "/api/v1/notifications?state=all&limit=200",
        headers: { authorization: `Bearer ${server.adminToken}` },
      });
      const shown = await server.app.inject({
        method: "GET",
        url: `/api/v1/notifications/${id}`,
        headers: { authorization: `Bearer ${server.adminToken}` },
      });
      const events = await server.running.events.list({ limit: 10_000 });
      const surfaces: Record<string, string> = {
        logs: server.logs.text,
        events: JSON.stringify(events),
        "API list": list.body,
        "API show": shown.body,
        database: await allDatabaseText(server),
      };
      expect(list.statusCode).toBe(200);
      expect(shown.body).toContain("[REDACTED]");
      expect(server.logs.text).toContain("notification webhook delivery failed");
      for (const [surface, text] of Object.entries(surfaces)) {
        expect(text.includes(CANARY), `${surface} contains the secret URL`).toBe(false);
      }
    });
  });
});
