import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import type { FaultAction } from "../support/github-sim/faults.js";
import { startPrHarness, type HarnessRepo, type PrHarness } from "../support/pr-harness.js";
import { waitFor } from "../support/wait-for.js";

/** GitHub faults against the PR and comment requests: bounded retries, exactly one PR and one comment. */
describe.each(DATABASE_KINDS)("PR worker under GitHub faults ($kind)", ({ kind, skip }) => {
  let h: PrHarness;
  let repo: HarnessRepo;

  beforeEach(async () => {
    if (skip) return;
    h = await startPrHarness({ kind });
    repo = await h.addRepo({ name: "faults", files: { "p.json": '{"a": 1, "b": 2}\n' } });
  });

  afterEach(async () => {
    if (!skip) await h.stop();
  });

  async function openWith(action: FaultAction, times: number, path = "/pulls$", method = "POST") {
    const { id } = await h.propose({
      repoId: repo.name,
      title: "Tune a",
      kind: "params",
      change: { path: "p.json", set: { a: { to: 3 } } },
      evidence: { importance: { a: 0.9, b: 0.1 } },
    });
    h.sim.admin.addFault({ match: { method, path }, times, action });
    await h.openPr(id);
    return { id, done: await h.settled(id, 90_000) };
  }

  function posts(pathEnd: string): number {
    return h.sim.admin.requests().filter((r) => r.method === "POST" && r.path.endsWith(pathEnd)).length;
  }

  it.skipIf(skip)("retries 5xx and then succeeds, with one PR", async () => {
    const { done } = await openWith({ type: "status", status: 502 }, 2);
    expect(done.status).toBe("pr_opened");
    expect(h.sim.admin.pulls(repo.owner, repo.repo)).toHaveLength(1);
    expect(posts("/pulls")).toBe(3);
  });

  it.skipIf(skip)("waits out a 429 with Retry-After, then succeeds, with one PR", async () => {
    const { done } = await openWith({ type: "rate-limit", retryAfter: 1 }, 1);
    expect(done.status).toBe("pr_opened");
    expect(h.sim.admin.pulls(repo.owner, repo.repo)).toHaveLength(1);
    expect(posts("/pulls")).toBe(2);
  });

  it.skipIf(skip).each(["retry-after", "reset", "message"] as const)(
    "waits out a secondary-limit 403 (%s shape), then succeeds, with one PR",
    async (shape) => {
      const { done } = await openWith({ type: "secondary-limit", shape, seconds: 1 }, 1);
      expect(done.status).toBe("pr_opened");
      expect(h.sim.admin.pulls(repo.owner, repo.repo)).toHaveLength(1);
      expect(posts("/pulls")).toBe(2);
    },
  );

  it.skipIf(skip)(
    "a PR request that times out after GitHub created the PR links that PR instead of opening another",
    async () => {
      const { done } = await openWith({ type: "delay-after", ms: 7000 }, 1);
      expect(done.status).toBe("pr_opened");
      const pulls = h.sim.admin.pulls(repo.owner, repo.repo);
      expect(pulls).toHaveLength(1);
      expect(done.pr?.number).toBe(pulls[0]?.number);
    },
  );

  it.skipIf(skip)("a lost answer to the chart comment does not post it twice", async () => {
    const { done } = await openWith({ type: "delay-after", ms: 7000 }, 1, "/issues/\\d+/comments$");
    expect(done.status).toBe("pr_opened");
    expect(h.sim.admin.issueComments(repo.owner, repo.repo, done.pr?.number ?? 0)).toHaveLength(1);
  });

  it.skipIf(skip)("5xx on the chart comment is retried after looking again: one comment", async () => {
    const { done } = await openWith({ type: "status", status: 503 }, 1, "/issues/\\d+/comments$");
    expect(done.status).toBe("pr_opened");
    expect(h.sim.admin.issueComments(repo.owner, repo.repo, done.pr?.number ?? 0)).toHaveLength(1);
  });

  it.skipIf(skip)(
    "a rate limit longer than the allowed wait goes back to the queue for that long, not a failed attempt",
    async () => {
      const { id } = await h.propose({
        repoId: repo.name,
        title: "Tune b",
        kind: "params",
        change: { path: "p.json", set: { b: { to: 3 } } },
      });
      h.sim.admin.addFault({
        match: { method: "POST", path: "/pulls$" },
        times: 1,
        action: { type: "secondary-limit", shape: "reset", seconds: 120 },
      });
      const { body } = await h.openPr(id);
      // The worker records the error, then hands the job back to the queue: wait for both.
      const { proposal, job } = await waitFor(async () => {
        const current = await h.proposal(id);
        const info = await h.server.running.queue.getJob("pr-open", body.jobId);
        return current.prOpenError && info?.state !== "active" ? { proposal: current, job: info } : null;
      });
      expect(job?.state).toBe("queued");
      expect(proposal.status).toBe("pending");
      expect(proposal.prOpenError).toMatch(/^GITHUB_API_FAILED: .*rate limited.*\(retrying\)$/);
      // Put back for the time GitHub named (about 120 s), without spending an attempt.
      expect((job?.runAt.getTime() ?? 0) - Date.now()).toBeGreaterThan(100_000);
      expect(job?.attempts).toBe(0);
    },
    90_000,
  );

  it.skipIf(skip)(
    "gives up after bounded retries when GitHub keeps failing, and says so",
    async () => {
      const { done } = await openWith({ type: "status", status: 502 }, 1000);
      expect(done.status).toBe("pending");
      expect(done.prOpenError).toMatch(/^GITHUB_API_FAILED: /);
      // 3 attempts per call × 3 job attempts, and no PR.
      expect(posts("/pulls")).toBe(9);
      expect(h.sim.admin.pulls(repo.owner, repo.repo)).toHaveLength(0);
    },
    120_000,
  );
});
