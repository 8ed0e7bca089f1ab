import { z } from "zod";
import { CI_STATES, MERGEABLE_STATES, PR_STATES, REVIEW_DECISIONS } from "../../domain/pull-request.js";
import { REACTION_KEYS } from "../../domain/reaction-config.js";
import type { PullRequestRecord } from "../../store/pull-request-store.js";
import type { RepoRecord } from "../../store/repo-store.js";
import { READER_ROLES, rolesAccess } from "../access.js";
import type { ApiApp, ApiContext } from "../api-context.js";
import { pageSchema, paginate, paginationQuery } from "../pagination.js";
import { iso, recordIdSchema } from "../schemas.js";

const checkSchema = z.object({
  name: z.string(),
  kind: z.enum(["check_run", "status"]),
  state: z.enum(["pending", "success", "failure", "neutral"]),
  conclusion: z.string().nullable(),
  url: z.string().nullable(),
  logTail: z.string().nullable().describe("Last lines of the job log, read once when the check failed"),
});

const commentSchema = z.object({
  id: z.string(),
  author: z.string(),
  isBot: z.boolean(),
  body: z.string(),
  url: z.string(),
  createdAt: z.string(),
});

const summarySchema = z.object({
  id: z.string(),
  repoId: z.string(),
  repo: z.string().nullable().describe("The repo's name (null if the repo record is gone)"),
  number: z.number().int(),
  url: z.string(),
  title: z.string(),
  author: z.string().nullable(),
  state: z.enum(PR_STATES),
  draft: z.boolean(),
  headRef: z.string(),
  headSha: z.string(),
  baseRef: z.string(),
  sessionId: z.string().nullable(),
  proposalId: z.string().nullable(),
  ci: z.enum(CI_STATES),
  failingChecks: z.array(z.string()),
  mergeable: z.enum(MERGEABLE_STATES).describe("UNKNOWN: GitHub is still computing it; never a conflict"),
  mergeStateStatus: z.string().nullable(),
  reviewDecision: z.enum(REVIEW_DECISIONS).nullable(),
  unresolvedThreads: z.number().int(),
  observedAt: z
    .string()
    .nullable()
    .describe("When GitHub was last read for this PR; null before the first read"),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const detailSchema = summarySchema.extend({
  checks: z.array(checkSchema),
  checksPartial: z.boolean().describe("More checks exist than were read"),
  review: z
    .object({
      threads: z.array(
        z.object({
          id: z.string(),
          path: z.string().nullable(),
          line: z.number().int().nullable(),
          outdated: z.boolean(),
          comments: z.array(commentSchema),
        }),
      ),
      changeRequests: z.array(commentSchema.omit({ createdAt: true }).extend({ submittedAt: z.string() })),
      partial: z.boolean(),
    })
    .nullable()
    .describe("Unresolved review feedback; null until the threads were read"),
  reactions: z.partialRecord(
    z.enum(REACTION_KEYS),
    z.object({
      episode: z.number().int(),
      active: z.boolean(),
      since: z.string(),
      attempts: z.number().int(),
      escalated: z.boolean(),
    }),
  ),
});

function summary(record: PullRequestRecord, repo: RepoRecord | undefined): z.infer<typeof summarySchema> {
  return {
    id: record.id,
    repoId: record.repoId,
    repo: repo?.name ?? null,
    number: record.number,
    url: record.url,
    title: record.title,
    author: record.author,
    state: record.state,
    draft: record.draft,
    headRef: record.headRef,
    headSha: record.headSha,
    baseRef: record.baseRef,
    sessionId: record.sessionId,
    proposalId: record.proposalId,
    ci: record.ciState,
    failingChecks: (record.observation?.ci.checks ?? [])
      .filter((check) => check.state === "failure")
      .map((check) => check.name),
    mergeable: record.mergeable,
    mergeStateStatus: record.mergeStateStatus,
    reviewDecision: record.reviewDecision,
    unresolvedThreads: record.unresolvedThreads,
    observedAt: iso(record.fetchedAt),
    createdAt: iso(record.createdAt) as string,
    updatedAt: iso(record.updatedAt) as string,
  };
}

function detail(record: PullRequestRecord, repo: RepoRecord | undefined): z.infer<typeof detailSchema> {
  const observation = record.observation;
  return {
    ...summary(record, repo),
    checks: (observation?.ci.checks ?? []).map((check) => ({
      name: check.name,
      kind: check.kind,
      state: check.state,
      conclusion: check.conclusion,
      url: check.url,
      logTail: check.logTail,
    })),
    checksPartial: observation?.ci.partial ?? false,
    review: observation?.review
      ? {
          threads: observation.review.threads,
          changeRequests: observation.review.changeRequests,
          partial: observation.review.partial,
        }
      : null,
    reactions: Object.fromEntries(
      Object.entries(record.reactions).map(([key, episode]) => [
        key,
        {
          episode: episode.n,
          active: episode.active,
          since: iso(episode.since) as string,
          attempts: episode.attempts,
          escalated: episode.escalated,
        },
      ]),
    ),
  };
}

/** `/api/v1/pull-requests` (SPEC C4): the PRs Shepherd opened or discovered, with what it observed. */
export function registerPullRequestRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get(
    "/api/v1/pull-requests",
    {
      config: {
        access: rolesAccess(READER_ROLES, {
          agentSession: (request) => (request.query as { session?: string }).session,
        }),
      },
      schema: {
        tags: ["pull-requests"],
        summary: "List tracked pull requests, newest first",
        querystring: z.strictObject({
          repo: z.string().min(1).max(100).optional().describe("Repo id or name"),
          state: z.enum(PR_STATES).optional(),
          session: recordIdSchema.optional(),
          proposal: recordIdSchema.optional(),
          number: z.coerce
            .number()
            .int()
            .min(1)
            .max(1_000_000_000)
            .optional()
            .describe("The PR number (with repo)"),
          ...paginationQuery,
        }),
        response: { 200: pageSchema(summarySchema) },
      },
    },
    async (request, reply) => {
      const query = request.query;
      const repoId = query.repo === undefined ? undefined : (await ctx.repos.get(query.repo)).id;
      const filter = {
        repoId,
        state: query.state,
        sessionId: query.session,
        proposalId: query.proposal,
        number: query.number,
      };
      const page = await paginate(reply, query, {
        keyType: "id",
        fetch: (before: string | undefined, limit) => ctx.pullRequests.list(filter, { before, limit }),
        count: () => ctx.pullRequests.count(filter),
        keyOf: (record) => record.id,
      });
      const repos = await ctx.pullRequests.reposOf(page.data);
      return { ...page, data: page.data.map((record) => summary(record, repos.get(record.repoId))) };
    },
  );

  app.get(
    "/api/v1/pull-requests/:id",
    {
      config: { access: rolesAccess(READER_ROLES) },
      schema: {
        tags: ["pull-requests"],
        summary:
          "Show a pull request: the latest observation, its checks, unresolved review threads and reactions",
        params: z.strictObject({ id: recordIdSchema }),
        querystring: z.strictObject({}),
        response: { 200: detailSchema },
      },
    },
    async (request) => {
      const record = await ctx.pullRequests.get(request.params.id);
      const repos = await ctx.pullRequests.reposOf([record]);
      return detail(record, repos.get(record.repoId));
    },
  );
}
