import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Priority } from "../../src/domain/reaction-config.js";
import { DATABASE_KINDS } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/** SPEC C1 conventions and C5 on `/api/v1/notifications`: filters, pagination, acknowledging, access. */

interface NotificationJson {
  id: string;
  priority: Priority;
  title: string;
  state: "open" | "acknowledged";
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  deliveries: { target: string; state: string; attempts: number; lastError: string | null }[];
}

interface PageJson {
  data: NotificationJson[];
  nextCursor: string | null;
  hasMore: boolean;
}

describe.each(DATABASE_KINDS)("notifications API on $kind", ({ kind, skip }) => {
  let server: TestServer;
  const secrets: Record<"admin" | "operator" | "viewer" | "agent", string> = {
    admin: "",
    operator: "",
    viewer: "",
    agent: "",
  };
  let operatorTokenId = "";
  /** Ids by priority, oldest first. */
  const made: { id: string; priority: Priority }[] = [];

  async function call<T>(
    method: "GET" | "POST",
    url: string,
    who: keyof typeof secrets | null = "admin",
  ): Promise<{ status: number; body: T; total: string | undefined }> {
    const response = await server.app.inject({
      method,
      url,
      headers: who === null ? {} : { authorization: `Bearer ${secrets[who]}` },
    });
    const total = response.headers["x-total-count"];
    return {
      status: response.statusCode,
      body: JSON.parse(response.body) as T,
      total: total === undefined ? undefined : String(total),
    };
  }

  beforeAll(async () => {
    if (skip) return;
    server = await startTestServer({ kind });
    secrets.admin = server.adminToken;
    const operator = await server.running.tokens.create({
      name: "alice",
      role: "operator",
      sessionId: null,
      createdBy: null,
    });
    secrets.operator = operator.secret;
    operatorTokenId = operator.record.id;
    secrets.viewer = await server.tokenFor("viewer");
    secrets.agent = await server.tokenFor("agent", "sess-agent");
    const priorities: Priority[] = ["urgent", "info", "urgent", "action", "warning", "urgent", "info"];
    for (const [index, priority] of priorities.entries()) {
      const { id } = await server.running.notifications.notify({
        dedupKey: null,
        kind: "test",
        priority,
        title: `notification ${index}`,
        body: `body ${index}`,
        sessionId: "sess-agent",
      });
      made.push({ id, priority });
      // Distinct milliseconds: ids (and so the newest-first order) follow creation order.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe.skipIf(skip)("GET /api/v1/notifications", () => {
    it("lists open notifications newest first, with X-Total-Count and their deliveries", async () => {
      const answer = await call<PageJson>("GET", "/api/v1/notifications", "viewer");
      expect(answer.status).toBe(200);
      expect(answer.body.data.map((item) => item.id)).toEqual(made.map((item) => item.id).reverse());
      expect(answer.total).toBe(String(made.length));
      expect(answer.body).toMatchObject({ hasMore: false, nextCursor: null });
      expect(answer.body.data[0]).toMatchObject({
        state: "open",
        acknowledgedAt: null,
        deliveries: [{ target: "dashboard", state: "delivered", attempts: 1, lastError: null }],
      });
    });

    it("filters by priority", async () => {
      const answer = await call<PageJson>("GET", "/api/v1/notifications?priority=urgent");
      const urgent = made.filter((item) => item.priority === "urgent").map((item) => item.id);
      expect(answer.body.data.map((item) => item.id)).toEqual(urgent.reverse());
      expect(answer.total).toBe("3");
    });

    it("pages with an opaque cursor; hasMore is exact at every limit", async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const suffix: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
        const answer = await call<PageJson>("GET", `/api/v1/notifications?limit=3${suffix}`);
        expect(answer.status).toBe(200);
        expect(answer.total).toBe(String(made.length));
        seen.push(...answer.body.data.map((item) => item.id));
        expect(answer.body.hasMore).toBe(seen.length < made.length);
        cursor = answer.body.nextCursor;
        pages += 1;
      } while (cursor);
      expect(pages).toBe(3);
      expect(seen).toEqual(made.map((item) => item.id).reverse());

      const exact = await call<PageJson>("GET", `/api/v1/notifications?limit=${made.length}`);
      expect(exact.body).toMatchObject({ hasMore: false, nextCursor: null });
    });

    it.each([
      ["a malformed cursor", "cursor=not-a-cursor!"],
      ["an unknown state", "state=closed"],
      ["an unknown priority", "priority=critical"],
      ["a limit out of range", "limit=201"],
      ["an unknown query key", "acknowledged=true"],
    ])("refuses %s with 422 VALIDATION_ERROR", async (_name, query) => {
      const answer = await call<{ error: { code: string } }>("GET", `/api/v1/notifications?${query}`);
      expect([answer.status, answer.body.error.code]).toEqual([422, "VALIDATION_ERROR"]);
    });
  });

  describe.skipIf(skip)("GET /api/v1/notifications/:id", () => {
    it("shows one notification with its deliveries", async () => {
      const target = made[3] as { id: string };
      const answer = await call<NotificationJson>("GET", `/api/v1/notifications/${target.id}`, "viewer");
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({
        id: target.id,
        priority: "action",
        title: "notification 3",
        state: "open",
        deliveries: [{ target: "dashboard", state: "delivered" }],
      });
    });

    it("answers 404 NOT_FOUND for an unknown id", async () => {
      const answer = await call<{ error: { code: string; retryable: boolean } }>(
        "GET",
        "/api/v1/notifications/ntf_00000000000000000000000000",
      );
      expect(answer.status).toBe(404);
      expect(answer.body.error).toMatchObject({ code: "NOT_FOUND", retryable: false });
    });
  });

  describe.skipIf(skip)("POST /api/v1/notifications/:id/acknowledge", () => {
    it("is refused to viewers and agents (403), allowed to operators, and a second time changes nothing", async () => {
      const target = (made[1] as { id: string }).id;
      const url = `/api/v1/notifications/${target}/acknowledge`;
      for (const who of ["viewer", "agent"] as const) {
        const refused = await call<{ error: { code: string } }>("POST", url, who);
        expect([refused.status, refused.body.error.code], who).toEqual([403, "FORBIDDEN"]);
      }
      const anonymous = await call<{ error: { code: string } }>("POST", url, null);
      expect([anonymous.status, anonymous.body.error.code]).toEqual([401, "UNAUTHENTICATED"]);
      expect((await call<NotificationJson>("GET", `/api/v1/notifications/${target}`)).body.state).toBe(
        "open",
      );

      const before = Date.now();
      const acked = await call<NotificationJson>("POST", url, "operator");
      expect(acked.status).toBe(200);
      expect(acked.body).toMatchObject({
        id: target,
        state: "acknowledged",
        acknowledgedBy: operatorTokenId,
      });
      const at = Date.parse(acked.body.acknowledgedAt ?? "");
      expect(at).toBeGreaterThanOrEqual(before - 5);
      expect(at).toBeLessThanOrEqual(Date.now() + 5);

      const again = await call<NotificationJson>("POST", url, "admin");
      expect(again.status).toBe(200);
      expect(again.body).toEqual(acked.body);
      // One event for the one acknowledgement: live inboxes drop it.
      const events = await server.running.events.list({ kind: "notification.acknowledged", limit: 10 });
      expect(events.map((event) => JSON.parse(event.payloadJson) as unknown)).toEqual([
        { notificationId: target, acknowledgedBy: operatorTokenId },
      ]);

      const open = await call<PageJson>("GET", "/api/v1/notifications");
      expect(open.body.data.map((item) => item.id)).not.toContain(target);
      expect(open.total).toBe(String(made.length - 1));
      const acknowledged = await call<PageJson>("GET", "/api/v1/notifications?state=acknowledged");
      expect(acknowledged.body.data.map((item) => item.id)).toEqual([target]);
      expect(acknowledged.total).toBe("1");
      const all = await call<PageJson>("GET", "/api/v1/notifications?state=all");
      expect(all.total).toBe(String(made.length));
    });

    it("answers 404 NOT_FOUND for an unknown id", async () => {
      const answer = await call<{ error: { code: string } }>(
        "POST",
        "/api/v1/notifications/ntf_00000000000000000000000000/acknowledge",
      );
      expect([answer.status, answer.body.error.code]).toEqual([404, "NOT_FOUND"]);
    });
  });

  it.skipIf(skip)("documents the three routes in the OpenAPI document", async () => {
    const answer = await call<{ paths: Record<string, Record<string, { parameters?: { name: string }[] }>> }>(
      "GET",
      "/api/v1/openapi.json",
    );
    const paths = answer.body.paths;
    expect(paths["/api/v1/notifications"]?.get?.parameters?.map((parameter) => parameter.name)).toEqual(
      expect.arrayContaining(["state", "priority", "limit", "cursor"]),
    );
    expect(paths["/api/v1/notifications/{id}"]?.get).toBeDefined();
    expect(paths["/api/v1/notifications/{id}/acknowledge"]?.post).toBeDefined();
  });
});
