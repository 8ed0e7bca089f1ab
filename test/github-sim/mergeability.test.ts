import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitClient } from "../support/github-sim/git-client.js";
import { callSim, type SimHttpAnswer } from "../support/github-sim/sim-http-client.js";
import { startGitHubSimulator, type GitHubSimulatorInternals } from "../support/github-sim/simulator.js";

const run = promisify(execFile);

/** Mergeability from `git merge-tree`, merges that really move the base branch, and PR lifecycle. */

interface PullJson {
  number: number;
  state: string;
  merged: boolean;
  mergeable: boolean | null;
  mergeable_state: string;
  merge_commit_sha: string | null;
  head: { sha: string };
  base: { sha: string };
}

let sim: GitHubSimulatorInternals;
let token: string;
let repoCount = 0;

beforeAll(async () => {
  sim = await startGitHubSimulator({ contentCreationPerMinute: 1000 });
  token = sim.admin.createToken({ repos: "*" });
});

afterAll(async () => {
  await sim?.stop();
});

/** A fresh repository with `config.yaml` on main and a PR changing it from `feature`. */
async function repoWithPull(): Promise<{ repo: string; number: number; head: string }> {
  repoCount += 1;
  const repo = `r${repoCount}`;
  await sim.admin.createRepo({
    owner: "acme",
    name: repo,
    files: { "config.yaml": "a: 1\nb: 2\nc: 3\n", "other.txt": "o\n" },
  });
  const head = await sim.admin.pushFiles({
    owner: "acme",
    repo,
    branch: "feature",
    files: { "config.yaml": "a: 1\nb: 20\nc: 3\n" },
    message: "Raise b\n",
  });
  const opened = await api("POST", `/repos/acme/${repo}/pulls`, {
    title: "Raise b",
    head: "feature",
    base: "main",
  });
  expect(opened.status).toBe(201);
  return { repo, number: (opened.json as PullJson).number, head };
}

function api(method: string, apiPath: string, body?: unknown): Promise<SimHttpAnswer> {
  return callSim(sim.baseUrl, method, apiPath, { token, body });
}

async function getPull(repo: string, number: number): Promise<PullJson> {
  const answer = await api("GET", `/repos/acme/${repo}/pulls/${number}`);
  expect(answer.status).toBe(200);
  return answer.json as PullJson;
}

describe("mergeability", () => {
  it("is unknown (null) on the first read, then computed; listing does not consume the unknown", async () => {
    const { repo, number } = await repoWithPull();
    const created = (await api("GET", `/repos/acme/${repo}/pulls`)).json as PullJson[];
    expect(created[0]?.number).toBe(number);
    const first = await getPull(repo, number);
    expect(first).toMatchObject({ mergeable: null, mergeable_state: "unknown" });
    const second = await getPull(repo, number);
    expect(second).toMatchObject({ mergeable: true, mergeable_state: "clean" });
  });

  it("turns false after a conflicting push to the base, and merging is refused", async () => {
    const { repo, number } = await repoWithPull();
    await getPull(repo, number);
    expect((await getPull(repo, number)).mergeable).toBe(true);
    const base = await sim.admin.pushFiles({
      owner: "acme",
      repo,
      branch: "main",
      files: { "config.yaml": "a: 1\nb: 99\nc: 3\n" },
    });
    const moved = await getPull(repo, number);
    expect(moved).toMatchObject({ mergeable: null, base: { sha: base } });
    expect(await getPull(repo, number)).toMatchObject({ mergeable: false, mergeable_state: "dirty" });
    const refused = await api("PUT", `/repos/acme/${repo}/pulls/${number}/merge`, {});
    expect(refused.status).toBe(405);
    expect(refused.json).toMatchObject({ message: "Pull Request is not mergeable" });
    expect(await sim.admin.branchHead("acme", repo, "main")).toBe(base);

    // The agent fixes the conflict on its branch: unknown again, then mergeable.
    await sim.admin.pushFiles({
      owner: "acme",
      repo,
      branch: "feature",
      parent: base,
      files: { "config.yaml": "a: 1\nb: 100\nc: 3\n" },
    });
    expect((await getPull(repo, number)).mergeable).toBeNull();
    expect((await getPull(repo, number)).mergeable).toBe(true);
  });

  it("reports a failing check as the unstable merge state", async () => {
    const { repo, number, head } = await repoWithPull();
    await getPull(repo, number);
    sim.admin.setCheckRun({
      owner: "acme",
      repo,
      sha: head,
      name: "ci",
      status: "completed",
      conclusion: "failure",
    });
    expect(await getPull(repo, number)).toMatchObject({ mergeable: true, mergeable_state: "unstable" });
  });
});

describe("merging really updates the base branch", () => {
  it("merge: a merge commit with the base and head as parents", async () => {
    const { repo, number, head } = await repoWithPull();
    const oldBase = await sim.admin.branchHead("acme", repo, "main");
    const answer = await api("PUT", `/repos/acme/${repo}/pulls/${number}/merge`, { merge_method: "merge" });
    expect(answer.status).toBe(200);
    const sha = (answer.json as { sha: string }).sha;
    expect(await sim.admin.branchHead("acme", repo, "main")).toBe(sha);
    expect(await sim.admin.readFile({ owner: "acme", repo, ref: "main", path: "config.yaml" })).toBe(
      "a: 1\nb: 20\nc: 3\n",
    );
    expect(await sim.admin.commitMessage("acme", repo, sha)).toMatch(
      /^Merge pull request #\d+ from acme\/feature\n\nRaise b/,
    );
    const parents = await parentsOf(repo, sha);
    expect(parents).toEqual([oldBase, head]);
    expect(await getPull(repo, number)).toMatchObject({
      state: "closed",
      merged: true,
      merge_commit_sha: sha,
    });
    expect(sim.admin.pull("acme", repo, number)).toMatchObject({ merged: true, mergedBy: "shepherd-bot" });
  });

  it("squash: one new commit on the base with the PR's changes", async () => {
    const { repo, number } = await repoWithPull();
    const oldBase = await sim.admin.branchHead("acme", repo, "main");
    const answer = await api("PUT", `/repos/acme/${repo}/pulls/${number}/merge`, { merge_method: "squash" });
    const sha = (answer.json as { sha: string }).sha;
    expect(await sim.admin.branchHead("acme", repo, "main")).toBe(sha);
    expect(await parentsOf(repo, sha)).toEqual([oldBase]);
    expect(await sim.admin.commitMessage("acme", repo, sha)).toMatch(/^Raise b \(#\d+\)\n/);
    expect(await sim.admin.readFile({ owner: "acme", repo, ref: "main", path: "config.yaml" })).toBe(
      "a: 1\nb: 20\nc: 3\n",
    );
  });

  it("rebase: the PR's commits replayed on a base that moved meanwhile", async () => {
    const { repo, number, head } = await repoWithPull();
    const second = await sim.admin.pushFiles({
      owner: "acme",
      repo,
      branch: "feature",
      files: { "new.txt": "n\n" },
      message: "Add new\n",
    });
    const movedBase = await sim.admin.pushFiles({
      owner: "acme",
      repo,
      branch: "main",
      files: { "other.txt": "changed\n" },
    });
    const { sha } = await sim.admin.mergePull({ owner: "acme", repo, number, method: "rebase" });
    expect(await sim.admin.branchHead("acme", repo, "main")).toBe(sha);
    expect(sha).not.toBe(second);
    const replayedFirst = (await parentsOf(repo, sha))[0] ?? "";
    expect(await parentsOf(repo, replayedFirst)).toEqual([movedBase]);
    expect(await sim.admin.commitMessage("acme", repo, sha)).toBe("Add new\n");
    expect(await sim.admin.commitMessage("acme", repo, replayedFirst)).toBe(
      await sim.admin.commitMessage("acme", repo, head),
    );
    for (const [file, content] of [
      ["config.yaml", "a: 1\nb: 20\nc: 3\n"],
      ["new.txt", "n\n"],
      ["other.txt", "changed\n"],
    ]) {
      expect(await sim.admin.readFile({ owner: "acme", repo, ref: "main", path: file ?? "" })).toBe(content);
    }
    expect(sim.admin.pull("acme", repo, number)).toMatchObject({
      state: "closed",
      merged: true,
      mergedBy: "sim-maintainer",
    });
  });

  it("refuses a merge whose expected head sha is stale (409) and an unknown method (422)", async () => {
    const { repo, number } = await repoWithPull();
    const stale = await api("PUT", `/repos/acme/${repo}/pulls/${number}/merge`, { sha: "0".repeat(40) });
    expect(stale.status).toBe(409);
    const unknown = await api("PUT", `/repos/acme/${repo}/pulls/${number}/merge`, {
      merge_method: "octopus",
    });
    expect(unknown.status).toBe(422);
    expect(sim.admin.pull("acme", repo, number)?.state).toBe("open");
  });
});

describe("pull request lifecycle follows the repository", () => {
  it("marks a PR merged when its head lands in the base by a plain push", async () => {
    const { repo, number, head } = await repoWithPull();
    await sim.admin.pushFiles({
      owner: "acme",
      repo,
      branch: "main",
      parent: head,
      files: { "after.txt": "x\n" },
    });
    expect(sim.admin.pull("acme", repo, number)).toMatchObject({ state: "closed", merged: true });
  });

  it("closes a PR whose head branch is deleted, and refuses to reopen it until the branch is back", async () => {
    const { repo, number } = await repoWithPull();
    const work = await mkdtemp(path.join(os.tmpdir(), "sim-lifecycle-"));
    try {
      const options = { cwd: work, home: work, token };
      await gitClient(["clone", "--quiet", `${sim.baseUrl}/acme/${repo}.git`, "c"], options);
      await gitClient(["push", "-q", "origin", "--delete", "feature"], {
        ...options,
        cwd: path.join(work, "c"),
      });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    expect(sim.admin.pull("acme", repo, number)?.state).toBe("closed");
    const reopen = await api("PATCH", `/repos/acme/${repo}/pulls/${number}`, { state: "open" });
    expect(reopen.status).toBe(422);
    expect(() => sim.admin.reopenPull({ owner: "acme", repo, number })).toThrow(/deleted/);
  });

  it("closes and reopens through the admin API and through PATCH", async () => {
    const { repo, number } = await repoWithPull();
    sim.admin.closePull({ owner: "acme", repo, number });
    expect(await getPull(repo, number)).toMatchObject({ state: "closed", merged: false });
    sim.admin.reopenPull({ owner: "acme", repo, number });
    expect((await getPull(repo, number)).state).toBe("open");
    expect(
      (await api("PATCH", `/repos/acme/${repo}/pulls/${number}`, { state: "closed" })).json,
    ).toMatchObject({
      state: "closed",
    });
    expect(sim.admin.pull("acme", repo, number)?.closedAt).not.toBeNull();
  });
});

/** The parents of a commit, read straight from the simulator's bare repository. */
async function parentsOf(repo: string, sha: string): Promise<string[]> {
  const dir = path.join(sim.dataDir, "repos", "acme", `${repo}.git`);
  const { stdout } = await run("git", ["-C", dir, "rev-list", "--parents", "-n", "1", sha]);
  return stdout.trim().split(" ").slice(1);
}
