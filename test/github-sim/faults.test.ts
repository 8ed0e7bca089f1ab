import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { gitClient, runGitClient, type GitClientOptions } from "../support/github-sim/git-client.js";
import { callSim, type SimHttpAnswer } from "../support/github-sim/sim-http-client.js";
import { startGitHubSimulator, type GitHubSimulator } from "../support/github-sim/simulator.js";
import { waitFor } from "../support/wait-for.js";

/** Fault injection on REST and git paths; delays are checked by effects and ordering, never by timing. */

let sim: GitHubSimulator;
let token: string;
let work: string;
let branchCount = 0;

beforeAll(async () => {
  sim = await startGitHubSimulator({ contentCreationPerMinute: 1000 });
  await sim.admin.createRepo({ owner: "acme", name: "widgets", files: { "README.md": "x\n" } });
  token = sim.admin.createToken({ repos: ["acme/widgets"] });
  work = await mkdtemp(path.join(os.tmpdir(), "sim-faults-"));
});

afterEach(() => {
  sim.admin.clearFaults();
  sim.admin.releaseHeld();
  sim.admin.clearRequests();
});

afterAll(async () => {
  await sim?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** A new branch with one commit, ready for a PR. */
async function newBranch(): Promise<string> {
  branchCount += 1;
  const branch = `topic-${branchCount}`;
  await sim.admin.pushFiles({ owner: "acme", repo: "widgets", branch, files: { [`${branch}.txt`]: "t\n" } });
  return branch;
}

function openPull(branch: string, signal?: AbortSignal): Promise<SimHttpAnswer> {
  if (!signal) {
    return callSim(sim.baseUrl, "POST", "/repos/acme/widgets/pulls", {
      token,
      body: { title: branch, head: branch, base: "main" },
    });
  }
  return fetch(`${sim.baseUrl}/api/v3/repos/acme/widgets/pulls`, {
    method: "POST",
    headers: { authorization: `token ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ title: branch, head: branch, base: "main" }),
    signal,
  }).then(async (response) => ({
    status: response.status,
    headers: response.headers,
    text: await response.text(),
    json: undefined,
  }));
}

function pullsFor(branch: string): number {
  return sim.admin.pulls("acme", "widgets").filter((pull) => pull.headRef === branch).length;
}

/** Tracks whether a promise has settled, without awaiting it. */
function track<T>(promise: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let settled = false;
  const tracked = promise.finally(() => (settled = true));
  tracked.catch(() => undefined);
  return { settled: () => settled, promise: tracked };
}

describe("faults on REST requests", () => {
  it("status: answers the injected status `times` times without doing anything, then recovers", async () => {
    const branch = await newBranch();
    sim.admin.addFault({
      match: { method: "POST", path: "/pulls$" },
      times: 2,
      action: {
        type: "status",
        status: 502,
        body: { message: "Bad Gateway" },
        headers: { "x-injected": "yes" },
      },
    });
    const first = await openPull(branch);
    const second = await openPull(branch);
    expect([first.status, second.status]).toEqual([502, 502]);
    expect(first.json).toEqual({ message: "Bad Gateway" });
    expect(first.headers.get("x-injected")).toBe("yes");
    expect(pullsFor(branch)).toBe(0);
    expect((await openPull(branch)).status).toBe(201);
    expect(pullsFor(branch)).toBe(1);
    expect(sim.admin.requests().map((request) => request.status)).toEqual([502, 502, 201]);
  });

  it("matches by method, path and token, and only the first matching fault applies", async () => {
    const other = sim.admin.createToken({ repos: ["acme/widgets"] });
    sim.admin.addFault({ match: { token: other }, times: 5, action: { type: "status", status: 503 } });
    sim.admin.addFault({
      match: { method: "GET", path: "^/api/v3/user$" },
      times: 1,
      action: { type: "status", status: 500 },
    });
    expect((await callSim(sim.baseUrl, "GET", "/user", { token: other })).status).toBe(503);
    expect((await callSim(sim.baseUrl, "GET", "/rate_limit", { token })).status).toBe(200);
    expect((await callSim(sim.baseUrl, "GET", "/user", { token })).status).toBe(500);
    expect((await callSim(sim.baseUrl, "GET", "/user", { token })).status).toBe(200);
    sim.admin.clearFaults();
    expect((await callSim(sim.baseUrl, "GET", "/user", { token: other })).status).toBe(200);
  });

  it("rate-limit: 429 with Retry-After, recorded as rate limited and not charged", async () => {
    sim.admin.addFault({
      match: { path: "/user$" },
      times: 1,
      action: { type: "rate-limit", retryAfter: 7 },
    });
    const before = sim.admin.rateLimit(token).remaining;
    const answer = await callSim(sim.baseUrl, "GET", "/user", { token });
    expect(answer.status).toBe(429);
    expect(answer.headers.get("retry-after")).toBe("7");
    expect(sim.admin.rateLimit(token).remaining).toBe(before);
    expect(sim.admin.requests()[0]).toMatchObject({ status: 429, rateLimited: true });
  });

  it("secondary-limit: the three documented shapes of a secondary-limit 403", async () => {
    const shapes = ["retry-after", "reset", "message"] as const;
    const answers: Record<string, SimHttpAnswer> = {};
    for (const shape of shapes) {
      sim.admin.addFault({ match: { path: "/user$" }, times: 1, action: { type: "secondary-limit", shape } });
      answers[shape] = await callSim(sim.baseUrl, "GET", "/user", { token });
    }
    for (const shape of shapes) {
      const answer = answers[shape];
      expect(answer?.status).toBe(403);
      expect((answer?.json as { message: string }).message).toMatch(
        /^You have exceeded a secondary rate limit/,
      );
    }
    expect(answers["retry-after"]?.headers.get("retry-after")).toBe("60");
    expect(answers["retry-after"]?.headers.get("x-ratelimit-remaining")).not.toBe("0");
    expect(answers.reset?.headers.get("retry-after")).toBeNull();
    expect(answers.reset?.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(Number(answers.reset?.headers.get("x-ratelimit-reset"))).toBeGreaterThan(Date.now() / 1000);
    expect(answers.message?.headers.get("retry-after")).toBeNull();
    expect(answers.message?.headers.get("x-ratelimit-remaining")).not.toBe("0");
    expect(sim.admin.requests().every((request) => request.rateLimited)).toBe(true);
  });

  it("delay: nothing happens until the delay is over, then the request is handled normally", async () => {
    const branch = await newBranch();
    sim.admin.addFault({
      match: { method: "POST", path: "/pulls$" },
      times: 1,
      action: { type: "delay", ms: 1500 },
    });
    const delayed = track(openPull(branch));
    await waitFor(() => sim.admin.requests().length === 1);
    // Arrived but not yet handled: no pull request exists while the delay runs.
    expect(pullsFor(branch)).toBe(0);
    expect(delayed.settled()).toBe(false);
    expect((await delayed.promise).status).toBe(201);
    expect(pullsFor(branch)).toBe(1);
  });

  it("delay-after: the effect happens first, the answer comes later; a client that gives up has caused it unseen", async () => {
    const branch = await newBranch();
    sim.admin.addFault({
      match: { method: "POST", path: "/pulls$" },
      times: 2,
      action: { type: "delay-after", ms: 1500 },
    });
    const waiting = track(openPull(branch));
    await waitFor(() => pullsFor(branch) === 1);
    expect(waiting.settled()).toBe(false);
    expect((await waiting.promise).status).toBe(201);

    const killed = await newBranch();
    const controller = new AbortController();
    const abandoned = track(openPull(killed, controller.signal));
    await waitFor(() => pullsFor(killed) === 1);
    controller.abort();
    await expect(abandoned.promise).rejects.toThrow();
    expect(pullsFor(killed)).toBe(1);
  });

  it("hold: the effect happens and the answer waits for releaseHeld(); a killed client never gets one", async () => {
    const branch = await newBranch();
    sim.admin.addFault({ match: { method: "POST", path: "/pulls$" }, times: 1, action: { type: "hold" } });
    const held = track(openPull(branch));
    await waitFor(() => pullsFor(branch) === 1);
    expect(held.settled()).toBe(false);
    expect(sim.admin.requests()[0]?.status).toBe(0);
    expect(sim.admin.releaseHeld()).toBe(1);
    expect((await held.promise).status).toBe(201);
    expect(sim.admin.requests()[0]?.status).toBe(201);

    const killed = await newBranch();
    sim.admin.addFault({ match: { method: "POST", path: "/pulls$" }, times: 1, action: { type: "hold" } });
    const controller = new AbortController();
    const abandoned = track(openPull(killed, controller.signal));
    await waitFor(() => pullsFor(killed) === 1);
    controller.abort();
    await expect(abandoned.promise).rejects.toThrow();
    expect(sim.admin.releaseHeld()).toBe(1);
    // One more round trip lets the released handler run to its end; the effect stays single.
    expect((await callSim(sim.baseUrl, "GET", "/rate_limit", { token })).status).toBe(200);
    expect(pullsFor(killed)).toBe(1);
  });

  it("drop: the connection is destroyed and the request has no effect", async () => {
    const branch = await newBranch();
    sim.admin.addFault({ match: { method: "POST", path: "/pulls$" }, times: 1, action: { type: "drop" } });
    await expect(openPull(branch)).rejects.toThrow();
    expect(pullsFor(branch)).toBe(0);
    expect(sim.admin.requests()[0]).toMatchObject({ method: "POST", status: 0 });
  });

  it("refuses malformed faults", () => {
    expect(() => sim.admin.addFault({ times: 0, action: { type: "drop" } })).toThrow(/times/);
    expect(() => sim.admin.addFault({ times: 1, action: { type: "status", status: 42 } })).toThrow(/status/);
    expect(() => sim.admin.addFault({ match: { path: "(" }, times: 1, action: { type: "drop" } })).toThrow();
  });
});

describe("faults on git smart-HTTP requests", () => {
  async function cloneAndCommit(branch: string): Promise<GitClientOptions> {
    branchCount += 1;
    const dir = path.join(work, `clone-${branchCount}`);
    await gitClient(["clone", "--quiet", `${sim.baseUrl}/acme/widgets.git`, dir], {
      cwd: work,
      home: work,
      token,
    });
    const clone = { cwd: dir, home: work, token };
    await gitClient(["checkout", "-q", "-b", branch], clone);
    await writeFile(path.join(dir, `${branch}.txt`), "git\n");
    await gitClient(["add", "-A"], clone);
    await gitClient(["commit", "-q", "-m", branch], clone);
    return clone;
  }

  it("status: a 502 on git-receive-pack fails the push without updating the branch", async () => {
    const clone = await cloneAndCommit("git-502");
    sim.admin.addFault({
      match: { path: "/git-receive-pack$", method: "POST" },
      times: 1,
      action: { type: "status", status: 502 },
    });
    const failed = await runGitClient(["push", "origin", "git-502"], clone);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/502/);
    expect(await sim.admin.branchHead("acme", "widgets", "git-502")).toBeNull();
    await gitClient(["push", "-q", "origin", "git-502"], clone);
    expect(await sim.admin.branchHead("acme", "widgets", "git-502")).not.toBeNull();
  });

  it("drop: a dropped info/refs makes the clone fail", async () => {
    sim.admin.addFault({ match: { path: "\\.git/info/refs$" }, times: 1, action: { type: "drop" } });
    const failed = await runGitClient(
      ["clone", "--quiet", `${sim.baseUrl}/acme/widgets.git`, path.join(work, "dropped")],
      {
        cwd: work,
        home: work,
        token,
      },
    );
    expect(failed.code).not.toBe(0);
  });

  it("hold: the pushed branch is updated while the git client still waits for the answer", async () => {
    const clone = await cloneAndCommit("git-held");
    const local = (await gitClient(["rev-parse", "HEAD"], clone)).trim();
    sim.admin.addFault({
      match: { path: "/git-receive-pack$", method: "POST" },
      times: 1,
      action: { type: "hold" },
    });
    const push = track(runGitClient(["push", "origin", "git-held"], clone));
    await waitFor(async () => (await sim.admin.branchHead("acme", "widgets", "git-held")) === local);
    expect(push.settled()).toBe(false);
    expect(sim.admin.releaseHeld()).toBe(1);
    expect((await push.promise).code).toBe(0);
  });
});
