import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../../src/domain/errors.js";
import type { Principal } from "../../src/domain/roles.js";
import { AgentRunStore } from "../../src/store/agent-run-store.js";
import { DATABASE_KINDS } from "../support/databases.js";
import { startPrHarness, type HarnessRepo, type PrHarness } from "../support/pr-harness.js";
import { waitFor } from "../support/wait-for.js";

/**
 * A built-in agent session end to end in one process (SPEC C6): the stub provider replays a
 * script — read a file, submit a proposal (gated: high risk), end the turn — against a repo on
 * the GitHub simulator; an operator approves; the proposal becomes a PR.
 */

const SKILL = `name: tuner
description: Tunes a search params file from evidence
entry: tuner
inputs:
  params_path: { description: "the params file", required: true }
agents:
  tuner:
    prompt: prompts/tuner.md
    tools: [read_file, search_code, submit_proposal, mark_resolved, mark_escalated]
    routes:
      - { when: default, next: end }
`;

const SCRIPT = `steps:
  - tool_calls: [{ name: read_file, args: { path: config/search.json } }]
  - tool_calls:
      - name: submit_proposal
        args:
          kind: params
          title: Lower the title boost
          change: { path: config/search.json, set: { title_boost: { from: 2.5, to: 2 } } }
          evidence: { summary: "nDCG@10 rose from 0.61 to 0.64 on the offline study" }
  - text: |
      {"content": "Proposed lowering title_boost to 2.0", "confidence": 0.82, "rationale": "the study favours it", "signal": "success"}
`;

const OPERATOR: Principal = { tokenId: "tok_operator", role: "operator", name: "operator", sessionId: null };

describe.each(DATABASE_KINDS)("a built-in agent session ($kind)", ({ kind, skip }) => {
  let harness: PrHarness;
  let repo: HarnessRepo;
  let dir: string;

  beforeAll(async () => {
    if (skip) return;
    dir = await mkdtemp(path.join(os.tmpdir(), "shepherd-pack-"));
    await mkdir(path.join(dir, "pack", "prompts"), { recursive: true });
    await writeFile(path.join(dir, "pack", "skill.yaml"), SKILL);
    await writeFile(path.join(dir, "pack", "prompts", "tuner.md"), "You tune search parameters.\n");
    await writeFile(path.join(dir, "script.yaml"), SCRIPT);
    harness = await startPrHarness({
      kind,
      extraYaml: [
        "llm:",
        `  providers: { offline: { kind: stub, script: ${JSON.stringify(path.join(dir, "script.yaml"))} } }`,
        "  models: { replay: { provider: offline, model: replay } }",
        "agents:",
        `  skillPacks: [${JSON.stringify(path.join(dir, "pack"))}]`,
        "  approvals: { scanIntervalSeconds: 3600 }",
        // Medium: read_file runs, and humans are told.
        "  gate: { tools: { read_file: medium } }",
      ].join("\n"),
    });
    repo = await harness.addRepo({
      name: "search-config",
      files: { "config/search.json": '{\n  "title_boost": 2.5\n}\n' },
    });
  });

  afterAll(async () => {
    await harness?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function pendingApproval(sessionId: string) {
    const sessions = harness.server.running.sessions;
    return waitFor(
      async () => (await sessions.listApprovals({ state: "pending", sessionId, limit: 10 }))[0] ?? null,
      { timeoutMs: 30_000, message: "no pending approval" },
    );
  }

  it.skipIf(skip)(
    "reads the file, pauses on the gated proposal without a worker, and opens the PR once approved",
    async () => {
      const sessions = harness.server.running.sessions;
      const session = await sessions.create(
        {
          goal: "Raise nDCG@10",
          repoId: repo.repoId,
          agent: { skill: "tuner" },
          inputs: { params_path: "config/search.json" },
        },
        OPERATOR,
      );
      const approval = await pendingApproval(session.id);
      expect(approval.reason).toBe("high_risk_tool");

      const paused = await sessions.get(session.id);
      expect(paused).toMatchObject({ runState: "paused", pauseKind: "approval", outcome: null });
      const runs = new AgentRunStore(harness.server.running.database.db);
      const calls = await runs.listToolCalls(session.id);
      expect(calls.map((call) => [call.tool, call.status])).toEqual([
        ["read_file", "executed"],
        ["submit_proposal", "pending_approval"],
      ]);
      expect(JSON.stringify(calls[0]?.result)).toContain("title_boost");
      expect(calls[0]).toMatchObject({ gateAction: "notify", gateReason: "medium_risk" });
      const told = await harness.server.running.database.db
        .selectFrom("notifications")
        .selectAll()
        .where("session_id", "=", session.id)
        .where("kind", "=", "gate.notify")
        .execute();
      expect(told.map((row) => row.title)).toEqual(["builtin:read_file ran in session " + session.id]);
      // Injected arguments are the framework's: the proposal call carries nothing the LLM cannot see.
      expect(calls[1]?.args).toMatchObject({ kind: "params", title: "Lower the title boost" });

      const decided = await sessions.decideApproval(
        approval.id,
        { decision: "approve", rationale: "looks right" },
        OPERATOR,
      );
      expect(decided).toMatchObject({ state: "approved", decidedBy: "tok_operator" });

      const proposal = await waitFor(
        async () => {
          const rows = await harness.server.running.database.db
            .selectFrom("proposals")
            .selectAll()
            .where("session_id", "=", session.id)
            .execute();
          return rows[0]?.status === "pr_opened" ? rows[0] : null;
        },
        { timeoutMs: 60_000, message: "the proposal never became a PR" },
      );
      expect(proposal.pr_number).toBeGreaterThan(0);
      const ended = await waitFor(
        async () => {
          const current = await sessions.get(session.id);
          return current.runState === "idle" ? current : null;
        },
        { timeoutMs: 30_000, message: "the session never went idle" },
      );
      expect(ended.outcome).toBeNull();
      expect(ended.lastConfidence).toBeCloseTo(0.82);
      expect((await runs.listToolCalls(session.id)).map((call) => call.status)).toEqual([
        "executed",
        "executed",
      ]);

      const statuses = (
        await harness.server.running.events.list({
          sessionId: session.id,
          kind: "session.status_changed",
          limit: 100,
        })
      )
        .map((event) => (JSON.parse(event.payloadJson) as { to: string }).to)
        .reverse();
      expect(statuses.slice(0, 3)).toEqual(["queued", "running", "awaiting_approval"]);
      expect(statuses[3]).toBe("running");
      // The PR worker announces what the new PR does to the session's status.
      expect(statuses.at(-1)).toBe("pr_open");
      // Newest first from the store: reversed, oldest first.
      const kinds = (await harness.server.running.events.list({ sessionId: session.id, limit: 1000 }))
        .map((event) => event.kind)
        .reverse();
      expect(kinds.indexOf("approval.requested")).toBeLessThan(kinds.indexOf("approval.decided"));
      expect(kinds.indexOf("approval.decided")).toBeLessThan(kinds.lastIndexOf("tool.invoked"));
    },
  );

  it.skipIf(skip)(
    "100 concurrent decisions on one approval: exactly one applies, the others are refused",
    async () => {
      const sessions = harness.server.running.sessions;
      const session = await sessions.create(
        {
          goal: "Raise nDCG@10 again",
          repoId: repo.repoId,
          agent: { skill: "tuner" },
          inputs: { params_path: "config/search.json" },
        },
        OPERATOR,
      );
      const approval = await pendingApproval(session.id);
      // Each caller honours SESSION_BUSY as a client would (try again), so all 100 reach the
      // decision itself: only the conditional write can keep a second one from applying.
      const decideUntilAnswered = async (i: number) => {
        for (;;) {
          try {
            return await sessions.decideApproval(
              approval.id,
              { decision: i % 2 === 0 ? "approve" : "reject" },
              OPERATOR,
            );
          } catch (error) {
            if (!(error instanceof AppError) || error.code !== "SESSION_BUSY") throw error;
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        }
      };
      const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => decideUntilAnswered(i)));
      const applied = results.filter((result) => result.status === "fulfilled");
      expect(applied).toHaveLength(1);
      for (const result of results) {
        if (result.status === "rejected") {
          expect(result.reason).toBeInstanceOf(AppError);
          expect((result.reason as AppError).code).toBe("APPROVAL_ALREADY_DECIDED");
        }
      }
      const events = (await harness.eventsOf("approval.decided")).filter(
        (event) => event.payload.approvalId === approval.id,
      );
      expect(events).toHaveLength(1);
    },
  );
});
