import { z } from "zod";
import { READER_ROLES, rolesAccess } from "../access.js";
import type { ApiApp, ApiContext } from "../api-context.js";

const statusSchema = z.object({
  version: z.string(),
  node: z.string(),
  role: z.enum(["api", "worker", "all"]),
  startedAt: z.string(),
  uptimeSeconds: z.number(),
  database: z.object({ dialect: z.string(), location: z.string(), migration: z.string().nullable() }),
  queue: z.object({
    kind: z.string(),
    depth: z.array(
      z.object({ queue: z.string(), queued: z.number(), active: z.number(), failed: z.number() }),
    ),
  }),
  events: z.object({ head: z.number() }),
});

export function registerStatusRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    "/api/v1/status",
    {
      config: { access: rolesAccess(READER_ROLES) },
      schema: {
        tags: ["system"],
        summary: "Versions, database, queue depth and event log head",
        querystring: z.strictObject({}),
        response: { 200: statusSchema },
      },
    },
    async () => ctx.system.status(),
  );
}
