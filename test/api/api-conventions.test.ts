import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeCursor } from "../../src/api/pagination.js";
import { ERROR_CODES, type ErrorCode } from "../../src/domain/errors.js";
import { hashToken } from "../../src/services/token-service.js";
import { newId } from "../../src/store/ids.js";
import { HAS_PG, type DatabaseKind } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/** SPEC C1 "HTTP API conventions" and §E, checked against the real app. */

interface Envelope {
  error: { code: string; message: string; retryable: boolean; details?: Record<string, unknown> };
}

interface TokenView {
  id: string;
  name: string;
  role: string;
  sessionId: string | null;
  hint: string;
  revokedAt: string | null;
  expiresAt: string | null;
}

interface Page<T> {
  data: T[];
  nextCursor: string | null;
  hasMore: boolean;
}

interface EventView {
  seq: number;
  kind: string;
  sessionId: string | null;
  payload: Record<string, unknown>;
}

/** Asserts the one error envelope, its status from ERROR_CODES, and the request id header. */
function expectError(response: LightMyRequestResponse, code: ErrorCode): Envelope["error"] {
  expect(Object.hasOwn(ERROR_CODES, code)).toBe(true);
  expect(response.statusCode, response.body).toBe(ERROR_CODES[code].status);
  expect(response.headers["content-type"]).toMatch(/^application\/json/);
  expect(response.headers["x-request-id"]).toMatch(/^req_[0-9a-f]{16}$/);
  const body = response.json<Envelope>();
  expect(Object.keys(body)).toEqual(["error"]);
  const error = body.error;
  for (const key of Object.keys(error)) expect(["code", "message", "retryable", "details"]).toContain(key);
  expect(error.code).toBe(code);
  expect(typeof error.message).toBe("string");
  expect(error.message.length).toBeGreaterThan(0);
  expect(error.retryable).toBe(ERROR_CODES[code].retryable);
  if (error.details !== undefined) {
    expect(typeof error.details).toBe("object");
    expect(Array.isArray(error.details)).toBe(false);
  }
  // No stack trace or exception class ever reaches the wire.
  expect(response.body).not.toMatch(/\n\s+at |FST_ERR|ZodError/);
  return error;
}

function issuesOf(error: Envelope["error"]): { path: string; message: string }[] {
  const issues = error.details?.issues;
  expect(Array.isArray(issues)).toBe(true);
  expect((issues as unknown[]).length).toBeGreaterThan(0);
  return issues as { path: string; message: string }[];
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

describe("HTTP API conventions", () => {
  let server: TestServer;
  let admin: Record<string, string>;
  let viewer: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer();
    admin = bearer(server.adminToken);
    viewer = bearer(await server.tokenFor("viewer"));
  });

  afterAll(async () => {
    await server?.stop();
  });

  function inject(
    method: "GET" | "POST" | "DELETE",
    url: string,
    options: { headers?: Record<string, string>; payload?: unknown } = {},
  ): Promise<LightMyRequestResponse> {
    return server.app.inject({
      method,
      url,
      headers: options.headers ?? {},
      ...(options.payload === undefined ? {} : { payload: options.payload as string }),
    });
  }

  describe("error envelope on every failure", () => {
    const cases: {
      name: string;
      code: ErrorCode;
      send: () => Promise<LightMyRequestResponse>;
    }[] = [
      { name: "no token", code: "UNAUTHENTICATED", send: () => inject("GET", "/api/v1/tokens") },
      {
        name: "unknown token",
        code: "UNAUTHENTICATED",
        send: () => inject("GET", "/api/v1/status", { headers: bearer(`shp_${"a".repeat(40)}`) }),
      },
      {
        name: "a viewer on an admin route",
        code: "FORBIDDEN",
        send: () => inject("GET", "/api/v1/tokens", { headers: viewer }),
      },
      {
        name: "an unknown body field",
        code: "VALIDATION_ERROR",
        send: () =>
          inject("POST", "/api/v1/tokens", {
            headers: admin,
            payload: { name: "x", role: "viewer", extra: 1 },
          }),
      },
      {
        name: "an unknown query key",
        code: "VALIDATION_ERROR",
        send: () => inject("GET", "/api/v1/tokens?foo=1", { headers: admin }),
      },
      {
        name: "malformed JSON",
        code: "MALFORMED_REQUEST",
        send: () =>
          inject("POST", "/api/v1/tokens", {
            headers: { ...admin, "content-type": "application/json" },
            payload: '{"name": "x", "role":',
          }),
      },
      {
        name: "an unknown token id",
        code: "TOKEN_NOT_FOUND",
        send: () => inject("GET", `/api/v1/tokens/${newId("tok")}`, { headers: admin }),
      },
      { name: "an unknown route", code: "NOT_FOUND", send: () => inject("GET", "/api/v1/nope") },
      {
        name: "a text/plain body",
        code: "UNSUPPORTED_MEDIA_TYPE",
        send: () =>
          inject("POST", "/api/v1/tokens", {
            headers: { ...admin, "content-type": "text/plain" },
            payload: "name=x",
          }),
      },
    ];

    it.each(cases)("$name → $code", async ({ send, code }) => {
      expectError(await send(), code);
    });
  });

  describe("validation", () => {
    it("an unknown body field is a 422 with details.issues naming it", async () => {
      const error = expectError(
        await inject("POST", "/api/v1/tokens", {
          headers: admin,
          payload: { name: "ok", role: "viewer", isAdmin: true },
        }),
        "VALIDATION_ERROR",
      );
      const issues = issuesOf(error);
      expect(JSON.stringify(issues)).toContain("isAdmin");
      expect(issues[0]?.path).toMatch(/^body/);
    });

    it("an unknown query key is a 422 with details.issues", async () => {
      for (const url of ["/api/v1/tokens?foo=1", "/api/v1/status?verbose=1", "/api/v1/openapi.json?x=1"]) {
        const error = expectError(await inject("GET", url, { headers: admin }), "VALIDATION_ERROR");
        expect(issuesOf(error)[0]?.path).toMatch(/^querystring/);
      }
      const events = await inject("GET", "/api/v1/events?foo=1", {
        headers: { ...admin, accept: "application/json" },
      });
      expectError(events, "VALIDATION_ERROR");
    });

    it.each(["0", "201", "abc", "1.5", "-1", "", "1e3"])("limit=%s is a 422", async (limit) => {
      const error = expectError(
        await inject("GET", `/api/v1/tokens?limit=${limit}`, { headers: admin }),
        "VALIDATION_ERROR",
      );
      expect(issuesOf(error)[0]?.path).toBe("querystring.limit");
    });

    it("limit=1 and limit=200 are accepted", async () => {
      for (const limit of [1, 200]) {
        const response = await inject("GET", `/api/v1/tokens?limit=${limit}`, { headers: admin });
        expect(response.statusCode).toBe(200);
      }
    });

    it.each([
      ["a wrong type for name", { name: 42, role: "viewer" }],
      ["an unknown role", { name: "x", role: "root" }],
      ["an empty name", { name: "   ", role: "viewer" }],
      ["a name over 100 characters", { name: "n".repeat(101), role: "viewer" }],
      ["a missing role", { name: "x" }],
      ["an expiresAt that is not a timestamp", { name: "x", role: "viewer", expiresAt: "tomorrow" }],
      ["a body that is an array", [{ name: "x", role: "viewer" }]],
    ])("%s is a 422", async (_name, payload) => {
      expectError(await inject("POST", "/api/v1/tokens", { headers: admin, payload }), "VALIDATION_ERROR");
    });

    it.each([
      ["a bell", "bad\u0007name"],
      ["a newline", "two\nlines"],
      ["a NUL", "nul\u0000byte"],
      ["an escape sequence", "\u001b[31mred"],
      ["DEL", "del\u007f"],
    ])("a token name with %s is a 422", async (_name, name) => {
      const error = expectError(
        await inject("POST", "/api/v1/tokens", { headers: admin, payload: { name, role: "viewer" } }),
        "VALIDATION_ERROR",
      );
      expect(issuesOf(error)[0]?.path).toBe("body.name");
    });

    it("malformed JSON is a 400 MALFORMED_REQUEST", async () => {
      for (const payload of ['{"name":', "{name: 'x'}", "not json at all", '{"a":1}}']) {
        expectError(
          await inject("POST", "/api/v1/tokens", {
            headers: { ...admin, "content-type": "application/json" },
            payload,
          }),
          "MALFORMED_REQUEST",
        );
      }
    });

    it("a body over the configured limit (default 1 MiB) is a 413 PAYLOAD_TOO_LARGE", async () => {
      expect(server.config.server.bodyLimitBytes).toBe(1024 * 1024);
      const payload = JSON.stringify({ name: "x".repeat(1024 * 1024), role: "viewer" });
      expectError(
        await inject("POST", "/api/v1/tokens", {
          headers: { ...admin, "content-type": "application/json" },
          payload,
        }),
        "PAYLOAD_TOO_LARGE",
      );
    });

    it("a body over the limit is refused over a real socket too", async () => {
      const response = await fetch(`${server.url}/api/v1/tokens`, {
        method: "POST",
        headers: { ...admin, "content-type": "application/json" },
        body: JSON.stringify({ name: "x".repeat(2 * 1024 * 1024), role: "viewer" }),
      });
      expect(response.status).toBe(413);
      expect(((await response.json()) as Envelope).error.code).toBe("PAYLOAD_TOO_LARGE");
    });

    it("content-type text/plain (or any non-JSON type) is a 415 UNSUPPORTED_MEDIA_TYPE", async () => {
      for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/xml"]) {
        expectError(
          await inject("POST", "/api/v1/tokens", {
            headers: { ...admin, "content-type": type },
            payload: '{"name":"x","role":"viewer"}',
          }),
          "UNSUPPORTED_MEDIA_TYPE",
        );
      }
    });

    it("path-traversal-looking ids get a 404 envelope, never a 5xx", async () => {
      for (const method of ["GET", "DELETE"] as const) {
        for (const url of [
          "/api/v1/tokens/..%2F..%2Fetc",
          "/api/v1/tokens/..%2F..%2F..%2Fetc%2Fpasswd",
          "/api/v1/tokens/%2e%2e",
          "/api/v1/tokens/..",
        ]) {
          const response = await inject(method, url, { headers: admin });
          expect(response.statusCode, `${method} ${url}`).toBe(404);
          expect(["TOKEN_NOT_FOUND", "NOT_FOUND"]).toContain(response.json<Envelope>().error.code);
          expectError(response, response.json<Envelope>().error.code as ErrorCode);
        }
      }
      const unrouted = await inject("GET", "/api/v1/../../etc/passwd", { headers: admin });
      expect(unrouted.statusCode).toBeLessThan(500);
      expectError(unrouted, "NOT_FOUND");
    });

    it("a session id that is not a plain id is a 422 on the session stream", async () => {
      const response = await inject("GET", "/api/v1/sessions/..%2F..%2Fetc/events", { headers: admin });
      const error = expectError(response, "VALIDATION_ERROR");
      expect(issuesOf(error)[0]?.path).toBe("params.id");
    });

    it("a malformed Last-Event-ID is a 422", async () => {
      const response = await inject("GET", "/api/v1/events", {
        headers: { ...admin, "last-event-id": "not-a-seq" },
      });
      expectError(response, "VALIDATION_ERROR");
    });
  });

  describe("routing and request ids", () => {
    it("an unknown route is a 404 NOT_FOUND, with or without a token", async () => {
      for (const [method, url] of [
        ["GET", "/api/v1/does-not-exist"],
        ["POST", "/api/v1/status"],
        ["DELETE", "/api/v1/tokens"],
        ["GET", "/nope"],
      ] as const) {
        expectError(await inject(method, url), "NOT_FOUND");
        expectError(await inject(method, url, { headers: admin }), "NOT_FOUND");
      }
    });

    it("every response carries a distinct x-request-id, including refusals", async () => {
      const responses = [
        await inject("GET", "/healthz"),
        await inject("GET", "/readyz"),
        await inject("GET", "/metrics"),
        await inject("GET", "/api/v1/status", { headers: viewer }),
        await inject("GET", "/api/v1/status"),
        await inject("GET", "/api/v1/status", { headers: { authorization: "Basic xyz" } }),
        await inject("GET", "/api/v1/tokens", { headers: viewer }),
        await inject("GET", "/api/v1/tokens?limit=0", { headers: admin }),
        await inject("GET", "/nope"),
        await inject("POST", "/api/v1/tokens", {
          headers: { ...admin, "content-type": "text/plain" },
          payload: "x",
        }),
      ];
      const ids = responses.map((response) => response.headers["x-request-id"]);
      for (const id of ids) expect(id).toMatch(/^req_[0-9a-f]{16}$/);
      expect(new Set(ids).size).toBe(ids.length);
    });

    it("an SSE response carries x-request-id too", async () => {
      const controller = new AbortController();
      try {
        const response = await fetch(`${server.url}/api/v1/events`, {
          headers: viewer,
          signal: controller.signal,
        });
        expect(response.status).toBe(200);
        expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
        expect(response.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{16}$/);
      } finally {
        controller.abort();
      }
    });

    it("a client-supplied x-request-id is not trusted", async () => {
      const response = await inject("GET", "/healthz", { headers: { "x-request-id": "req_evil" } });
      expect(response.headers["x-request-id"]).not.toBe("req_evil");
    });
  });

  describe("health and metrics", () => {
    it("/healthz answers ok with the version", async () => {
      const response = await inject("GET", "/healthz");
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ status: "ok", version: expect.any(String) as string });
    });

    it("/readyz is 200 with every check ok while the database answers", async () => {
      const response = await inject("GET", "/readyz");
      expect(response.statusCode).toBe(200);
      const body = response.json<{ status: string; checks: Record<string, { ok: boolean }> }>();
      expect(body.status).toBe("ready");
      expect(body.checks.database?.ok).toBe(true);
      expect(body.checks.queue?.ok).toBe(true);
    });

    it("/metrics serves Prometheus text with HTTP latency and queue depth", async () => {
      await inject("GET", "/healthz");
      const response = await inject("GET", "/metrics");
      expect(response.statusCode).toBe(200);
      expect(response.headers["content-type"]).toMatch(/^text\/plain/);
      expect(response.body).toContain("# TYPE shepherd_http_request_duration_seconds histogram");
      expect(response.body).toMatch(
        /shepherd_http_request_duration_seconds_count\{[^}]*route="\/healthz"[^}]*\} [1-9]/,
      );
      expect(response.body).toContain("# TYPE shepherd_queue_jobs gauge");
    });
  });

  describe("tokens", () => {
    it("POST creates a token (201) and returns its secret once", async () => {
      const response = await inject("POST", "/api/v1/tokens", {
        headers: admin,
        payload: { name: "ci-bot", role: "operator" },
      });
      expect(response.statusCode).toBe(201);
      const body = response.json<{ token: TokenView; secret: string }>();
      expect(body.secret).toMatch(/^shp_[A-Za-z0-9]{40}$/);
      expect(body.token).toMatchObject({
        name: "ci-bot",
        role: "operator",
        sessionId: null,
        revokedAt: null,
      });
      expect(body.token.id).toMatch(/^tok_[0-9a-z]{26}$/);
      expect(body.token.hint).toBe(`shp_…${body.secret.slice(-4)}`);
      expect(Object.keys(body.token)).not.toContain("secret");
      expect(Object.keys(body.token)).not.toContain("tokenHash");

      // The secret works...
      const status = await inject("GET", "/api/v1/status", { headers: bearer(body.secret) });
      expect(status.statusCode).toBe(200);

      // ...and is never shown again, nor is its hash, nor does it reach the logs.
      const list = await inject("GET", "/api/v1/tokens?limit=200", { headers: admin });
      const show = await inject("GET", `/api/v1/tokens/${body.token.id}`, { headers: admin });
      for (const text of [list.body, show.body]) {
        expect(text).not.toContain(body.secret);
        expect(text).not.toContain(hashToken(body.secret));
      }
      expect(list.json<Page<TokenView>>().data.map((token) => token.id)).toContain(body.token.id);
      expect(show.json<TokenView>().id).toBe(body.token.id);
      expect(server.logs.lines.length).toBeGreaterThan(0);
      expect(server.logs.text).not.toContain(body.secret);
      expect(server.logs.text).not.toContain(server.adminToken);
    });

    it("an agent token must name its session, and only agent tokens may", async () => {
      const noSession = expectError(
        await inject("POST", "/api/v1/tokens", { headers: admin, payload: { name: "a", role: "agent" } }),
        "VALIDATION_ERROR",
      );
      expect(noSession.details).toMatchObject({ field: "sessionId" });
      const withSession = expectError(
        await inject("POST", "/api/v1/tokens", {
          headers: admin,
          payload: { name: "v", role: "viewer", sessionId: "sess-1" },
        }),
        "VALIDATION_ERROR",
      );
      expect(withSession.details).toMatchObject({ field: "sessionId" });
      const agent = await inject("POST", "/api/v1/tokens", {
        headers: admin,
        payload: { name: "a", role: "agent", sessionId: "sess-1" },
      });
      expect(agent.statusCode).toBe(201);
      expect(agent.json<{ token: TokenView }>().token.sessionId).toBe("sess-1");
    });

    it("expiresAt in the past is a 422; in the future it is kept", async () => {
      const past = expectError(
        await inject("POST", "/api/v1/tokens", {
          headers: admin,
          payload: { name: "old", role: "viewer", expiresAt: new Date(Date.now() - 60_000).toISOString() },
        }),
        "VALIDATION_ERROR",
      );
      expect(past.details).toMatchObject({ field: "expiresAt" });
      const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
      const future = await inject("POST", "/api/v1/tokens", {
        headers: admin,
        payload: { name: "new", role: "viewer", expiresAt },
      });
      expect(future.statusCode).toBe(201);
      expect(future.json<{ token: TokenView }>().token.expiresAt).toBe(expiresAt);
    });

    it("DELETE revokes; a second DELETE returns it unchanged and records no second event", async () => {
      const created = await inject("POST", "/api/v1/tokens", {
        headers: admin,
        payload: { name: "to-revoke", role: "viewer" },
      });
      const { token, secret } = created.json<{ token: TokenView; secret: string }>();

      const first = await inject("DELETE", `/api/v1/tokens/${token.id}`, { headers: admin });
      expect(first.statusCode).toBe(200);
      const revoked = first.json<TokenView>();
      expect(revoked.id).toBe(token.id);
      expect(revoked.revokedAt).toEqual(expect.any(String));
      expectError(await inject("GET", "/api/v1/status", { headers: bearer(secret) }), "UNAUTHENTICATED");

      const second = await inject("DELETE", `/api/v1/tokens/${token.id}`, { headers: admin });
      expect(second.statusCode).toBe(200);
      expect(second.json<TokenView>()).toEqual(revoked);

      const shown = await inject("GET", `/api/v1/tokens/${token.id}`, { headers: admin });
      expect(shown.json<TokenView>().revokedAt).toBe(revoked.revokedAt);

      const events = await inject("GET", "/api/v1/events?kind=token.revoked&limit=200", {
        headers: { ...admin, accept: "application/json" },
      });
      expect(events.statusCode).toBe(200);
      const forThisToken = events
        .json<Page<EventView>>()
        .data.filter((event) => event.payload.tokenId === token.id);
      expect(forThisToken).toHaveLength(1);
      expect(forThisToken[0]?.payload).toMatchObject({ name: "to-revoke", role: "viewer" });
    });

    it("DELETE or GET of an unknown id is a 404 TOKEN_NOT_FOUND", async () => {
      const id = newId("tok");
      expectError(await inject("DELETE", `/api/v1/tokens/${id}`, { headers: admin }), "TOKEN_NOT_FOUND");
      expectError(await inject("GET", `/api/v1/tokens/${id}`, { headers: admin }), "TOKEN_NOT_FOUND");
      expectError(await inject("DELETE", "/api/v1/tokens/garbage", { headers: admin }), "TOKEN_NOT_FOUND");
    });
  });

  describe("events as JSON", () => {
    const json = (): Record<string, string> => ({ ...admin, accept: "application/json" });

    async function page(query: string): Promise<{ page: Page<EventView>; total: number }> {
      const response = await inject("GET", `/api/v1/events${query}`, { headers: json() });
      expect(response.statusCode, response.body).toBe(200);
      return { page: response.json<Page<EventView>>(), total: Number(response.headers["x-total-count"]) };
    }

    it("Accept: application/json answers a page, newest first, with X-Total-Count", async () => {
      const { page: events, total } = await page("");
      expect(events.data.length).toBeGreaterThan(0);
      expect(total).toBeGreaterThanOrEqual(events.data.length);
      const seqs = events.data.map((event) => event.seq);
      expect([...seqs].sort((a, b) => b - a)).toEqual(seqs);
      expect(typeof events.hasMore).toBe("boolean");
    });

    it("kind= filters by kind", async () => {
      await server.tokenFor("viewer");
      const { page: created } = await page("?kind=token.created");
      expect(created.data.length).toBeGreaterThan(0);
      expect(created.data.every((event) => event.kind === "token.created")).toBe(true);
      expectError(
        await inject("GET", "/api/v1/events?kind=no.such.kind", { headers: json() }),
        "VALIDATION_ERROR",
      );
    });

    it("session= filters by session", async () => {
      await server.tokenFor("agent", "sess-json-a");
      await server.tokenFor("agent", "sess-json-a");
      await server.tokenFor("agent", "sess-json-b");
      const { page: a, total } = await page("?session=sess-json-a");
      expect(a.data).toHaveLength(2);
      expect(total).toBe(2);
      expect(a.data.every((event) => event.sessionId === "sess-json-a")).toBe(true);
      const { page: none } = await page("?session=sess-json-none");
      expect(none).toEqual({ data: [], nextCursor: null, hasMore: false });
    });

    it("since= keeps only later events", async () => {
      const { page: before } = await page("?limit=1");
      const head = before.data[0]?.seq ?? 0;
      await server.tokenFor("viewer");
      await server.tokenFor("operator");
      const { page: after, total } = await page(`?since=${head}`);
      expect(after.data.map((event) => event.seq)).toEqual([head + 2, head + 1]);
      expect(total).toBe(2);
      expectError(await inject("GET", "/api/v1/events?since=-1", { headers: json() }), "VALIDATION_ERROR");
    });

    it("pages by cursor without gaps or repeats", async () => {
      for (let i = 0; i < 5; i++) await server.tokenFor("agent", "sess-json-pages");
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const query: string = `?session=sess-json-pages&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
        const { page: current } = await page(query);
        seen.push(...current.data.map((event) => event.seq));
        cursor = current.nextCursor;
        expect(current.hasMore).toBe(cursor !== null);
      } while (cursor);
      expect(seen).toHaveLength(5);
      expect([...seen].sort((a, b) => b - a)).toEqual(seen);
      expect(new Set(seen).size).toBe(5);
    });
  });

  describe("OpenAPI document", () => {
    interface Operation {
      security?: unknown[];
      responses?: Record<string, unknown>;
      requestBody?: { content?: Record<string, { schema?: Record<string, unknown> }> };
    }
    let document: { openapi: string; paths: Record<string, Record<string, Operation>> };

    beforeAll(async () => {
      const response = await inject("GET", "/api/v1/openapi.json", { headers: viewer });
      expect(response.statusCode).toBe(200);
      document = response.json();
    });

    function openApiPath(url: string): string {
      return url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
    }

    it("is an OpenAPI 3.1 document", () => {
      expect(document.openapi).toMatch(/^3\.1\.\d+$/);
    });

    it("describes every registered route except itself", () => {
      const missing: string[] = [];
      for (const route of server.app.routeTable) {
        if (route.url === "/api/v1/openapi.json") continue;
        const operation = document.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
        if (!operation) missing.push(`${route.method} ${route.url}`);
      }
      expect(missing).toEqual([]);
    });

    it("has a strict request body for POST /api/v1/tokens", () => {
      const schema =
        document.paths["/api/v1/tokens"]?.post?.requestBody?.content?.["application/json"]?.schema;
      expect(schema).toBeDefined();
      expect(schema?.additionalProperties).toBe(false);
    });

    it("marks public routes with security: [] and others not", () => {
      for (const route of server.app.routeTable) {
        const operation = document.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
        if (!operation) continue;
        if (route.access.kind === "public") expect(operation.security, route.url).toEqual([]);
        else expect(operation.security, route.url).not.toEqual([]);
      }
      for (const url of ["/healthz", "/readyz", "/metrics"]) {
        expect(document.paths[url]?.get?.security, url).toEqual([]);
      }
    });

    it("gives every operation a default error response", () => {
      const operations = Object.entries(document.paths).flatMap(([url, methods]) =>
        Object.entries(methods).map(([method, operation]) => ({ key: `${method} ${url}`, operation })),
      );
      expect(operations.length).toBeGreaterThan(0);
      for (const { key, operation } of operations) {
        expect(operation.responses?.default, key).toBeDefined();
      }
    });
  });
});

/** Run on SQLite always and on PostgreSQL when SHEPHERD_TEST_DATABASE_URL is set. */
function paginationSuite(kind: DatabaseKind): void {
  let server: TestServer;
  let admin: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer({ kind });
    admin = bearer(server.adminToken);
    // The admin token plus 199 more: 200 in all.
    for (let i = 0; i < 199; i++) {
      await server.running.tokens.create({ name: `bulk-${i}`, role: "viewer", createdBy: null });
    }
  });

  afterAll(async () => {
    await server?.stop();
  });

  async function list(query: string): Promise<{ page: Page<TokenView>; total: string | undefined }> {
    const response = await server.app.inject({
      method: "GET",
      url: `/api/v1/tokens${query}`,
      headers: admin,
    });
    expect(response.statusCode, response.body).toBe(200);
    return {
      page: response.json<Page<TokenView>>(),
      total: response.headers["x-total-count"] as string | undefined,
    };
  }

  it("a page of exactly everything: 200 items, hasMore false, nextCursor null, X-Total-Count 200", async () => {
    const { page, total } = await list("?limit=200");
    expect(page.data).toHaveLength(200);
    expect(page.hasMore).toBe(false);
    expect(page.nextCursor).toBeNull();
    expect(total).toBe("200");
  });

  it("the default limit is 50", async () => {
    const { page } = await list("");
    expect(page.data).toHaveLength(50);
    expect(page.hasMore).toBe(true);
  });

  it("one more token: hasMore true at limit=200, and the next page holds exactly the last one", async () => {
    await server.running.tokens.create({ name: "one-more", role: "viewer", createdBy: null });
    const { page: first, total } = await list("?limit=200");
    expect(total).toBe("201");
    expect(first.data).toHaveLength(200);
    expect(first.hasMore).toBe(true);
    expect(first.nextCursor).toEqual(expect.any(String));
    const { page: second } = await list(`?limit=200&cursor=${first.nextCursor ?? ""}`);
    expect(second.data).toHaveLength(1);
    expect(second.hasMore).toBe(false);
    expect(second.nextCursor).toBeNull();
    expect(first.data.map((token) => token.id)).not.toContain(second.data[0]?.id);
  });

  it("walking pages of 7 visits every token exactly once, newest first", async () => {
    const everything = (await list("?limit=200")).page.data.length;
    const { total } = await list("?limit=1");
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `?limit=7${cursor ? `&cursor=${cursor}` : ""}`;
      const { page, total: pageTotal } = await list(query);
      expect(pageTotal).toBe(total);
      expect(page.data.length).toBeLessThanOrEqual(7);
      expect(page.hasMore).toBe(page.nextCursor !== null);
      if (page.hasMore) expect(page.data).toHaveLength(7);
      ids.push(...page.data.map((token) => token.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor && pages < 100);
    expect(ids).toHaveLength(Number(total));
    expect(new Set(ids).size).toBe(ids.length);
    expect(everything).toBeLessThanOrEqual(ids.length);
    for (let i = 1; i < ids.length; i++) {
      expect((ids[i] as string) < (ids[i - 1] as string), `${ids[i]} after ${ids[i - 1]}`).toBe(true);
    }
    // Every stored token, including the admin token, is there.
    const adminId = (await server.running.tokens.authenticate(server.adminToken))?.tokenId;
    expect(ids).toContain(adminId);
  });

  it.each([
    ["random text", "this is not a cursor"],
    ["random base64url characters", "abcdefghijklmnop"],
    ["base64 of junk JSON", Buffer.from('{"k": tok_').toString("base64url")],
    ["base64 of JSON without k", Buffer.from('{"id":"x"}').toString("base64url")],
    ["a cursor of the wrong key type (a seq)", encodeCursor(42)],
    ["an id of another shape", encodeCursor("tok_../../etc")],
    ["standard base64 with padding", Buffer.from('{"k":"x"}').toString("base64")],
    ["a cursor over 512 characters", "A".repeat(600)],
  ])("a malformed cursor (%s) is a 422 VALIDATION_ERROR", async (_name, cursor) => {
    const response = await server.app.inject({
      method: "GET",
      url: `/api/v1/tokens?cursor=${encodeURIComponent(cursor)}`,
      headers: admin,
    });
    const error = expectError(response, "VALIDATION_ERROR");
    expect(issuesOf(error)[0]?.path).toBe("querystring.cursor");
  });

  it("an id cursor is a 422 on the events listing, whose keys are seqs", async () => {
    const response = await server.app.inject({
      method: "GET",
      url: `/api/v1/events?cursor=${encodeCursor(newId("tok"))}`,
      headers: { ...admin, accept: "application/json" },
    });
    expectError(response, "VALIDATION_ERROR");
  });
}

describe("pagination of tokens (sqlite)", () => paginationSuite("sqlite"));
describe.skipIf(!HAS_PG)("pagination of tokens (postgres)", () => paginationSuite("postgres"));

function opaqueErrorSuite(kind: DatabaseKind): void {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ kind });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("/readyz is 200 before and 503 after the database goes away; requests get an opaque 500", async () => {
    const ready = await server.app.inject({ method: "GET", url: "/readyz" });
    expect(ready.statusCode).toBe(200);

    await server.running.database.close();

    const response = await server.app.inject({
      method: "GET",
      url: "/api/v1/tokens",
      headers: bearer(server.adminToken),
    });
    // Authentication reads the database, so the failure surfaces there: still an opaque 500.
    const error = expectError(response, "INTERNAL");
    const requestId = response.headers["x-request-id"] as string;
    expect(error.retryable).toBe(true);
    expect(error.message).toContain(requestId);
    expect(error.details).toEqual({ requestId });
    expect(response.body.toLowerCase()).not.toContain("destroyed");
    expect(response.body).not.toMatch(/kysely|sqlite|stack/i);

    const logged = server.logs.records().find((record) => record.reqId === requestId && record.level === 50);
    expect(logged, "an error log record with the request id").toBeDefined();
    const err = logged?.err as { message?: string; stack?: string } | undefined;
    expect(err?.stack).toMatch(/\n\s+at /);
    expect(err?.message?.toLowerCase()).toContain("destroyed");

    const unready = await server.app.inject({ method: "GET", url: "/readyz" });
    expect(unready.statusCode).toBe(503);
    const body = unready.json<{ status: string; checks: Record<string, { ok: boolean }> }>();
    expect(body.status).toBe("unready");
    expect(body.checks.database?.ok).toBe(false);
    expect(unready.headers["retry-after"]).toBeDefined();
  });
}

describe("internal errors are opaque (sqlite)", () => opaqueErrorSuite("sqlite"));
describe.skipIf(!HAS_PG)("internal errors are opaque (postgres)", () => opaqueErrorSuite("postgres"));
