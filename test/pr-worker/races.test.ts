import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ProposalStore } from "../../src/store/proposal-store.js";
import { DATABASE_KINDS } from "../support/databases.js";
import { startPrHarness, type HarnessRepo, type PrHarness } from "../support/pr-harness.js";
import { waitFor } from "../support/wait-for.js";

describe.each(DATABASE_KINDS)("PR worker races ($kind)", ({ kind, skip }) => {
  let h: PrHarness;
  let repo: HarnessRepo;

  beforeEach(async () => {
    if (skip) return;
    h = await startPrHarness({ kind });
    repo = await h.addRepo({ name: "races", files: { "p.json": '{"limit": 20}\n' } });
  });

  afterEach(async () => {
    if (!skip) await h.stop();
  });

  function filesProposal(index: number): Promise<{ id: string }> {
    return h.propose({
      repoId: repo.name,
      title: `Add note ${index}`,
      kind: "files",
      change: { files: [{ path: `notes/${index}.md`, content: `note ${index}\n` }] },
    });
  }

  it.skipIf(skip)(
    "a reject while the worker is mid-flight wins: the proposal stays rejected, the PR is left open",
    async () => {
      const { id } = await filesProposal(1);
      h.sim.admin.addFault({
        match: { method: "POST", path: "/pulls$" },
        times: 1,
        action: { type: "hold" },
      });
      await h.openPr(id);
      // The PR exists on GitHub; the worker is waiting for GitHub's answer.
      await waitFor(() => h.sim.admin.pulls(repo.owner, repo.repo).length === 1);
      const rejected = await h.api<{ status: string }>("POST", `/api/v1/proposals/${id}/reject`, {
        reason: "changed my mind",
      });
      expect([rejected.status, rejected.body.status]).toEqual([200, "rejected"]);
      h.sim.admin.releaseHeld();
      const orphan = await waitFor(async () =>
        (await h.eventsOf("pr.opened")).find((e) => e.payload.proposalId === id),
      );
      expect(orphan.payload).toMatchObject({ orphaned: true, proposalStatus: "rejected" });
      const after = await h.proposal(id);
      expect(after).toMatchObject({ status: "rejected", pr: null });
      expect(h.sim.admin.pulls(repo.owner, repo.repo)[0]?.state).toBe("open");
    },
  );

  it.skipIf(skip)(
    "20 proposals on one repo at once: 20 PRs, none lost, never two git operations on the clone at once",
    async () => {
      const proposals = await Promise.all(Array.from({ length: 20 }, (_, i) => filesProposal(i)));
      const answers = await Promise.all(proposals.map(({ id }) => h.openPr(id)));
      expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 20 }, () => 202));
      const settled = await Promise.all(proposals.map(({ id }) => h.settled(id, 120_000)));
      expect(settled.map((p) => p.status)).toEqual(Array.from({ length: 20 }, () => "pr_opened"));
      const pulls = h.sim.admin.pulls(repo.owner, repo.repo);
      expect(pulls).toHaveLength(20);
      expect(new Set(settled.map((p) => p.pr?.number)).size).toBe(20);
      expect(h.git.maxConcurrentPerClone).toBe(1);
    },
    180_000,
  );

  it.skipIf(skip)(
    "a double-click is one job and one PR; a retry after a failure is a fresh job that really runs",
    async () => {
      const { id } = await filesProposal(1);
      h.sim.admin.addFault({
        match: { method: "POST", path: "/pulls$" },
        times: 1,
        action: {
          type: "status",
          status: 422,
          body: {
            message: "Validation Failed",
            errors: [{ code: "custom", message: "Base branch is locked" }],
          },
        },
      });
      const [first, second] = await Promise.all([h.openPr(id), h.openPr(id)]);
      expect(first.body.jobId).toBe(second.body.jobId);
      expect([first.body.deduplicated, second.body.deduplicated].sort()).toEqual([false, true]);
      const failed = await h.settled(id);
      expect(failed.prOpenError).toMatch(/^GITHUB_API_FAILED/);

      const retry = await h.openPr(id);
      expect(retry.status).toBe(202);
      expect(retry.body.jobId).not.toBe(first.body.jobId);
      expect(retry.body.deduplicated).toBe(false);
      const done = await h.settled(id);
      expect(done).toMatchObject({ status: "pr_opened", prOpenError: null });
      expect(h.sim.admin.pulls(repo.owner, repo.repo)).toHaveLength(1);
    },
  );

  it.skipIf(skip)(
    "a proposal whose PR was closed can be reopened: the same PR is reopened, not a second one",
    async () => {
      const { id } = await filesProposal(1);
      await h.openPr(id);
      const opened = await h.settled(id);
      const number = opened.pr?.number ?? 0;
      h.sim.admin.closePull({ owner: repo.owner, repo: repo.repo, number });
      // What the PR observer does when it sees the PR closed unmerged.
      await new ProposalStore(h.server.running.database.db).followPr(id, ["pr_opened"], "closed", Date.now());

      const reopened = await h.api<{ status: string }>("POST", `/api/v1/proposals/${id}/reopen`);
      expect([reopened.status, reopened.body.status]).toEqual([200, "pending"]);
      expect((await h.api("POST", `/api/v1/proposals/${id}/reopen`)).status).toBe(409);
      await h.openPr(id);
      const again = await h.settled(id);
      expect([again.status, again.pr?.number]).toEqual(["pr_opened", number]);
      const pulls = h.sim.admin.pulls(repo.owner, repo.repo);
      expect(pulls).toHaveLength(1);
      expect(pulls[0]?.state).toBe("open");
    },
  );
});
