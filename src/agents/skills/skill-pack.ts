import type { SecretRef } from "../../config/secret-ref.js";
import type { ToolRisk } from "../../domain/gate-policy.js";

/**
 * A skill pack (SPEC C6 "Built-in agent runtime"): a directory holding `skill.yaml` and the
 * Markdown prompts it names, loaded and validated into this shape by `loadSkillPack`.
 * Named collections are Maps in file order, so a name from outside (an `entry`, a route's
 * `next`) can never hit an Object prototype key.
 */

/** The server name of Shepherd's own tools; MCP servers may not take it. */
export const BUILTIN_SERVER = "builtin";
/** The agent name a route's `next` gives to end the session. */
export const END_OF_SESSION = "end";
/** The route taken when the turn's signal matches no other route. */
export const DEFAULT_ROUTE = "default";
/** An agent's `model` when it names none: the operator's default model. */
export const DEFAULT_MODEL = "default";
/** Signals the runtime itself emits; packs may use any other name matching the signal pattern. */
export const BUILTIN_SIGNALS = ["success", "failed", "needs_input", "needs_review"] as const;

/** A place in a file; line and column count from 1. */
export interface SkillPosition {
  file: string;
  line: number;
  column: number;
}

/** A value kept as a reference and resolved only when the server is started (never at load). */
export interface SkillSecretValue {
  secret: SecretRef;
  /** Put before the resolved secret, e.g. `"Bearer "`; empty when not given. */
  prefix: string;
}

/** An `env` or `headers` value: literal text or a secret reference. */
export type SkillValue = string | SkillSecretValue;

export interface SkillInput {
  name: string;
  description: string;
  required: boolean;
  /** Used when a session does not pass this input; null when there is none. */
  default: string | number | boolean | null;
}

export interface SkillStdioServer {
  transport: "stdio";
  name: string;
  command: string;
  /** Run with cwd = the pack directory. */
  args: string[];
  env: ReadonlyMap<string, SkillValue>;
  timeoutSeconds: number;
}

export interface SkillHttpServer {
  transport: "http";
  name: string;
  url: string;
  headers: ReadonlyMap<string, SkillValue>;
  timeoutSeconds: number;
}

export type SkillMcpServer = SkillStdioServer | SkillHttpServer;

/** One entry of an agent's `tools` list, with where it is written for later error reports. */
export interface SkillToolPattern {
  /** As written: `read_file`, `metrics:get_ctr`, `tracker:*`. */
  pattern: string;
  /** The server named before `:`; null for a bare name, which may match any server. */
  server: string | null;
  /** The tool name, or `*` for all of the server's tools. */
  tool: string;
  at: SkillPosition;
}

export interface SkillRoute {
  /** A signal name, or `default`. */
  when: string;
  /** An agent name, or `end`. */
  next: string;
}

export interface SkillAgent {
  name: string;
  description: string | null;
  /** A model name from shepherd.yaml's `llm.models`, or `default`. */
  model: string;
  /** The prompt files' text, concatenated in the order given. */
  prompt: string;
  /** Absolute paths of the prompt files, in the order given. */
  promptFiles: string[];
  toolPatterns: SkillToolPattern[];
  /** LLM calls per turn. */
  maxSteps: number;
  /** Overrides the gate's confidence threshold for this agent; null keeps the gate's. */
  confidenceThreshold: number | null;
  routes: SkillRoute[];
}

export interface SkillPack {
  name: string;
  description: string;
  /** Absolute path of the pack directory (MCP stdio servers run here). */
  dir: string;
  /** Absolute path of the pack's skill.yaml. */
  file: string;
  /** Where `name` is written, to report a clash between packs. */
  nameAt: SkillPosition;
  /** The agent a session starts with. */
  entry: string;
  inputs: ReadonlyMap<string, SkillInput>;
  mcpServers: ReadonlyMap<string, SkillMcpServer>;
  /** The pack's own view of tool risks, by tool pattern; operator config overrides it. */
  declaredRisks: ReadonlyMap<string, ToolRisk>;
  agents: ReadonlyMap<string, SkillAgent>;
}

/** A concrete tool offered by a server; Shepherd's own tools have server `builtin`. */
export interface ToolRef {
  server: string;
  name: string;
}
