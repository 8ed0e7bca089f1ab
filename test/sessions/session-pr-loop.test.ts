import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeAll, afterAll, describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { startObserverHarness, type ObserverHarness } from "../support/observer-harness.js";
import { OWNER, type HarnessRepo } from "../support/pr-harness.js";
import { waitFor } from "../support/wait-for.js";

/**
 * The whole loop of SPEC C6 item "Nudges into agents", offline, through the public API: a
 * stub-driven session reads a repo file, submits a gated proposal, an operator approves, the PR
 * opens on the simulator, CI fails, the observer nudges the session, the agent pushes a fix to
 * the same branch (a follow-up, SPEC C3), CI passes, the PR is merged, the session ends `merged`.
 */

const SKILL = `name: tuner
description: Tunes a search params file and fixes what CI finds
entry: tuner
agents:
  tuner:
    prompt: prompts/tuner.md
    tools: [read_file, submit_proposal, mark_resolved]
    routes:
      - { when: default, next: end }
`;

const FILE = '{\n  "title_boost": 2.5,\n  "timeout_ms": 100\n}\n';

/** Steps 1–3: read, propose (gated), end the turn. Steps 4–5 only run once a CI nudge arrives. */
const SCRIPT = `steps:
  - tool_calls: [{ name: read_file, args: { path: config/search.json } }]
  - tool_calls:
      - name: submit_proposal
        args:
          kind: params
          title: Lower the title boost
          change: { path: config/search.json, set: { title_boost: { from: 2.5, to: 2 } } }
          evidence: { summary: "nDCG@10 rose from 0.61 to 0.64 on the offline study" }
  - text: '{"content": "Proposed title_boost 2.0", "confidence": 0.82, "rationale": "the study", "signal": "success"}'
  - expect_user: CI is failing
    tool_calls:
      - name: submit_proposal
        args:
          kind: params
          title: Give slow queries more time
          followUpOf: 1
          change: { path: config/search.json, set: { timeout_ms: { from: 100, to: 250 } } }
          evidence: { summary: "the integration suite timed out at 100 ms" }
  - text: '{"content": "Pushed the timeout fix", "confidence": 0.9, "rationale": "the log names the timeout", "signal": "success"}'
`;

interface SessionDetail {
  id: string;
  status: string;
  proposals: { id: string; status: string; followUpOf?: string | null }[];
  pullRequests?: { id: string; number: number; state: string }[];
}

interface EventView {
  seq: number;
  kind: string;
  payload: Record<string, unknown>;
}

describe.each(DATABASE_KINDS)("a session through CI failure to merge ($kind)", ({ kind, skip }) => {
  let dir: string;
  let h: ObserverHarness;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "shepherd-loop-"));
    await mkdir(path.join(dir, "pack", "prompts"), { recursive: true });
    await writeFile(path.join(dir, "pack", "skill.yaml"), SKILL);
    await writeFile(path.join(dir, "pack", "prompts", "tuner.md"), "You tune search parameters.\n");
    await writeFile(path.join(dir, "script.yaml"), SCRIPT);
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    if (!skip) await h?.stop();
  });

  async function start(followUps: "auto" | "approve"): Promise<HarnessRepo> {
    h = await startObserverHarness({
      kind,
      extraYaml: [
        "llm:",
        `  providers: { offline: { kind: stub, script: ${JSON.stringify(path.join(dir, "script.yaml"))} } }`,
        "  models: { replay: { provider: offline, model: replay } }",
        "agents:",
        `  skillPacks: [${JSON.stringify(path.join(dir, "pack"))}]`,
        "  approvals: { scanIntervalSeconds: 3600 }",
      ].join("\n"),
    });
    const repo = await h.addRepo({ name: "search", files: { "config/search.json": FILE } });
    const patched = await h.api("PATCH", `/api/v1/repos/${repo.repoId}`, { followUps });
    expect(patched.status).toBe(200);
    return repo;
  }

  async function getJson<T>(url: string): Promise<T> {
    const response = await h.server.app.inject({
      method: "GET",
      url,
      headers: { authorization: `Bearer ${h.server.adminToken}`, accept: "application/json" },
    });
    if (response.statusCode !== 200) throw new Error(`GET ${url}: ${response.statusCode} ${response.body}`);
    return JSON.parse(response.body) as T;
  }

  const detail = (id: string) => getJson<SessionDetail>(`/api/v1/sessions/${id}`);

  async function pendingApproval(sessionId: string): Promise<{ id: string; reason: string }> {
    return waitFor(
      async () => {
        const page = await getJson<{ data: { id: string; sessionId: string; reason: string }[] }>(
          "/api/v1/approvals?state=pending",
        );
        return page.data.find((approval) => approval.sessionId === sessionId) ?? null;
      },
      { timeoutMs: 30_000, message: "no pending approval" },
    );
  }

  async function settledStatus(id: string, status: string): Promise<SessionDetail> {
    return waitFor(
      async () => {
        const current = await detail(id);
        return current.status === status ? current : null;
      },
      { timeoutMs: 60_000, message: `session ${id} never became ${status}` },
    );
  }

  async function startSession(): Promise<string> {
    const created = await h.api<{ id: string }>("POST", "/api/v1/sessions", {
      goal: "Raise nDCG@10",
      repoId: "search",
      agent: { skill: "tuner" },
    });
    expect(created.status).toBe(201);
    return created.body.id;
  }

  async function approveAndOpen(sessionId: string): Promise<{ number: number; branch: string }> {
    const approval = await pendingApproval(sessionId);
    expect(approval.reason).toBe("high_risk_tool");
    const decided = await h.api("POST", `/api/v1/approvals/${approval.id}`, { decision: "approve" });
    expect(decided.status).toBe(200);
    const opened = await settledStatus(sessionId, "pr_open");
    const proposal = opened.proposals[0];
    expect(proposal?.status).toBe("pr_opened");
    const view = await h.proposal(proposal?.id ?? "");
    return { number: view.pr?.number ?? 0, branch: view.pr?.branch ?? "" };
  }

  async function failCi(branch: string): Promise<void> {
    const sha = await h.sim.admin.branchHead(OWNER, "search", branch);
    h.sim.admin.setCheckRun({
      owner: OWNER,
      repo: "search",
      sha: sha ?? "",
      name: "integration",
      status: "completed",
      conclusion: "failure",
      log: "search › slow query\nError: timed out after 100 ms\n",
    });
    h.clock.advance(31_000);
    await h.tick();
  }

  async function events(sessionId: string): Promise<EventView[]> {
    const page = await getJson<{ data: EventView[] }>(`/api/v1/events?session=${sessionId}&limit=200`);
    return page.data.reverse();
  }

  it.skipIf(skip)(
    "read → gated proposal → approve → PR → CI fails → nudge → follow-up on the same branch → CI passes → merged",
    async () => {
      await start("auto");
      const sessionId = await startSession();
      const pr = await approveAndOpen(sessionId);
      expect(pr).toMatchObject({ number: 1, branch: `shepherd/session-${sessionId}` });
      const firstHead = await h.sim.admin.branchHead(OWNER, "search", pr.branch);

      await failCi(pr.branch);
      // The nudge wakes the agent; its fix is a follow-up the repo takes without a new approval.
      const pushed = await waitFor(
        async () => {
          const current = await detail(sessionId);
          const followUp = current.proposals.find((proposal) => proposal.followUpOf);
          return followUp?.status === "pr_opened" ? followUp : null;
        },
        { timeoutMs: 60_000, message: "the follow-up was never pushed" },
      ).catch(async (error: unknown) => {
        const log = await events(sessionId);
        throw new Error(
          `${(error as Error).message}; events: ${log.map((event) => `${event.kind} ${JSON.stringify(event.payload).slice(0, 300)}`).join("\n")}`,
        );
      });
      const pulls = h.sim.admin.pulls(OWNER, "search");
      expect(pulls).toHaveLength(1);
      const newHead = await h.sim.admin.branchHead(OWNER, "search", pr.branch);
      expect(newHead).not.toBe(firstHead);
      expect(await h.sim.admin.commitMessage(OWNER, "search", newHead ?? "")).toContain(
        `Shepherd-Proposal: ${pushed.id}`,
      );
      const content = await h.sim.admin.readFile({
        owner: OWNER,
        repo: "search",
        ref: pr.branch,
        path: "config/search.json",
      });
      expect(JSON.parse(content ?? "{}")).toEqual({ title_boost: 2, timeout_ms: 250 });
      // The repo takes follow-ups without a new approval: none was asked for.
      const approvals = await getJson<{ data: { sessionId: string }[] }>(`/api/v1/approvals`);
      expect(approvals.data.filter((approval) => approval.sessionId === sessionId)).toHaveLength(1);

      h.sim.admin.setCheckRun({
        owner: OWNER,
        repo: "search",
        sha: newHead ?? "",
        name: "integration",
        status: "completed",
        conclusion: "success",
      });
      h.clock.advance(31_000);
      await h.tick();
      await h.sim.admin.mergePull({ owner: OWNER, repo: "search", number: pr.number });
      h.clock.advance(31_000);
      await h.tick();

      const ended = await settledStatus(sessionId, "merged");
      expect(ended.proposals.map((proposal) => proposal.status)).toEqual(["merged", "merged"]);
      // Ending through an observation teaches like any ending: the lesson is there at once.
      const lessons = await getJson<{ extracted: { outcome: { kind: string } }[] }>(
        `/api/v1/sessions/${sessionId}/lessons`,
      );
      expect(lessons.extracted.map((lesson) => lesson.outcome.kind)).toEqual(["merged"]);

      const log = await events(sessionId);
      const kinds = log.map((event) => event.kind);
      const at = (kind: string, from = 0): number => {
        const index = kinds.indexOf(kind, from);
        expect(index, `${kind} after position ${from} in ${kinds.join(", ")}`).toBeGreaterThanOrEqual(0);
        return index;
      };
      // Every step, in order.
      let position = at("session.created");
      position = at("approval.requested", position);
      position = at("approval.decided", position);
      position = at("pr.opened", position);
      position = at("nudge.sent", position);
      position = at("proposal.created", position);
      position = at("pr.follow_up_pushed", position);
      at("pr.state_changed", position);
      const statuses = log
        .filter((event) => event.kind === "session.status_changed")
        .map((event) => event.payload.to);
      expect(statuses.slice(0, 3)).toEqual(["queued", "running", "awaiting_approval"]);
      expect(statuses).toContain("pr_open");
      expect(statuses.indexOf("ci_failed")).toBeGreaterThan(statuses.indexOf("pr_open"));
      expect(statuses.at(-1)).toBe("merged");
      expect(statuses.filter((status) => status === "merged")).toHaveLength(1);
      const nudge = log.find((event) => event.kind === "nudge.sent");
      expect(JSON.stringify(nudge?.payload)).toContain("integration");
      const followUpGate = log.find(
        (event) => event.kind === "gate.fired" && event.payload.reason === "follow_up_auto",
      );
      expect(followUpGate).toBeDefined();
    },
    180_000,
  );

  it.skipIf(skip)(
    "with followUps: approve, the agent's fix waits for an operator again",
    async () => {
      await start("approve");
      const sessionId = await startSession();
      const pr = await approveAndOpen(sessionId);
      const head = await h.sim.admin.branchHead(OWNER, "search", pr.branch);
      await failCi(pr.branch);

      const second = await waitFor(
        async () => {
          const page = await getJson<{ data: { id: string; sessionId: string; reason: string }[] }>(
            "/api/v1/approvals?state=pending",
          );
          return page.data.find((approval) => approval.sessionId === sessionId) ?? null;
        },
        { timeoutMs: 60_000, message: "the follow-up never asked for approval" },
      );
      expect(second.reason).toBe("high_risk_tool");
      expect((await detail(sessionId)).status).toBe("awaiting_approval");
      // Nothing reached the branch before the decision.
      expect(await h.sim.admin.branchHead(OWNER, "search", pr.branch)).toBe(head);

      const decided = await h.api("POST", `/api/v1/approvals/${second.id}`, { decision: "approve" });
      expect(decided.status).toBe(200);
      await waitFor(
        async () => {
          const current = await detail(sessionId);
          return current.proposals.some((proposal) => proposal.followUpOf && proposal.status === "pr_opened")
            ? current
            : null;
        },
        { timeoutMs: 60_000, message: "the approved follow-up was never pushed" },
      );
      expect(await h.sim.admin.branchHead(OWNER, "search", pr.branch)).not.toBe(head);
      expect(h.sim.admin.pulls(OWNER, "search")).toHaveLength(1);
    },
    180_000,
  );
});
