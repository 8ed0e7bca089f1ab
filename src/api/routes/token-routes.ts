import { z } from "zod";
import { AppError } from "../../domain/errors.js";
import { ROLES } from "../../domain/roles.js";
import type { TokenRecord } from "../../store/token-store.js";
import { rolesAccess } from "../access.js";
import type { ApiApp, ApiContext } from "../api-context.js";
import { pageSchema, paginate, paginationQuery } from "../pagination.js";
import { iso, plainText, recordIdSchema } from "../schemas.js";

const ADMIN = rolesAccess(["admin"]);

const tokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  sessionId: z.string().nullable(),
  hint: z.string().describe("Prefix and last four characters, to recognise a token; not the token"),
  createdAt: z.string(),
  createdBy: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});

function tokenView(record: TokenRecord): z.infer<typeof tokenSchema> {
  return {
    id: record.id,
    name: record.name,
    role: record.role,
    sessionId: record.sessionId,
    hint: record.hint,
    createdAt: iso(record.createdAt) as string,
    createdBy: record.createdBy,
    lastUsedAt: iso(record.lastUsedAt),
    expiresAt: iso(record.expiresAt),
    revokedAt: iso(record.revokedAt),
  };
}

const idParams = z.strictObject({ id: z.string().min(1).max(64) });

/** `/api/v1/tokens`: create, list, show and revoke API tokens (admin only). */
export function registerTokenRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    "/api/v1/tokens",
    {
      config: { access: ADMIN },
      schema: {
        tags: ["tokens"],
        summary: "List API tokens, newest first",
        querystring: z.strictObject(paginationQuery),
        response: { 200: pageSchema(tokenSchema) },
      },
    },
    async (request, reply) => {
      const page = await paginate(reply, request.query, {
        keyType: "id",
        fetch: (before: string | undefined, limit) => ctx.tokens.list({ before, limit }),
        count: () => ctx.tokens.count(),
        keyOf: (record) => record.id,
      });
      return { ...page, data: page.data.map(tokenView) };
    },
  );

  app.post(
    "/api/v1/tokens",
    {
      config: { access: ADMIN, returnsSecret: true },
      schema: {
        tags: ["tokens"],
        summary: "Create a token; the response carries the token itself, shown this once",
        body: z.strictObject({
          name: plainText(100),
          role: z.enum(ROLES),
          sessionId: recordIdSchema.optional().describe("Required for, and only for, agent tokens"),
          expiresAt: z.iso.datetime({ offset: true }).optional(),
        }),
        response: { 201: z.object({ token: tokenSchema, secret: z.string() }) },
      },
    },
    async (request, reply) => {
      const { name, role, sessionId, expiresAt } = request.body;
      const { record, secret } = await ctx.tokens.create({
        name,
        role,
        sessionId: sessionId ?? null,
        expiresAt: expiresAt === undefined ? null : Date.parse(expiresAt),
        createdBy: request.principal?.tokenId ?? null,
      });
      reply.status(201);
      return { token: tokenView(record), secret };
    },
  );

  app.get(
    "/api/v1/tokens/:id",
    {
      config: { access: ADMIN },
      schema: {
        tags: ["tokens"],
        summary: "Show one token",
        params: idParams,
        querystring: z.strictObject({}),
        response: { 200: tokenSchema },
      },
    },
    async (request) => {
      const record = await ctx.tokens.get(request.params.id);
      if (!record) throw new AppError("TOKEN_NOT_FOUND", `no token with id ${request.params.id}`);
      return tokenView(record);
    },
  );

  app.delete(
    "/api/v1/tokens/:id",
    {
      config: { access: ADMIN },
      schema: {
        tags: ["tokens"],
        summary: "Revoke a token (idempotent: revoking a revoked token returns it unchanged)",
        params: idParams,
        querystring: z.strictObject({}),
        response: { 200: tokenSchema },
      },
    },
    async (request) => {
      const principal = request.principal;
      if (!principal) throw new AppError("UNAUTHENTICATED", "this endpoint needs a token");
      return tokenView(await ctx.tokens.revoke(request.params.id, principal));
    },
  );
}
