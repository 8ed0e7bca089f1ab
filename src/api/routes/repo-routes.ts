import { z } from "zod";
import { FOLLOW_UP_MODES, MERGE_METHODS, REPO_ID, REPO_NAME } from "../../domain/repo.js";
import { REPO_HEALTH } from "../../store/repo-observation-store.js";
import type { RepoRecord } from "../../store/repo-store.js";
import type { RepoObservationView } from "../../services/repo-service.js";
import { READER_ROLES, rolesAccess } from "../access.js";
import type { ApiApp, ApiContext } from "../api-context.js";
import { pageSchema, paginate, paginationQuery } from "../pagination.js";
import { iso } from "../schemas.js";

const ADMIN = rolesAccess(["admin"]);
const branchName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^(?!-)[A-Za-z0-9._/-]+$/, "must be a branch name (letters, digits, . _ / -; not starting with -)")
  .refine(
    (name) => !name.includes("..") && !name.endsWith("/") && !name.endsWith(".lock"),
    "is not a valid branch name",
  );
const secretRef = z
  .string()
  .min(1)
  .max(300)
  .regex(/^(file|env):/, "must be a secret ref: file:<name> or env:<VAR>");

const repoSchema = z.object({
  id: z.string(),
  name: z.string(),
  url: z.string(),
  owner: z.string(),
  repo: z.string(),
  baseBranch: z.string(),
  tokenRef: z.string().describe("Where the token is (never the token)"),
  webhookSecretRef: z.string().nullable(),
  autoMerge: z.boolean(),
  mergeMethod: z.enum(MERGE_METHODS),
  followUps: z.enum(FOLLOW_UP_MODES),
  createdAt: z.string(),
  updatedAt: z.string(),
  version: z.number().int(),
  observation: z
    .object({
      health: z
        .enum(REPO_HEALTH)
        .describe(
          "ok; auth_failed: GitHub refused the token (sticky until it changes); no_token; unknown: not observed yet",
        ),
      healthReason: z.string().nullable(),
      healthSince: z.string().nullable(),
      lastPolledAt: z.string().nullable(),
      lastSuccessAt: z.string().nullable().describe("Last answer that really used the token (not a 304)"),
      webhook: z.object({
        hookId: z.number().int().nullable(),
        lastDeliveryAt: z.string().nullable(),
        healthy: z.boolean().describe("While true, the observer polls only at the reconcile interval"),
      }),
    })
    .describe("What the PR observer knows of this repo"),
});

const idParams = z.strictObject({ id: z.string().min(1).max(100).describe("Repo id or name") });

const checkSchema = z.object({
  ok: z.boolean(),
  repository: z.string(),
  tokenRef: z.string(),
  access: z
    .object({
      defaultBranch: z.string(),
      private: z.boolean(),
      push: z.boolean(),
      admin: z.boolean(),
      scopes: z.array(z.string()).nullable(),
    })
    .nullable(),
  rateLimit: z.object({ remaining: z.number(), limit: z.number(), reset: z.number() }).nullable(),
  problems: z.array(z.string()),
});

const webhookSchema = z.object({
  repoId: z.string(),
  name: z.string(),
  repository: z.string().describe("owner/repo on GitHub"),
  hookId: z.number().int(),
  url: z.string().describe("Where GitHub delivers: <server.publicUrl>/webhooks/github"),
  created: z.boolean().describe("False when a hook with this URL already existed"),
  active: z.boolean(),
  events: z.array(z.string()),
});

/** `/api/v1/repos` (SPEC C2): register, list, show, change, remove and check repositories. */
export function registerRepoRoutes(app: ApiApp, ctx: ApiContext): void {
  const view = (
    record: RepoRecord,
    observation: RepoObservationView | undefined,
  ): z.infer<typeof repoSchema> => ({
    id: record.id,
    name: record.name,
    url: ctx.repos.webUrlOf(record),
    owner: record.owner,
    repo: record.repo,
    baseBranch: record.baseBranch,
    tokenRef: record.tokenRef,
    webhookSecretRef: record.webhookSecretRef,
    autoMerge: record.autoMerge,
    mergeMethod: record.mergeMethod,
    followUps: record.followUps,
    createdAt: iso(record.createdAt) as string,
    updatedAt: iso(record.updatedAt) as string,
    version: record.version,
    observation: {
      health: observation?.health ?? "unknown",
      healthReason: observation?.healthReason ?? null,
      healthSince: iso(observation?.healthSince ?? null),
      lastPolledAt: iso(observation?.lastPolledAt ?? null),
      lastSuccessAt: iso(observation?.lastSuccessAt ?? null),
      webhook: {
        hookId: observation?.webhookHookId ?? null,
        lastDeliveryAt: iso(observation?.webhookLastDeliveryAt ?? null),
        healthy: observation?.webhookHealthy ?? false,
      },
    },
  });
  const views = async (records: RepoRecord[]): Promise<z.infer<typeof repoSchema>[]> => {
    const observations = await ctx.repos.observationsOf(records);
    return records.map((record) => view(record, observations.get(record.id)));
  };
  const one = async (record: RepoRecord): Promise<z.infer<typeof repoSchema>> =>
    (await views([record]))[0] as z.infer<typeof repoSchema>;

  app.post(
    "/api/v1/repos",
    {
      config: { access: ADMIN },
      schema: {
        tags: ["repos"],
        summary: "Register a repository with its own token ref",
        body: z.strictObject({
          name: z
            .string()
            .regex(REPO_NAME, "must be lower-case letters, digits, . _ - (1–63 characters)")
            .refine((name) => !REPO_ID.test(name), "must not look like a repo id (repo_…)"),
          url: z.string().min(1).max(500),
          baseBranch: branchName.default("main"),
          tokenRef: secretRef,
          webhookSecretRef: secretRef.optional(),
          autoMerge: z.boolean().default(false),
          mergeMethod: z.enum(MERGE_METHODS).default("squash"),
          followUps: z.enum(FOLLOW_UP_MODES).default("approve"),
        }),
        response: { 201: repoSchema },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const record = await ctx.repos.create(
        { ...body, webhookSecretRef: body.webhookSecretRef ?? null },
        request.principal,
      );
      reply.status(201);
      return one(record);
    },
  );

  app.get(
    "/api/v1/repos",
    {
      config: { access: rolesAccess(READER_ROLES) },
      schema: {
        tags: ["repos"],
        summary: "List repositories, newest first",
        querystring: z.strictObject(paginationQuery),
        response: { 200: pageSchema(repoSchema) },
      },
    },
    async (request, reply) => {
      const page = await paginate(reply, request.query, {
        keyType: "id",
        fetch: (before: string | undefined, limit) => ctx.repos.list({ before, limit }),
        count: () => ctx.repos.count(),
        keyOf: (record) => record.id,
      });
      return { ...page, data: await views(page.data) };
    },
  );

  app.get(
    "/api/v1/repos/:id",
    {
      config: { access: rolesAccess(READER_ROLES) },
      schema: {
        tags: ["repos"],
        summary: "Show a repository (by id or name)",
        params: idParams,
        querystring: z.strictObject({}),
        response: { 200: repoSchema },
      },
    },
    async (request) => one(await ctx.repos.get(request.params.id)),
  );

  app.patch(
    "/api/v1/repos/:id",
    {
      config: { access: ADMIN },
      schema: {
        tags: ["repos"],
        summary: "Change a repository's settings (e.g. point it at a rotated token ref)",
        params: idParams,
        body: z
          .strictObject({
            baseBranch: branchName.optional(),
            tokenRef: secretRef.optional(),
            webhookSecretRef: secretRef.nullable().optional(),
            autoMerge: z.boolean().optional(),
            mergeMethod: z.enum(MERGE_METHODS).optional(),
            followUps: z.enum(FOLLOW_UP_MODES).optional(),
            version: z
              .number()
              .int()
              .min(1)
              .optional()
              .describe("Refuse the change if the repo is no longer at this version"),
          })
          .refine((body) => Object.keys(body).some((key) => key !== "version"), "nothing to change"),
        response: { 200: repoSchema },
      },
    },
    async (request) => {
      const { version, ...patch } = request.body;
      return one(await ctx.repos.update(request.params.id, patch, version, request.principal));
    },
  );

  app.delete(
    "/api/v1/repos/:id",
    {
      config: { access: ADMIN },
      schema: {
        tags: ["repos"],
        summary: "Remove a repository (its proposals keep their history; its clone is deleted)",
        params: idParams,
        querystring: z.strictObject({}),
        response: { 200: repoSchema },
      },
    },
    async (request) => one(await ctx.repos.remove(request.params.id, request.principal)),
  );

  app.post(
    "/api/v1/repos/:id/check",
    {
      config: { access: rolesAccess(["admin", "operator"]) },
      schema: {
        tags: ["repos"],
        summary: "Ask GitHub what the repository's token may do there",
        params: idParams,
        response: { 200: checkSchema },
      },
    },
    async (request) => ctx.repos.check(request.params.id),
  );

  app.post(
    "/api/v1/repos/:id/webhook",
    {
      config: { access: ADMIN },
      schema: {
        tags: ["repos"],
        summary: "Create the repository's GitHub webhook to this server (once: an existing one is reported)",
        params: idParams,
        querystring: z.strictObject({}),
        response: { 200: webhookSchema, 201: webhookSchema },
      },
    },
    async (request, reply) => {
      const result = await ctx.webhookRegistration.register(request.params.id);
      reply.status(result.created ? 201 : 200);
      return result;
    },
  );
}
