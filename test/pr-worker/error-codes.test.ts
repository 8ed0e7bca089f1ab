import { mkdir, mkdtemp, readdir, rm, symlink, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DATABASE_KINDS } from "../support/databases.js";
import { gitClient } from "../support/github-sim/git-client.js";
import { startPrHarness, type HarnessRepo, type PrHarness } from "../support/pr-harness.js";

const PARAMS = '{\n  "boost": { "title": 1.5, "body": 1 },\n  "limit": 20\n}\n';

describe.each(DATABASE_KINDS)("PR worker error codes ($kind)", ({ kind, skip }) => {
  let h: PrHarness;
  let repo: HarnessRepo;
  const temps: string[] = [];

  beforeEach(async () => {
    if (skip) return;
    // The held PR request in the LOCK_TIMEOUT case must outlast the 5 s lock budget.
    h = await startPrHarness({ kind, lockTimeoutSeconds: 5, requestTimeoutSeconds: 30 });
    repo = await h.addRepo({
      name: "errors",
      files: {
        "params.json": PARAMS,
        "broken.json": "{ not json",
        "config/nested.json": "{}\n",
        "README.md": "hi\n",
      },
    });
  });

  afterEach(async () => {
    if (skip) return;
    await h.stop();
    for (const dir of temps.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  async function paramsProposal(change: Record<string, unknown>, title = "Tune"): Promise<string> {
    return (await h.propose({ repoId: repo.name, title, kind: "params", change })).id;
  }

  /** Opens the PR and returns the settled `pr_open_error` (asserting the proposal stayed pending). */
  async function failureOf(id: string): Promise<string> {
    expect((await h.openPr(id)).status).toBe(202);
    const done = await h.settled(id);
    expect(done.status).toBe("pending");
    expect(done.pr).toBeNull();
    return done.prOpenError ?? "";
  }

  /** A clone of the simulated repo, for pushing what Shepherd's API cannot (symlinks, foreign branches). */
  async function workingCopy(): Promise<{
    dir: string;
    home: string;
    git: (args: string[]) => Promise<string>;
  }> {
    const base = await mkdtemp(path.join(os.tmpdir(), "shepherd-wc-"));
    temps.push(base);
    const home = path.join(base, "home");
    await mkdir(home);
    const dir = path.join(base, "wc");
    await gitClient(["clone", `${h.sim.baseUrl}/${repo.owner}/${repo.repo}.git`, dir], {
      cwd: base,
      home,
      token: repo.token,
    });
    return { dir, home, git: (args) => gitClient(args, { cwd: dir, home, token: repo.token }) };
  }

  it.skipIf(skip)("PARAM_NOT_IN_FILE when a key does not exist", async () => {
    const error = await failureOf(
      await paramsProposal({ path: "params.json", set: { "boost.subtitle": { to: 2 } } }),
    );
    expect(error).toMatch(/^PARAM_NOT_IN_FILE: params\.json: .*boost\.subtitle/);
  });

  it.skipIf(skip)("PARAM_DRIFT when the file moved on since `from`", async () => {
    const error = await failureOf(
      await paramsProposal({ path: "params.json", set: { "boost.title": { from: 9, to: 2 } } }),
    );
    expect(error).toMatch(/^PARAM_DRIFT: .*boost\.title/);
  });

  it.skipIf(skip)("PARAMS_FILE_NOT_FOUND for a missing file and for a directory", async () => {
    expect(await failureOf(await paramsProposal({ path: "missing.json", set: { a: { to: 1 } } }))).toMatch(
      /^PARAMS_FILE_NOT_FOUND: missing\.json does not exist/,
    );
    expect(
      await failureOf(await paramsProposal({ path: "config", format: "json", set: { a: { to: 1 } } })),
    ).toMatch(/^PARAMS_FILE_NOT_FOUND: config is not a regular file/);
  });

  it.skipIf(skip)("FILE_UNPARSABLE for a file that is not valid JSON", async () => {
    expect(await failureOf(await paramsProposal({ path: "broken.json", set: { a: { to: 1 } } }))).toMatch(
      /^FILE_UNPARSABLE: broken\.json:/,
    );
  });

  it.skipIf(skip)("NO_CHANGES when the change leaves the file as it is", async () => {
    expect(
      await failureOf(await paramsProposal({ path: "params.json", set: { limit: { from: 20, to: 20 } } })),
    ).toMatch(/^NO_CHANGES: /);
    expect(h.sim.admin.pulls(repo.owner, repo.repo)).toEqual([]);
  });

  it.skipIf(skip)("PATH_OUTSIDE_REPO through a symlink, and nothing is written outside", async () => {
    const outside = await mkdtemp(path.join(os.tmpdir(), "shepherd-outside-"));
    temps.push(outside);
    await writeFile(path.join(outside, "params.json"), PARAMS);
    const wc = await workingCopy();
    await symlink(outside, path.join(wc.dir, "escape"));
    await wc.git(["add", "escape"]);
    await wc.git(["commit", "-m", "a symlink out of the repository"]);
    await wc.git(["push", "origin", "HEAD:main"]);

    expect(
      await failureOf(await paramsProposal({ path: "escape/params.json", set: { limit: { to: 1 } } })),
    ).toMatch(/^PATH_OUTSIDE_REPO: .*escape\/params\.json.*symlink/);
    const files = await h.propose({
      repoId: repo.name,
      title: "Write through the link",
      kind: "files",
      change: { files: [{ path: "escape/planted.txt", content: "x" }] },
    });
    expect(await failureOf(files.id)).toMatch(/^PATH_OUTSIDE_REPO: /);
    expect((await readdir(outside)).sort()).toEqual(["params.json"]);
  });

  it.skipIf(skip)("BRANCH_EXISTS for someone else's branch, which is left as it was", async () => {
    const id = await paramsProposal({ path: "params.json", set: { limit: { to: 30 } } });
    const branch = `shepherd/proposal-${id}`;
    const foreign = await h.sim.admin.pushFiles({
      owner: repo.owner,
      repo: repo.repo,
      branch,
      files: { "other.txt": "someone else's work\n" },
      message: "Unrelated work\n",
    });
    expect(await failureOf(id)).toMatch(/^BRANCH_EXISTS: branch shepherd\/proposal-.* never force-pushes/);
    expect(await h.sim.admin.branchHead(repo.owner, repo.repo, branch)).toBe(foreign);
  });

  it.skipIf(skip)("adopts its own branch from an earlier attempt instead of pushing again", async () => {
    const id = await paramsProposal({ path: "params.json", set: { limit: { to: 30 } } });
    const branch = `shepherd/proposal-${id}`;
    const earlier = await h.sim.admin.pushFiles({
      owner: repo.owner,
      repo: repo.repo,
      branch,
      files: { "params.json": PARAMS.replace('"limit": 20', '"limit": 30') },
      message: `Tune\n\nShepherd-Proposal: ${id}\n`,
    });
    expect((await h.openPr(id)).status).toBe(202);
    const done = await h.settled(id);
    expect(done.status).toBe("pr_opened");
    expect(await h.sim.admin.branchHead(repo.owner, repo.repo, branch)).toBe(earlier);
    expect(h.git.commands.some((c) => c.args[0] === "push")).toBe(false);
    const opened = await h.eventsOf("pr.opened");
    expect(opened[0]?.payload).toMatchObject({ proposalId: id, adopted: true });
  });

  it.skipIf(skip)("PUSH_FAILED when the remote rejects the push, with its reason", async () => {
    await h.sim.admin.setPushRejection({
      owner: repo.owner,
      repo: repo.repo,
      reason: "pushes are frozen for the release",
    });
    expect(
      await failureOf(await paramsProposal({ path: "params.json", set: { limit: { to: 30 } } })),
    ).toMatch(/^PUSH_FAILED: the push was rejected: .*pushes are frozen for the release/);
  });

  it.skipIf(skip)("GITHUB_API_FAILED when GitHub refuses the PR (422), with GitHub's reason", async () => {
    h.sim.admin.addFault({
      match: { method: "POST", path: "/pulls$" },
      times: 1,
      action: {
        type: "status",
        status: 422,
        body: {
          message: "Validation Failed",
          errors: [{ resource: "PullRequest", code: "custom", message: "Base branch is locked" }],
          documentation_url: "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
        },
      },
    });
    expect(
      await failureOf(await paramsProposal({ path: "params.json", set: { limit: { to: 30 } } })),
    ).toMatch(/^GITHUB_API_FAILED: .*Base branch is locked/);
  });

  it.skipIf(skip)("GITHUB_AUTH_FAILED when the token was revoked", async () => {
    h.sim.admin.revokeToken(repo.token);
    expect(
      await failureOf(await paramsProposal({ path: "params.json", set: { limit: { to: 30 } } })),
    ).toMatch(/^GITHUB_AUTH_FAILED: /);
  });

  it.skipIf(skip)("GITHUB_AUTH_FAILED when the token may push but not open pull requests", async () => {
    const readOnlyPulls = h.sim.admin.createToken({
      repos: [`${repo.owner}/${repo.repo}`],
      permissions: { contents: "write", pull_requests: "read", metadata: "read" },
    });
    await writeFile(path.join(h.server.home, "secrets", "errors-token"), `${readOnlyPulls}\n`);
    expect(
      await failureOf(await paramsProposal({ path: "params.json", set: { limit: { to: 30 } } })),
    ).toMatch(/^GITHUB_AUTH_FAILED: .*403.*Pull requests: write/);
  });

  it.skipIf(skip)("CLONE_FAILED when the base branch does not exist", async () => {
    const answer = await h.api("PATCH", `/api/v1/repos/${repo.name}`, { baseBranch: "develop" });
    expect(answer.status).toBe(200);
    expect(
      await failureOf(await paramsProposal({ path: "params.json", set: { limit: { to: 30 } } })),
    ).toMatch(/^CLONE_FAILED: the base branch does not exist/);
  });

  it.skipIf(skip)("LOCK_TIMEOUT when the repo stays busy longer than the lock budget", async () => {
    const first = await paramsProposal({ path: "params.json", set: { limit: { to: 30 } } }, "first");
    const second = await h.propose({
      repoId: repo.name,
      title: "second",
      kind: "files",
      change: { files: [{ path: "b.txt", content: "b" }] },
    });
    // The first holds the repo: its PR is created but GitHub's answer is withheld.
    h.sim.admin.addFault({ match: { method: "POST", path: "/pulls$" }, times: 1, action: { type: "hold" } });
    await h.openPr(first);
    await expectEventually(() => h.sim.admin.pulls(repo.owner, repo.repo).length === 1);
    await h.openPr(second.id);
    const timedOut = await h.settled(second.id, 30_000);
    expect(timedOut.prOpenError).toMatch(/^LOCK_TIMEOUT: repo errors stayed busy .* for \d+ s/);
    h.sim.admin.releaseHeld();
    expect((await h.settled(first)).status).toBe("pr_opened");
  });

  it.skipIf(skip)("refuses open-pr in the spec's preflight order", async () => {
    expect(statusAndCode(await h.openPr("prop_01m7xz0000000000000000000"))).toEqual([
      404,
      "PROPOSAL_NOT_FOUND",
      false,
    ]);
    const rejected = await paramsProposal({ path: "params.json", set: { limit: { to: 30 } } });
    await h.api("POST", `/api/v1/proposals/${rejected}/reject`, { reason: "no" });
    const notPending = await h.openPr(rejected);
    expect(statusAndCode(notPending)).toEqual([409, "INVALID_STATE_TRANSITION", false]);

    const tokenGone = await paramsProposal({ path: "params.json", set: { limit: { to: 31 } } });
    await unlink(path.join(h.server.home, "secrets", "errors-token"));
    const unreadable = await h.openPr(tokenGone);
    expect(statusAndCode(unreadable)).toEqual([503, "GITHUB_NOT_CONFIGURED", true]);

    await h.api("DELETE", `/api/v1/repos/${repo.name}`);
    const repoGone = await h.openPr(tokenGone);
    expect(statusAndCode(repoGone)).toEqual([422, "REPO_NOT_CONFIGURED", false]);
  });
});

function statusAndCode(answer: {
  status: number;
  body: unknown;
}): [number, string | undefined, boolean | undefined] {
  const error = (answer.body as { error?: { code?: string; retryable?: boolean } }).error;
  return [answer.status, error?.code, error?.retryable];
}

async function expectEventually(check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition never held");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
