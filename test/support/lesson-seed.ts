import type { Kysely } from "kysely";
import type { SessionOutcome } from "../../src/domain/session.js";
import { newId } from "../../src/store/ids.js";
import type { Schema } from "../../src/store/schema.js";

/**
 * Rows for lesson tests, written with Kysely directly: sessions, agent runs and tool calls as
 * the session service stores them, without depending on that service.
 */

export const SEED_NOW = Date.UTC(2026, 2, 1, 12);

export async function seedRepo(db: Kysely<Schema>, name: string): Promise<string> {
  const id = newId("repo", SEED_NOW);
  await db
    .insertInto("repos")
    .values({
      id,
      name,
      owner: "acme",
      repo: name,
      base_branch: "main",
      token_ref: "env:GITHUB_TOKEN",
      webhook_secret_ref: null,
      auto_merge: 0,
      merge_method: "squash",
      follow_ups: "{}",
      created_at: SEED_NOW,
      updated_at: SEED_NOW,
      deleted_at: null,
      version: 1,
    })
    .execute();
  return id;
}

export interface SeedSession {
  goal?: string;
  repoId?: string | null;
  skill?: string | null;
  /** Stored as given: a string is written verbatim (to seed malformed JSON). */
  inputs?: Record<string, unknown> | string | null;
  outcome?: SessionOutcome | null;
  endedAt?: number | null;
  updatedAt?: number;
}

export async function seedSession(db: Kysely<Schema>, seed: SeedSession = {}): Promise<string> {
  const id = newId("ses", SEED_NOW);
  const outcome = seed.outcome === undefined ? { kind: "resolved" as const } : seed.outcome;
  const updatedAt = seed.updatedAt ?? SEED_NOW;
  await db
    .insertInto("sessions")
    .values({
      id,
      goal: seed.goal ?? "Fix the build",
      repo_id: seed.repoId ?? null,
      branch: null,
      agent: JSON.stringify({ skill: seed.skill ?? "ci-doctor" }),
      run_state: outcome === null ? "running" : "exited",
      pause_kind: null,
      paused_at: null,
      outcome: outcome === null ? null : JSON.stringify(outcome),
      last_activity_at: null,
      reactions: "{}",
      created_by: null,
      created_at: SEED_NOW,
      updated_at: updatedAt,
      version: 1,
      skill: seed.skill === undefined ? "ci-doctor" : seed.skill,
      inputs:
        seed.inputs === undefined || seed.inputs === null
          ? null
          : typeof seed.inputs === "string"
            ? seed.inputs
            : JSON.stringify(seed.inputs),
      ended_at: seed.endedAt === undefined ? (outcome === null ? null : updatedAt) : seed.endedAt,
    })
    .execute();
  return id;
}

export interface SeedRun {
  agent?: string;
  /** An object is stored as JSON; a string verbatim (to seed malformed JSON). */
  envelope?: Record<string, unknown> | string | null;
  signal?: string | null;
  confidence?: number | null;
  error?: { code: string; message: string } | null;
  startedAt: number;
}

export async function seedRun(db: Kysely<Schema>, sessionId: string, seed: SeedRun): Promise<string> {
  const id = newId("run", seed.startedAt);
  await db
    .insertInto("agent_runs")
    .values({
      id,
      session_id: sessionId,
      agent: seed.agent ?? "fixer",
      attempt: 1,
      status: seed.error ? "failed" : "succeeded",
      provider: "stub",
      model: "stub",
      envelope:
        seed.envelope === undefined || seed.envelope === null
          ? null
          : typeof seed.envelope === "string"
            ? seed.envelope
            : JSON.stringify(seed.envelope),
      signal: seed.signal ?? null,
      confidence: seed.confidence ?? null,
      input_tokens: 0,
      output_tokens: 0,
      error: seed.error ? JSON.stringify(seed.error) : null,
      started_at: seed.startedAt,
      ended_at: seed.startedAt + 1000,
    })
    .execute();
  return id;
}

export async function seedToolCall(
  db: Kysely<Schema>,
  sessionId: string,
  runId: string,
  seed: { server: string; tool: string; status: string; createdAt: number },
): Promise<string> {
  const id = newId("tc", seed.createdAt);
  await db
    .insertInto("tool_calls")
    .values({
      id,
      session_id: sessionId,
      run_id: runId,
      llm_call_id: id,
      server: seed.server,
      tool: seed.tool,
      args: "{}",
      risk: "low",
      gate_action: "auto",
      gate_reason: "low risk",
      confidence: null,
      status: seed.status,
      result: null,
      error: null,
      created_at: seed.createdAt,
      started_at: seed.createdAt,
      finished_at: seed.createdAt,
      version: 1,
    })
    .execute();
  return id;
}
