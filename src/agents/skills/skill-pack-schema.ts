import { z } from "zod";
import { parseSecretRef, SecretRefError } from "../../config/secret-ref.js";
import { TOOL_RISKS } from "../../domain/gate-policy.js";
import {
  BUILTIN_SERVER,
  DEFAULT_MODEL,
  END_OF_SESSION,
  type SkillMcpServer,
  type SkillValue,
} from "./skill-pack.js";

/**
 * The shape of a skill pack's `skill.yaml` (SPEC C6). Keys are snake_case; unknown keys are errors
 * at every level. Cross-references (entry, routes, models, prompt files, tool servers) need the
 * whole file or the disk and are checked by load-skill-pack.ts.
 */

export const SKILL_NAME = /^[a-z][a-z0-9-]{0,62}$/;
export const AGENT_NAME = /^[a-z][a-z0-9_]{0,63}$/;
export const SIGNAL_NAME = /^[a-z][a-z0-9_]{0,31}$/;
export const MCP_SERVER_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
export const INPUT_NAME = /^[a-z][a-z0-9_]{0,63}$/;
/** MCP tool names are letters, digits and `_ . - /`; the first character is never punctuation here. */
const TOOL_NAME = "[A-Za-z0-9][A-Za-z0-9_./-]{0,127}";
/** `read_file`, `metrics:get_ctr` or `tracker:*`. */
export const TOOL_PATTERN = new RegExp(`^(?:${TOOL_NAME}|[a-z][a-z0-9_-]{0,31}:(?:\\*|${TOOL_NAME}))$`);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** RFC 9110 token. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u0008\u000a-\u001f\u007f]/;
const MAX_PATH = 1024;

/** A header line or value must not smuggle a line break (or any control character but tab). */
const headerText = z
  .string()
  .max(8192)
  .refine((text) => !CONTROL_CHARS.test(text), "must not contain control characters");
/** Processes cannot receive a NUL inside an environment value. */
const envText = z
  .string()
  .max(32_768)
  .refine((text) => !text.includes("\u0000"), "must not contain NUL characters");

/** `{ secret: "env:VAR" | "file:name", prefix? }`: parsed here, resolved only when used. */
export const skillSecretSchema = z.strictObject({
  secret: z.string().transform((text, context) => {
    try {
      return parseSecretRef(text);
    } catch (error) {
      if (!(error instanceof SecretRefError)) throw error;
      context.addIssue({ code: "custom", message: error.message });
      return z.NEVER;
    }
  }),
  prefix: headerText.optional(),
});

const envValue = z.union([envText, skillSecretSchema], {
  error: 'must be a string or { secret: "env:VAR" | "file:name" }',
});
const headerValue = z.union([headerText, skillSecretSchema], {
  error: 'must be a string or { secret: "env:VAR" | "file:name", prefix? }',
});

export const skillMcpServerSchema = z
  .strictObject({
    /** stdio: the program to start, with cwd = the pack directory. */
    command: z.string().trim().min(1, "must not be empty").max(MAX_PATH).optional(),
    args: z.array(envText).max(256).optional(),
    env: z
      .record(z.string().regex(ENV_NAME, "environment variable names are letters, digits and _"), envValue)
      .optional(),
    /** Streamable HTTP endpoint. */
    url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
    headers: z
      .record(z.string().regex(HEADER_NAME, "is not a valid HTTP header name"), headerValue)
      .optional(),
    /** Deadline of each tool call. */
    timeout_seconds: z.number().int().min(1).max(600).default(60),
  })
  .superRefine((server, context) => {
    if (server.command !== undefined && server.url !== undefined) {
      context.addIssue({
        code: "custom",
        path: ["url"],
        message: "give either command (a stdio server) or url (an HTTP server), not both",
      });
      return;
    }
    if (server.command === undefined && server.url === undefined) {
      context.addIssue({
        code: "custom",
        message: "needs command (a stdio server) or url (an HTTP server)",
      });
      return;
    }
    const misplaced = server.url !== undefined ? (["args", "env"] as const) : (["headers"] as const);
    for (const key of misplaced) {
      if (server[key] === undefined) continue;
      context.addIssue({
        code: "custom",
        path: [key],
        message:
          key === "headers"
            ? "headers are for HTTP servers (url), not stdio servers (command)"
            : `${key} is for stdio servers (command), not HTTP servers (url)`,
      });
    }
  });

export const skillInputSchema = z
  .strictObject({
    description: z.string().trim().min(1, "must not be empty").max(500),
    required: z.boolean().default(false),
    default: z
      .union([z.string(), z.number(), z.boolean()], { error: "must be a string, number or boolean" })
      .optional(),
  })
  .superRefine((input, context) => {
    if (input.required && input.default !== undefined) {
      context.addIssue({
        code: "custom",
        path: ["default"],
        message: "a required input has no default (set required: false, or remove default)",
      });
    }
  });

export const skillRouteSchema = z.strictObject({
  when: z
    .string()
    .regex(SIGNAL_NAME, "must be a signal name (lower-case letters, digits and _, at most 32) or default"),
  next: z.string().min(1, `must name an agent or "${END_OF_SESSION}"`),
});

const promptPath = z.string().min(1, "must not be empty").max(MAX_PATH);

export const skillAgentSchema = z.strictObject({
  description: z.string().trim().min(1, "must not be empty").max(500).optional(),
  model: z.string().trim().min(1, "must not be empty").max(200).default(DEFAULT_MODEL),
  /** One Markdown file, or several concatenated in the order given. */
  prompt: z.union([promptPath, z.array(promptPath).min(1, "needs at least one prompt file").max(64)], {
    error: "must be a path or a list of paths to .md files in the pack",
  }),
  tools: z
    .array(z.string().regex(TOOL_PATTERN, 'must be a tool name ("read_file"), "server:tool" or "server:*"'))
    .max(256)
    .default([]),
  max_steps: z.number().int().min(1).max(100).default(20),
  confidence_threshold: z.number().min(0).max(1).optional(),
  routes: z
    .array(skillRouteSchema)
    .min(1, 'needs at least one route, and one of them "when: default"')
    .max(64),
});

const agentName = z
  .string()
  .regex(AGENT_NAME, "agent names are lower-case letters, digits and _, starting with a letter (at most 64)")
  .refine(
    (name) => name !== END_OF_SESSION,
    `"${END_OF_SESSION}" is reserved: a route's next uses it to end the session`,
  );

const serverName = z
  .string()
  .regex(
    MCP_SERVER_NAME,
    "MCP server names are lower-case letters, digits, _ and -, starting with a letter (at most 32)",
  )
  .refine((name) => name !== BUILTIN_SERVER, `"${BUILTIN_SERVER}" is reserved for Shepherd's own tools`);

export const skillFileSchema = z.strictObject({
  name: z
    .string()
    .regex(SKILL_NAME, "must be lower-case letters, digits and -, starting with a letter (at most 63)"),
  description: z.string().trim().min(1, "must not be empty").max(500),
  /** The agent a session starts with. */
  entry: z.string().min(1, "must name an agent"),
  inputs: z
    .record(
      z
        .string()
        .regex(INPUT_NAME, "input names are lower-case letters, digits and _, starting with a letter"),
      skillInputSchema,
    )
    .optional(),
  mcp_servers: z.record(serverName, skillMcpServerSchema).optional(),
  /** The pack's declared risk per tool pattern; the operator's config overrides it. */
  tools: z
    .record(
      z.string().regex(TOOL_PATTERN, 'must be a tool name ("read_file"), "server:tool" or "server:*"'),
      z.enum(TOOL_RISKS, { error: `must be one of ${TOOL_RISKS.join(", ")}` }),
    )
    .optional(),
  agents: z
    .record(agentName, skillAgentSchema)
    .refine((agents) => Object.keys(agents).length > 0, "needs at least one agent"),
});

export type SkillFile = z.output<typeof skillFileSchema>;
export type SkillAgentInput = z.output<typeof skillAgentSchema>;
export type SkillMcpServerInput = z.output<typeof skillMcpServerSchema>;
export type SkillValueInput = z.output<typeof envValue>;

function toSkillValue(value: SkillValueInput): SkillValue {
  return typeof value === "string" ? value : { secret: value.secret, prefix: value.prefix ?? "" };
}

/** The typed server (stdio or HTTP) from a value `skillMcpServerSchema` accepted. */
export function toSkillMcpServer(name: string, input: SkillMcpServerInput): SkillMcpServer {
  if (input.url !== undefined) {
    return {
      transport: "http",
      name,
      url: input.url,
      headers: new Map(Object.entries(input.headers ?? {}).map(([key, value]) => [key, toSkillValue(value)])),
      timeoutSeconds: input.timeout_seconds,
    };
  }
  return {
    transport: "stdio",
    name,
    // The schema's refinement guarantees exactly one of command and url.
    command: input.command ?? "",
    args: input.args ?? [],
    env: new Map(Object.entries(input.env ?? {}).map(([key, value]) => [key, toSkillValue(value)])),
    timeoutSeconds: input.timeout_seconds,
  };
}

/** Splits a pattern `TOOL_PATTERN` accepted: `metrics:get_ctr` → server `metrics`, tool `get_ctr`. */
export function parseToolPattern(pattern: string): { server: string | null; tool: string } {
  const colon = pattern.indexOf(":");
  return colon === -1
    ? { server: null, tool: pattern }
    : { server: pattern.slice(0, colon), tool: pattern.slice(colon + 1) };
}
