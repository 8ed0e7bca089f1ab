import type {} from "@fastify/websocket";
import { z } from "zod";
import { EVENT_KINDS } from "../../domain/event-kinds.js";
import { AppError } from "../../domain/errors.js";
import { eventView } from "../../services/event-envelope.js";
import { READER_ROLES, rolesAccess } from "../access.js";
import type { ApiApp, ApiContext } from "../api-context.js";
import { resumePoint, serveSse, serveWebSocket } from "../event-streaming.js";
import { pageSchema, paginate, paginationQuery } from "../pagination.js";
import { recordIdSchema } from "../schemas.js";

const eventSchema = z.object({
  seq: z.number().int(),
  kind: z.string(),
  sessionId: z.string().nullable(),
  ts: z.string(),
  payload: z.unknown(),
});

const since = z.coerce.number().int().min(0).optional().describe("Deliver events with seq greater than this");
const accessToken = z
  .string()
  .max(200)
  .optional()
  .describe("For browsers, which cannot set headers on EventSource/WebSocket: the bearer token");

const streamAccess = rolesAccess(READER_ROLES, {
  queryToken: true,
  agentSession: (request) => (request.query as { session?: string }).session,
});

function wantsJson(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes("application/json") && !accept.includes("text/event-stream");
}

/** The event log over HTTP: SSE (default), a JSON page (`Accept: application/json`), WebSocket. */
export function registerEventRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    "/api/v1/events",
    {
      config: { access: streamAccess },
      schema: {
        tags: ["events"],
        summary: "Event stream (SSE), or a page of events with Accept: application/json",
        description:
          "By default a Server-Sent Events stream: each event has `id:` = seq (resume with Last-Event-ID " +
          "or ?since=), `event:` = kind and `data:` = the JSON envelope; without since it starts live. " +
          "With `Accept: application/json` it answers one page of events, newest first.",
        querystring: z.strictObject({
          since,
          session: recordIdSchema.optional(),
          kind: z.enum(EVENT_KINDS).optional(),
          access_token: accessToken,
          ...paginationQuery,
        }),
        response: { 200: pageSchema(eventSchema) },
      },
    },
    async (request, reply) => {
      const query = request.query;
      if (!wantsJson(request.headers.accept)) {
        await serveSse(ctx, request, reply, {
          since: resumePoint(request, query.since),
          sessionId: query.session,
        });
        return reply;
      }
      const filter = { sessionId: query.session, kind: query.kind, after: query.since };
      const page = await paginate(reply, query, {
        keyType: "seq",
        fetch: (before: number | undefined, limit) => ctx.events.list({ ...filter, before, limit }),
        count: () => ctx.events.count(filter),
        keyOf: (event) => event.seq,
      });
      return { ...page, data: page.data.map(eventView) };
    },
  );

  app.get(
    "/api/v1/sessions/:id/events",
    {
      config: {
        access: rolesAccess(READER_ROLES, {
          queryToken: true,
          agentSession: (request) => (request.params as { id?: string }).id,
        }),
      },
      schema: {
        tags: ["events"],
        summary: "One session's event stream (SSE)",
        params: z.strictObject({ id: recordIdSchema }),
        querystring: z.strictObject({ since, access_token: accessToken }),
      },
    },
    async (request, reply) => {
      await serveSse(ctx, request, reply, {
        since: resumePoint(request, request.query.since),
        sessionId: request.params.id,
      });
      return reply;
    },
  );

  // Declared with wsHandler (not `websocket: true`) so that it stays in the OpenAPI document and a
  // plain GET gets a clear 426 instead of a bare 404.
  app.route({
    method: "GET",
    url: "/api/v1/ws/events",
    config: { access: streamAccess },
    schema: {
      tags: ["events"],
      summary: "Event stream over WebSocket: one JSON envelope per message",
      description:
        "Connect with a WebSocket upgrade (101 Switching Protocols). Each message is one event " +
        "{seq, kind, sessionId, ts, payload}; to resume, reconnect with ?since=<last seq received>. " +
        "The server closes with code 1001 when it shuts down. A plain GET answers 426 UPGRADE_REQUIRED.",
      querystring: z.strictObject({ since, session: recordIdSchema.optional(), access_token: accessToken }),
    },
    handler: async () => {
      throw new AppError(
        "UPGRADE_REQUIRED",
        "this endpoint speaks WebSocket: connect with `Upgrade: websocket`",
      );
    },
    wsHandler: async (socket, request) => {
      await serveWebSocket(ctx, socket, request, {
        since: request.query.since,
        sessionId: request.query.session,
      });
    },
  });
}
