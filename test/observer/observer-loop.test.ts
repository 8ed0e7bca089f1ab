import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { OWNER } from "../support/pr-harness.js";
import { PARAMS, startObserverHarness, type ObserverHarness } from "../support/observer-harness.js";

/**
 * The observer loop of SPEC C4 against the GitHub simulator, driven pass by pass (`tick()`),
 * with the observer's clock moved forward instead of waiting.
 */
const TICK_MS = 31_000;

/** The newest event of a kind (the log lists newest first). */
async function latest(h: ObserverHarness, kind: string): Promise<Record<string, unknown> | undefined> {
  return (await h.eventsOf(kind))[0]?.payload;
}

function graphqlCalls(h: ObserverHarness): number {
  return h.requestsSinceMark().filter((request) => request.path === "/api/graphql").length;
}

function listCalls(h: ObserverHarness, repo: string): number {
  return h
    .requestsSinceMark()
    .filter((request) => request.method === "GET" && request.path === `/api/v3/repos/${OWNER}/${repo}/pulls`)
    .length;
}

/** Ticks until the PR's CI and mergeability have settled (GitHub computes mergeability lazily). */
async function settle(h: ObserverHarness, prId: string): Promise<void> {
  for (let i = 0; i < 5; i++) {
    h.clock.advance(TICK_MS);
    await h.tick();
    const pr = await h.pr(prId);
    if (pr.mergeable !== "UNKNOWN" && pr.ciState !== "pending") return;
  }
  throw new Error("the PR never settled");
}

describe.each(DATABASE_KINDS)("PR observer loop ($kind)", ({ kind, skip }) => {
  let h: ObserverHarness;

  afterEach(async () => {
    if (!skip) await h.stop();
  });

  it.skipIf(skip)(
    "applies an observation: facts, checks with a log tail, and pr.observed with what changed",
    async () => {
      h = await startObserverHarness({ kind });
      const repo = await h.addRepo({ name: "search", files: PARAMS });
      const opened = await h.openTrackedPr(repo);
      await h.tick();
      const first = await h.pr(opened.prId);
      const simPull = h.sim.admin.pull(OWNER, "search", opened.number);
      expect(first).toMatchObject({
        state: "open",
        number: opened.number,
        headSha: simPull?.headSha,
        ciState: "none",
      });
      expect(first.fetchedAt).not.toBeNull();

      h.sim.admin.setCheckRun({
        owner: OWNER,
        repo: "search",
        sha: first.headSha,
        name: "lint",
        status: "completed",
        conclusion: "success",
      });
      h.sim.admin.setCheckRun({
        owner: OWNER,
        repo: "search",
        sha: first.headSha,
        name: "unit",
        status: "completed",
        conclusion: "failure",
        log: Array.from(
          { length: 30 },
          (_, i) => `2026-11-21T10:00:${String(i).padStart(2, "0")}.0000000Z step ${i}`,
        ).join("\n"),
      });
      h.clock.advance(TICK_MS);
      await h.tick();
      const failing = await h.pr(opened.prId);
      expect(failing.ciState).toBe("failure");
      const checks = failing.observation?.ci.checks ?? [];
      expect(checks.map((check) => [check.name, check.state]).sort()).toEqual([
        ["lint", "success"],
        ["unit", "failure"],
      ]);
      const unit = checks.find((check) => check.name === "unit");
      expect(unit?.logTail?.split("\n")).toHaveLength(20);
      expect(unit?.logTail).toMatch(/^step 10\n/);
      expect(unit?.logTail).not.toContain("2026-11-21T");
      const observed = await latest(h, "pr.observed");
      expect(observed).toMatchObject({ prId: opened.prId, ci: "failure" });
      expect(observed?.changes).toContain("ci");
    },
  );

  it.skipIf(skip)("a failed fetch is never read as a closed PR", async () => {
    h = await startObserverHarness({ kind });
    const repo = await h.addRepo({ name: "search", files: PARAMS });
    const opened = await h.openTrackedPr(repo);
    await h.tick();
    // The PR is closed on GitHub, but every GraphQL read fails: nothing may be concluded.
    h.sim.admin.closePull({ owner: OWNER, repo: "search", number: opened.number });
    h.sim.admin.addFault({
      match: { path: "^/api/graphql$" },
      times: 100,
      action: { type: "status", status: 502 },
    });
    h.clock.advance(TICK_MS);
    const report = await h.tick();
    expect(report.errors).toBeGreaterThan(0);
    expect((await h.pr(opened.prId)).state).toBe("open");
    expect((await h.proposal(opened.proposalId)).status).toBe("pr_opened");
    expect(await h.eventsOf("pr.state_changed")).toEqual([]);
    // A failed list read is no evidence either.
    h.sim.admin.addFault({ match: { path: "/pulls$" }, times: 100, action: { type: "status", status: 500 } });
    h.clock.advance(TICK_MS);
    await h.tick();
    expect((await h.pr(opened.prId)).state).toBe("open");
    // Once GitHub answers, the close is seen.
    h.sim.admin.clearFaults();
    h.clock.advance(TICK_MS);
    await h.tick();
    expect((await h.pr(opened.prId)).state).toBe("closed");
    expect((await h.proposal(opened.proposalId)).status).toBe("closed");
  });

  it.skipIf(skip)(
    "sessions without a branch or without a PR track nothing; a PR on a session's branch is discovered, most recently updated first",
    async () => {
      h = await startObserverHarness({ kind });
      const repo = await h.addRepo({ name: "search", files: PARAMS });
      await h.createSession({ repoId: repo.repoId, branch: null });
      const session = await h.createSession({ repoId: repo.repoId, branch: "agent/feature" });
      h.mark();
      await h.tick();
      expect(await h.api("GET", "/api/v1/pull-requests").then((answer) => answer.body)).toMatchObject({
        data: [],
      });
      expect(graphqlCalls(h)).toBe(0);

      await h.sim.admin.pushFiles({
        owner: OWNER,
        repo: "search",
        branch: "release",
        files: { "r.txt": "r\n" },
      });
      await h.sim.admin.pushFiles({
        owner: OWNER,
        repo: "search",
        branch: "agent/feature",
        files: { "f.txt": "f\n" },
      });
      const create = async (base: string): Promise<number> => {
        const response = await fetch(`${h.sim.baseUrl}/api/v3/repos/${OWNER}/search/pulls`, {
          method: "POST",
          headers: { authorization: `token ${repo.token}`, "content-type": "application/json" },
          body: JSON.stringify({ title: `feature into ${base}`, head: "agent/feature", base }),
        });
        expect(response.status).toBe(201);
        return ((await response.json()) as { number: number }).number;
      };
      await create("main");
      // GitHub's updatedAt has whole seconds: the second PR must be later by at least one.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const newer = await create("release");
      h.clock.advance(TICK_MS);
      await h.tick();
      const tracked = await h.api<{ data: { number: number; sessionId: string | null }[] }>(
        "GET",
        `/api/v1/pull-requests?session=${session.id}`,
      );
      expect(tracked.body.data.map((pr) => pr.number)).toEqual([newer]);
    },
  );

  it.skipIf(skip)(
    "a rate limit skips the rest of the pass and cools that token down, not the others",
    async () => {
      h = await startObserverHarness({ kind });
      const shared = await h.sim.admin.createRepo({ owner: OWNER, name: "alpha", files: PARAMS });
      await h.sim.admin.createRepo({ owner: OWNER, name: "beta", files: PARAMS });
      const token = h.sim.admin.createToken({ repos: [shared.fullName, `${OWNER}/beta`] });
      await writeFile(path.join(h.server.home, "secrets", "shared"), token, { mode: 0o600 });
      for (const name of ["alpha", "beta"]) {
        const answer = await h.api("POST", "/api/v1/repos", {
          name,
          url: `${h.sim.baseUrl}/${OWNER}/${name}`,
          tokenRef: "file:shared",
        });
        expect(answer.status).toBe(201);
      }
      await h.addRepo({ name: "gamma", files: PARAMS });
      h.sim.admin.addFault({
        match: { path: `/repos/${OWNER}/alpha/pulls$` },
        times: 1,
        action: { type: "rate-limit", retryAfter: 120 },
      });
      h.mark();
      const limited = await h.tick();
      expect(limited.rateLimited).toBe(true);
      expect(listCalls(h, "alpha")).toBe(1);
      // The rest of the pass was skipped: neither beta nor gamma was read.
      expect(listCalls(h, "beta")).toBe(0);
      expect(listCalls(h, "gamma")).toBe(0);

      h.mark();
      h.clock.advance(TICK_MS);
      await h.tick();
      // The token cools down for what GitHub said (120 s); the other token's repo goes on.
      expect(listCalls(h, "alpha") + listCalls(h, "beta")).toBe(0);
      expect(listCalls(h, "gamma")).toBe(1);

      h.mark();
      h.clock.advance(120_000);
      await h.tick();
      expect(listCalls(h, "alpha")).toBe(1);
      expect(listCalls(h, "beta")).toBe(1);
    },
  );

  it.skipIf(skip)("an auth failure marks the repo unhealthy until a real answer or a new token", async () => {
    h = await startObserverHarness({ kind });
    const repo = await h.addRepo({ name: "search", files: PARAMS });
    const opened = await h.openTrackedPr(repo);
    await h.tick();
    expect((await h.repoObservation(repo.repoId))?.health).toBe("ok");

    h.sim.admin.addFault({ match: { path: "/pulls$" }, times: 1, action: { type: "status", status: 401 } });
    h.clock.advance(TICK_MS);
    await h.tick();
    expect((await h.repoObservation(repo.repoId))?.health).toBe("auth_failed");
    expect(await latest(h, "repo.health_changed")).toMatchObject({
      repo: "search",
      from: "ok",
      to: "auth_failed",
    });
    const shown = await h.api<{ observation: { health: string; healthReason: string } }>(
      "GET",
      "/api/v1/repos/search",
    );
    expect(shown.body.observation.health).toBe("auth_failed");
    expect(shown.body.observation.healthReason).toMatch(/401/);
    const ready = await h.server.app.inject({ method: "GET", url: "/readyz" });
    expect(JSON.parse(ready.body)).toMatchObject({
      github: { repos: [{ name: "search", health: "auth_failed" }] },
    });

    // A 304 does not prove the token works: the failure stays.
    h.clock.advance(TICK_MS);
    await h.tick();
    expect((await h.repoObservation(repo.repoId))?.health).toBe("auth_failed");

    // A change makes GitHub answer in full with the same token: healthy again.
    await h.sim.admin.pushFiles({
      owner: OWNER,
      repo: "search",
      branch: opened.branch,
      files: { "x.txt": "x\n" },
    });
    h.clock.advance(TICK_MS);
    await h.tick();
    expect((await h.repoObservation(repo.repoId))?.health).toBe("ok");

    // Revoked: unhealthy, and it stays so while the token is the same …
    h.sim.admin.revokeToken(repo.token);
    h.clock.advance(TICK_MS);
    await h.tick();
    expect((await h.repoObservation(repo.repoId))?.health).toBe("auth_failed");
    // … until the secret holds a new token (rotation without restart).
    const rotated = h.sim.admin.createToken({ repos: [`${OWNER}/search`] });
    await writeFile(path.join(h.server.home, "secrets", "search-token"), rotated, { mode: 0o600 });
    h.clock.advance(TICK_MS);
    await h.tick();
    expect((await h.repoObservation(repo.repoId))?.health).toBe("ok");
  });

  it.skipIf(skip)("a generic error on one repo does not stop the others", async () => {
    h = await startObserverHarness({ kind });
    await h.addRepo({ name: "broken", files: PARAMS });
    const repo = await h.addRepo({ name: "search", files: PARAMS });
    const opened = await h.openTrackedPr(repo);
    h.sim.admin.addFault({
      match: { path: `/repos/${OWNER}/broken/pulls$` },
      times: 100,
      action: { type: "status", status: 500 },
    });
    const report = await h.tick();
    expect(report.errors).toBeGreaterThan(0);
    expect(report.rateLimited).toBe(false);
    expect((await h.pr(opened.prId)).fetchedAt).not.toBeNull();
  });

  it.skipIf(skip)(
    "each GitHub call has a deadline: a hanging GitHub cannot hold a pass",
    async () => {
      h = await startObserverHarness({
        kind,
        observerYaml: ["  intervalSeconds: 30", "  requestTimeoutSeconds: 1"],
      });
      const repo = await h.addRepo({ name: "search", files: PARAMS });
      const opened = await h.openTrackedPr(repo);
      h.sim.admin.addFault({
        match: { path: "^/api/graphql$" },
        times: 10,
        action: { type: "delay", ms: 120_000 },
      });
      // Without the deadline this pass would wait two minutes and the test would time out.
      const report = await h.tick();
      expect(report.errors).toBeGreaterThan(0);
      expect((await h.pr(opened.prId)).fetchedAt).toBeNull();
      h.sim.admin.clearFaults();
      await h.tick();
      expect((await h.pr(opened.prId)).fetchedAt).not.toBeNull();
    },
    20_000,
  );

  it.skipIf(skip)("repeated passes with nothing changed make no GraphQL call and no nudge", async () => {
    h = await startObserverHarness({ kind });
    const repo = await h.addRepo({ name: "search", files: PARAMS });
    const session = await h.createSession({ repoId: repo.repoId });
    const opened = await h.openTrackedPr(repo, { sessionId: session.id });
    const sha = (await h.sim.admin.branchHead(OWNER, "search", opened.branch)) ?? "";
    h.sim.admin.setCheckRun({
      owner: OWNER,
      repo: "search",
      sha,
      name: "unit",
      status: "completed",
      conclusion: "success",
    });
    await h.tick();
    await settle(h, opened.prId);
    h.mark();
    for (let i = 0; i < 4; i++) {
      h.clock.advance(TICK_MS);
      const report = await h.tick();
      expect(report.graphqlQueries).toBe(0);
      expect(report.effects).toBe(0);
    }
    expect(graphqlCalls(h)).toBe(0);
    // The list reads were all conditional and answered 304.
    const lists = h.requestsSinceMark().filter((request) => request.path.endsWith("/pulls"));
    expect(lists.length).toBe(4);
    expect(lists.every((request) => request.status === 304)).toBe(true);
    expect(await h.messages(session.id)).toEqual([]);
  });

  it.skipIf(skip)(
    "a PR merged while absent from the open list is detected, and its proposal follows",
    async () => {
      h = await startObserverHarness({ kind });
      const repo = await h.addRepo({ name: "search", files: PARAMS });
      const opened = await h.openTrackedPr(repo);
      await h.tick();
      await h.sim.admin.mergePull({ owner: OWNER, repo: "search", number: opened.number });
      h.clock.advance(TICK_MS);
      const report = await h.tick();
      expect(report.fetchReasons.vanished).toBe(1);
      expect((await h.pr(opened.prId)).state).toBe("merged");
      expect((await h.proposal(opened.proposalId)).status).toBe("merged");
      expect(await latest(h, "proposal.status_changed")).toMatchObject({
        proposalId: opened.proposalId,
        from: "pr_opened",
        to: "merged",
        cause: "pr_merged",
      });
      expect(await latest(h, "pr.state_changed")).toMatchObject({
        from: "open",
        to: "merged",
      });
      h.clock.advance(TICK_MS);
      await h.tick();
      const merged = (await h.notifications()).filter((notification) => notification.kind === "pr_merged");
      expect(merged).toHaveLength(1);
      expect(merged[0]?.priority).toBe("info");
    },
  );

  it.skipIf(skip)(
    "a PR closed and reopened on GitHub moves its proposal to closed and back to pr_opened",
    async () => {
      h = await startObserverHarness({ kind });
      const repo = await h.addRepo({ name: "search", files: PARAMS });
      const opened = await h.openTrackedPr(repo);
      await h.tick();
      h.sim.admin.closePull({ owner: OWNER, repo: "search", number: opened.number });
      h.clock.advance(TICK_MS);
      await h.tick();
      expect((await h.proposal(opened.proposalId)).status).toBe("closed");
      expect((await h.notifications()).filter((n) => n.kind === "pr_closed")).toHaveLength(1);
      h.sim.admin.reopenPull({ owner: OWNER, repo: "search", number: opened.number });
      h.clock.advance(TICK_MS);
      await h.tick();
      expect((await h.pr(opened.prId)).state).toBe("open");
      expect((await h.proposal(opened.proposalId)).status).toBe("pr_opened");
    },
  );
});
