import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  basicAuthHeader,
  gitClient,
  runGitClient,
  type GitClientOptions,
} from "../support/github-sim/git-client.js";
import { callSim } from "../support/github-sim/sim-http-client.js";
import { startGitHubSimulator, type GitHubSimulator } from "../support/github-sim/simulator.js";

/**
 * Real `git clone` / `fetch` / `push` over smart HTTP, authenticated only by an
 * `http.extraHeader` Authorization header (as Shepherd does), against `git http-backend`.
 */

let sim: GitHubSimulator;
let work: string;
let writer: string;
let counter = 0;

beforeAll(async () => {
  sim = await startGitHubSimulator();
  await sim.admin.createRepo({ owner: "acme", name: "widgets", files: { "README.md": "hello\n" } });
  await sim.admin.createRepo({ owner: "acme", name: "secret", files: { "README.md": "private\n" } });
  writer = sim.admin.createToken({ repos: ["acme/widgets"] });
  work = await mkdtemp(path.join(os.tmpdir(), "sim-git-"));
});

afterAll(async () => {
  await sim?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function remote(repo = "widgets"): string {
  return `${sim.baseUrl}/acme/${repo}.git`;
}

/** A fresh directory for one clone. */
function freshDir(): string {
  counter += 1;
  return path.join(work, `c${counter}`);
}

async function cloneWith(
  token: string | null,
  extra: Partial<GitClientOptions> = {},
): Promise<GitClientOptions> {
  const dir = freshDir();
  await gitClient(["clone", "--quiet", remote(), dir], { cwd: work, home: work, token, ...extra });
  return { cwd: dir, home: work, token, ...extra };
}

async function commitFile(
  clone: GitClientOptions,
  file: string,
  content: string,
  message: string,
): Promise<string> {
  await writeFile(path.join(clone.cwd, file), content);
  await gitClient(["add", file], clone);
  await gitClient(["commit", "-q", "-m", message], clone);
  return (await gitClient(["rev-parse", "HEAD"], clone)).trim();
}

describe("git over smart HTTP", () => {
  it("clones, pushes a new branch and fetches with header-only auth; the remote URL carries no secret", async () => {
    const clone = await cloneWith(writer);
    expect(await readFile(path.join(clone.cwd, "README.md"), "utf8")).toBe("hello\n");
    const config = await readFile(path.join(clone.cwd, ".git", "config"), "utf8");
    expect(config).toContain(remote());
    expect(config).not.toContain(writer);

    await gitClient(["checkout", "-q", "-b", "feature/a"], clone);
    const sha = await commitFile(clone, "a.txt", "a\n", "Add a");
    await gitClient(["push", "-q", "--set-upstream", "origin", "feature/a"], clone);
    expect(await sim.admin.branchHead("acme", "widgets", "feature/a")).toBe(sha);
    expect(
      await sim.admin.readFile({ owner: "acme", repo: "widgets", ref: "feature/a", path: "a.txt" }),
    ).toBe("a\n");
    expect(await sim.admin.commitMessage("acme", "widgets", sha)).toBe("Add a\n");

    const moved = await sim.admin.pushFiles({
      owner: "acme",
      repo: "widgets",
      branch: "main",
      files: { "base.txt": "moved\n" },
      message: "Move main\n",
    });
    await gitClient(["fetch", "-q", "origin", "main"], clone);
    expect((await gitClient(["rev-parse", "origin/main"], clone)).trim()).toBe(moved);

    const paths = sim.admin
      .requests()
      .map((request) => `${request.method} ${request.path} ${request.status}`);
    expect(paths).toContain("POST /acme/widgets.git/git-receive-pack 200");
    expect(paths).toContain("POST /acme/widgets.git/git-upload-pack 200");
  });

  it("accepts a Bearer header too, and gzip-encoded upload-pack requests", async () => {
    const bearer = `Authorization: Bearer ${writer}`;
    const clone = await cloneWith(null, { header: bearer });
    // Wanting many new branches at once makes the request body large enough for git to gzip it.
    const tips: string[] = [];
    for (let i = 0; i < 40; i++) {
      tips.push(
        await sim.admin.pushFiles({
          owner: "acme",
          repo: "widgets",
          branch: `many/b${i}`,
          files: { [`m${i}.txt`]: `${i}\n` },
        }),
      );
    }
    const fetched = await runGitClient(["fetch", "origin"], { ...clone, env: { GIT_TRACE_CURL: "1" } });
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(fetched.stderr).toMatch(/Send header: Content-Encoding: gzip/i);
    expect((await gitClient(["rev-parse", "origin/many/b39"], clone)).trim()).toBe(tips[39]);
    const moved = await sim.admin.pushFiles({
      owner: "acme",
      repo: "widgets",
      branch: "main",
      files: { "g.txt": "g\n" },
    });
    await gitClient(["fetch", "-q", "origin", "main"], clone);
    expect((await gitClient(["rev-parse", "origin/main"], clone)).trim()).toBe(moved);
  });

  it("works with the header given only through GIT_CONFIG_COUNT, scoped to the server's URL", async () => {
    const env = {
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: `http.${sim.baseUrl}/.extraheader`,
      GIT_CONFIG_VALUE_0: basicAuthHeader(writer),
    };
    const dir = freshDir();
    await gitClient(["clone", "--quiet", remote(), dir], { cwd: work, home: work, token: null, env });
    const clone = { cwd: dir, home: work, token: null, env };
    await gitClient(["checkout", "-q", "-b", "env-auth"], clone);
    const sha = await commitFile(clone, "e.txt", "e\n", "env auth");
    await gitClient(["push", "-q", "origin", "env-auth"], clone);
    expect(await sim.admin.branchHead("acme", "widgets", "env-auth")).toBe(sha);
  });

  it("refuses missing, malformed, unknown and revoked credentials with 401 and a Basic challenge", async () => {
    for (const options of [
      { token: null },
      { token: null, header: "AUTHORIZATION: basic !!!not-base64" },
      { token: "github_pat_unknown" },
    ]) {
      const result = await runGitClient(["clone", "--quiet", remote(), freshDir()], {
        cwd: work,
        home: work,
        ...options,
      });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/Authentication failed|could not read Username|401/);
    }
    const answer = await fetch(`${remote()}/info/refs?service=git-upload-pack`);
    expect(answer.status).toBe(401);
    expect(answer.headers.get("www-authenticate")).toBe('Basic realm="GitHub"');

    const doomed = sim.admin.createToken({ repos: ["acme/widgets"] });
    const clone = await cloneWith(doomed);
    sim.admin.revokeToken(doomed);
    sim.admin.clearRequests();
    const fetched = await runGitClient(["fetch", "origin"], clone);
    expect(fetched.code).not.toBe(0);
    expect(sim.admin.requests().map((request) => request.status)).toEqual([401]);
  });

  it("lets a read-only token clone but not push (403), and hides repositories outside the token (404)", async () => {
    const reader = sim.admin.createToken({ repos: ["acme/widgets"], permissions: { contents: "read" } });
    const clone = await cloneWith(reader);
    await gitClient(["checkout", "-q", "-b", "reader-branch"], clone);
    await commitFile(clone, "r.txt", "r\n", "reader");
    const pushed = await runGitClient(["push", "origin", "reader-branch"], clone);
    expect(pushed.code).not.toBe(0);
    expect(pushed.stderr).toMatch(/403/);
    expect(await sim.admin.branchHead("acme", "widgets", "reader-branch")).toBeNull();

    const noContents = sim.admin.createToken({
      repos: ["acme/widgets"],
      permissions: { contents: undefined },
    });
    const noRead = await fetch(`${remote()}/info/refs?service=git-upload-pack`, {
      headers: { authorization: `Bearer ${noContents}` },
    });
    expect(noRead.status).toBe(403);

    const elsewhere = await runGitClient(["clone", "--quiet", remote("secret"), freshDir()], {
      cwd: work,
      home: work,
      token: writer,
    });
    expect(elsewhere.code).not.toBe(0);
    expect(elsewhere.stderr).toMatch(/not found|404/i);
  });

  it("rejects every push while a pre-receive rejection is set, with its reason", async () => {
    const clone = await cloneWith(writer);
    await gitClient(["checkout", "-q", "-b", "blocked"], clone);
    await commitFile(clone, "b.txt", "b\n", "blocked");
    await sim.admin.setPushRejection({
      owner: "acme",
      repo: "widgets",
      reason: "GH006: Protected branch update failed",
    });
    const refused = await runGitClient(["push", "origin", "blocked"], clone);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("remote: GH006: Protected branch update failed");
    expect(refused.stderr).toContain("pre-receive hook declined");
    expect(await sim.admin.branchHead("acme", "widgets", "blocked")).toBeNull();

    await sim.admin.setPushRejection({ owner: "acme", repo: "widgets", reason: null });
    await gitClient(["push", "-q", "origin", "blocked"], clone);
    expect(await sim.admin.branchHead("acme", "widgets", "blocked")).not.toBeNull();
  });

  it("moves an open PR's head sha when its branch is pushed", async () => {
    const clone = await cloneWith(writer);
    await gitClient(["checkout", "-q", "-b", "follow"], clone);
    const first = await commitFile(clone, "f.txt", "1\n", "first");
    await gitClient(["push", "-q", "origin", "follow"], clone);
    const opened = await callSim(sim.baseUrl, "POST", "/repos/acme/widgets/pulls", {
      token: writer,
      body: { title: "Follow", head: "follow", base: "main" },
    });
    expect(opened.status).toBe(201);
    const number = (opened.json as { number: number }).number;
    expect(sim.admin.pull("acme", "widgets", number)?.headSha).toBe(first);

    const second = await commitFile(clone, "f.txt", "2\n", "second");
    await gitClient(["push", "-q", "origin", "follow"], clone);
    expect(sim.admin.pull("acme", "widgets", number)?.headSha).toBe(second);
    const read = await callSim(sim.baseUrl, "GET", `/repos/acme/widgets/pulls/${number}`, { token: writer });
    expect(read.json).toMatchObject({ head: { sha: second }, commits: 2 });
  });
});
