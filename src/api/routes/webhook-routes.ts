import type { FastifyRequest } from "fastify";
import { validatorCompiler } from "fastify-type-provider-zod";
import { z } from "zod";
import { WEBHOOK_BODY_LIMIT_BYTES } from "../../services/webhook-intake.js";
import { PUBLIC } from "../access.js";
import type { ApiApp, ApiContext } from "../api-context.js";

const outcomeSchema = z.object({
  status: z.enum(["accepted", "pong", "ignored", "duplicate"]),
  dirty: z.number().int().optional().describe("Tracked pull requests marked for a refresh"),
});

const headersSchema = z.looseObject({
  "x-github-event": z.string().optional().describe("The event name, e.g. pull_request"),
  "x-github-delivery": z.string().optional().describe("The delivery id; a redelivery repeats it"),
  "x-hub-signature-256": z
    .string()
    .optional()
    .describe("sha256=<HMAC-SHA256 of the raw body with the repo's webhook secret>"),
});

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

/**
 * `POST /webhooks/github` (SPEC C4 "Webhooks"), outside `/api/v1` and without a bearer token: it
 * authenticates by signature. An encapsulated plugin, so that its parsers — which keep the exact
 * bytes the HMAC is computed over, JSON or `payload=` forms, up to GitHub's 25 MB — apply to it alone.
 */
export async function registerWebhookRoutes(app: ApiApp, ctx: ApiContext): Promise<void> {
  await app.register(async (webhooks: ApiApp) => {
    webhooks.removeAllContentTypeParsers();
    for (const type of ["application/json", "application/x-www-form-urlencoded"]) {
      webhooks.addContentTypeParser(
        type,
        { parseAs: "buffer", bodyLimit: WEBHOOK_BODY_LIMIT_BYTES },
        (_request, body, done) => done(null, body),
      );
    }

    webhooks.post(
      "/webhooks/github",
      {
        config: { access: PUBLIC },
        bodyLimit: WEBHOOK_BODY_LIMIT_BYTES,
        // The body is checked by its signature, then parsed from the raw bytes by the service;
        // its schema is here for the OpenAPI document only.
        validatorCompiler: (route) =>
          route.httpPart === "body"
            ? () => true
            : validatorCompiler(route as unknown as Parameters<typeof validatorCompiler>[0]),
        schema: {
          tags: ["webhooks"],
          summary: "Receive a GitHub webhook delivery (authenticated by X-Hub-Signature-256)",
          description:
            "Verified against the webhook secret of the registered repo named by repository.full_name; " +
            "idempotent by X-GitHub-Delivery. Handled events mark the affected pull requests for a refresh (202); " +
            "ping answers pong, other events are recorded and ignored, a repeated delivery answers duplicate (200).",
          consumes: ["application/json", "application/x-www-form-urlencoded"],
          headers: headersSchema,
          body: z.record(z.string(), z.unknown()).describe("The GitHub webhook payload"),
          response: { 200: outcomeSchema, 202: outcomeSchema },
        },
      },
      async (request, reply) => {
        const body: unknown = request.body;
        const outcome = await ctx.webhookIntake.receive(
          {
            event: header(request, "x-github-event"),
            deliveryId: header(request, "x-github-delivery"),
            signature: header(request, "x-hub-signature-256"),
            contentType: header(request, "content-type"),
            body: Buffer.isBuffer(body) ? body : undefined,
          },
          request.log,
        );
        reply.status(outcome.httpStatus);
        return { status: outcome.status, ...(outcome.dirty === undefined ? {} : { dirty: outcome.dirty }) };
      },
    );
  });
}
