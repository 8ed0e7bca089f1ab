import { z } from "zod";
import { REPO_HEALTH } from "../../store/repo-observation-store.js";
import { PUBLIC, READER_ROLES, rolesAccess } from "../access.js";
import type { ApiApp, ApiContext } from "../api-context.js";

const checkSchema = z.object({ ok: z.boolean(), error: z.string().optional() });
const readinessSchema = z.object({
  status: z.enum(["ready", "unready"]),
  checks: z.record(z.string(), checkSchema),
  github: z
    .object({
      status: z.enum(["ok", "degraded"]).describe("degraded: some repo's token is refused or unreadable"),
      repos: z.array(
        z.object({
          name: z.string(),
          health: z.enum(REPO_HEALTH),
          since: z.string().nullable(),
        }),
      ),
    })
    .describe("Per-repo GitHub health as the observer last saw it (details: GET /api/v1/repos/{id})"),
});

/** Liveness, readiness and Prometheus metrics; public by default (metrics: configurable). */
export function registerHealthRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    "/healthz",
    {
      config: { access: PUBLIC },
      schema: {
        tags: ["system"],
        summary: "Liveness: the process is up",
        response: { 200: z.object({ status: z.literal("ok"), version: z.string() }) },
      },
    },
    async () => ({ status: "ok" as const, version: ctx.version }),
  );

  app.get(
    "/readyz",
    {
      config: { access: PUBLIC },
      schema: {
        tags: ["system"],
        summary: "Readiness: the database and the job queue answer; per-repo GitHub health alongside",
        response: { 200: readinessSchema, 503: readinessSchema },
      },
    },
    async (_request, reply) => {
      const readiness = await ctx.system.readiness();
      reply.status(readiness.ready ? 200 : 503);
      if (!readiness.ready) reply.header("retry-after", "5");
      return {
        status: readiness.ready ? ("ready" as const) : ("unready" as const),
        checks: readiness.checks,
        github: readiness.github,
      };
    },
  );

  app.get(
    "/metrics",
    {
      config: { access: ctx.config.server.publicMetrics ? PUBLIC : rolesAccess(READER_ROLES) },
      schema: {
        tags: ["system"],
        summary: "Prometheus metrics (text exposition format)",
        response: { 200: z.string() },
      },
    },
    async (_request, reply) => {
      const { metrics } = ctx;
      const depth = await ctx.system.queueDepth().catch(() => []);
      metrics.queueDepth.reset();
      for (const entry of depth) {
        for (const state of ["queued", "active", "failed"] as const) {
          metrics.queueDepth.set({ queue: entry.queue, state }, entry[state]);
        }
      }
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
}
