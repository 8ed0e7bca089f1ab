import { afterEach, describe, expect, it } from "vitest";
import { createObserver } from "../../src/services/observer/create-observer.js";
import { ObservationWriter } from "../../src/services/observer/observation-writer.js";
import { GitHubObserverClient } from "../../src/github/observer-client.js";
import { PullRequestStore } from "../../src/store/pull-request-store.js";
import { RepoStore } from "../../src/store/repo-store.js";
import { SecretReader } from "../../src/services/secrets.js";
import { DATABASE_KINDS } from "../support/databases.js";
import { OWNER, type HarnessRepo } from "../support/pr-harness.js";
import {
  PARAMS,
  startObserverHarness,
  type ObserverHarness,
  type OpenedPr,
} from "../support/observer-harness.js";

/**
 * Reactions (SPEC C5) end to end: the simulator changes a PR, an observer pass sees it, and the
 * owning session gets exactly the nudges it should — or humans get notified.
 */
const TICK_MS = 31_000;

interface Setup {
  repo: HarnessRepo;
  sessionId: string;
  opened: OpenedPr;
}

async function setup(h: ObserverHarness, options: { session?: boolean } = {}): Promise<Setup> {
  const repo = await h.addRepo({ name: "search", files: PARAMS });
  const session = options.session === false ? null : await h.createSession({ repoId: repo.repoId });
  const opened = await h.openTrackedPr(repo, session ? { sessionId: session.id } : {});
  await h.tick();
  return { repo, sessionId: session?.id ?? "", opened };
}

async function headOf(h: ObserverHarness, opened: OpenedPr): Promise<string> {
  return (await h.sim.admin.branchHead(OWNER, "search", opened.branch)) ?? "";
}

/** A completed "unit" check on the PR's current head. */
async function completeCheck(
  h: ObserverHarness,
  opened: OpenedPr,
  conclusion: "success" | "failure",
  log?: string,
): Promise<void> {
  h.sim.admin.setCheckRun({
    owner: OWNER,
    repo: "search",
    sha: await headOf(h, opened),
    name: "unit",
    status: "completed",
    conclusion,
    ...(log === undefined ? {} : { log }),
  });
}

function approve(h: ObserverHarness, opened: OpenedPr): void {
  h.sim.admin.addReview({
    owner: OWNER,
    repo: "search",
    number: opened.number,
    user: "alice",
    state: "APPROVED",
  });
}

async function pass(h: ObserverHarness, ms: number = TICK_MS): Promise<void> {
  h.clock.advance(ms);
  await h.tick();
}

async function nudges(h: ObserverHarness, sessionId: string, source: string): Promise<string[]> {
  return (await h.messages(sessionId))
    .filter((message) => message.source === source)
    .map((message) => message.text);
}

/** A new commit on the PR's branch (a fix attempt), then a failing check on it. */
async function failOnNewCommit(
  h: ObserverHarness,
  opened: OpenedPr,
  name: string,
  attempt: number,
): Promise<string> {
  const sha = await h.sim.admin.pushFiles({
    owner: OWNER,
    repo: "search",
    branch: opened.branch,
    files: { [`fix-${attempt}.txt`]: `${attempt}\n` },
  });
  h.sim.admin.setCheckRun({
    owner: OWNER,
    repo: "search",
    sha,
    name,
    status: "completed",
    conclusion: "failure",
    log: `attempt ${attempt} failed\n`,
  });
  return sha;
}

describe.each(DATABASE_KINDS)("reactions ($kind)", ({ kind, skip }) => {
  let h: ObserverHarness;

  afterEach(async () => {
    if (!skip) await h.stop();
  });

  it.skipIf(skip)(
    "a CI failure nudges the owner once, with each failing check's name, URL and log tail",
    async () => {
      h = await startObserverHarness({ kind });
      const { sessionId, opened } = await setup(h);
      const sha = await headOf(h, opened);
      const unit = h.sim.admin.setCheckRun({
        owner: OWNER,
        repo: "search",
        sha,
        name: "unit",
        status: "completed",
        conclusion: "failure",
        log: "ok 1\nnot ok 2 - boosts titles\n",
      });
      h.sim.admin.setCheckRun({
        owner: OWNER,
        repo: "search",
        sha,
        name: "lint",
        status: "completed",
        conclusion: "timed_out",
        log: "eslint hung\n",
      });
      await pass(h);
      await pass(h);
      await pass(h);
      const sent = await nudges(h, sessionId, "reaction:ci_failed");
      expect(sent).toHaveLength(1);
      expect(sent[0]).toContain("Failed: unit (failure)");
      expect(sent[0]).toContain("Failed: lint (timed_out)");
      expect(sent[0]).toContain(`/actions/runs/`);
      expect(sent[0]).toContain(`/job/${unit.jobId}`);
      expect(sent[0]).toContain("not ok 2 - boosts titles");
      expect(sent[0]).toContain("eslint hung");
      const fired = (await h.eventsOf("nudge.sent"))[0]?.payload;
      expect(fired).toMatchObject({ prId: opened.prId, source: "reaction:ci_failed" });
    },
  );

  it.skipIf(skip)(
    "CI keeps failing: two nudges (retries: 2), then one urgent escalation and silence until CI passes; a later failure nudges again",
    async () => {
      h = await startObserverHarness({ kind });
      const { sessionId, opened } = await setup(h);
      for (let attempt = 1; attempt <= 4; attempt++) {
        await failOnNewCommit(h, opened, "unit", attempt);
        await pass(h);
        await pass(h);
      }
      expect(await nudges(h, sessionId, "reaction:ci_failed")).toHaveLength(2);
      const escalations = (await h.notifications()).filter((n) => n.kind === "reaction.escalated");
      expect(escalations).toHaveLength(1);
      expect(escalations[0]).toMatchObject({ priority: "urgent", prId: opened.prId });
      expect((await h.eventsOf("reaction.escalated"))[0]?.payload).toMatchObject({ reaction: "ci_failed" });

      const green = await h.sim.admin.pushFiles({
        owner: OWNER,
        repo: "search",
        branch: opened.branch,
        files: { "green.txt": "g\n" },
      });
      h.sim.admin.setCheckRun({
        owner: OWNER,
        repo: "search",
        sha: green,
        name: "unit",
        status: "completed",
        conclusion: "success",
      });
      await pass(h);
      await pass(h);
      await failOnNewCommit(h, opened, "unit", 5);
      await pass(h);
      await pass(h);
      expect(await nudges(h, sessionId, "reaction:ci_failed")).toHaveLength(3);
    },
  );

  it.skipIf(skip)(
    "review feedback nudges for new comments only, stops at max_nudges and escalates",
    async () => {
      h = await startObserverHarness({ kind });
      const { sessionId, opened } = await setup(h);
      const review = async (body: string): Promise<void> => {
        h.sim.admin.addReview({
          owner: OWNER,
          repo: "search",
          number: opened.number,
          user: "alice",
          state: "CHANGES_REQUESTED",
          body: `summary: ${body}`,
          comments: [{ path: "params.json", line: 1, body }],
        });
        // GitHub's updatedAt has whole seconds; a later review must land in a later second.
        await new Promise((resolve) => setTimeout(resolve, 1050));
        await pass(h);
        await pass(h);
      };
      await review("please keep a at 1");
      const first = await nudges(h, sessionId, "reaction:changes_requested");
      expect(first).toHaveLength(1);
      expect(first[0]).toContain("@alice");
      expect(first[0]).toContain("params.json:1");
      expect(first[0]).toContain("please keep a at 1");
      // Nothing new: no nudge.
      await pass(h);
      expect(await nudges(h, sessionId, "reaction:changes_requested")).toHaveLength(1);
      await review("also check b");
      await review("and the YAML twin");
      expect(await nudges(h, sessionId, "reaction:changes_requested")).toHaveLength(3);
      await review("fourth remark");
      expect(await nudges(h, sessionId, "reaction:changes_requested")).toHaveLength(3);
      const escalated = (await h.notifications()).filter((n) => n.kind === "reaction.escalated");
      expect(escalated).toHaveLength(1);
      expect(escalated[0]?.title).toContain("Changes requested");
    },
    30_000,
  );

  it.skipIf(skip)("bot review comments are not passed on by default, and are with include_bots", async () => {
    h = await startObserverHarness({ kind });
    const { sessionId, opened } = await setup(h);
    h.sim.admin.addReview({
      owner: OWNER,
      repo: "search",
      number: opened.number,
      user: "lint-bot[bot]",
      state: "COMMENTED",
      comments: [{ path: "params.json", line: 1, body: "style nit from a bot" }],
    });
    await pass(h);
    await pass(h);
    expect(await nudges(h, sessionId, "reaction:changes_requested")).toEqual([]);
    await h.stop();

    h = await startObserverHarness({ kind, reactionsYaml: ["  changes_requested: { include_bots: true }"] });
    const other = await setup(h);
    h.sim.admin.addReview({
      owner: OWNER,
      repo: "search",
      number: other.opened.number,
      user: "lint-bot[bot]",
      state: "COMMENTED",
      comments: [{ path: "params.json", line: 1, body: "style nit from a bot" }],
    });
    await pass(h);
    await pass(h);
    const sent = await nudges(h, other.sessionId, "reaction:changes_requested");
    expect(sent).toHaveLength(1);
    expect(sent[0]).toContain("style nit from a bot");
  });

  it.skipIf(skip)(
    "a merge conflict nudges once; cleared and back, it nudges again",
    async () => {
      h = await startObserverHarness({ kind });
      const { sessionId, opened } = await setup(h);
      const conflictWith = async (value: number): Promise<void> => {
        await h.sim.admin.pushFiles({
          owner: OWNER,
          repo: "search",
          branch: "main",
          files: { "params.json": `{"a": ${value}, "b": 2}\n` },
        });
      };
      const untilMergeable = async (wanted: string): Promise<void> => {
        for (let i = 0; i < 4; i++) {
          // Past the stale age: the base moving does not touch the PR's own updatedAt.
          await pass(h, 6 * 60_000);
          if ((await h.pr(opened.prId)).mergeable === wanted) return;
        }
        throw new Error(`never ${wanted}`);
      };
      await conflictWith(5);
      await untilMergeable("CONFLICTING");
      await pass(h);
      const first = await nudges(h, sessionId, "reaction:merge_conflict");
      expect(first).toHaveLength(1);
      expect(first[0]).toContain("merge conflicts with main");

      // The agent merges main into its branch: no conflict any more.
      await h.sim.admin.pushFiles({
        owner: OWNER,
        repo: "search",
        branch: opened.branch,
        files: { "params.json": '{"a": 5, "b": 2}\n' },
      });
      await untilMergeable("MERGEABLE");
      expect(await nudges(h, sessionId, "reaction:merge_conflict")).toHaveLength(1);

      await conflictWith(7);
      await untilMergeable("CONFLICTING");
      const messages = (await h.messages(sessionId)).filter(
        (message) => message.source === "reaction:merge_conflict",
      );
      expect(messages).toHaveLength(2);
      expect(messages[0]?.dedupKey).not.toBe(messages[1]?.dedupKey);
    },
    30_000,
  );

  it.skipIf(skip)("approved and green notifies once by default", async () => {
    h = await startObserverHarness({ kind });
    const { opened } = await setup(h);
    await completeCheck(h, opened, "success");
    approve(h, opened);
    for (let i = 0; i < 4; i++) await pass(h);
    const ready = (await h.notifications()).filter((n) => n.kind === "approved_and_green");
    expect(ready).toHaveLength(1);
    expect(ready[0]?.title).toContain("Ready to merge");
    expect(h.sim.admin.pull(OWNER, "search", opened.number)?.merged).toBe(false);
  });

  it.skipIf(skip)(
    "auto_merge merges for real, with the configured method, only where the repo allows it",
    async () => {
      h = await startObserverHarness({
        kind,
        reactionsYaml: ["  approved_and_green: { action: auto_merge, method: merge }"],
      });
      const { repo, opened } = await setup(h);
      const approveAndPass = async (): Promise<void> => {
        await completeCheck(h, opened, "success");
        approve(h, opened);
        for (let i = 0; i < 3; i++) await pass(h);
      };
      await approveAndPass();
      // Not allowed for this repo: humans are told, nothing is merged.
      expect(h.sim.admin.pull(OWNER, "search", opened.number)?.merged).toBe(false);
      const told = (await h.notifications()).filter((n) => n.kind === "approved_and_green");
      expect(told).toHaveLength(1);
      expect(told[0]?.body).toContain("not allowed for search");

      expect(
        (await h.api("PATCH", `/api/v1/repos/${repo.repoId}`, { autoMerge: true, version: 1 })).status,
      ).toBe(200);
      // A new head commit makes it a new readiness signature.
      await h.sim.admin.pushFiles({
        owner: OWNER,
        repo: "search",
        branch: opened.branch,
        files: { "more.txt": "m\n" },
      });
      await approveAndPass();
      const pull = h.sim.admin.pull(OWNER, "search", opened.number);
      expect(pull?.merged).toBe(true);
      const merge = await h.sim.admin.commitMessage(OWNER, "search", pull?.mergeCommitSha ?? "");
      expect(merge).toMatch(/^Merge pull request/);
      await pass(h);
      expect((await h.proposal(opened.proposalId)).status).toBe("merged");
    },
  );

  it.skipIf(skip)(
    "a PR without an agent (a manual proposal) sends its feedback to humans instead",
    async () => {
      h = await startObserverHarness({ kind });
      const { opened } = await setup(h, { session: false });
      await completeCheck(h, opened, "failure", "boom\n");
      await pass(h);
      await pass(h);
      const told = (await h.notifications()).filter((n) => n.kind === "ci_failed");
      expect(told).toHaveLength(1);
      expect(told[0]?.body).toContain("boom");
    },
  );

  it.skipIf(skip)(
    "never types into a session blocked on an approval; delivers once it is unblocked",
    async () => {
      h = await startObserverHarness({ kind });
      const { sessionId, opened } = await setup(h);
      await h.updateSession(sessionId, {
        runState: "paused",
        pauseKind: "approval",
        pausedAt: h.clock.now(),
      });
      await completeCheck(h, opened, "failure", "boom\n");
      await pass(h);
      await pass(h);
      expect(await h.messages(sessionId)).toEqual([]);
      await h.updateSession(sessionId, { runState: "running", pauseKind: null, pausedAt: null });
      await pass(h);
      await pass(h);
      expect(await nudges(h, sessionId, "reaction:ci_failed")).toHaveLength(1);
    },
  );

  it.skipIf(skip)("a nudge for an exited session goes to humans, marked undeliverable", async () => {
    h = await startObserverHarness({ kind });
    const { sessionId, opened } = await setup(h);
    await h.updateSession(sessionId, { runState: "exited" });
    await completeCheck(h, opened, "failure", "boom\n");
    await pass(h);
    await pass(h);
    expect(await h.messages(sessionId)).toEqual([]);
    const told = (await h.notifications()).filter((n) => n.kind === "ci_failed");
    expect(told).toHaveLength(1);
    expect(told[0]?.title).toContain("(exited)");
  });

  it.skipIf(skip)("a merge conflict that lasts past escalate_after (15m) escalates once", async () => {
    h = await startObserverHarness({ kind });
    const { opened } = await setup(h);
    await h.sim.admin.pushFiles({
      owner: OWNER,
      repo: "search",
      branch: "main",
      files: { "params.json": '{"a": 9, "b": 2}\n' },
    });
    for (let i = 0; i < 4 && (await h.pr(opened.prId)).mergeable !== "CONFLICTING"; i++)
      await pass(h, 6 * 60_000);
    await pass(h, 16 * 60_000);
    await pass(h, 16 * 60_000);
    const escalated = (await h.notifications()).filter((n) => n.kind === "reaction.escalated");
    expect(escalated).toHaveLength(1);
    expect(escalated[0]?.body).toContain("unresolved for more than 15 min");
  });

  it.skipIf(skip)("agents that wait for input or go silent are reported to humans once", async () => {
    h = await startObserverHarness({ kind });
    const waiting = await h.createSession({ repoId: null });
    await h.updateSession(waiting.id, { runState: "paused", pauseKind: "input", pausedAt: h.clock.now() });
    const silent = await h.createSession({ repoId: null });
    await h.updateSession(silent.id, { lastActivityAt: h.clock.now() });
    await pass(h);
    await pass(h, 11 * 60_000);
    await pass(h);
    const notes = await h.notifications();
    expect(notes.filter((n) => n.kind === "agent_needs_input" && n.sessionId === waiting.id)).toHaveLength(1);
    const stuck = notes.filter((n) => n.kind === "agent_stuck");
    expect(stuck).toHaveLength(1);
    expect(stuck[0]).toMatchObject({ sessionId: silent.id, priority: "urgent" });
  });

  it.skipIf(skip)(
    "a crash between persisting an observation and reacting to it: the reaction runs once, not zero or two times",
    async () => {
      h = await startObserverHarness({ kind });
      const { sessionId, opened, repo } = await setup(h);
      await completeCheck(h, opened, "failure", "boom\n");
      // Persist the new observation the way the observer does, and "crash" before reacting.
      const running = h.server.running;
      const token = await new SecretReader(h.server.home, running.redactor).read(`file:${repo.name}-token`);
      const scm = new GitHubObserverClient(running.github.forToken(token, "observer"), running.github.budget);
      const fetched = await scm.fetchPulls(
        [{ owner: OWNER, repo: "search", number: opened.number, threads: true }],
        AbortSignal.timeout(5000),
      );
      const found = fetched.pulls[0];
      if (!found?.found) throw new Error("not found");
      const repoRecord = await new RepoStore(running.database.db).get(repo.repoId);
      if (!repoRecord) throw new Error("no repo");
      const persisted = await new ObservationWriter(running.events).write({
        record: await h.pr(opened.prId),
        repo: repoRecord,
        observation: found.observation,
        threadsFetched: true,
        fetchStartedAt: h.clock.now(),
        now: h.clock.now(),
      });
      expect(persisted.observedHash).not.toBe(persisted.reactedHash);
      expect(await h.messages(sessionId)).toEqual([]);

      // A fresh observer (a restarted process: nothing in memory) picks the reaction up.
      const restarted = createObserver({
        config: running.config,
        database: running.database,
        repos: new RepoStore(running.database.db),
        pullRequests: new PullRequestStore(running.database.db),
        events: running.events,
        secrets: new SecretReader(h.server.home, running.redactor),
        github: running.github,
        notifier: running.notifications,
        metrics: running.metrics,
        logger: running.logger,
        now: h.clock.now,
      });
      await restarted.tick();
      expect(await nudges(h, sessionId, "reaction:ci_failed")).toHaveLength(1);
      const acknowledged = await h.pr(opened.prId);
      expect(acknowledged.reactedHash).toBe(acknowledged.observedHash);

      // A crash after the nudge but before the acknowledgement: the re-run finds it delivered.
      await running.database.db
        .updateTable("pull_requests")
        .set({ reacted_hash: persisted.reactedHash, reactions: JSON.stringify(persisted.reactions) })
        .where("id", "=", opened.prId)
        .execute();
      h.clock.advance(TICK_MS);
      await restarted.tick();
      await restarted.stop();
      expect(await nudges(h, sessionId, "reaction:ci_failed")).toHaveLength(1);
      expect(
        (await h.eventsOf("nudge.sent")).filter((e) => e.payload.source === "reaction:ci_failed"),
      ).toHaveLength(1);
    },
  );
  it.skipIf(skip)(
    "a long nudge is cut to the cap with a pointer to the whole text, which is kept with the message",
    async () => {
      h = await startObserverHarness({ kind });
      const { sessionId, opened } = await setup(h);
      h.sim.admin.addReview({
        owner: OWNER,
        repo: "search",
        number: opened.number,
        user: "alice",
        state: "CHANGES_REQUESTED",
        comments: Array.from({ length: 6 }, (_, i) => ({
          path: "params.json",
          line: 1,
          body: `remark ${i}: ${"x".repeat(1500)}\u001b[31m`,
        })),
      });
      await pass(h);
      await pass(h);
      const [message] = (await h.messages(sessionId)).filter(
        (candidate) => candidate.source === "reaction:changes_requested",
      );
      expect(message?.text.length).toBeLessThanOrEqual(4000);
      expect(message?.text).toContain(`shepherd pr show ${opened.prId}`);
      expect(message?.fullText?.length).toBeGreaterThan(4000);
      expect(message?.fullText).toContain("remark 5");
      // Escape sequences from GitHub never reach the agent.
      expect(message?.fullText).not.toContain("\u001b");
    },
  );
});
