import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentRunStore } from "../../src/store/agent-run-store.js";
import { newId } from "../../src/store/ids.js";
import { SessionStore } from "../../src/store/session-store.js";
import { DATABASE_KINDS } from "../support/databases.js";
import { startPrHarness, type PrHarness } from "../support/pr-harness.js";
import { waitFor } from "../support/wait-for.js";

/**
 * What a process that stops at the wrong moment leaves behind, and how the session gets over it:
 * - a terminal tool that ran, with the session not yet ended with it (the call is stored
 *   `executed`, its result never reached the conversation): on resume the session ends with the
 *   tool's outcome — not lost, and the model is not asked for a step it never scripted;
 * - a message for an idle agent whose wake-up job was never queued: the watchdog's scan wakes it.
 */

describe.each(DATABASE_KINDS)(
  "sessions recovering from a stop at the wrong moment ($kind)",
  ({ kind, skip }) => {
    let harness: PrHarness;
    let dir: string;

    beforeAll(async () => {
      if (skip) return;
      dir = await mkdtemp(path.join(os.tmpdir(), "shepherd-terminal-"));
      await mkdir(path.join(dir, "pack"), { recursive: true });
      await writeFile(
        path.join(dir, "pack", "skill.yaml"),
        [
          "name: closer",
          "description: Resolves at once",
          "entry: main",
          "agents:",
          "  main:",
          "    prompt: main.md",
          "    tools: [mark_resolved]",
          "    routes: [{ when: default, next: end }]",
          "",
        ].join("\n"),
      );
      await writeFile(path.join(dir, "pack", "main.md"), "You close things.\n");
      // One step only: a second model call would fail the session.
      await writeFile(
        path.join(dir, "script.yaml"),
        "steps:\n  - tool_calls: [{ name: mark_resolved, args: { summary: 'All done', confidence: 0.8 } }]\n",
      );
      harness = await startPrHarness({
        kind,
        extraYaml: [
          "llm:",
          `  providers: { offline: { kind: stub, script: ${JSON.stringify(path.join(dir, "script.yaml"))} } }`,
          "  models: { replay: { provider: offline, model: replay } }",
          "agents:",
          `  skillPacks: [${JSON.stringify(path.join(dir, "pack"))}]`,
          "  approvals: { scanIntervalSeconds: 3600 }",
          // Gated, so the call waits where the test can step in.
          "  gate: { tools: { mark_resolved: high } }",
        ].join("\n"),
      });
    });

    afterAll(async () => {
      await harness?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it.skipIf(skip)("a terminal tool's outcome lost in a crash ends the session on resume", async () => {
      const sessions = harness.server.running.sessions;
      const created = await harness.api<{ id: string }>("POST", "/api/v1/sessions", {
        goal: "Close it",
        agent: { skill: "closer" },
      });
      const sessionId = created.body.id;
      const approval = await waitFor(
        async () => (await sessions.listApprovals({ state: "pending", sessionId, limit: 10 }))[0] ?? null,
        { timeoutMs: 30_000, message: "no pending approval" },
      );
      // What a process leaves behind when it dies right after the approved call ran: the decision
      // and the executed call are stored; the tool's answer and the session's ending are not.
      const db = harness.server.running.database.db;
      const now = Date.now();
      await db
        .updateTable("approvals")
        .set({ state: "approved", decided_at: now, decided_by: "tok_test" })
        .where("id", "=", approval.id)
        .execute();
      await db
        .updateTable("tool_calls")
        .set({ status: "executed", result: JSON.stringify({ resolved: true }), finished_at: now })
        .where("id", "=", approval.toolCallId)
        .execute();

      await sessions.wake(sessionId);
      const ended = await waitFor(
        async () => {
          const current = await sessions.get(sessionId);
          return current.outcome ? current : null;
        },
        { timeoutMs: 30_000, message: "the session never ended" },
      );
      expect(ended.outcome).toEqual({ kind: "resolved", detail: "All done" });
      expect(ended.lastConfidence).toBe(0.8);
    });

    it.skipIf(skip)(
      "a terminal tool that ran and answered, its session not yet ended, ends it on resume",
      async () => {
        const sessions = harness.server.running.sessions;
        const created = await harness.api<{ id: string }>("POST", "/api/v1/sessions", {
          goal: "Close it too",
          agent: { skill: "closer" },
        });
        const sessionId = created.body.id;
        const approval = await waitFor(
          async () => (await sessions.listApprovals({ state: "pending", sessionId, limit: 10 }))[0] ?? null,
          { timeoutMs: 30_000, message: "no pending approval" },
        );
        // This time the answer reached the conversation too; only the session's ending is missing.
        const db = harness.server.running.database.db;
        const now = Date.now();
        await db
          .updateTable("approvals")
          .set({ state: "approved", decided_at: now, decided_by: "tok_test" })
          .where("id", "=", approval.id)
          .execute();
        const call = await db
          .updateTable("tool_calls")
          .set({ status: "executed", result: JSON.stringify({ resolved: true }), finished_at: now })
          .where("id", "=", approval.toolCallId)
          .returningAll()
          .executeTakeFirstOrThrow();
        const runs = new AgentRunStore(db);
        const conversation = await runs.messages(call.run_id);
        await runs.appendMessage(
          {
            runId: call.run_id,
            sessionId,
            idx: conversation.length,
            role: "tool",
            body: {
              role: "tool",
              toolCallId: call.llm_call_id,
              toolName: "mark_resolved",
              result: { resolved: true },
              isError: false,
            },
          },
          now,
        );

        await sessions.wake(sessionId);
        const ended = await waitFor(
          async () => {
            const current = await sessions.get(sessionId);
            return current.outcome ? current : null;
          },
          { timeoutMs: 30_000, message: "the session never ended" },
        );
        // Not `failed` for asking the model a step its script does not have.
        expect(ended.outcome).toEqual({ kind: "resolved", detail: "All done" });
      },
    );

    it.skipIf(skip)("a message whose wake-up was lost is read after the watchdog's next scan", async () => {
      const sessions = harness.server.running.sessions;
      const db = harness.server.running.database.db;
      const long = Date.now() - 60_000;
      const session = await new SessionStore(db).create(
        {
          goal: "Answer when asked",
          repoId: null,
          branch: null,
          agent: { skill: "closer" },
          skill: "closer",
          runState: "idle",
          createdBy: "test",
        },
        long,
      );
      // The message was stored; the job that should have woken the agent never was.
      await db
        .insertInto("session_messages")
        .values({
          id: newId("msg", long),
          session_id: session.id,
          kind: "input",
          source: "human",
          text: "Please close it now.",
          full_text: null,
          pr_id: null,
          dedup_key: null,
          created_at: long,
          consumed_at: null,
        })
        .execute();

      await sessions.expireApprovals();
      // The agent woke, read the message and asked to resolve (the call waits for approval).
      const approval = await waitFor(
        async () =>
          (await sessions.listApprovals({ state: "pending", sessionId: session.id, limit: 10 }))[0] ?? null,
        { timeoutMs: 30_000, message: "the agent never woke" },
      );
      expect(approval.reason).toBe("high_risk_tool");
      const unread = await db
        .selectFrom("session_messages")
        .select("consumed_at")
        .where("session_id", "=", session.id)
        .execute();
      expect(unread.every((row) => row.consumed_at !== null)).toBe(true);
    });
  },
);
