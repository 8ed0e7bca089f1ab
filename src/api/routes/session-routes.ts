import { z } from "zod";
import { RETRY_REASONS } from "../../domain/should-retry.js";
import { SESSION_STATUSES } from "../../domain/session-status.js";
import { OUTCOME_KINDS, PAUSE_KINDS, RUN_STATES } from "../../domain/session.js";
import type { ApprovalRecord } from "../../store/approval-store.js";
import { APPROVAL_STATES } from "../../store/approval-store.js";
import type { LessonRecord } from "../../store/lesson-store.js";
import type { SessionRecord } from "../../store/session-store.js";
import type { SessionDetail } from "../../services/sessions/session-service.js";
import { READER_ROLES, rolesAccess } from "../access.js";
import type { ApiApp, ApiContext } from "../api-context.js";
import { pageSchema, paginate, paginationQuery } from "../pagination.js";
import { iso, plainText, recordIdSchema } from "../schemas.js";

const OPERATORS = rolesAccess(["admin", "operator"]);

const sessionSchema = z.object({
  id: z.string(),
  goal: z.string(),
  status: z.enum(SESSION_STATUSES).describe("Derived from the facts below at read time, never stored"),
  skill: z.string().nullable(),
  repoId: z.string().nullable(),
  branch: z.string().nullable(),
  environment: z.string().nullable(),
  inputs: z.record(z.string(), z.unknown()),
  runState: z.enum(RUN_STATES),
  pauseKind: z.enum(PAUSE_KINDS).nullable(),
  outcome: z.object({ kind: z.enum(OUTCOME_KINDS), detail: z.string().optional() }).nullable(),
  currentAgent: z.string().nullable(),
  retryCount: z.number().int(),
  lastError: z.object({ code: z.string(), message: z.string() }).nullable(),
  lastConfidence: z.number().nullable(),
  lastActivityAt: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  version: z.number().int(),
});

const approvalSchema = z.object({
  id: z.string(),
  sessionId: z.string(),
  toolCallId: z.string(),
  state: z.enum(APPROVAL_STATES),
  reason: z.string().describe("Why the gate asked: high_risk_tool, unknown_tool, gated_env, low_confidence"),
  requestedAt: z.string(),
  expiresAt: z.string(),
  decidedAt: z.string().nullable(),
  decidedBy: z.string().nullable().describe("The deciding token's id, or `system` (the watchdog)"),
  rationale: z.string().nullable(),
});

/** A tool's result in a session's detail: whole up to this many characters of JSON. */
const RESULT_PREVIEW_CHARS = 8192;

function resultPreview(result: unknown): unknown {
  if (result === undefined || result === null) return null;
  const json = JSON.stringify(result);
  if (json.length <= RESULT_PREVIEW_CHARS) return result;
  return { truncated: true, chars: json.length, preview: `${json.slice(0, RESULT_PREVIEW_CHARS)}…` };
}

const detailSchema = sessionSchema.extend({
  runs: z.array(
    z.object({
      id: z.string(),
      agent: z.string(),
      attempt: z.number().int(),
      status: z.string(),
      provider: z.string().nullable(),
      model: z.string().nullable(),
      signal: z.string().nullable(),
      confidence: z.number().nullable(),
      inputTokens: z.number().int(),
      outputTokens: z.number().int(),
      error: z.object({ code: z.string(), message: z.string() }).nullable(),
      startedAt: z.string(),
      endedAt: z.string().nullable(),
    }),
  ),
  toolCalls: z.array(
    z.object({
      id: z.string(),
      runId: z.string(),
      tool: z.string().describe("server:tool (built-ins: builtin:name)"),
      args: z.record(z.string(), z.unknown()),
      risk: z.string().nullable(),
      gate: z.object({ action: z.string(), reason: z.string() }),
      status: z.string(),
      result: z
        .unknown()
        .describe(
          `What the tool returned (null until it ran); above ${RESULT_PREVIEW_CHARS} characters of JSON, {truncated, preview}`,
        ),
      error: z.object({ code: z.string(), message: z.string() }).nullable(),
      createdAt: z.string(),
      finishedAt: z.string().nullable(),
    }),
  ),
  approvals: z.array(approvalSchema),
  proposals: z.array(
    z.object({
      id: z.string(),
      status: z.string(),
      title: z.string(),
      followUpOf: z.string().nullable().describe("For a follow-up: the pull request it was pushed to"),
    }),
  ),
  pullRequests: z.array(
    z.object({ id: z.string(), number: z.number().int(), url: z.string(), state: z.string() }),
  ),
  lastEventSeq: z.number().int().nullable().describe("Follow the event stream from here (`?since=`)"),
});

function view(
  session: SessionRecord,
  status: z.infer<typeof sessionSchema>["status"],
): z.infer<typeof sessionSchema> {
  return {
    id: session.id,
    goal: session.goal,
    status,
    skill: session.skill,
    repoId: session.repoId,
    branch: session.branch,
    environment: session.environment,
    inputs: session.inputs,
    runState: session.runState,
    pauseKind: session.pauseKind,
    outcome: session.outcome,
    currentAgent: session.currentAgent,
    retryCount: session.retryCount,
    lastError: session.lastError,
    lastConfidence: session.lastConfidence,
    lastActivityAt: iso(session.lastActivityAt),
    createdAt: iso(session.createdAt) as string,
    startedAt: iso(session.startedAt),
    endedAt: iso(session.endedAt),
    version: session.version,
  };
}

function approvalView(approval: ApprovalRecord): z.infer<typeof approvalSchema> {
  return {
    id: approval.id,
    sessionId: approval.sessionId,
    toolCallId: approval.toolCallId,
    state: approval.state,
    reason: approval.reason,
    requestedAt: iso(approval.requestedAt) as string,
    expiresAt: iso(approval.expiresAt) as string,
    decidedAt: iso(approval.decidedAt),
    decidedBy: approval.decidedBy,
    rationale: approval.rationale,
  };
}

function detailView(detail: SessionDetail): z.infer<typeof detailSchema> {
  return {
    ...view(detail.session, detail.status),
    runs: detail.runs.map((run) => ({
      id: run.id,
      agent: run.agent,
      attempt: run.attempt,
      status: run.status,
      provider: run.provider,
      model: run.model,
      signal: run.signal,
      confidence: run.confidence,
      inputTokens: run.inputTokens,
      outputTokens: run.outputTokens,
      error: run.error,
      startedAt: iso(run.startedAt) as string,
      endedAt: iso(run.endedAt),
    })),
    toolCalls: detail.toolCalls.map((call) => ({
      id: call.id,
      runId: call.runId,
      tool: `${call.server}:${call.tool}`,
      args: call.args,
      risk: call.risk,
      gate: { action: call.gateAction, reason: call.gateReason },
      status: call.status,
      result: resultPreview(call.result),
      error: call.error,
      createdAt: iso(call.createdAt) as string,
      finishedAt: iso(call.finishedAt),
    })),
    approvals: detail.approvals.map(approvalView),
    proposals: detail.proposals,
    pullRequests: detail.pullRequests,
    lastEventSeq: detail.lastEventSeq,
  };
}

const idParams = z.strictObject({ id: recordIdSchema });

/** `/api/v1/sessions` and `/api/v1/approvals` (SPEC C6). */
export function registerSessionRoutes(app: ApiApp, ctx: ApiContext): void {
  app.post(
    "/api/v1/sessions",
    {
      config: { access: OPERATORS },
      schema: {
        tags: ["sessions"],
        summary: "Start a session of a built-in agent; it queues when the running cap is reached",
        body: z.strictObject({
          goal: plainText(2000),
          repoId: z.string().min(1).max(100).optional().describe("Repo id or name"),
          agent: z.strictObject({ skill: z.string().min(1).max(63).describe("A loaded skill pack's name") }),
          inputs: z.record(z.string().min(1).max(64), z.json()).optional(),
          environment: z.string().min(1).max(63).optional(),
        }),
        response: { 201: sessionSchema },
      },
    },
    async (request, reply) => {
      const session = await ctx.sessions.create(request.body, request.principal);
      reply.code(201);
      return view(session, await ctx.sessions.status(session));
    },
  );

  app.get(
    "/api/v1/sessions",
    {
      config: { access: rolesAccess(READER_ROLES) },
      schema: {
        tags: ["sessions"],
        summary: "List sessions, newest first",
        querystring: z.strictObject({
          repo: z.string().min(1).max(100).optional().describe("Repo id or name"),
          skill: z.string().min(1).max(63).optional(),
          runState: z.enum(RUN_STATES).optional(),
          live: z.enum(["true", "false"]).optional().describe("true: not finished; false: finished"),
          ...paginationQuery,
        }),
        response: { 200: pageSchema(sessionSchema) },
      },
    },
    async (request, reply) => {
      const query = request.query;
      const filter = {
        repoId: query.repo === undefined ? undefined : (await ctx.repos.get(query.repo)).id,
        skill: query.skill,
        runState: query.runState,
        live: query.live === undefined ? undefined : query.live === "true",
      };
      const page = await paginate(reply, query, {
        keyType: "id",
        fetch: (before: string | undefined, limit) => ctx.sessions.list({ ...filter, before, limit }),
        count: () => ctx.sessions.count(filter),
        keyOf: (session) => session.id,
      });
      const data = await Promise.all(
        page.data.map(async (session) => view(session, await ctx.sessions.status(session))),
      );
      return { ...page, data };
    },
  );

  app.get(
    "/api/v1/sessions/:id",
    {
      config: {
        access: rolesAccess(READER_ROLES, {
          agentSession: (request) => (request.params as { id: string }).id,
        }),
      },
      schema: {
        tags: ["sessions"],
        summary: "One session: facts, derived status, agent runs, tool calls, approvals, proposals, PRs",
        params: idParams,
        response: { 200: detailSchema },
      },
    },
    async (request) => detailView(await ctx.sessions.detail(request.params.id)),
  );

  app.post(
    "/api/v1/sessions/:id/send",
    {
      config: { access: OPERATORS },
      schema: {
        tags: ["sessions"],
        summary: "Send text to the session's agent (an answer or an instruction); it wakes the agent",
        params: idParams,
        body: z.strictObject({ text: z.string().trim().min(1).max(20_000) }),
        response: { 202: z.object({ messageId: z.string() }) },
      },
    },
    async (request, reply) => {
      const sent = await ctx.sessions.send(request.params.id, request.body.text, request.principal);
      reply.code(202);
      return sent;
    },
  );

  app.post(
    "/api/v1/sessions/:id/stop",
    {
      config: { access: OPERATORS },
      schema: {
        tags: ["sessions"],
        summary: "Stop a session: it ends `stopped` (a finished session is returned as it is)",
        params: idParams,
        response: { 200: sessionSchema },
      },
    },
    async (request) => {
      const session = await ctx.sessions.stop(request.params.id, request.principal);
      return view(session, await ctx.sessions.status(session));
    },
  );

  const lessonSchema = z.object({
    id: z.string(),
    sourceSessionId: z.string(),
    skill: z.string().nullable(),
    outcome: z.object({ kind: z.string(), detail: z.string().optional() }),
    summary: z.string(),
    toolSequence: z.array(z.object({ tool: z.string(), status: z.string(), count: z.number().int() })),
    confidenceFinal: z.number().nullable(),
    createdAt: z.string(),
  });
  const lessonView = (lesson: LessonRecord): z.infer<typeof lessonSchema> => ({
    id: lesson.id,
    sourceSessionId: lesson.sourceSessionId,
    skill: lesson.skill,
    outcome: lesson.outcome,
    summary: lesson.summary,
    toolSequence: lesson.toolSequence,
    confidenceFinal: lesson.confidenceFinal,
    createdAt: iso(lesson.createdAt) as string,
  });
  app.get(
    "/api/v1/sessions/:id/lessons",
    {
      config: {
        access: rolesAccess(READER_ROLES, {
          agentSession: (request) => (request.params as { id: string }).id,
        }),
      },
      schema: {
        tags: ["sessions"],
        summary: "The lesson extracted from this session, and the past lessons most similar to it",
        params: idParams,
        response: {
          200: z.object({
            extracted: z.array(lessonSchema).describe("Made when the session ended"),
            similar: z
              .array(lessonSchema.extend({ score: z.number() }))
              .describe("What a session like this one is given, best first (agents.lessons.topK)"),
          }),
        },
      },
    },
    async (request) => {
      const { extracted, similar } = await ctx.sessions.lessons(request.params.id);
      return {
        extracted: extracted.map(lessonView),
        similar: similar.map((lesson) => ({ ...lessonView(lesson), score: lesson.score })),
      };
    },
  );

  const retrySchema = z.object({ retry: z.boolean(), reason: z.enum(RETRY_REASONS) });
  app.get(
    "/api/v1/sessions/:id/retry-preview",
    {
      config: { access: rolesAccess(READER_ROLES) },
      schema: {
        tags: ["sessions"],
        summary: "Whether a retry would run the failed session again, and why (no side effects)",
        params: idParams,
        response: { 200: retrySchema },
      },
    },
    async (request) => ctx.sessions.retryPreview(request.params.id),
  );

  app.post(
    "/api/v1/sessions/:id/retry",
    {
      config: { access: OPERATORS },
      schema: {
        tags: ["sessions"],
        summary: "Retry a failed session when the retry policy allows it",
        params: idParams,
        response: { 200: retrySchema.extend({ session: sessionSchema }) },
      },
    },
    async (request) => {
      const { decision, session } = await ctx.sessions.retry(request.params.id);
      return { ...decision, session: view(session, await ctx.sessions.status(session)) };
    },
  );

  app.get(
    "/api/v1/approvals",
    {
      config: { access: rolesAccess(READER_ROLES) },
      schema: {
        tags: ["approvals"],
        summary: "Approvals, oldest first (`?state=pending`: what waits for a human)",
        querystring: z.strictObject({
          state: z.enum(APPROVAL_STATES).optional(),
          session: recordIdSchema.optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
        }),
        response: { 200: z.object({ data: z.array(approvalSchema) }) },
      },
    },
    async (request) => ({
      data: (
        await ctx.sessions.listApprovals({
          state: request.query.state,
          sessionId: request.query.session,
          limit: request.query.limit,
        })
      ).map(approvalView),
    }),
  );

  app.post(
    "/api/v1/approvals/:id",
    {
      config: { access: OPERATORS },
      schema: {
        tags: ["approvals"],
        summary: "Decide a pending approval; the session resumes exactly that call",
        params: idParams,
        body: z.strictObject({
          decision: z.enum(["approve", "reject"]).describe("Required: there is no implicit approval"),
          rationale: z.string().trim().min(1).max(2000).optional(),
        }),
        response: { 200: approvalSchema },
      },
    },
    async (request) =>
      approvalView(await ctx.sessions.decideApproval(request.params.id, request.body, request.principal)),
  );
}
