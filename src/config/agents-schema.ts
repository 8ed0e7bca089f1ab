import path from "node:path";
import { z } from "zod";
import { DEFAULT_GATE_POLICY, TOOL_RISKS, type GatePolicy, type ToolRisk } from "../domain/gate-policy.js";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "../domain/should-retry.js";

/**
 * `agents:` in shepherd.yaml — built-in agent sessions (SPEC C6): the skill packs to load, the
 * operator's gate and retry policies, approvals, rosters and lessons. Operator settings always win
 * over what a skill pack declares.
 */
const rosterName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "lower-case letters, digits, '.', '_' or '-' (up to 63 characters)");

/** A gate-policy key: "server:tool", "tool", "server:*" or "*". */
const toolKey = z
  .string()
  .regex(
    /^(\*|[A-Za-z0-9][A-Za-z0-9_./-]{0,127}(:(\*|[A-Za-z0-9][A-Za-z0-9_./-]{0,127}))?)$/,
    'a tool name, "server:tool", "server:*" or "*"',
  );

export const agentsSchema = z.strictObject({
  /** Skill pack directories (relative to the config file's directory). */
  skillPacks: z.array(z.string().trim().min(1)).max(100).optional(),
  /** Sessions whose agent may run at once; more wait in the queue (FIFO). */
  maxRunningSessions: z.number().int().min(1).max(256).optional(),
  approvals: z
    .strictObject({
      /** A pending approval older than this is decided `timeout`. */
      timeoutSeconds: z
        .number()
        .int()
        .min(60)
        .max(30 * 86_400)
        .optional(),
      /** What a timeout means: the call is rejected, or the session is escalated to humans. */
      onTimeout: z.enum(["reject", "escalate"]).optional(),
      /** How often the watchdog scans the database for expired approvals. */
      scanIntervalSeconds: z.number().int().min(1).max(3600).optional(),
    })
    .optional(),
  gate: z
    .strictObject({
      tools: z.record(toolKey, z.enum(TOOL_RISKS)).optional(),
      confidenceThreshold: z.number().min(0).max(1).optional(),
      gatedEnvironments: z.array(rosterName).max(50).optional(),
    })
    .optional(),
  retry: z
    .strictObject({
      maxRetries: z.number().int().min(0).max(10).optional(),
      retryOnTransient: z.boolean().optional(),
      lowConfidenceThreshold: z.number().min(0).max(1).optional(),
    })
    .optional(),
  /** Teams `mark_escalated` may name; empty: any team is refused. */
  teams: z.array(rosterName).max(200).optional(),
  /** Environments a session may be created for. */
  environments: z.array(rosterName).max(50).optional(),
  lessons: z
    .strictObject({
      /** Lessons handed to a new session's first agent. */
      topK: z.number().int().min(0).max(20).optional(),
      /** Days of finished sessions the nightly back-fill looks at. */
      backfillWindowDays: z.number().int().min(1).max(365).optional(),
    })
    .optional(),
});
export type AgentsConfigInput = z.infer<typeof agentsSchema>;

export interface AgentsConfig {
  skillPacks: string[];
  maxRunningSessions: number;
  approvals: { timeoutSeconds: number; onTimeout: "reject" | "escalate"; scanIntervalSeconds: number };
  gate: GatePolicy;
  retry: RetryPolicy;
  teams: string[];
  environments: string[];
  lessons: { topK: number; backfillWindowDays: number };
}

export const AGENTS_DEFAULTS = {
  maxRunningSessions: 8,
  approvalTimeoutSeconds: 3600,
  approvalOnTimeout: "reject",
  approvalScanIntervalSeconds: 30,
  environments: ["production", "staging", "development"],
  lessonsTopK: 3,
  lessonsBackfillWindowDays: 7,
} as const;

/** Applies the defaults; skill pack paths become absolute, relative to `baseDir`. */
export function resolveAgentsConfig(input: AgentsConfigInput | undefined, baseDir: string): AgentsConfig {
  const tools: Record<string, ToolRisk> = { ...input?.gate?.tools };
  return {
    skillPacks: (input?.skillPacks ?? []).map((dir) => path.resolve(baseDir, dir)),
    maxRunningSessions: input?.maxRunningSessions ?? AGENTS_DEFAULTS.maxRunningSessions,
    approvals: {
      timeoutSeconds: input?.approvals?.timeoutSeconds ?? AGENTS_DEFAULTS.approvalTimeoutSeconds,
      onTimeout: input?.approvals?.onTimeout ?? AGENTS_DEFAULTS.approvalOnTimeout,
      scanIntervalSeconds:
        input?.approvals?.scanIntervalSeconds ?? AGENTS_DEFAULTS.approvalScanIntervalSeconds,
    },
    gate: {
      tools,
      confidenceThreshold: input?.gate?.confidenceThreshold ?? DEFAULT_GATE_POLICY.confidenceThreshold,
      gatedEnvironments: input?.gate?.gatedEnvironments ?? [...DEFAULT_GATE_POLICY.gatedEnvironments],
    },
    retry: { ...DEFAULT_RETRY_POLICY, ...input?.retry },
    teams: input?.teams ?? [],
    environments: input?.environments ?? [...AGENTS_DEFAULTS.environments],
    lessons: {
      topK: input?.lessons?.topK ?? AGENTS_DEFAULTS.lessonsTopK,
      backfillWindowDays: input?.lessons?.backfillWindowDays ?? AGENTS_DEFAULTS.lessonsBackfillWindowDays,
    },
  };
}
