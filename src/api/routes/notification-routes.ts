import { z } from "zod";
import { PRIORITIES } from "../../domain/reaction-config.js";
import type { NotificationDetails } from "../../services/notification-service.js";
import { DELIVERY_STATES, NOTIFICATION_LIST_STATES } from "../../store/notification-store.js";
import { READER_ROLES, rolesAccess } from "../access.js";
import type { ApiApp, ApiContext } from "../api-context.js";
import { pageSchema, paginate, paginationQuery } from "../pagination.js";
import { iso } from "../schemas.js";

const deliverySchema = z.object({
  id: z.string(),
  target: z.string().describe("`dashboard` (the inbox) or `webhook:<name>`"),
  state: z.enum(DELIVERY_STATES).describe("`pending` while attempts remain, then `delivered` or `failed`"),
  attempts: z.number().int(),
  lastError: z
    .string()
    .nullable()
    .describe("The last failed attempt: HTTP status and the start of the answer (never the URL)"),
  deliveredAt: z.string().nullable(),
  updatedAt: z.string(),
});

const notificationSchema = z.object({
  id: z.string(),
  kind: z
    .string()
    .describe("What it is about: a reaction (`ci_failed`, `reaction.escalated`…) or another source"),
  priority: z.enum(PRIORITIES),
  title: z.string(),
  body: z.string(),
  repoId: z.string().nullable(),
  prId: z.string().nullable(),
  sessionId: z.string().nullable(),
  state: z.enum(["open", "acknowledged"]),
  createdAt: z.string(),
  acknowledgedAt: z.string().nullable(),
  acknowledgedBy: z.string().nullable().describe("Id of the token that acknowledged it"),
  deliveries: z.array(deliverySchema),
});

function view(record: NotificationDetails): z.infer<typeof notificationSchema> {
  return {
    id: record.id,
    kind: record.kind,
    priority: record.priority,
    title: record.title,
    body: record.body,
    repoId: record.repoId,
    prId: record.prId,
    sessionId: record.sessionId,
    state: record.acknowledgedAt === null ? "open" : "acknowledged",
    createdAt: iso(record.createdAt) as string,
    acknowledgedAt: iso(record.acknowledgedAt),
    acknowledgedBy: record.acknowledgedBy,
    deliveries: record.deliveries.map((delivery) => ({
      id: delivery.id,
      target: delivery.target,
      state: delivery.state,
      attempts: delivery.attempts,
      lastError: delivery.lastError,
      deliveredAt: iso(delivery.deliveredAt),
      updatedAt: iso(delivery.updatedAt) as string,
    })),
  };
}

const idParams = z.strictObject({ id: z.string().min(1).max(100) });

/** `/api/v1/notifications` (SPEC C5): the inbox, each notification's deliveries, acknowledging. */
export function registerNotificationRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    "/api/v1/notifications",
    {
      config: { access: rolesAccess(READER_ROLES) },
      schema: {
        tags: ["notifications"],
        summary: "List notifications, newest first (open ones unless state says otherwise)",
        querystring: z.strictObject({
          state: z.enum(NOTIFICATION_LIST_STATES).default("open"),
          priority: z.enum(PRIORITIES).optional(),
          ...paginationQuery,
        }),
        response: { 200: pageSchema(notificationSchema) },
      },
    },
    async (request, reply) => {
      const query = request.query;
      const filter = { state: query.state, priority: query.priority };
      const page = await paginate(reply, query, {
        keyType: "id",
        fetch: (before: string | undefined, limit) => ctx.notifications.list({ ...filter, before, limit }),
        count: () => ctx.notifications.count(filter),
        keyOf: (record) => record.id,
      });
      return { ...page, data: page.data.map(view) };
    },
  );

  app.get(
    "/api/v1/notifications/:id",
    {
      config: { access: rolesAccess(READER_ROLES) },
      schema: {
        tags: ["notifications"],
        summary: "Show a notification and its delivery to each target",
        params: idParams,
        querystring: z.strictObject({}),
        response: { 200: notificationSchema },
      },
    },
    async (request) => view(await ctx.notifications.get(request.params.id)),
  );

  app.post(
    "/api/v1/notifications/:id/acknowledge",
    {
      config: { access: rolesAccess(["admin", "operator"]) },
      schema: {
        tags: ["notifications"],
        summary: "Acknowledge a notification (records who and when; again is a no-op)",
        params: idParams,
        response: { 200: notificationSchema },
      },
    },
    async (request) => view(await ctx.notifications.acknowledge(request.params.id, request.principal)),
  );
}
