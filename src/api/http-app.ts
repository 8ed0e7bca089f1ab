import { randomBytes } from "node:crypto";
import fastifySwagger from "@fastify/swagger";
import fastifyWebsocket from "@fastify/websocket";
import Fastify, { LogController, type FastifyBaseLogger } from "fastify";
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import { z } from "zod";
import type { Logger } from "../observability/logger.js";
import type { Access } from "./access.js";
import type { ApiApp, ApiContext } from "./api-context.js";
import { installAuth } from "./auth.js";
import { errorEnvelopeSchema, handleFrameworkError, installErrorHandling } from "./error-envelope.js";
import { registerEventRoutes } from "./routes/event-routes.js";
import { registerHealthRoutes } from "./routes/health-routes.js";
import { registerNotificationRoutes } from "./routes/notification-routes.js";
import { registerOpenApiRoutes } from "./routes/openapi-routes.js";
import { registerProposalRoutes } from "./routes/proposal-routes.js";
import { registerPullRequestRoutes } from "./routes/pull-request-routes.js";
import { registerSessionRoutes } from "./routes/session-routes.js";
import { registerRepoRoutes } from "./routes/repo-routes.js";
import { registerStatusRoutes } from "./routes/status-routes.js";
import { registerTokenRoutes } from "./routes/token-routes.js";
import { registerWebhookRoutes } from "./routes/webhook-routes.js";

/** One registered route and who may call it; tests iterate this table. */
export interface RouteEntry {
  method: string;
  url: string;
  access: Access;
  websocket: boolean;
}

declare module "fastify" {
  interface FastifyInstance {
    routeTable: RouteEntry[];
  }
}

const QUIET_ROUTES = new Set(["/healthz", "/readyz", "/metrics"]);
const errorJsonSchema = z.toJSONSchema(errorEnvelopeSchema, { target: "draft-2020-12" });

/** Builds the HTTP application (not listening). The composition root starts it. */
export async function buildHttpApp(ctx: ApiContext, logger: Logger): Promise<ApiApp> {
  const app = Fastify({
    // pino's Logger and Fastify's base logger differ only in optional members.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    loggerInstance: logger as FastifyBaseLogger,
    // One log line per request is written by the onResponse hook below instead.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => `req_${randomBytes(8).toString("hex")}`,
    requestIdHeader: false,
    bodyLimit: ctx.config.server.bodyLimitBytes,
    exposeHeadRoutes: false,
    forceCloseConnections: "idle",
    frameworkErrors: handleFrameworkError,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const routeTable: RouteEntry[] = [];
  app.decorate("routeTable", routeTable);
  app.addHook("onRoute", (route) => {
    const access = route.config?.access;
    if (!access) throw new Error(`route ${String(route.method)} ${route.url} declares no access rule`);
    for (const method of [route.method].flat()) {
      routeTable.push({
        method,
        url: route.url,
        access,
        websocket: Boolean(route.websocket || route.wsHandler),
      });
    }
  });

  // JSON only: any other body type is a 415, not a string for the validators to puzzle over.
  app.removeContentTypeParser("text/plain");
  installErrorHandling(app);
  // First hook, so that even a request refused by auth carries its id.
  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  // Last line of defence: no known secret or token shape leaves in a response body.
  app.addHook("onSend", async (request, _reply, payload) => {
    if (typeof payload !== "string" || request.routeOptions.config.returnsSecret) return payload;
    return ctx.redactor.redact(payload);
  });
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "(unmatched)";
    const status = reply.statusCode;
    ctx.metrics.httpDuration.observe(
      { method: request.method, route, status: String(status) },
      reply.elapsedTime / 1000,
    );
    const level = QUIET_ROUTES.has(route) && status < 400 ? "debug" : "info";
    request.log[level](
      { method: request.method, route, status, ms: Math.round(reply.elapsedTime) },
      "request",
    );
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Shepherd API",
        version: ctx.version,
        description:
          "Control plane for AI agents that change code through pull requests. Errors use one envelope " +
          "(ErrorEnvelope); lists are cursor-paginated newest first with an X-Total-Count header.",
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
    transform: (input) => {
      const output = jsonSchemaTransform(input);
      const schema = output.schema as Record<string, unknown> & { response?: Record<string, unknown> };
      const access = input.route.config?.access;
      if (access?.kind === "public") schema.security = [];
      schema.response = { ...schema.response, default: { description: "Error", ...errorJsonSchema } };
      return output;
    },
  });
  await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } });
  // After the WebSocket plugin's own onRequest hook: an upgrade refused here must still be
  // cleaned up by the plugin, or its socket stays open and blocks shutdown.
  installAuth(app, ctx.tokens);

  registerHealthRoutes(app, ctx);
  registerOpenApiRoutes(app);
  registerStatusRoutes(app, ctx);
  registerTokenRoutes(app, ctx);
  registerEventRoutes(app, ctx);
  registerRepoRoutes(app, ctx);
  registerProposalRoutes(app, ctx);
  registerPullRequestRoutes(app, ctx);
  await registerWebhookRoutes(app, ctx);
  registerNotificationRoutes(app, ctx);
  registerSessionRoutes(app, ctx);

  await app.ready();
  return app;
}
