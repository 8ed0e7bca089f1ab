import { z } from "zod";
import type { ToolRisk } from "../../domain/gate-policy.js";
import {
  evidenceSchema,
  filesChangeSchema,
  paramsChangeSchema,
  plainText,
} from "../../domain/proposal-schema.js";
import type { SessionOutcome } from "../../domain/session.js";

/**
 * Shepherd's own tools (SPEC C6): reading the session's repository, submitting a proposal, and
 * the two terminal tools. The LLM can end a session only through these typed terminal tools,
 * never by writing a status.
 */

/** What a tool call produces: the result the LLM sees, and for terminal tools the outcome. */
export interface ToolOutcome {
  result: unknown;
  isError: boolean;
  /** A terminal tool's outcome: the session ends with it once the call succeeded. */
  outcome?: SessionOutcome;
  /** A terminal tool's own words — summary or reason, and confidence — kept as the run's report. */
  report?: { content: string; confidence: number | null };
}

export interface BuiltinToolContext {
  sessionId: string;
  repoId: string | null;
  /** The branch agents read: the session's branch once it has one, else the repo's base. */
  readRef: string | null;
  toolCallId: string;
  teams: readonly string[];
  readFile(path: string): Promise<unknown>;
  searchCode(query: string, pathPrefix: string | null): Promise<unknown>;
  submitProposal(input: SubmitProposalArgs, toolCallId: string): Promise<unknown>;
}

export interface BuiltinTool {
  name: string;
  description: string;
  schema: z.ZodObject;
  declaredRisk: ToolRisk;
  /** Ends the session; pure (no side effect), so it may be asked again for an outcome lost in a crash. */
  terminal?: true;
  run(args: never, context: BuiltinToolContext): Promise<ToolOutcome>;
}

const readFileArgs = z.strictObject({
  path: z.string().min(1).max(4096).describe("Path of the file, relative to the repository root"),
});

const searchCodeArgs = z.strictObject({
  query: z.string().min(1).max(200).describe("Text to find (plain text, case-sensitive)"),
  path: z.string().min(1).max(4096).optional().describe("Only under this directory or file"),
});

const followUpOf = z
  .union([
    z
      .string()
      .regex(/^(?:pr_[A-Za-z0-9]{1,60}|#?[1-9][0-9]{0,8})$/, "a pull request id (pr_…) or number (#12)"),
    z.number().int().min(1).max(999_999_999),
  ])
  .optional()
  .describe(
    "To fix a pull request of this session (CI failure, review comment, conflict): its number or id. The change is committed on that PR's branch instead of opening a new PR",
  );

export const submitProposalArgs = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("params"),
    title: plainText(256),
    change: paramsChangeSchema,
    evidence: evidenceSchema,
    followUpOf,
  }),
  z.strictObject({
    kind: z.literal("files"),
    title: plainText(256),
    change: filesChangeSchema,
    evidence: evidenceSchema,
    followUpOf,
  }),
]);
export type SubmitProposalArgs = z.infer<typeof submitProposalArgs>;

const markResolvedArgs = z.strictObject({
  summary: z.string().trim().min(1).max(2000).describe("What was done and why it resolves the goal"),
  confidence: z.number().min(0).max(1),
});

const markEscalatedArgs = z.strictObject({
  team: z.string().min(1).max(63).describe("A team from the roster"),
  reason: z.string().trim().min(1).max(2000),
});

function ok(result: unknown): ToolOutcome {
  return { result, isError: false };
}

function ends(result: unknown, outcome: SessionOutcome, report: ToolOutcome["report"]): ToolOutcome {
  return { result, isError: false, outcome, ...(report ? { report } : {}) };
}

function tool<S extends z.ZodObject>(
  definition: Omit<BuiltinTool, "run" | "schema"> & {
    schema: S;
    run(args: z.infer<S>, context: BuiltinToolContext): Promise<ToolOutcome>;
  },
): BuiltinTool {
  return definition;
}

export const BUILTIN_TOOLS: readonly BuiltinTool[] = [
  tool({
    name: "read_file",
    description: "Read a text file of the session's repository (at most 60 KiB are returned).",
    schema: readFileArgs,
    declaredRisk: "low",
    run: async (args, context) => ok(await context.readFile(args.path)),
  }),
  tool({
    name: "search_code",
    description: "Find lines containing a text in the session's repository (at most 100 matches).",
    schema: searchCodeArgs,
    declaredRisk: "low",
    run: async (args, context) => ok(await context.searchCode(args.query, args.path ?? null)),
  }),
  tool({
    name: "submit_proposal",
    description:
      "Propose a change to the session's repository, with the evidence for it. Once accepted it becomes a pull request, or with followUpOf a new commit on an open one.",
    schema: submitProposalArgs as unknown as z.ZodObject,
    declaredRisk: "high",
    run: async (args, context) =>
      ok(await context.submitProposal(submitProposalArgs.parse(args), context.toolCallId)),
  }),
  tool({
    name: "mark_resolved",
    description: "End the session: the goal is reached. Give a summary and your confidence.",
    schema: markResolvedArgs,
    declaredRisk: "low",
    terminal: true,
    run: async (args) =>
      ends(
        { resolved: true },
        { kind: "resolved", detail: args.summary },
        { content: args.summary, confidence: args.confidence },
      ),
  }),
  tool({
    name: "mark_escalated",
    description: "End the session and hand it to a team of humans, with the reason.",
    schema: markEscalatedArgs,
    declaredRisk: "low",
    terminal: true,
    run: async (args, context) => {
      if (!context.teams.includes(args.team)) {
        const roster =
          context.teams.length === 0 ? "no teams are configured" : `teams: ${context.teams.join(", ")}`;
        return { result: { error: `unknown team "${args.team}"; ${roster}` }, isError: true };
      }
      return ends(
        { escalated: true, team: args.team },
        { kind: "escalated", detail: args.team },
        { content: `Escalated to ${args.team}: ${args.reason}`, confidence: null },
      );
    },
  }),
];

export function builtinTool(name: string): BuiltinTool | undefined {
  return BUILTIN_TOOLS.find((candidate) => candidate.name === name);
}

/** The JSON Schema the LLM sees for a built-in tool. */
export function builtinToolSchema(tool: BuiltinTool): Record<string, unknown> {
  const schema = z.toJSONSchema(tool.schema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  delete schema.$schema;
  return schema;
}
