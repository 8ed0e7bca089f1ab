import { RequestError } from "@octokit/request-error";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { GitHubBudget } from "../../src/github/github-budget.js";
import { GitHubClients, toGitHubError, type GitHubPolicy } from "../../src/github/github-client.js";
import {
  AuthFailed,
  GitHubError,
  GitHubUnavailable,
  NotFound,
  PermissionDenied,
  RateLimited,
  ValidationFailed,
} from "../../src/github/github-errors.js";
import { MemoryEtagCache } from "../../src/github/octokit-plugins.js";
import { tokenFingerprint } from "../../src/github/token-fingerprint.js";
import { createMetrics, type Metrics } from "../../src/observability/metrics.js";
import type { FaultAction } from "../support/github-sim/faults.js";
import type { SimRequestRecord } from "../support/github-sim/request-log.js";
import type { CreateTokenInput } from "../support/github-sim/sim-admin.js";
import { callSim } from "../support/github-sim/sim-http-client.js";
import { startGitHubSimulator, type GitHubSimulatorInternals } from "../support/github-sim/simulator.js";
import { waitFor } from "../support/wait-for.js";

/**
 * The GitHub adapter (SPEC C3 "GitHub HTTP policy") against the real simulator over HTTP:
 * provider-neutral records, error mapping, retries and rate-limit waits (counted on the
 * simulator's request log, never timed), per-attempt deadlines, conditional requests, budget
 * tracking and per-token write serialization.
 */

const OWNER = "acme";
const REPO = "widgets";
const REPO_PATH = `/api/v3/repos/${OWNER}/${REPO}`;

const POLICY: GitHubPolicy = {
  writeSpacingMs: 10,
  maxRateLimitWaitSeconds: 3,
  rateLimitRetries: 2,
  serverErrorRetries: 2,
  retryBaseMs: 50,
  requestTimeoutMs: 2000,
  secondaryLimitFallbackSeconds: 1,
};

let sim: GitHubSimulatorInternals;
let apiUrl: string;
let branchCount = 0;

beforeAll(async () => {
  sim = await startGitHubSimulator({ contentCreationPerMinute: 10_000 });
  apiUrl = `${sim.baseUrl}/api/v3`;
  await sim.admin.createRepo({ owner: OWNER, name: REPO, files: { "README.md": "hello\n" } });
  await sim.admin.createRepo({ owner: OWNER, name: "secret", files: { "README.md": "hidden\n" } });
});

beforeEach(() => {
  sim.admin.clearRequests();
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

/** A fresh token (its own budget window and its own throttling key). */
function newToken(input: Partial<CreateTokenInput> = {}): string {
  return sim.admin.createToken({ repos: [`${OWNER}/${REPO}`], ...input });
}

function setup(policy: GitHubPolicy = POLICY): {
  clients: GitHubClients;
  budget: GitHubBudget;
  metrics: Metrics;
} {
  const metrics = createMetrics();
  const budget = new GitHubBudget(metrics);
  return { clients: new GitHubClients(apiUrl, policy, budget, new MemoryEtagCache()), budget, metrics };
}

/** A new branch with one commit on top of main, ready for a pull request. */
async function newBranch(): Promise<string> {
  branchCount += 1;
  const branch = `topic-${branchCount}`;
  await sim.admin.pushFiles({
    owner: OWNER,
    repo: REPO,
    branch,
    files: { [`${branch}.txt`]: `${branch}\n` },
  });
  return branch;
}

/** Opens a pull request through plain HTTP (not through the client under test). */
async function openPullDirectly(token: string, branch: string): Promise<number> {
  const answer = await callSim(sim.baseUrl, "POST", `/repos/${OWNER}/${REPO}/pulls`, {
    token,
    body: { title: branch, head: branch, base: "main" },
  });
  expect(answer.status).toBe(201);
  return (answer.json as { number: number }).number;
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

function fault(path: string, action: FaultAction, times: number, method = "GET", token?: string): void {
  sim.admin.addFault({ match: { method, path, ...(token === undefined ? {} : { token }) }, times, action });
}

describe("records", () => {
  it("getRepository: a fine-grained token's permissions and no OAuth scopes", async () => {
    const token = newToken();
    const repo = await setup().clients.forToken(token).getRepository(OWNER, REPO);
    expect(repo).toEqual({
      fullName: "acme/widgets",
      defaultBranch: "main",
      private: true,
      permissions: { admin: false, push: true, pull: true },
      scopes: null,
    });
  });

  it("getRepository: a classic token's scopes from x-oauth-scopes", async () => {
    const token = newToken({ kind: "classic" });
    expect(token.startsWith("ghp_")).toBe(true);
    const repo = await setup().clients.forToken(token).getRepository(OWNER, REPO);
    expect(repo.scopes).toEqual(["repo"]);
    expect(repo.permissions).toEqual({ admin: false, push: true, pull: true });
  });

  it("getRepository: a read-only token cannot push", async () => {
    const token = newToken({ permissions: { contents: "read" } });
    const repo = await setup().clients.forToken(token).getRepository(OWNER, REPO);
    expect(repo.permissions).toEqual({ admin: false, push: false, pull: true });
  });

  it("createPull and getPull return the pull request as GitHub stores it", async () => {
    const token = newToken();
    const client = setup().clients.forToken(token);
    const branch = await newBranch();
    const created = await client.createPull({
      owner: OWNER,
      repo: REPO,
      title: "Raise the boost",
      body: "Because.",
      head: branch,
      base: "main",
    });
    const stored = sim.admin.pull(OWNER, REPO, created.number);
    expect(stored).not.toBeNull();
    expect(created).toEqual({
      number: stored?.number,
      url: `${sim.baseUrl}/${OWNER}/${REPO}/pull/${created.number}`,
      nodeId: stored?.nodeId,
      state: "open",
      merged: false,
      draft: false,
      title: "Raise the boost",
      headRef: branch,
      headSha: await sim.admin.branchHead(OWNER, REPO, branch),
      headRepo: "acme/widgets",
      baseRef: "main",
      updatedAt: stored?.updatedAt,
    });
    expect(stored?.body).toBe("Because.");
    expect(await client.getPull(OWNER, REPO, created.number)).toEqual(created);

    await sim.admin.mergePull({ owner: OWNER, repo: REPO, number: created.number });
    const merged = await client.getPull(OWNER, REPO, created.number);
    expect(merged.merged).toBe(true);
    expect(merged.state).toBe("closed");
  });

  it("findPulls: only the pull requests of that head branch, by state", async () => {
    const token = newToken();
    const client = setup().clients.forToken(token);
    const mine = await newBranch();
    const other = await newBranch();
    const number = await openPullDirectly(token, mine);
    await openPullDirectly(token, other);

    const open = await client.findPulls(OWNER, REPO, { owner: OWNER, branch: mine }, "open");
    expect(open.map((pull) => [pull.number, pull.headRef, pull.state])).toEqual([[number, mine, "open"]]);
    expect(await client.findPulls(OWNER, REPO, { owner: OWNER, branch: mine }, "closed")).toEqual([]);
    expect(await client.findPulls(OWNER, REPO, { owner: "someone-else", branch: mine }, "all")).toEqual([]);
    expect(await client.findPulls(OWNER, REPO, { owner: OWNER, branch: "no-such-branch" }, "all")).toEqual(
      [],
    );

    sim.admin.closePull({ owner: OWNER, repo: REPO, number });
    expect(await client.findPulls(OWNER, REPO, { owner: OWNER, branch: mine }, "open")).toEqual([]);
    const closed = await client.findPulls(OWNER, REPO, { owner: OWNER, branch: mine }, "closed");
    expect(closed.map((pull) => [pull.number, pull.state, pull.merged])).toEqual([[number, "closed", false]]);
    const all = await client.findPulls(OWNER, REPO, { owner: OWNER, branch: mine }, "all");
    expect(all.map((pull) => pull.number)).toEqual([number]);
  });

  it("reopenPull reopens a closed pull request", async () => {
    const token = newToken();
    const client = setup().clients.forToken(token);
    const number = await openPullDirectly(token, await newBranch());
    sim.admin.closePull({ owner: OWNER, repo: REPO, number });
    expect(sim.admin.pull(OWNER, REPO, number)?.state).toBe("closed");

    const reopened = await client.reopenPull(OWNER, REPO, number);
    expect(reopened.number).toBe(number);
    expect(reopened.state).toBe("open");
    expect(sim.admin.pull(OWNER, REPO, number)?.state).toBe("open");
    expect(requestsTo(`${REPO_PATH}/pulls/${number}`, "PATCH")).toHaveLength(1);
  });

  it("createIssueComment and listIssueComments (every page)", async () => {
    const token = newToken();
    const client = setup().clients.forToken(token);
    const number = await openPullDirectly(token, await newBranch());
    expect(await client.listIssueComments(OWNER, REPO, number)).toEqual([]);

    const posted = await client.createIssueComment(OWNER, REPO, number, "first <!-- marker -->");
    const stored = sim.admin.issueComments(OWNER, REPO, number);
    expect(stored.map((comment) => [comment.id, comment.body, comment.user])).toEqual([
      [posted.id, "first <!-- marker -->", "shepherd-bot"],
    ]);
    expect(posted.body).toBe("first <!-- marker -->");
    expect(posted.url).toContain(`/${OWNER}/${REPO}/pull/${number}#issuecomment-${posted.id}`);

    // 104 more, so the list spans two pages of 100.
    for (let index = 0; index < 104; index += 1) {
      const answer = await callSim(sim.baseUrl, "POST", `/repos/${OWNER}/${REPO}/issues/${number}/comments`, {
        token,
        body: { body: `bulk ${index}` },
      });
      expect(answer.status).toBe(201);
    }
    sim.admin.clearRequests();
    const listed = await client.listIssueComments(OWNER, REPO, number);
    expect(listed).toHaveLength(105);
    expect(listed[0]).toEqual(posted);
    expect(listed.map((comment) => comment.body).slice(1)).toEqual(
      Array.from({ length: 104 }, (_, index) => `bulk ${index}`),
    );
    expect(listed.map((comment) => comment.id)).toEqual(
      sim.admin.issueComments(OWNER, REPO, number).map((comment) => comment.id),
    );
    expect(requestsTo(`${REPO_PATH}/issues/${number}/comments`, "GET")).toHaveLength(2);
  });
});

describe("error mapping", () => {
  it("401 (revoked token) → AuthFailed, one request", async () => {
    const token = newToken();
    sim.admin.revokeToken(token);
    const error = await caught(setup().clients.forToken(token).getRepository(OWNER, REPO));
    expect(error).toBeInstanceOf(AuthFailed);
    expect((error as AuthFailed).status).toBe(401);
    expect((error as AuthFailed).kind).toBe("auth_failed");
    expect(requestsTo(REPO_PATH)).toHaveLength(1);
  });

  it("404 (a repository outside the token) → NotFound, one request", async () => {
    const token = newToken();
    const error = await caught(setup().clients.forToken(token).getRepository(OWNER, "secret"));
    expect(error).toBeInstanceOf(NotFound);
    expect((error as NotFound).status).toBe(404);
    expect(requestsTo(`/api/v3/repos/${OWNER}/secret`)).toHaveLength(1);
  });

  it('403 "Resource not accessible" → PermissionDenied (not RateLimited), one request', async () => {
    const token = newToken({ permissions: { pull_requests: undefined, issues: undefined } });
    const error = await caught(
      setup().clients.forToken(token).findPulls(OWNER, REPO, { owner: OWNER, branch: "x" }, "open"),
    );
    expect(error).toBeInstanceOf(PermissionDenied);
    expect(error).not.toBeInstanceOf(RateLimited);
    expect((error as PermissionDenied).message).toContain("Resource not accessible");
    expect(requestsTo(`${REPO_PATH}/pulls`)).toHaveLength(1);
  });

  it("422 → ValidationFailed with GitHub's errors[].message in details, not retried", async () => {
    const token = newToken();
    const client = setup().clients.forToken(token);
    const branch = await newBranch();
    await openPullDirectly(token, branch);
    sim.admin.clearRequests();

    const error = await caught(
      client.createPull({ owner: OWNER, repo: REPO, title: "again", body: "", head: branch, base: "main" }),
    );
    expect(error).toBeInstanceOf(ValidationFailed);
    expect((error as ValidationFailed).details).toEqual([
      `A pull request already exists for ${OWNER}:${branch}.`,
    ]);
    expect((error as ValidationFailed).message).toContain(
      `A pull request already exists for ${OWNER}:${branch}.`,
    );
    expect((error as ValidationFailed).status).toBe(422);
    expect(requestsTo(`${REPO_PATH}/pulls`, "POST")).toHaveLength(1);

    // An error item with only a code: the code is the detail.
    const invalid = await caught(
      client.createPull({
        owner: OWNER,
        repo: REPO,
        title: "t",
        body: "",
        head: "no-such-branch",
        base: "main",
      }),
    );
    expect(invalid).toBeInstanceOf(ValidationFailed);
    expect((invalid as ValidationFailed).details).toEqual(["invalid"]);
  });

  it("a persistent 5xx → GitHubUnavailable after exactly serverErrorRetries + 1 attempts", async () => {
    const token = newToken();
    fault(`^${REPO_PATH}$`, { type: "status", status: 502 }, 100);
    const error = await caught(setup().clients.forToken(token).getRepository(OWNER, REPO));
    expect(error).toBeInstanceOf(GitHubUnavailable);
    expect((error as GitHubUnavailable).status).toBe(502);
    expect(requestsTo(REPO_PATH).map((request) => request.status)).toEqual([502, 502, 502]);
    expect(POLICY.serverErrorRetries + 1).toBe(3);
  });

  it("a 5xx burst shorter than the retries is absorbed", async () => {
    const token = newToken();
    fault(`^${REPO_PATH}$`, { type: "status", status: 503 }, 2);
    const repo = await setup().clients.forToken(token).getRepository(OWNER, REPO);
    expect(repo.fullName).toBe("acme/widgets");
    expect(requestsTo(REPO_PATH).map((request) => request.status)).toEqual([503, 503, 200]);
  });

  it("429 with a Retry-After longer than the cap → RateLimited with that time, after ONE request", async () => {
    const token = newToken();
    fault(`^${REPO_PATH}$`, { type: "rate-limit", retryAfter: 30 }, 100);
    const error = await caught(setup().clients.forToken(token).getRepository(OWNER, REPO));
    expect(error).toBeInstanceOf(RateLimited);
    expect((error as RateLimited).retryAfterSeconds).toBe(30);
    expect((error as RateLimited).status).toBe(429);
    expect(requestsTo(REPO_PATH)).toHaveLength(1);
  });

  it("429 with a short Retry-After is waited out, then succeeds (2 requests)", async () => {
    const token = newToken();
    fault(`^${REPO_PATH}$`, { type: "rate-limit", retryAfter: 1 }, 1);
    const repo = await setup().clients.forToken(token).getRepository(OWNER, REPO);
    expect(repo.fullName).toBe("acme/widgets");
    expect(requestsTo(REPO_PATH).map((request) => [request.status, request.rateLimited])).toEqual([
      [429, true],
      [200, false],
    ]);
  });

  it("a persistent short 429 is waited out rateLimitRetries times, then RateLimited", async () => {
    const token = newToken();
    fault(`^${REPO_PATH}$`, { type: "rate-limit", retryAfter: 1 }, 100);
    const error = await caught(setup().clients.forToken(token).getRepository(OWNER, REPO));
    expect(error).toBeInstanceOf(RateLimited);
    expect((error as RateLimited).retryAfterSeconds).toBe(1);
    expect(requestsTo(REPO_PATH)).toHaveLength(POLICY.rateLimitRetries + 1);
  });

  it.each(["retry-after", "reset", "message"] as const)(
    "secondary limit (%s shape) with a short wait: waited out, then success (2 requests)",
    async (shape) => {
      const token = newToken();
      fault(`^${REPO_PATH}$`, { type: "secondary-limit", shape, seconds: 1 }, 1);
      const repo = await setup().clients.forToken(token).getRepository(OWNER, REPO);
      expect(repo.fullName).toBe("acme/widgets");
      expect(requestsTo(REPO_PATH).map((request) => [request.status, request.rateLimited])).toEqual([
        [403, true],
        [200, false],
      ]);
    },
  );

  it("secondary limit (retry-after shape) above the cap → RateLimited with the simulator's time, one request", async () => {
    const token = newToken();
    fault(`^${REPO_PATH}$`, { type: "secondary-limit", shape: "retry-after", seconds: 40 }, 100);
    const error = await caught(setup().clients.forToken(token).getRepository(OWNER, REPO));
    expect(error).toBeInstanceOf(RateLimited);
    expect((error as RateLimited).retryAfterSeconds).toBe(40);
    expect((error as RateLimited).status).toBe(403);
    expect(requestsTo(REPO_PATH)).toHaveLength(1);
  });

  it("secondary limit (reset shape) above the cap → RateLimited until the simulator's reset, one request", async () => {
    const token = newToken();
    const seconds = 40;
    fault(`^${REPO_PATH}$`, { type: "secondary-limit", shape: "reset", seconds }, 100);
    const before = Date.now();
    const error = await caught(setup().clients.forToken(token).getRepository(OWNER, REPO));
    expect(error).toBeInstanceOf(RateLimited);
    // The simulator said reset = ceil(now) + 40 s; the wait is that reset minus the time of the answer.
    const retryAfter = (error as RateLimited).retryAfterSeconds;
    expect(retryAfter).toBeGreaterThanOrEqual(seconds - 1);
    expect(retryAfter).toBeLessThanOrEqual(seconds + 1 + Math.ceil((Date.now() - before) / 1000));
    expect(requestsTo(REPO_PATH)).toHaveLength(1);
  });

  it("secondary limit (message shape, no time given): the fallback wait, rateLimitRetries times, then RateLimited", async () => {
    const token = newToken();
    fault(`^${REPO_PATH}$`, { type: "secondary-limit", shape: "message", seconds: 40 }, 100);
    const error = await caught(setup().clients.forToken(token).getRepository(OWNER, REPO));
    expect(error).toBeInstanceOf(RateLimited);
    expect((error as RateLimited).retryAfterSeconds).toBe(POLICY.secondaryLimitFallbackSeconds);
    expect(requestsTo(REPO_PATH)).toHaveLength(POLICY.rateLimitRetries + 1);
  });

  it("secondary limit (message shape) whose fallback wait is above the cap → RateLimited with the fallback, one request", async () => {
    const token = newToken();
    fault(`^${REPO_PATH}$`, { type: "secondary-limit", shape: "message" }, 100);
    const error = await caught(
      setup({ ...POLICY, secondaryLimitFallbackSeconds: 30 })
        .clients.forToken(token)
        .getRepository(OWNER, REPO),
    );
    expect(error).toBeInstanceOf(RateLimited);
    expect((error as RateLimited).retryAfterSeconds).toBe(30);
    expect(requestsTo(REPO_PATH)).toHaveLength(1);
  });

  it("a 403 with Retry-After and a plain message is a secondary limit too: waited out", async () => {
    const token = newToken();
    fault(
      `^${REPO_PATH}$`,
      { type: "status", status: 403, body: { message: "Forbidden" }, headers: { "retry-after": "1" } },
      1,
    );
    const repo = await setup().clients.forToken(token).getRepository(OWNER, REPO);
    expect(repo.fullName).toBe("acme/widgets");
    expect(requestsTo(REPO_PATH).map((request) => request.status)).toEqual([403, 200]);
  });

  it("an exhausted primary budget → RateLimited until the reset, one request", async () => {
    const token = newToken();
    sim.admin.setRemaining(token, "core", 0);
    const { reset } = sim.admin.rateLimit(token);
    const error = await caught(setup().clients.forToken(token).getRepository(OWNER, REPO));
    expect(error).toBeInstanceOf(RateLimited);
    expect((error as RateLimited).status).toBe(403);
    const expected = reset - Date.now() / 1000;
    expect(Math.abs((error as RateLimited).retryAfterSeconds - expected)).toBeLessThanOrEqual(2);
    expect((error as RateLimited).retryAfterSeconds).toBeGreaterThan(3000);
    expect(requestsTo(REPO_PATH).map((request) => [request.status, request.rateLimited])).toEqual([
      [403, true],
    ]);
  });
});

describe("createIssueComment is never retried blindly", () => {
  it("a 502 once → GitHubUnavailable after ONE request, nothing posted; the caller can look and post again", async () => {
    const token = newToken();
    const client = setup().clients.forToken(token);
    const number = await openPullDirectly(token, await newBranch());
    const path = `${REPO_PATH}/issues/${number}/comments`;
    fault(`^${path}$`, { type: "status", status: 502 }, 1, "POST");

    const error = await caught(client.createIssueComment(OWNER, REPO, number, "chart"));
    expect(error).toBeInstanceOf(GitHubUnavailable);
    expect((error as GitHubUnavailable).status).toBe(502);
    expect(requestsTo(path, "POST")).toHaveLength(1);
    expect(sim.admin.issueComments(OWNER, REPO, number)).toEqual([]);

    expect(await client.listIssueComments(OWNER, REPO, number)).toEqual([]);
    await client.createIssueComment(OWNER, REPO, number, "chart");
    expect(sim.admin.issueComments(OWNER, REPO, number).map((comment) => comment.body)).toEqual(["chart"]);
  });

  it("while a read on the same path with a 502 once is retried (the difference is deliberate)", async () => {
    const token = newToken();
    const client = setup().clients.forToken(token);
    const number = await openPullDirectly(token, await newBranch());
    const path = `${REPO_PATH}/issues/${number}/comments`;
    fault(`^${path}$`, { type: "status", status: 502 }, 1, "GET");
    expect(await client.listIssueComments(OWNER, REPO, number)).toEqual([]);
    expect(requestsTo(path, "GET").map((request) => request.status)).toEqual([502, 200]);
  });
});

describe("per-attempt deadline", () => {
  const FAST_TIMEOUT: GitHubPolicy = { ...POLICY, requestTimeoutMs: 300 };
  // Far longer than the deadline, short enough that a client without one finishes (and fails the test).
  const SLOW = { type: "delay", ms: 4000 } as const;

  it("every attempt slower than requestTimeoutMs → each aborted and retried, then GitHubUnavailable", async () => {
    const token = newToken();
    fault(`^${REPO_PATH}$`, SLOW, 100);
    const error = await caught(setup(FAST_TIMEOUT).clients.forToken(token).getRepository(OWNER, REPO));
    expect(error).toBeInstanceOf(GitHubUnavailable);
    const attempts = requestsTo(REPO_PATH);
    expect(attempts).toHaveLength(FAST_TIMEOUT.serverErrorRetries + 1);
    // None was answered: each attempt was abandoned by the client before the simulator replied.
    expect(attempts.map((request) => request.status)).toEqual([0, 0, 0]);
  });

  it("the deadline is per attempt: slow once, then fast → success on the second attempt", async () => {
    const token = newToken();
    fault(`^${REPO_PATH}$`, SLOW, 1);
    const repo = await setup(FAST_TIMEOUT).clients.forToken(token).getRepository(OWNER, REPO);
    expect(repo.fullName).toBe("acme/widgets");
    expect(requestsTo(REPO_PATH).map((request) => request.status)).toEqual([0, 200]);
  });

  it("a slow comment POST is abandoned once and not retried", async () => {
    const token = newToken();
    const client = setup(FAST_TIMEOUT).clients.forToken(token);
    const number = await openPullDirectly(token, await newBranch());
    const path = `${REPO_PATH}/issues/${number}/comments`;
    fault(`^${path}$`, SLOW, 100, "POST");
    const error = await caught(client.createIssueComment(OWNER, REPO, number, "once"));
    expect(error).toBeInstanceOf(GitHubUnavailable);
    expect(requestsTo(path, "POST")).toHaveLength(1);
  });
});

describe("conditional requests", () => {
  /** Records the If-None-Match header of every fetch Octokit makes. */
  function spyOnFetch(): { ifNoneMatch: (string | null)[] } {
    const original = globalThis.fetch;
    const seen: { ifNoneMatch: (string | null)[] } = { ifNoneMatch: [] };
    vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
      seen.ifNoneMatch.push(new Headers(init?.headers).get("if-none-match"));
      return original(input, init);
    });
    return seen;
  }

  it("with etagKey: the second GET is a free 304 on the wire, answered from the cache; a change gives a 200", async () => {
    const token = newToken();
    const { clients, budget } = setup();
    const client = clients.forToken(token);
    const branch = await newBranch();
    await openPullDirectly(token, branch);
    const list = (): ReturnType<typeof client.octokit.request<"GET /repos/{owner}/{repo}/pulls">> =>
      client.octokit.request("GET /repos/{owner}/{repo}/pulls", {
        owner: OWNER,
        repo: REPO,
        request: { etagKey: "k" },
      });
    const seen = spyOnFetch();
    sim.admin.clearRequests();

    const first = await list();
    expect(first.status).toBe(200);
    expect(first.headers["x-shepherd-cache"]).toBeUndefined();
    expect(first.data.map((pull) => pull.head.ref)).toContain(branch);
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^W\/".+"$/);

    const before = sim.admin.rateLimit(token);
    const second = await list();
    const after = sim.admin.rateLimit(token);
    expect(requestsTo(`${REPO_PATH}/pulls`).map((request) => request.status)).toEqual([200, 304]);
    expect(after.remaining).toBe(before.remaining);
    expect(after.used).toBe(before.used);
    expect(second.status).toBe(200);
    expect(second.data).toEqual(first.data);
    expect(second.headers["x-shepherd-cache"]).toBe("hit");
    // The ETag goes back exactly as received, quotes (and weakness marker) included.
    expect(seen.ifNoneMatch).toEqual([null, etag]);
    // The budget saw the 304 (with its headers) and still reports the simulator's figure.
    expect(budget.snapshot(client.fingerprint)[0]?.remaining).toBe(after.remaining);

    // A change on the server: the next conditional GET is a 200 with the new data, and is cached.
    const newer = await newBranch();
    const newNumber = await openPullDirectly(token, newer);
    sim.admin.clearRequests();
    const third = await list();
    expect(requestsTo(`${REPO_PATH}/pulls`).map((request) => request.status)).toEqual([200]);
    expect(third.headers["x-shepherd-cache"]).toBeUndefined();
    expect(third.data.map((pull) => pull.number)).toContain(newNumber);
    expect(first.data.map((pull) => pull.number)).not.toContain(newNumber);
    const fourth = await list();
    expect(fourth.headers["x-shepherd-cache"]).toBe("hit");
    expect(fourth.data).toEqual(third.data);
    expect(requestsTo(`${REPO_PATH}/pulls`).map((request) => request.status)).toEqual([200, 304]);
  });

  it("without etagKey no If-None-Match is sent: both GETs are 200s and both are charged", async () => {
    const token = newToken();
    const client = setup().clients.forToken(token);
    const seen = spyOnFetch();
    const plain = () =>
      client.octokit.request("GET /repos/{owner}/{repo}/pulls", { owner: OWNER, repo: REPO });
    await plain();
    const before = sim.admin.rateLimit(token).remaining;
    const second = await plain();
    expect(sim.admin.rateLimit(token).remaining).toBe(before - 1);
    expect(second.headers["x-shepherd-cache"]).toBeUndefined();
    expect(seen.ifNoneMatch).toEqual([null, null]);
    expect(requestsTo(`${REPO_PATH}/pulls`).map((request) => request.status)).toEqual([200, 200]);
  });

  it("different etagKeys do not share entries", async () => {
    const token = newToken();
    const client = setup().clients.forToken(token);
    const get = (key: string) =>
      client.octokit.request("GET /repos/{owner}/{repo}", {
        owner: OWNER,
        repo: REPO,
        request: { etagKey: key },
      });
    await get("a");
    await get("b");
    await get("a");
    expect(requestsTo(REPO_PATH).map((request) => request.status)).toEqual([200, 200, 304]);
  });
});

describe("budget and metrics", () => {
  it("tracks the simulator's figures per fingerprint; the token itself is nowhere in the metrics", async () => {
    const token = newToken({ value: `github_pat_CANARY${"Q".repeat(20)}_${"z".repeat(59)}` });
    const { clients, budget, metrics } = setup();
    const client = clients.forToken(token);
    await client.getRepository(OWNER, REPO);
    await client.findPulls(OWNER, REPO, { owner: OWNER, branch: "nope" }, "open");
    await caught(client.getRepository(OWNER, "secret"));

    const fingerprint = tokenFingerprint(token);
    expect(client.fingerprint).toBe(fingerprint);
    expect(fingerprint).toMatch(/^tok-[0-9a-f]{12}$/);
    const server = sim.admin.rateLimit(token);
    expect(server.used).toBe(3);
    const snapshots = budget.snapshot(fingerprint);
    expect(snapshots).toHaveLength(1);
    expect(snapshots[0]).toMatchObject({
      resource: "core",
      limit: server.limit,
      remaining: server.remaining,
      used: server.used,
      reset: server.reset,
    });
    expect(budget.snapshot(tokenFingerprint("another token"))).toEqual([]);

    const text = await metrics.registry.metrics();
    expect(text).toContain(
      `shepherd_github_rate_limit_remaining{token="${fingerprint}",resource="core"} ${server.remaining}`,
    );
    expect(text).toContain(
      `shepherd_github_rate_limit_limit{token="${fingerprint}",resource="core"} ${server.limit}`,
    );
    expect(text).toContain(
      `shepherd_github_requests_total{token="${fingerprint}",method="GET",status="200"} 2`,
    );
    expect(text).toContain(
      `shepherd_github_requests_total{token="${fingerprint}",method="GET",status="404"} 1`,
    );
    expect(text).not.toContain(token);
    expect(text).not.toContain("CANARY");
    expect(text).not.toContain(token.slice(-20));
  });

  it("a rotated token gets its own client and budget line", async () => {
    const first = newToken();
    const second = newToken();
    const { clients, budget } = setup();
    expect(clients.forToken(first)).toBe(clients.forToken(first));
    expect(clients.forToken(second)).not.toBe(clients.forToken(first));
    await clients.forToken(first).getRepository(OWNER, REPO);
    await clients.forToken(first).getRepository(OWNER, REPO);
    await clients.forToken(second).getRepository(OWNER, REPO);
    expect(budget.snapshot(tokenFingerprint(first))[0]?.remaining).toBe(sim.admin.rateLimit(first).remaining);
    expect(budget.snapshot(tokenFingerprint(second))[0]?.remaining).toBe(
      sim.admin.rateLimit(second).remaining,
    );
    expect(sim.admin.rateLimit(first).used).toBe(2);
    expect(sim.admin.rateLimit(second).used).toBe(1);
  });
});

describe("writes are serialized per token", () => {
  /** Records, in order, when each POST left the client and when its answer came back. */
  function traceWrites(): { events: string[]; answeredAt: number[] } {
    const original = globalThis.fetch;
    const trace = { events: [] as string[], answeredAt: [] as number[] };
    let next = 0;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      if (init?.method !== "POST") return original(input, init);
      const id = next++;
      trace.events.push(`start ${id}`);
      try {
        return await original(input, init);
      } finally {
        trace.answeredAt[id] = Date.now();
        trace.events.push(`end ${id}`);
      }
    });
    return trace;
  }

  it("5 comments fired at once with one token: each starts only after the previous was answered", async () => {
    const token = newToken();
    const client = setup().clients.forToken(token);
    const number = await openPullDirectly(token, await newBranch());
    const path = `${REPO_PATH}/issues/${number}/comments`;
    // Each answer takes longer than the write spacing, so spacing alone cannot keep them apart.
    fault(`^${path}$`, { type: "delay-after", ms: 150 }, 5, "POST");
    const trace = traceWrites();

    const posted = await Promise.all(
      [0, 1, 2, 3, 4].map((index) => client.createIssueComment(OWNER, REPO, number, `comment ${index}`)),
    );
    expect(posted).toHaveLength(5);
    expect(sim.admin.issueComments(OWNER, REPO, number)).toHaveLength(5);

    // Client side: strictly alternating start/end, never two in flight.
    expect(trace.events).toEqual([0, 1, 2, 3, 4].flatMap((index) => [`start ${index}`, `end ${index}`]));
    // Server side: every request arrived no earlier than the previous one's answer was received.
    const arrivals = requestsTo(path, "POST");
    expect(arrivals).toHaveLength(5);
    for (let index = 1; index < arrivals.length; index += 1) {
      expect(arrivals[index]?.at ?? 0).toBeGreaterThanOrEqual(trace.answeredAt[index - 1] ?? Infinity);
    }
  });

  it("two different tokens are not serialized against each other", async () => {
    const tokenA = newToken();
    const tokenB = newToken();
    const { clients } = setup();
    const number = await openPullDirectly(tokenA, await newBranch());
    const path = `${REPO_PATH}/issues/${number}/comments`;
    fault(`^${path}$`, { type: "hold" }, 1, "POST", tokenA);

    let aSettled = false;
    const a = clients
      .forToken(tokenA)
      .createIssueComment(OWNER, REPO, number, "from A")
      .finally(() => (aSettled = true));
    await waitFor(() => requestsTo(path, "POST").length === 1, { message: "A's comment reached the server" });
    // A is held unanswered; B (another token) goes through meanwhile.
    const b = await clients.forToken(tokenB).createIssueComment(OWNER, REPO, number, "from B");
    expect(b.body).toBe("from B");
    expect(aSettled).toBe(false);
    expect(sim.admin.releaseHeld()).toBe(1);
    expect((await a).body).toBe("from A");
  });
});

describe("toGitHubError", () => {
  const NOW = 1_700_000_000_000;
  const FALLBACK = 17;

  function requestError(
    status: number,
    message: string,
    headers: Record<string, string> = {},
    data: unknown = { message },
    withResponse = true,
  ): RequestError {
    return new RequestError(message, status, {
      request: { method: "GET", url: "https://api.github.test/repos/o/r", headers: {} },
      ...(withResponse
        ? { response: { status, url: "https://api.github.test/repos/o/r", headers, data } }
        : {}),
    });
  }

  type Expectation = {
    type: new (...args: never[]) => GitHubError;
    kind: string;
    status: number | null;
    retryAfter?: number;
  };

  const cases: [string, unknown, Expectation][] = [
    ["401", requestError(401, "Bad credentials"), { type: AuthFailed, kind: "auth_failed", status: 401 }],
    [
      "403 with x-ratelimit-remaining 0 → until the reset",
      requestError(403, "API rate limit exceeded", {
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": String(NOW / 1000 + 120),
      }),
      { type: RateLimited, kind: "rate_limited", status: 403, retryAfter: 120 },
    ],
    [
      "403 with remaining 0 and a reset already past → at least 1 s",
      requestError(403, "API rate limit exceeded", {
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": String(NOW / 1000 - 50),
      }),
      { type: RateLimited, kind: "rate_limited", status: 403, retryAfter: 1 },
    ],
    [
      "403 secondary-limit message with retry-after",
      requestError(403, "You have exceeded a secondary rate limit", { "retry-after": "45" }),
      { type: RateLimited, kind: "rate_limited", status: 403, retryAfter: 45 },
    ],
    [
      "403 abuse message without a time → the fallback",
      requestError(403, "You have triggered an abuse detection mechanism"),
      { type: RateLimited, kind: "rate_limited", status: 403, retryAfter: FALLBACK },
    ],
    [
      "403 Resource not accessible",
      requestError(403, "Resource not accessible by integration", { "x-ratelimit-remaining": "4999" }),
      { type: PermissionDenied, kind: "forbidden", status: 403 },
    ],
    [
      "429 with retry-after",
      requestError(429, "Too Many Requests", { "retry-after": "7" }),
      { type: RateLimited, kind: "rate_limited", status: 429, retryAfter: 7 },
    ],
    [
      "429 without a time → the fallback",
      requestError(429, "Too Many Requests"),
      { type: RateLimited, kind: "rate_limited", status: 429, retryAfter: FALLBACK },
    ],
    [
      "429 with retry-after 0 → the fallback",
      requestError(429, "Too Many Requests", { "retry-after": "0" }),
      { type: RateLimited, kind: "rate_limited", status: 429, retryAfter: FALLBACK },
    ],
    ["404", requestError(404, "Not Found"), { type: NotFound, kind: "not_found", status: 404 }],
    [
      "422",
      requestError(
        422,
        "Validation Failed",
        {},
        { message: "Validation Failed", errors: [{ message: "x" }] },
      ),
      { type: ValidationFailed, kind: "validation_failed", status: 422 },
    ],
    ["500", requestError(500, "Server Error"), { type: GitHubUnavailable, kind: "unavailable", status: 500 }],
    ["502", requestError(502, "Bad Gateway"), { type: GitHubUnavailable, kind: "unavailable", status: 502 }],
    ["503", requestError(503, "Unavailable"), { type: GitHubUnavailable, kind: "unavailable", status: 503 }],
    [
      "a network error (no response)",
      requestError(500, "connect ECONNREFUSED", {}, undefined, false),
      { type: GitHubUnavailable, kind: "unavailable", status: 500 },
    ],
    ["409 (other 4xx)", requestError(409, "Conflict"), { type: GitHubError, kind: "api_error", status: 409 }],
    [
      "400 (other 4xx)",
      requestError(400, "Problems parsing JSON"),
      { type: GitHubError, kind: "api_error", status: 400 },
    ],
    [
      "a plain Error",
      new Error("socket hang up"),
      { type: GitHubUnavailable, kind: "unavailable", status: null },
    ],
    ["a thrown string", "weird", { type: GitHubUnavailable, kind: "unavailable", status: null }],
  ];

  it.each(cases)("%s", (_name, error, expected) => {
    const mapped = toGitHubError(error, "GET /repos/o/r", NOW, FALLBACK);
    expect(mapped).toBeInstanceOf(expected.type);
    expect(mapped.kind).toBe(expected.kind);
    expect(mapped.status).toBe(expected.status);
    expect(mapped.message.startsWith("GET /repos/o/r: ")).toBe(true);
    if (expected.retryAfter !== undefined)
      expect((mapped as RateLimited).retryAfterSeconds).toBe(expected.retryAfter);
    else expect(mapped).not.toBeInstanceOf(RateLimited);
  });

  it("a GitHubError passes through unchanged", () => {
    const original = new NotFound("already mapped");
    expect(toGitHubError(original, "GET /x")).toBe(original);
  });

  it("401 says what failed without echoing GitHub's text", () => {
    const mapped = toGitHubError(requestError(401, "Bad credentials"), "GET /user");
    expect(mapped.message).toBe("GET /user: GitHub rejected the token (401 Bad credentials)");
  });

  it("422 details: errors[].message, else errors[].code; empty items dropped", () => {
    const mapped = toGitHubError(
      requestError(
        422,
        "Validation Failed",
        {},
        {
          message: "Validation Failed",
          errors: [{ message: "A pull request already exists for o:b." }, { code: "missing_field" }, {}],
        },
      ),
      "POST /repos/o/r/pulls",
    );
    expect(mapped).toBeInstanceOf(ValidationFailed);
    expect((mapped as ValidationFailed).details).toEqual([
      "A pull request already exists for o:b.",
      "missing_field",
    ]);
    expect(mapped.message).toContain("(A pull request already exists for o:b.; missing_field)");
  });

  it("422 without errors: no details", () => {
    const mapped = toGitHubError(requestError(422, "Unprocessable"), "PATCH /x");
    expect((mapped as ValidationFailed).details).toEqual([]);
    expect(mapped.message).toBe("PATCH /x: Unprocessable");
  });

  it("the cause is kept for unavailable and other errors", () => {
    const network = new Error("socket hang up");
    expect(toGitHubError(network, "GET /x").cause).toBe(network);
    const server = requestError(502, "Bad Gateway");
    expect(toGitHubError(server, "GET /x").cause).toBe(server);
    const conflict = requestError(409, "Conflict");
    expect(toGitHubError(conflict, "GET /x").cause).toBe(conflict);
  });

  it("the default fallback is the default policy's (60 s)", () => {
    const mapped = toGitHubError(requestError(429, "Too Many Requests"), "GET /x", NOW);
    expect((mapped as RateLimited).retryAfterSeconds).toBe(60);
  });
});
