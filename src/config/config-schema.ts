import { z } from "zod";
import { agentsSchema, type AgentsConfig } from "./agents-schema.js";
import { llmSchema, type LlmConfig } from "./llm-schema.js";
import {
  notificationsSchema,
  observerSchema,
  reactionsSchema,
  repoOverridesSchema,
  type NotificationsConfig,
  type ObserverConfig,
  type ReactionsConfig,
} from "./reactions-schema.js";

/**
 * The shape of `shepherd.yaml`. Every key is optional; defaults are applied in load-config.ts.
 * Unknown keys are errors (strict objects all the way down).
 */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export const SERVER_ROLES = ["api", "worker", "all"] as const;
export type ServerRole = (typeof SERVER_ROLES)[number];

const nonEmpty = z.string().trim().min(1, "must not be empty");

export const configFileSchema = z.strictObject({
  home: nonEmpty.optional(),
  server: z
    .strictObject({
      host: nonEmpty.optional(),
      port: z.number().int().min(0).max(65535).optional(),
      publicUrl: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
      bodyLimitBytes: z
        .number()
        .int()
        .min(1024)
        .max(64 * 1024 * 1024)
        .optional(),
      publicMetrics: z.boolean().optional(),
    })
    .optional(),
  database: z.strictObject({ url: nonEmpty.optional() }).optional(),
  github: z
    .strictObject({
      url: nonEmpty.optional(),
      tokenRef: nonEmpty.optional(),
      /** Deadline of each GitHub request attempt. */
      requestTimeoutSeconds: z.number().int().min(1).max(120).optional(),
      /** Spacing of content-creating requests per token (GitHub asks for at least 1 s). */
      writeSpacingMs: z.number().int().min(0).max(60_000).optional(),
      /** Longest rate-limit wait inside one call; longer waits go back to the job queue. */
      maxRateLimitWaitSeconds: z.number().int().min(0).max(3600).optional(),
      /** Wait after a secondary rate limit that names no time (GitHub: "at least one minute"). */
      secondaryLimitFallbackSeconds: z.number().int().min(1).max(3600).optional(),
      /** Backoff unit for retried network errors and 5xx: the n-th retry waits n² × this. */
      retryBaseMs: z.number().int().min(10).max(60_000).optional(),
    })
    .optional(),
  prWorker: z
    .strictObject({
      /** PR-opening jobs run at once in this process (each repo is still one at a time). */
      concurrency: z.number().int().min(1).max(32).optional(),
      /** How long a proposal may wait for its repo's lock before LOCK_TIMEOUT. */
      lockTimeoutSeconds: z.number().int().min(5).max(86_400).optional(),
      /** Deadline of each git command. */
      gitTimeoutSeconds: z.number().int().min(5).max(3600).optional(),
      /** First wait before a failed PR opening is tried again (then doubling; 3 attempts in all). */
      retryBackoffSeconds: z.number().int().min(1).max(3600).optional(),
    })
    .optional(),
  git: z
    .strictObject({
      authorName: nonEmpty.optional(),
      authorEmail: z.email().optional(),
    })
    .optional(),
  log: z.strictObject({ level: z.enum(LOG_LEVELS).optional() }).optional(),
  observer: observerSchema.optional(),
  llm: llmSchema.optional(),
  agents: agentsSchema.optional(),
  reactions: reactionsSchema.optional(),
  notifications: notificationsSchema.optional(),
  /** Per-repo settings by repo name; today: reaction overrides. */
  repos: repoOverridesSchema.optional(),
  queue: z
    .strictObject({
      /** Embedded queue: how long a claimed job is held before another process may take it over. */
      leaseSeconds: z.number().int().min(10).max(3600).optional(),
    })
    .optional(),
});

export type ConfigFile = z.infer<typeof configFileSchema>;

/** Environment variables that override keys of the file (SPEC C1 table). */
export const ENV_OVERRIDES = [
  { env: "SHEPHERD_HOME", path: ["home"], type: "string" },
  { env: "SHEPHERD_HOST", path: ["server", "host"], type: "string" },
  { env: "SHEPHERD_PORT", path: ["server", "port"], type: "integer" },
  { env: "SHEPHERD_PUBLIC_URL", path: ["server", "publicUrl"], type: "string" },
  { env: "SHEPHERD_DATABASE_URL", path: ["database", "url"], type: "string" },
  { env: "SHEPHERD_GITHUB_URL", path: ["github", "url"], type: "string" },
  { env: "SHEPHERD_GIT_AUTHOR_NAME", path: ["git", "authorName"], type: "string" },
  { env: "SHEPHERD_GIT_AUTHOR_EMAIL", path: ["git", "authorEmail"], type: "string" },
  { env: "SHEPHERD_LOG_LEVEL", path: ["log", "level"], type: "string" },
] as const satisfies readonly { env: string; path: readonly string[]; type: "string" | "integer" }[];

export type DatabaseTarget =
  { kind: "sqlite"; path: string; url: string } | { kind: "postgres"; url: string };

/** The validated configuration with every default applied. */
export interface Config {
  /** Absolute path of the config file that was read, if any. */
  configPath: string | null;
  home: string;
  server: {
    host: string;
    port: number;
    publicUrl: string | null;
    bodyLimitBytes: number;
    publicMetrics: boolean;
  };
  database: DatabaseTarget;
  github: {
    webUrl: string;
    apiUrl: string;
    graphqlUrl: string;
    isGitHubDotCom: boolean;
    /** Default token ref for repos without their own; `env:SHEPHERD_GITHUB_TOKEN` when that is set. */
    tokenRef: string | null;
    requestTimeoutSeconds: number;
    writeSpacingMs: number;
    maxRateLimitWaitSeconds: number;
    secondaryLimitFallbackSeconds: number;
    retryBaseMs: number;
  };
  prWorker: {
    concurrency: number;
    lockTimeoutSeconds: number;
    gitTimeoutSeconds: number;
    retryBackoffSeconds: number;
  };
  git: { authorName: string; authorEmail: string };
  log: { level: (typeof LOG_LEVELS)[number] };
  queue: { leaseSeconds: number };
  observer: ObserverConfig;
  reactions: ReactionsConfig;
  notifications: NotificationsConfig;
  llm: LlmConfig;
  agents: AgentsConfig;
}

export const DEFAULTS = {
  host: "127.0.0.1",
  port: 4780,
  bodyLimitBytes: 1024 * 1024,
  githubUrl: "https://github.com",
  gitAuthorName: "shepherd-bot",
  gitAuthorEmail: "shepherd-bot@users.noreply.github.com",
  logLevel: "info",
  leaseSeconds: 60,
  githubRequestTimeoutSeconds: 15,
  githubWriteSpacingMs: 1000,
  githubMaxRateLimitWaitSeconds: 60,
  githubSecondaryLimitFallbackSeconds: 60,
  githubRetryBaseMs: 1000,
  prWorkerRetryBackoffSeconds: 5,
  prWorkerConcurrency: 2,
  prWorkerLockTimeoutSeconds: 600,
  prWorkerGitTimeoutSeconds: 120,
} as const;
