import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { GitHubBudget } from "../../src/github/github-budget.js";
import {
  GitHubClients,
  type GitHubClientProfile,
  type GitHubPolicy,
} from "../../src/github/github-client.js";
import {
  AuthFailed,
  GitHubUnavailable,
  PermissionDenied,
  RateLimited,
} from "../../src/github/github-errors.js";
import { GitHubObserverClient } from "../../src/github/observer-client.js";
import { MemoryEtagCache } from "../../src/github/octokit-plugins.js";
import { tokenFingerprint } from "../../src/github/token-fingerprint.js";
import type { PrObservation } from "../../src/domain/pull-request.js";
import { createMetrics, type Metrics } from "../../src/observability/metrics.js";
import type { FetchedPull, PullToFetch } from "../../src/services/observer/scm-port.js";
import type { SimRequestRecord } from "../support/github-sim/request-log.js";
import type { CreateTokenInput } from "../support/github-sim/sim-admin.js";
import { callSim } from "../support/github-sim/sim-http-client.js";
import { startGitHubSimulator, type GitHubSimulatorInternals } from "../support/github-sim/simulator.js";
import { waitFor } from "../support/wait-for.js";

/**
 * The GitHub side of the PR observer (SPEC C4) against the real simulator: real git, real HTTP,
 * GraphQL over GitHub's schema. Observations, ETag-guarded listings, costs read from the
 * simulator's own accounting, error mapping, the caller's deadline, job logs and merges.
 */

const OWNER = "acme";

const POLICY: GitHubPolicy = {
  writeSpacingMs: 10,
  maxRateLimitWaitSeconds: 5,
  rateLimitRetries: 2,
  serverErrorRetries: 2,
  retryBaseMs: 50,
  requestTimeoutMs: 10_000,
  secondaryLimitFallbackSeconds: 1,
};

let sim: GitHubSimulatorInternals;
let apiUrl: string;
let repoCount = 0;
let branchCount = 0;

beforeAll(async () => {
  sim = await startGitHubSimulator({ contentCreationPerMinute: 100_000 });
  apiUrl = `${sim.baseUrl}/api/v3`;
});

afterEach(() => {
  vi.restoreAllMocks();
  sim.admin.clearFaults();
  sim.admin.releaseHeld();
  sim.admin.clearRequests();
});

afterAll(async () => {
  await sim?.stop();
});

/** A repository of its own, so that its PR list and its base branch belong to one test. */
async function newRepo(): Promise<string> {
  repoCount += 1;
  const name = `repo-${repoCount}`;
  await sim.admin.createRepo({ owner: OWNER, name, files: { "README.md": "hello\n" } });
  return name;
}

function newToken(repo: string, input: Partial<CreateTokenInput> = {}): string {
  return sim.admin.createToken({ repos: [`${OWNER}/${repo}`], ...input });
}

interface Setup {
  observer: GitHubObserverClient;
  budget: GitHubBudget;
  metrics: Metrics;
  clients: GitHubClients;
}

function setup(
  token: string,
  options: {
    profile?: GitHubClientProfile;
    threadsPageSize?: number;
    observerPolicy?: Partial<GitHubPolicy>;
  } = {},
): Setup {
  const metrics = createMetrics();
  const budget = new GitHubBudget(metrics);
  const clients = new GitHubClients(apiUrl, POLICY, budget, new MemoryEtagCache(), options.observerPolicy);
  const client = clients.forToken(token, options.profile ?? "observer");
  const threads = options.threadsPageSize === undefined ? {} : { threadsPageSize: options.threadsPageSize };
  return { observer: new GitHubObserverClient(client, budget, threads), budget, metrics, clients };
}

/** Every test call gets a generous deadline; the deadline tests use short ones. */
function deadline(ms = 15_000): AbortSignal {
  return AbortSignal.timeout(ms);
}

/** A new branch with `files` on top of main and an open PR for it, opened by the token's user. */
async function newPull(
  repo: string,
  token: string,
  files: Record<string, string> = {},
): Promise<{ number: number; branch: string; sha: string }> {
  branchCount += 1;
  const branch = `topic-${branchCount}`;
  const sha = await sim.admin.pushFiles({
    owner: OWNER,
    repo,
    branch,
    files: { [`${branch}.txt`]: `${branch}\n`, ...files },
  });
  const answer = await callSim(sim.baseUrl, "POST", `/repos/${OWNER}/${repo}/pulls`, {
    token,
    body: { title: `Change ${branch}`, head: branch, base: "main" },
  });
  expect(answer.status).toBe(201);
  return { number: (answer.json as { number: number }).number, branch, sha };
}

function ref(repo: string, number: number, threads = false): PullToFetch {
  return { owner: OWNER, repo, number, threads };
}

function observed(fetched: FetchedPull | undefined): PrObservation {
  if (!fetched?.found) throw new Error(`expected a found pull request, got ${JSON.stringify(fetched)}`);
  return fetched.observation;
}

async function observeOne(observer: GitHubObserverClient, target: PullToFetch): Promise<PrObservation> {
  const batch = await observer.fetchPulls([target], deadline());
  return observed(batch.pulls[0]);
}

function requestsTo(path: string | RegExp, method?: string): SimRequestRecord[] {
  return sim.admin
    .requests()
    .filter(
      (request) =>
        (typeof path === "string" ? request.path === path : path.test(request.path)) &&
        (method === undefined || request.method === method),
    );
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
}

describe("fetchPulls: the facts of a pull request", () => {
  it("an open PR as GitHub stores it; no checks → CI none; no threads asked → review null", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const { number, branch, sha } = await newPull(repo, token);
    const stored = sim.admin.pull(OWNER, repo, number);
    if (!stored) throw new Error("the simulator lost the pull request");

    const batch = await observer.fetchPulls([ref(repo, number)], deadline());
    expect(batch.pulls).toHaveLength(1);
    expect(batch.pulls[0]?.ref).toEqual(ref(repo, number));
    expect(observed(batch.pulls[0])).toEqual({
      nodeId: stored.nodeId,
      number,
      url: `${sim.baseUrl}/${OWNER}/${repo}/pull/${number}`,
      title: `Change ${branch}`,
      author: "shepherd-bot",
      state: "open",
      draft: false,
      headRef: branch,
      headRepo: `${OWNER}/${repo}`,
      headSha: sha,
      baseRef: "main",
      updatedAt: stored.updatedAt,
      mergedAt: null,
      closedAt: null,
      // The first read after the PR was opened: GitHub is still computing.
      mergeable: "UNKNOWN",
      mergeStateStatus: "UNKNOWN",
      reviewDecision: "REVIEW_REQUIRED",
      commentsCount: 0,
      ci: { state: "none", checks: [], partial: false },
      review: null,
    } satisfies PrObservation);
    expect(batch.cost).toBe(1);
    expect(batch.remaining).toBe(sim.admin.rateLimit(token).graphql.remaining);
  });

  it("CI success from check runs and commit statuses; neutral and skipped runs are neutral", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const { number, sha } = await newPull(repo, token);
    const build = sim.admin.setCheckRun({
      owner: OWNER,
      repo,
      sha,
      name: "build",
      status: "completed",
      conclusion: "success",
    });
    const lint = sim.admin.setCheckRun({
      owner: OWNER,
      repo,
      sha,
      name: "lint",
      status: "completed",
      conclusion: "neutral",
    });
    const docs = sim.admin.setCheckRun({
      owner: OWNER,
      repo,
      sha,
      name: "docs",
      status: "completed",
      conclusion: "skipped",
    });
    sim.admin.setCommitStatus({
      owner: OWNER,
      repo,
      sha,
      context: "ci/external",
      state: "success",
      targetUrl: "https://ci.example.com/build/7",
    });

    const observation = await observeOne(observer, ref(repo, number));
    expect(observation.ci.state).toBe("success");
    expect(observation.ci.partial).toBe(false);
    expect(observation.ci.checks).toEqual([
      {
        id: `check:${build.checkRunId}`,
        name: "build",
        kind: "check_run",
        state: "success",
        conclusion: "success",
        url: `${sim.baseUrl}/${OWNER}/${repo}/actions/runs/${observation.ci.checks[0]?.url?.match(/runs\/(\d+)/)?.[1]}/job/${build.jobId}`,
        jobId: build.jobId,
        logTail: null,
      },
      expect.objectContaining({ id: `check:${lint.checkRunId}`, state: "neutral", conclusion: "neutral" }),
      expect.objectContaining({ id: `check:${docs.checkRunId}`, state: "neutral", conclusion: "skipped" }),
      {
        id: "status:ci/external",
        name: "ci/external",
        kind: "status",
        state: "success",
        conclusion: "success",
        url: "https://ci.example.com/build/7",
        jobId: null,
        logTail: null,
      },
    ]);
  });

  it("CI failure: a failing Actions run has a jobId whose log fetchJobLog returns; each failing conclusion is a failure", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const { number, sha } = await newPull(repo, token);
    const log = "Run npm test\n  1 failing\nError: expected 2 to equal 3\n";
    const failing = sim.admin.setCheckRun({
      owner: OWNER,
      repo,
      sha,
      name: "test",
      status: "completed",
      conclusion: "failure",
      log,
    });
    for (const conclusion of ["timed_out", "cancelled", "action_required"] as const) {
      sim.admin.setCheckRun({ owner: OWNER, repo, sha, name: conclusion, status: "completed", conclusion });
    }
    sim.admin.setCheckRun({
      owner: OWNER,
      repo,
      sha,
      name: "ok",
      status: "completed",
      conclusion: "success",
    });
    sim.admin.setCommitStatus({ owner: OWNER, repo, sha, context: "deploy", state: "error" });
    sim.admin.setCommitStatus({ owner: OWNER, repo, sha, context: "coverage", state: "failure" });

    const observation = await observeOne(observer, ref(repo, number));
    expect(observation.ci.state).toBe("failure");
    const byName = new Map(observation.ci.checks.map((check) => [check.name, check]));
    expect(byName.get("test")).toMatchObject({
      id: `check:${failing.checkRunId}`,
      state: "failure",
      conclusion: "failure",
      jobId: failing.jobId,
      logTail: null,
    });
    expect(byName.get("test")?.url).toMatch(new RegExp(`/actions/runs/\\d+/job/${failing.jobId}$`));
    for (const conclusion of ["timed_out", "cancelled", "action_required"]) {
      expect(byName.get(conclusion)).toMatchObject({ state: "failure", conclusion });
    }
    expect(byName.get("ok")?.state).toBe("success");
    expect(byName.get("deploy")).toMatchObject({ kind: "status", state: "failure", conclusion: "error" });
    expect(byName.get("coverage")).toMatchObject({ kind: "status", state: "failure", conclusion: "failure" });

    expect(await observer.fetchJobLog({ owner: OWNER, repo }, failing.jobId, deadline())).toBe(log);
  });

  it("CI pending: a running check or a pending status; a run with a non-Actions URL has no jobId", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const { number, sha } = await newPull(repo, token);
    sim.admin.setCheckRun({
      owner: OWNER,
      repo,
      sha,
      name: "slow",
      status: "in_progress",
      detailsUrl: "https://ci.example.com/runs/5",
    });
    sim.admin.setCheckRun({ owner: OWNER, repo, sha, name: "queued", status: "queued" });
    sim.admin.setCheckRun({
      owner: OWNER,
      repo,
      sha,
      name: "ok",
      status: "completed",
      conclusion: "success",
    });
    sim.admin.setCommitStatus({ owner: OWNER, repo, sha, context: "external", state: "pending" });

    const observation = await observeOne(observer, ref(repo, number));
    expect(observation.ci.state).toBe("pending");
    const byName = new Map(observation.ci.checks.map((check) => [check.name, check]));
    expect(byName.get("slow")).toMatchObject({
      state: "pending",
      conclusion: null,
      url: "https://ci.example.com/runs/5",
      jobId: null,
    });
    expect(byName.get("queued")).toMatchObject({ state: "pending", conclusion: null });
    expect(byName.get("external")).toMatchObject({ state: "pending", conclusion: "pending" });
    expect(byName.get("ok")?.state).toBe("success");
  });

  it("more contexts than one page → ci.partial, with the first page of checks", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const { number, sha } = await newPull(repo, token);
    for (let index = 0; index < 51; index += 1) {
      sim.admin.setCommitStatus({ owner: OWNER, repo, sha, context: `ctx-${index}`, state: "success" });
    }
    const observation = await observeOne(observer, ref(repo, number));
    expect(observation.ci.partial).toBe(true);
    expect(observation.ci.checks).toHaveLength(50);
    expect(observation.ci.state).toBe("success");

    // Exactly one page: not partial.
    const other = await newPull(repo, token);
    for (let index = 0; index < 50; index += 1) {
      sim.admin.setCommitStatus({
        owner: OWNER,
        repo,
        sha: other.sha,
        context: `ctx-${index}`,
        state: "success",
      });
    }
    const full = await observeOne(observer, ref(repo, other.number));
    expect(full.ci.partial).toBe(false);
    expect(full.ci.checks).toHaveLength(50);
  });

  it("mergeable: UNKNOWN on the first read after a push, then MERGEABLE; CONFLICTING after a conflicting base push", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const { number, branch } = await newPull(repo, token, { "shared.txt": "from the branch\n" });

    const first = await observeOne(observer, ref(repo, number));
    expect([first.mergeable, first.mergeStateStatus]).toEqual(["UNKNOWN", "UNKNOWN"]);
    const second = await observeOne(observer, ref(repo, number));
    expect([second.mergeable, second.mergeStateStatus]).toEqual(["MERGEABLE", "CLEAN"]);

    // A push to the PR: unknown again for one read.
    const moved = await sim.admin.pushFiles({ owner: OWNER, repo, branch, files: { "more.txt": "more\n" } });
    const afterPush = await observeOne(observer, ref(repo, number));
    expect(afterPush.headSha).toBe(moved);
    expect(afterPush.mergeable).toBe("UNKNOWN");
    expect((await observeOne(observer, ref(repo, number))).mergeable).toBe("MERGEABLE");

    // The base gets the same file with other content: a conflict, after one unknown read.
    await sim.admin.pushFiles({ owner: OWNER, repo, branch: "main", files: { "shared.txt": "from main\n" } });
    expect((await observeOne(observer, ref(repo, number))).mergeable).toBe("UNKNOWN");
    const conflicting = await observeOne(observer, ref(repo, number));
    expect([conflicting.mergeable, conflicting.mergeStateStatus]).toEqual(["CONFLICTING", "DIRTY"]);
  });

  it("draft, merged and closed", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const draft = await newPull(repo, token);
    const merged = await newPull(repo, token);
    const closed = await newPull(repo, token);
    sim.admin.setDraft({ owner: OWNER, repo, number: draft.number, draft: true });
    await sim.admin.mergePull({ owner: OWNER, repo, number: merged.number });
    sim.admin.closePull({ owner: OWNER, repo, number: closed.number });

    const batch = await observer.fetchPulls(
      [ref(repo, draft.number), ref(repo, merged.number), ref(repo, closed.number)],
      deadline(),
    );
    const [asDraft, asMerged, asClosed] = batch.pulls.map(observed);
    expect(asDraft).toMatchObject({ number: draft.number, state: "open", draft: true });
    const mergedStored = sim.admin.pull(OWNER, repo, merged.number);
    expect(asMerged).toMatchObject({
      number: merged.number,
      state: "merged",
      draft: false,
      mergedAt: mergedStored?.mergedAt,
      closedAt: mergedStored?.closedAt,
    });
    expect(asMerged?.mergedAt).not.toBeNull();
    const closedStored = sim.admin.pull(OWNER, repo, closed.number);
    expect(asClosed).toMatchObject({ number: closed.number, state: "closed", mergedAt: null });
    expect(asClosed?.closedAt).toBe(closedStored?.closedAt);
    expect(asClosed?.closedAt).not.toBeNull();
  });

  it("a PR number that does not exist, and a repository outside the token → found: false, the rest found", async () => {
    const repo = await newRepo();
    const hidden = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const { number } = await newPull(repo, token);

    const batch = await observer.fetchPulls([ref(repo, 9999), ref(repo, number), ref(hidden, 1)], deadline());
    expect(batch.pulls.map((pull) => [pull.ref.repo, pull.ref.number, pull.found])).toEqual([
      [repo, 9999, false],
      [repo, number, true],
      [hidden, 1, false],
    ]);
    const [missing, , outside] = batch.pulls;
    expect(missing?.found === false && missing.reason).toBe(
      "Could not resolve to a PullRequest with the number of 9999.",
    );
    expect(outside?.found === false && outside.reason).toBe(
      `Could not resolve to a Repository with the name '${OWNER}/${hidden}'.`,
    );
    expect(observed(batch.pulls[1]).number).toBe(number);
    expect(batch.cost).toBe(1);
  });

  it("an empty batch asks GitHub nothing", async () => {
    const repo = await newRepo();
    const { observer } = setup(newToken(repo));
    expect(await observer.fetchPulls([], deadline())).toEqual({ pulls: [], cost: 0, remaining: null });
    expect(requestsTo("/api/graphql")).toEqual([]);
  });
});

describe("fetchPulls: review feedback", () => {
  it("unresolved threads only, bots flagged, outdated threads without a line, change requests, viewer", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const { number, branch } = await newPull(repo, token, { "a.txt": "one\n", "b.txt": "two\n" });
    const human = sim.admin.addReview({
      owner: OWNER,
      repo,
      number,
      user: "alice",
      state: "CHANGES_REQUESTED",
      body: "Please fix these.",
      comments: [
        { path: "a.txt", line: 1, body: "typo here" },
        { path: "b.txt", line: 1, body: "resolved later" },
      ],
    });
    const bot = sim.admin.addReview({
      owner: OWNER,
      repo,
      number,
      user: "lint-bot[bot]",
      state: "COMMENTED",
      comments: [{ path: "b.txt", line: 1, body: "lint: trailing space" }],
    });
    sim.admin.addReview({ owner: OWNER, repo, number, user: "bob", state: "APPROVED", body: "fine by me" });
    const [typo, resolved] = human.threads;
    sim.admin.replyToThread({
      owner: OWNER,
      repo,
      number,
      threadId: typo?.id ?? 0,
      user: "shepherd-bot",
      body: "on it",
    });
    sim.admin.resolveThread({ owner: OWNER, repo, number, threadId: resolved?.id ?? 0 });
    // a.txt changes after the comment: its thread is outdated.
    await sim.admin.pushFiles({ owner: OWNER, repo, branch, files: { "a.txt": "one, fixed\n" } });

    const withThreads = await observeOne(observer, ref(repo, number, true));
    expect(withThreads.reviewDecision).toBe("CHANGES_REQUESTED");
    expect(withThreads.commentsCount).toBeGreaterThanOrEqual(4);
    const review = withThreads.review;
    expect(review).not.toBeNull();
    expect(review?.viewer).toBe("shepherd-bot");
    expect(review?.partial).toBe(false);
    expect(review?.threads.map((thread) => thread.id).sort()).toEqual(
      [typo?.nodeId, bot.threads[0]?.nodeId].sort(),
    );
    const outdated = review?.threads.find((thread) => thread.id === typo?.nodeId);
    expect(outdated).toMatchObject({ path: "a.txt", line: null, outdated: true });
    expect(outdated?.comments.map((comment) => [comment.author, comment.isBot, comment.body])).toEqual([
      ["alice", false, "typo here"],
      ["shepherd-bot", false, "on it"],
    ]);
    expect(outdated?.comments[0]?.url).toContain(`/${OWNER}/${repo}/pull/${number}`);
    expect(outdated?.comments[0]?.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    const botThread = review?.threads.find((thread) => thread.id === bot.threads[0]?.nodeId);
    expect(botThread).toMatchObject({ path: "b.txt", line: 1, outdated: false });
    // GraphQL names bots without the "[bot]" suffix; the login is kept as given.
    expect(botThread?.comments.map((comment) => [comment.author, comment.isBot, comment.body])).toEqual([
      ["lint-bot", true, "lint: trailing space"],
    ]);
    expect(
      review?.changeRequests.map((request) => [request.id, request.author, request.isBot, request.body]),
    ).toEqual([[human.nodeId, "alice", false, "Please fix these."]]);
    expect(review?.changeRequests[0]?.url).toContain(`/${OWNER}/${repo}/pull/${number}`);
    expect(review?.changeRequests[0]?.submittedAt).toMatch(/^\d{4}-\d\d-\d\dT/);

    // Without threads, the same PR has no review part at all.
    expect((await observeOne(observer, ref(repo, number, false))).review).toBeNull();
  });

  it("more threads than one page → partial, with the newest page", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const { number } = await newPull(repo, token, { "many.txt": "x\n" });
    const added = sim.admin.addReview({
      owner: OWNER,
      repo,
      number,
      user: "alice",
      state: "COMMENTED",
      comments: Array.from({ length: 51 }, (_, index) => ({
        path: "many.txt",
        line: 1,
        body: `note ${index}`,
      })),
    });
    const review = (await observeOne(observer, ref(repo, number, true))).review;
    expect(review?.partial).toBe(true);
    expect(review?.threads).toHaveLength(50);
    expect(review?.threads.map((thread) => thread.id)).toEqual(
      added.threads.slice(1).map((thread) => thread.nodeId),
    );

    // A smaller page, as configured.
    const small = setup(token, { threadsPageSize: 51 });
    const whole = (await observeOne(small.observer, ref(repo, number, true))).review;
    expect(whole?.partial).toBe(false);
    expect(whole?.threads).toHaveLength(51);
  });
});

describe("fetchPulls: cost and budget", () => {
  it("25 PRs without threads cost exactly 1 GraphQL point, counted once in the metrics", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer, metrics } = setup(token);
    const numbers: number[] = [];
    for (let index = 0; index < 25; index += 1) numbers.push((await newPull(repo, token)).number);

    const before = sim.admin.rateLimit(token).graphql;
    const batch = await observer.fetchPulls(
      numbers.map((number) => ref(repo, number)),
      deadline(),
    );
    const after = sim.admin.rateLimit(token).graphql;
    expect(batch.pulls.every((pull) => pull.found)).toBe(true);
    expect(batch.pulls.map((pull) => pull.ref.number)).toEqual(numbers);
    expect(batch.pulls.map((pull) => observed(pull).number)).toEqual(numbers);
    expect(after.used - before.used).toBe(1);
    expect(batch.cost).toBe(1);
    expect(batch.remaining).toBe(after.remaining);
    const fingerprint = tokenFingerprint(token);
    const text = await metrics.registry.metrics();
    expect(text).toContain(`shepherd_github_points_total{token="${fingerprint}",resource="graphql"} 1\n`);
    // The GraphQL answer is not also counted as a core request.
    expect(text).not.toContain(`shepherd_github_points_total{token="${fingerprint}",resource="core"}`);

    // With threads for all 25: 25 × (4 + 50 threads) requests / 100 → 14 points, as GitHub counts.
    const threaded = await observer.fetchPulls(
      numbers.map((number) => ref(repo, number, true)),
      deadline(),
    );
    const afterThreads = sim.admin.rateLimit(token).graphql;
    expect(afterThreads.used - after.used).toBe(14);
    expect(threaded.cost).toBe(14);
    expect(await metrics.registry.metrics()).toContain(
      `shepherd_github_points_total{token="${fingerprint}",resource="graphql"} 15\n`,
    );
    // One PR with threads still fits in the minimum of 1 point.
    const single = await observer.fetchPulls([ref(repo, numbers[0] ?? 0, true)], deadline());
    expect(single.cost).toBe(1);
  });

  it("an exhausted GraphQL budget → RateLimited until the window resets", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const { number } = await newPull(repo, token);
    await observer.fetchPulls([ref(repo, number)], deadline());
    sim.admin.setRemaining(token, "graphql", 0);
    const { reset } = sim.admin.rateLimit(token).graphql;

    const error = await caught(observer.fetchPulls([ref(repo, number)], deadline()));
    expect(error).toBeInstanceOf(RateLimited);
    const retryAfter = (error as RateLimited).retryAfterSeconds;
    expect(retryAfter).toBeGreaterThan(0);
    expect(Math.abs(retryAfter - (reset - Date.now() / 1000))).toBeLessThanOrEqual(2);
    // Asked once: the observer profile never waits for a rate limit.
    expect(requestsTo("/api/graphql")).toHaveLength(2);
  });

  it("a 429 on the GraphQL endpoint → RateLimited with its Retry-After, asked once", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const { number } = await newPull(repo, token);
    sim.admin.addFault({
      match: { path: "^/api/graphql$" },
      times: 5,
      action: { type: "rate-limit", retryAfter: 42 },
    });
    const error = await caught(observer.fetchPulls([ref(repo, number)], deadline()));
    expect(error).toBeInstanceOf(RateLimited);
    expect((error as RateLimited).retryAfterSeconds).toBe(42);
    expect(requestsTo("/api/graphql")).toHaveLength(1);
  });

  it("a revoked token → AuthFailed for the query and for the listing", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const { number } = await newPull(repo, token);
    sim.admin.revokeToken(token);
    expect(await caught(observer.fetchPulls([ref(repo, number)], deadline()))).toBeInstanceOf(AuthFailed);
    expect(await caught(observer.listOpenPulls({ owner: OWNER, repo }, deadline()))).toBeInstanceOf(
      AuthFailed,
    );
  });

  it("a token without pull-request access → PermissionDenied, not a missing PR", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { number } = await newPull(repo, token);
    const limited = newToken(repo, { permissions: { pull_requests: undefined } });
    const error = await caught(setup(limited).observer.fetchPulls([ref(repo, number)], deadline()));
    expect(error).toBeInstanceOf(PermissionDenied);
  });
});

describe("listOpenPulls: conditional, page by page", () => {
  it("an unchanged list is free (304, core budget untouched); a new PR changes it", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const first = await newPull(repo, token);
    const second = await newPull(repo, token);
    sim.admin.closePull({ owner: OWNER, repo, number: second.number });

    const listed = await observer.listOpenPulls({ owner: OWNER, repo }, deadline());
    expect(listed.unchanged).toBe(false);
    expect(listed.cost).toBe(1);
    const stored = sim.admin.pull(OWNER, repo, first.number);
    expect(listed.pulls).toEqual([
      {
        nodeId: stored?.nodeId,
        number: first.number,
        url: `${sim.baseUrl}/${OWNER}/${repo}/pull/${first.number}`,
        title: `Change ${first.branch}`,
        author: "shepherd-bot",
        headRef: first.branch,
        headRepo: `${OWNER}/${repo}`,
        headSha: first.sha,
        baseRef: "main",
        draft: false,
        updatedAt: stored?.updatedAt,
      },
    ]);

    const before = sim.admin.rateLimit(token);
    sim.admin.clearRequests();
    const again = await observer.listOpenPulls({ owner: OWNER, repo }, deadline());
    expect(again).toEqual({ pulls: listed.pulls, unchanged: true, cost: 0 });
    expect(sim.admin.rateLimit(token).used).toBe(before.used);
    expect(requestsTo(`/api/v3/repos/${OWNER}/${repo}/pulls`).map((request) => request.status)).toEqual([
      304,
    ]);

    const third = await newPull(repo, token);
    const beforeChange = sim.admin.rateLimit(token);
    const changed = await observer.listOpenPulls({ owner: OWNER, repo }, deadline());
    expect(changed.unchanged).toBe(false);
    expect(changed.cost).toBe(1);
    expect(changed.pulls.map((pull) => pull.number)).toEqual([first.number, third.number]);
    expect(sim.admin.rateLimit(token).used).toBe(beforeChange.used + 1);
  });

  it("the ETag is per token: another token's first listing is a full read", async () => {
    const repo = await newRepo();
    const tokenA = newToken(repo);
    const tokenB = newToken(repo);
    const { clients, budget } = setup(tokenA);
    await newPull(repo, tokenA);
    const a = new GitHubObserverClient(clients.forToken(tokenA, "observer"), budget);
    const b = new GitHubObserverClient(clients.forToken(tokenB, "observer"), budget);
    expect((await a.listOpenPulls({ owner: OWNER, repo }, deadline())).unchanged).toBe(false);
    expect((await a.listOpenPulls({ owner: OWNER, repo }, deadline())).unchanged).toBe(true);
    const fromB = await b.listOpenPulls({ owner: OWNER, repo }, deadline());
    expect(fromB.unchanged).toBe(false);
    expect(fromB.cost).toBe(1);
  });

  it("100 open PRs: the page after a full one is looked at; the 101st PR is on page 2; unchanged pages stay free", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const numbers: number[] = [];
    for (let index = 0; index < 100; index += 1) numbers.push((await newPull(repo, token)).number);
    const path = `/api/v3/repos/${OWNER}/${repo}/pulls`;
    const pages = (): (string | undefined)[] =>
      requestsTo(path).map((request) => `${String(request.query.page)}:${request.status}`);

    sim.admin.clearRequests();
    const full = await observer.listOpenPulls({ owner: OWNER, repo }, deadline());
    expect(full.pulls.map((pull) => pull.number)).toEqual(numbers);
    // A full page may have grown a next one that its ETag cannot show: page 2 is asked (empty).
    expect(pages()).toEqual(["1:200", "2:200"]);
    expect(full.cost).toBe(2);

    // The 101st lands on page 2 (oldest first). Page 1 changed too: every item embeds its
    // repository, whose open-issue count moved (as on GitHub).
    numbers.push((await newPull(repo, token)).number);
    sim.admin.clearRequests();
    const grown = await observer.listOpenPulls({ owner: OWNER, repo }, deadline());
    expect(pages()).toEqual(["1:200", "2:200"]);
    expect(grown.pulls.map((pull) => pull.number)).toEqual(numbers);
    expect(grown).toMatchObject({ unchanged: false, cost: 2 });

    sim.admin.clearRequests();
    const same = await observer.listOpenPulls({ owner: OWNER, repo }, deadline());
    expect(pages()).toEqual(["1:304", "2:304"]);
    expect(same).toMatchObject({ unchanged: true, cost: 0 });
    expect(same.pulls.map((pull) => pull.number)).toEqual(numbers);
  }, 120_000); // 101 PRs, each a real git push: slow on a loaded machine
});

describe("the caller's deadline and the observer profile", () => {
  it("a slow GraphQL answer + a 300 ms caller signal → the deadline error, long before the answer", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const { number } = await newPull(repo, token);
    sim.admin.addFault({ match: { path: "^/api/graphql$" }, times: 10, action: { type: "delay", ms: 8000 } });
    const original = globalThis.fetch;
    const signals: (AbortSignal | null | undefined)[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
      signals.push(init?.signal);
      return original(input, init);
    });
    const started = Date.now();
    const error = await caught(observer.fetchPulls([ref(repo, number)], AbortSignal.timeout(300)));
    expect(error).toBeInstanceOf(GitHubUnavailable);
    expect((error as GitHubUnavailable).message).toMatch(/deadline/);
    // Did not hang until the simulator answered (8 s), nor retry after the deadline.
    expect(Date.now() - started).toBeLessThan(4000);
    expect(requestsTo("/api/graphql")).toHaveLength(1);
    // The attempt itself was aborted (its per-attempt timeout is 10 s), not left running.
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(true);
  });

  it("a rate-limit wait the policy would sit through is cut short by the caller's signal", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    // The default profile waits out a 3 s Retry-After (cap 5 s); the caller gives it 300 ms.
    const { observer } = setup(token, { profile: "default" });
    sim.admin.addFault({
      match: { path: `^/api/v3/repos/${OWNER}/${repo}/pulls$` },
      times: 10,
      action: { type: "rate-limit", retryAfter: 3 },
    });
    const started = Date.now();
    const error = await caught(observer.listOpenPulls({ owner: OWNER, repo }, AbortSignal.timeout(300)));
    expect(error).toBeInstanceOf(GitHubUnavailable);
    expect((error as GitHubUnavailable).message).toMatch(/deadline/);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(requestsTo(`/api/v3/repos/${OWNER}/${repo}/pulls`)).toHaveLength(1);
  });

  it("an already aborted signal sends nothing", async () => {
    const repo = await newRepo();
    const { observer } = setup(newToken(repo));
    const error = await caught(observer.listOpenPulls({ owner: OWNER, repo }, AbortSignal.abort()));
    expect(error).toBeInstanceOf(GitHubUnavailable);
    expect((error as GitHubUnavailable).message).toMatch(/deadline/);
    expect(requestsTo(`/api/v3/repos/${OWNER}/${repo}/pulls`)).toEqual([]);
  });

  it("the observer profile: a short 429 → RateLimited at once (one request); a 5xx is retried once", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const path = `/api/v3/repos/${OWNER}/${repo}/pulls`;
    sim.admin.addFault({
      match: { path: `^${path}$` },
      times: 1,
      action: { type: "rate-limit", retryAfter: 1 },
    });
    const limited = await caught(observer.listOpenPulls({ owner: OWNER, repo }, deadline()));
    expect(limited).toBeInstanceOf(RateLimited);
    expect((limited as RateLimited).retryAfterSeconds).toBe(1);
    expect(requestsTo(path)).toHaveLength(1);

    sim.admin.clearRequests();
    sim.admin.addFault({ match: { path: `^${path}$` }, times: 100, action: { type: "status", status: 502 } });
    const down = await caught(observer.listOpenPulls({ owner: OWNER, repo }, deadline()));
    expect(down).toBeInstanceOf(GitHubUnavailable);
    expect(requestsTo(path).map((request) => request.status)).toEqual([502, 502]);
  });

  it("profiles: one client per token and profile, the observer's per-attempt timeout configurable", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { clients } = setup(token, { observerPolicy: { requestTimeoutMs: 250 } });
    const observerClient = clients.forToken(token, "observer");
    expect(clients.forToken(token, "observer")).toBe(observerClient);
    expect(clients.forToken(token)).not.toBe(observerClient);
    expect(clients.forToken(token).policy).toEqual(POLICY);
    expect(observerClient.policy).toEqual({
      ...POLICY,
      maxRateLimitWaitSeconds: 0,
      rateLimitRetries: 0,
      serverErrorRetries: 1,
      requestTimeoutMs: 250,
    });
    // Each attempt is cut at 250 ms, so a 5 s delay fails both attempts.
    sim.admin.addFault({
      match: { path: `^/api/v3/repos/${OWNER}/${repo}/pulls$` },
      times: 10,
      action: { type: "delay", ms: 5000 },
    });
    const observer = new GitHubObserverClient(observerClient, clients.budget);
    const error = await caught(observer.listOpenPulls({ owner: OWNER, repo }, deadline()));
    expect(error).toBeInstanceOf(GitHubUnavailable);
    expect((error as GitHubUnavailable).message).not.toMatch(/deadline/);
    expect(requestsTo(`/api/v3/repos/${OWNER}/${repo}/pulls`).map((request) => request.status)).toEqual([
      0, 0,
    ]);
  });
});

describe("writes of one token across profiles", () => {
  it("a merge (observer profile) waits until the token's pending comment (default profile) is answered", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { clients } = setup(token);
    const { number, sha } = await newPull(repo, token);
    const commentPath = `/api/v3/repos/${OWNER}/${repo}/issues/${number}/comments`;
    const mergePath = `/api/v3/repos/${OWNER}/${repo}/pulls/${number}/merge`;
    sim.admin.addFault({
      match: { method: "POST", path: `^${commentPath}$` },
      times: 1,
      action: { type: "hold" },
    });

    // When the comment's answer reached the client (fetch level, as the serialization sees it).
    let commentAnsweredAt = 0;
    const original = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const response = await original(input, init);
      if (init?.method === "POST") commentAnsweredAt = Date.now();
      return response;
    });
    const comment = clients.forToken(token).createIssueComment(OWNER, repo, number, "first");
    await waitFor(() => requestsTo(commentPath, "POST").length === 1, {
      message: "the comment reached the server",
    });
    const observer = new GitHubObserverClient(clients.forToken(token, "observer"), clients.budget);
    const merge = observer.mergePull({ owner: OWNER, repo }, number, "merge", sha);
    // Time for an unserialized merge to reach the server while the comment is held.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sim.admin.releaseHeld()).toBe(1);
    await comment;
    expect((await merge).merged).toBe(true);
    const [put] = requestsTo(mergePath, "PUT");
    expect(commentAnsweredAt).toBeGreaterThan(0);
    expect(put?.at).toBeGreaterThanOrEqual(commentAnsweredAt);
  });

  it("a GraphQL query is not a write: it does not wait behind the token's held comment", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { clients } = setup(token);
    const { number } = await newPull(repo, token);
    const commentPath = `/api/v3/repos/${OWNER}/${repo}/issues/${number}/comments`;
    sim.admin.addFault({
      match: { method: "POST", path: `^${commentPath}$` },
      times: 1,
      action: { type: "hold" },
    });
    const comment = clients.forToken(token, "observer").createIssueComment(OWNER, repo, number, "held");
    await waitFor(() => requestsTo(commentPath, "POST").length === 1, {
      message: "the comment reached the server",
    });

    const observer = new GitHubObserverClient(clients.forToken(token, "observer"), clients.budget);
    const batch = await observer.fetchPulls([ref(repo, number)], deadline(5000));
    expect(observed(batch.pulls[0]).number).toBe(number);
    expect(requestsTo(commentPath, "POST").map((request) => request.status)).toEqual([0]);
    expect(sim.admin.releaseHeld()).toBe(1);
    await comment;
  });

  it("the observer's GraphQL queries are not spaced like writes; the default profile's are", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { number } = await newPull(repo, token);
    // A write spacing no test could sit through: a query held to it never comes back in time.
    const spaced = new GitHubClients(apiUrl, { ...POLICY, writeSpacingMs: 600_000 }, setup(token).budget);
    const observer = new GitHubObserverClient(spaced.forToken(token, "observer"), spaced.budget);
    for (let i = 0; i < 3; i++) {
      const batch = await observer.fetchPulls([ref(repo, number)], deadline(5000));
      expect(observed(batch.pulls[0]).number).toBe(number);
    }

    const spacedDefault = new GitHubObserverClient(spaced.forToken(token, "default"), spaced.budget);
    await spacedDefault.fetchPulls([ref(repo, number)], deadline(5000));
    const second = spacedDefault.fetchPulls([ref(repo, number)], AbortSignal.timeout(400));
    expect(await caught(second)).toBeInstanceOf(GitHubUnavailable);
  });
});

describe("mergePull", () => {
  it("merges at the given head: the PR is merged and the base moved to the merge commit", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const { number, sha } = await newPull(repo, token);
    const result = await observer.mergePull({ owner: OWNER, repo }, number, "squash", sha);
    expect(result.merged).toBe(true);
    expect(result.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(result.message).toBe("Pull Request successfully merged");
    expect(sim.admin.pull(OWNER, repo, number)).toMatchObject({ merged: true, state: "closed" });
    expect(await sim.admin.branchHead(OWNER, repo, "main")).toBe(result.sha);
    expect(requestsTo(`/api/v3/repos/${OWNER}/${repo}/pulls/${number}/merge`, "PUT")).toHaveLength(1);
  });

  it("a conflicting PR → merged: false with GitHub's message, base untouched, asked once", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const { number, sha } = await newPull(repo, token, { "shared.txt": "branch\n" });
    const base = await sim.admin.pushFiles({
      owner: OWNER,
      repo,
      branch: "main",
      files: { "shared.txt": "main\n" },
    });
    const result = await observer.mergePull({ owner: OWNER, repo }, number, "merge", sha);
    expect(result.merged).toBe(false);
    expect(result.sha).toBeNull();
    expect(result.message).toMatch(/not mergeable/i);
    expect(sim.admin.pull(OWNER, repo, number)?.merged).toBe(false);
    expect(await sim.admin.branchHead(OWNER, repo, "main")).toBe(base);
    expect(requestsTo(`/api/v3/repos/${OWNER}/${repo}/pulls/${number}/merge`, "PUT")).toHaveLength(1);
  });

  it("a stale sha (the head moved) → merged: false, nothing merged", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const { number, sha, branch } = await newPull(repo, token);
    await sim.admin.pushFiles({ owner: OWNER, repo, branch, files: { "late.txt": "late\n" } });
    const result = await observer.mergePull({ owner: OWNER, repo }, number, "merge", sha);
    expect(result.merged).toBe(false);
    expect(result.message).toMatch(/head/i);
    expect(sim.admin.pull(OWNER, repo, number)?.merged).toBe(false);
  });

  it("a 502 is not retried: the mapped error, one request", async () => {
    const repo = await newRepo();
    const token = newToken(repo);
    const { observer } = setup(token);
    const { number, sha } = await newPull(repo, token);
    const path = `/api/v3/repos/${OWNER}/${repo}/pulls/${number}/merge`;
    sim.admin.addFault({
      match: { method: "PUT", path: `^${path}$` },
      times: 5,
      action: { type: "status", status: 502 },
    });
    const error = await caught(observer.mergePull({ owner: OWNER, repo }, number, "merge", sha));
    expect(error).toBeInstanceOf(GitHubUnavailable);
    expect(requestsTo(path, "PUT")).toHaveLength(1);
    expect(sim.admin.pull(OWNER, repo, number)?.merged).toBe(false);
  });
});
