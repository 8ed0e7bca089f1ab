import { z } from "zod";
import { PROPOSAL_STATUSES } from "../../domain/proposal.js";
import { evidenceSchema, filesChangeSchema, paramsChangeSchema } from "../../domain/proposal-schema.js";
import type { ProposalRecord } from "../../store/proposal-store.js";
import { READER_ROLES, rolesAccess } from "../access.js";
import type { ApiApp, ApiContext } from "../api-context.js";
import { pageSchema, paginate, paginationQuery } from "../pagination.js";
import { iso, plainText, recordIdSchema } from "../schemas.js";

const OPERATORS = rolesAccess(["admin", "operator"]);

const common = {
  repoId: z.string().min(1).max(100).describe("Repo id or name"),
  sessionId: recordIdSchema.optional(),
  title: plainText(256),
  evidence: evidenceSchema.optional().describe("Omit for a manual proposal"),
  followUpOf: recordIdSchema
    .optional()
    .describe(
      "A pull request id (`pr_…`): commit the change on that open PR's branch instead of opening a new PR",
    ),
};

const createBody = z.discriminatedUnion("kind", [
  z.strictObject({ ...common, kind: z.literal("params"), change: paramsChangeSchema }),
  z.strictObject({ ...common, kind: z.literal("files"), change: filesChangeSchema }),
]);

const proposalSchema = z.object({
  id: z.string(),
  repoId: z.string(),
  sessionId: z.string().nullable(),
  title: z.string(),
  kind: z.enum(["params", "files"]),
  change: z.unknown(),
  evidence: z.unknown().nullable(),
  followUpOf: z.string().nullable().describe("The pull request this change is pushed to, for a follow-up"),
  manual: z.boolean().describe("True when the proposal carries no evidence"),
  status: z.enum(PROPOSAL_STATUSES),
  rejectedReason: z.string().nullable(),
  prOpenError: z.string().nullable().describe("`<CODE>: <detail>` of the last failed attempt, while pending"),
  pr: z
    .object({
      number: z.number().int(),
      url: z.string(),
      nodeId: z.string().nullable(),
      branch: z.string().nullable(),
    })
    .nullable(),
  openJobId: z.string().nullable(),
  openRequestedAt: z.string().nullable(),
  openedAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

function view(record: ProposalRecord): z.infer<typeof proposalSchema> {
  return {
    id: record.id,
    repoId: record.repoId,
    sessionId: record.sessionId,
    title: record.title,
    kind: record.kind,
    change: record.change,
    evidence: record.evidence,
    followUpOf: record.followUpOf,
    manual: record.evidence === null,
    status: record.status,
    rejectedReason: record.rejectedReason,
    prOpenError: record.prOpenError,
    pr:
      record.prNumber === null || record.prUrl === null
        ? null
        : { number: record.prNumber, url: record.prUrl, nodeId: record.prNodeId, branch: record.branch },
    openJobId: record.openJobId,
    openRequestedAt: iso(record.openRequestedAt),
    openedAt: iso(record.openedAt),
    createdAt: iso(record.createdAt) as string,
    updatedAt: iso(record.updatedAt) as string,
  };
}

const idParams = z.strictObject({ id: z.string().min(1).max(100) });

/** `/api/v1/proposals` (SPEC C3): create, list, show; open a PR, reject, reopen. */
export function registerProposalRoutes(app: ApiApp, ctx: ApiContext): void {
  app.post(
    "/api/v1/proposals",
    {
      config: {
        access: rolesAccess(["admin", "operator"], {
          agentSession: (request) => (request.body as { sessionId?: string } | undefined)?.sessionId,
        }),
      },
      schema: {
        tags: ["proposals"],
        summary: "Propose a change to a repository (params edit or files)",
        body: createBody,
        response: { 201: proposalSchema },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const repo = await ctx.repos.get(body.repoId);
      const record = await ctx.proposals.create(
        {
          repoId: repo.id,
          sessionId: body.sessionId ?? null,
          title: body.title,
          kind: body.kind,
          change: body.change,
          evidence: body.evidence ?? null,
          followUpOf: body.followUpOf ?? null,
        },
        request.principal,
      );
      reply.status(201);
      return view(record);
    },
  );

  app.get(
    "/api/v1/proposals",
    {
      config: {
        access: rolesAccess(READER_ROLES, {
          agentSession: (request) => (request.query as { session?: string }).session,
        }),
      },
      schema: {
        tags: ["proposals"],
        summary: "List proposals, newest first",
        querystring: z.strictObject({
          status: z.enum(PROPOSAL_STATUSES).optional(),
          repo: z.string().min(1).max(100).optional().describe("Repo id or name"),
          session: recordIdSchema.optional(),
          ...paginationQuery,
        }),
        response: { 200: pageSchema(proposalSchema) },
      },
    },
    async (request, reply) => {
      const query = request.query;
      const repoId = query.repo === undefined ? undefined : (await ctx.repos.get(query.repo)).id;
      const filter = { status: query.status, repoId, sessionId: query.session };
      const page = await paginate(reply, query, {
        keyType: "id",
        fetch: (before: string | undefined, limit) => ctx.proposals.list({ ...filter, before, limit }),
        count: () => ctx.proposals.count(filter),
        keyOf: (record) => record.id,
      });
      return { ...page, data: page.data.map(view) };
    },
  );

  app.get(
    "/api/v1/proposals/:id",
    {
      config: { access: rolesAccess(READER_ROLES) },
      schema: {
        tags: ["proposals"],
        summary: "Show a proposal, with its PR or its last open error",
        params: idParams,
        querystring: z.strictObject({}),
        response: { 200: proposalSchema },
      },
    },
    async (request) => view(await ctx.proposals.get(request.params.id)),
  );

  app.post(
    "/api/v1/proposals/:id/open-pr",
    {
      config: { access: OPERATORS },
      schema: {
        tags: ["proposals"],
        summary:
          "Approve: open the proposal's pull request (queued; the proposal stays pending until it opens)",
        params: idParams,
        response: {
          202: z.object({
            proposalId: z.string(),
            status: z.literal("pending"),
            jobId: z.string(),
            deduplicated: z.boolean(),
          }),
        },
      },
    },
    async (request, reply) => {
      const result = await ctx.proposals.openPr(request.params.id, request.principal);
      reply.status(202);
      return result;
    },
  );

  app.post(
    "/api/v1/proposals/:id/reject",
    {
      config: { access: OPERATORS },
      schema: {
        tags: ["proposals"],
        summary: "Reject a pending proposal",
        params: idParams,
        body: z.strictObject({ reason: z.string().trim().min(1).max(2000) }),
        response: { 200: proposalSchema },
      },
    },
    async (request) =>
      view(await ctx.proposals.reject(request.params.id, request.body.reason, request.principal)),
  );

  app.post(
    "/api/v1/proposals/:id/reopen",
    {
      config: { access: OPERATORS },
      schema: {
        tags: ["proposals"],
        summary: "Send a proposal whose PR was closed unmerged back to pending",
        params: idParams,
        response: { 200: proposalSchema },
      },
    },
    async (request) => view(await ctx.proposals.reopen(request.params.id, request.principal)),
  );
}
