import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Octokit } from "@octokit/core";
import { paginateRest } from "@octokit/plugin-paginate-rest";
import { restEndpointMethods } from "@octokit/plugin-rest-endpoint-methods";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitClient } from "../support/github-sim/git-client.js";
import { callAdmin, callSim } from "../support/github-sim/sim-http-client.js";
import { startGitHubSimulator, type GitHubSimulator } from "../support/github-sim/simulator.js";

/** Authentication, repository access and permissions, Octokit compatibility, raw files, admin over HTTP. */

const RestOctokit = Octokit.plugin(restEndpointMethods, paginateRest);

let sim: GitHubSimulator;
let token: string;

beforeAll(async () => {
  sim = await startGitHubSimulator({ contentCreationPerMinute: 1000 });
  await sim.admin.createRepo({ owner: "acme", name: "widgets", files: { "README.md": "w\n" } });
  await sim.admin.createRepo({ owner: "acme", name: "gadgets", files: { "README.md": "g\n" } });
  await sim.admin.createRepo({
    owner: "acme",
    name: "open-source",
    files: { LICENSE: "MIT\n" },
    private: false,
  });
  token = sim.admin.createToken({ repos: ["acme/widgets"] });
});

afterAll(async () => {
  await sim?.stop();
});

describe("authentication and access", () => {
  it("refuses missing, unknown and revoked tokens with 401", async () => {
    const none = await callSim(sim.baseUrl, "GET", "/repos/acme/widgets");
    expect(none.status).toBe(401);
    expect(none.json).toMatchObject({ message: "Requires authentication" });
    const unknown = await callSim(sim.baseUrl, "GET", "/user", { token: "ghp_notatoken" });
    expect(unknown.status).toBe(401);
    expect(unknown.json).toMatchObject({ message: "Bad credentials" });
    expect((unknown.json as { documentation_url: string }).documentation_url).toMatch(
      /^https:\/\/docs\.github\.com\//,
    );

    const doomed = sim.admin.createToken({ repos: "*" });
    expect((await callSim(sim.baseUrl, "GET", "/user", { token: doomed })).status).toBe(200);
    sim.admin.revokeToken(doomed);
    expect((await callSim(sim.baseUrl, "GET", "/user", { token: doomed })).json).toMatchObject({
      message: "Bad credentials",
    });
  });

  it("accepts both `token` and `Bearer` schemes", async () => {
    const bearer = await callSim(sim.baseUrl, "GET", "/user", {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(bearer.status).toBe(200);
  });

  it("hides repositories outside the token (404) and refuses missing permissions (403)", async () => {
    const outside = await callSim(sim.baseUrl, "GET", "/repos/acme/gadgets/pulls", { token });
    expect(outside.status).toBe(404);
    expect(outside.json).toMatchObject({ message: "Not Found" });

    const readOnly = sim.admin.createToken({
      repos: ["acme/widgets"],
      permissions: { pull_requests: "read" },
    });
    await sim.admin.pushFiles({ owner: "acme", repo: "widgets", branch: "ro", files: { "ro.txt": "r\n" } });
    const refused = await callSim(sim.baseUrl, "POST", "/repos/acme/widgets/pulls", {
      token: readOnly,
      body: { title: "ro", head: "ro", base: "main" },
    });
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ message: "Resource not accessible by personal access token" });
    expect(sim.admin.pulls("acme", "widgets")).toHaveLength(0);
    expect((await callSim(sim.baseUrl, "GET", "/repos/acme/widgets/pulls", { token: readOnly })).status).toBe(
      200,
    );
    const repo = await callSim(sim.baseUrl, "GET", "/repos/acme/widgets", { token: readOnly });
    expect(repo.json).toMatchObject({ permissions: { push: true, pull: true } });
    const noPush = sim.admin.createToken({ repos: ["acme/widgets"], permissions: { contents: "read" } });
    expect((await callSim(sim.baseUrl, "GET", "/repos/acme/widgets", { token: noPush })).json).toMatchObject({
      permissions: { push: false },
    });
  });

  it("generates tokens with GitHub's shapes, honours a chosen value, and sends x-oauth-scopes only for classic ones", async () => {
    const fine = sim.admin.createToken({ repos: "*" });
    const classic = sim.admin.createToken({ repos: "*", kind: "classic", login: "old-bot" });
    const canary = sim.admin.createToken({ repos: "*", value: "ghp_CANARYcanaryCANARYcanaryCANARY0000" });
    expect(fine).toMatch(/^github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}$/);
    expect(classic).toMatch(/^ghp_[A-Za-z0-9]{36}$/);
    expect(canary).toBe("ghp_CANARYcanaryCANARYcanaryCANARY0000");
    const asClassic = await callSim(sim.baseUrl, "GET", "/user", { token: classic });
    expect(asClassic.headers.get("x-oauth-scopes")).toBe("repo");
    expect(asClassic.json).toMatchObject({ login: "old-bot" });
    expect(
      (await callSim(sim.baseUrl, "GET", "/user", { token: fine })).headers.get("x-oauth-scopes"),
    ).toBeNull();
    expect((await callSim(sim.baseUrl, "GET", "/user", { token: canary })).status).toBe(200);
    expect(() => sim.admin.createToken({ repos: "*", value: canary })).toThrow(/in use/);
  });
});

describe("Octokit against the simulator", () => {
  it("creates and paginates pull requests through the REST endpoint methods", async () => {
    const octokit = new RestOctokit({ auth: token, baseUrl: `${sim.baseUrl}/api/v3` });
    for (const branch of ["o1", "o2", "o3"]) {
      await sim.admin.pushFiles({
        owner: "acme",
        repo: "widgets",
        branch,
        files: { [`${branch}.txt`]: "o\n" },
      });
      const created = await octokit.rest.pulls.create({
        owner: "acme",
        repo: "widgets",
        title: branch,
        head: branch,
        base: "main",
      });
      expect(created.status).toBe(201);
    }
    const firstPage = await octokit.rest.pulls.list({ owner: "acme", repo: "widgets", per_page: 2 });
    expect(firstPage.data).toHaveLength(2);
    expect(firstPage.headers.link).toMatch(/rel="next"/);
    const all = await octokit.paginate(octokit.rest.pulls.list, {
      owner: "acme",
      repo: "widgets",
      per_page: 2,
    });
    expect(all.map((pull) => pull.title).sort()).toEqual(["o1", "o2", "o3"]);
    const found = await octokit.rest.pulls.list({
      owner: "acme",
      repo: "widgets",
      head: "acme:o2",
      state: "open",
    });
    expect(found.data.map((pull) => pull.head.ref)).toEqual(["o2"]);
    const error = await octokit.rest.pulls
      .create({ owner: "acme", repo: "widgets", title: "dup", head: "o1", base: "main" })
      .catch((caught: unknown) => caught as { status: number; message: string });
    expect(error).toMatchObject({ status: 422 });
    expect((error as { message: string }).message).toContain("A pull request already exists for acme:o1.");
  });
});

describe("raw files", () => {
  it("serves file bytes from a branch with slashes in its name, only to readers of a private repository", async () => {
    const work = await mkdtemp(path.join(os.tmpdir(), "sim-raw-"));
    try {
      const options = { cwd: work, home: work, token };
      await gitClient(["clone", "--quiet", `${sim.baseUrl}/acme/widgets.git`, "c"], options);
      const clone = { ...options, cwd: path.join(work, "c") };
      await gitClient(["checkout", "-q", "-b", "shepherd/proposal-7"], clone);
      const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0x10]);
      const chartDir = path.join(clone.cwd, ".shepherd", "charts");
      await mkdir(chartDir, { recursive: true });
      await writeFile(path.join(chartDir, "p7.png"), png);
      await gitClient(["add", "-A"], clone);
      await gitClient(["commit", "-q", "-m", "chart"], clone);
      await gitClient(["push", "-q", "origin", "shepherd/proposal-7"], clone);

      const url = `${sim.baseUrl}/acme/widgets/raw/refs/heads/shepherd/proposal-7/.shepherd/charts/p7.png`;
      const served = await fetch(url, { headers: { authorization: `token ${token}` } });
      expect(served.status).toBe(200);
      expect(served.headers.get("content-type")).toBe("image/png");
      expect(Buffer.from(await served.arrayBuffer()).equals(png)).toBe(true);
      expect((await fetch(url)).status).toBe(404);
      expect(
        (await fetch(url.replace("p7.png", "missing.png"), { headers: { authorization: `token ${token}` } }))
          .status,
      ).toBe(404);
      const open = await fetch(`${sim.baseUrl}/acme/open-source/raw/refs/heads/main/LICENSE`);
      expect(await open.text()).toBe("MIT\n");
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe("admin API over HTTP", () => {
  it("serves every admin method as POST /_sim/<method>, behind the admin token", async () => {
    const created = (await callAdmin(sim.baseUrl, sim.adminToken, "createRepo", {
      owner: "http",
      name: "repo",
      files: { "a.txt": "a\n" },
    })) as { fullName: string; gitUrl: string };
    expect(created).toMatchObject({ fullName: "http/repo", gitUrl: `${sim.baseUrl}/http/repo.git` });
    const httpToken = (await callAdmin(sim.baseUrl, sim.adminToken, "createToken", {
      repos: ["http/repo"],
    })) as string;
    const sha = (await callAdmin(sim.baseUrl, sim.adminToken, "pushFiles", {
      owner: "http",
      repo: "repo",
      branch: "b",
      files: { "b.txt": "b\n" },
    })) as string;
    expect(await callAdmin(sim.baseUrl, sim.adminToken, "branchHead", ["http", "repo", "b"])).toBe(sha);
    const opened = await callSim(sim.baseUrl, "POST", "/repos/http/repo/pulls", {
      token: httpToken,
      body: { title: "b", head: "b", base: "main" },
    });
    expect(opened.status).toBe(201);
    expect(await callAdmin(sim.baseUrl, sim.adminToken, "pulls", ["http", "repo"])).toMatchObject([
      { number: 1, headRef: "b", headSha: sha, state: "open" },
    ]);
    expect(await callAdmin(sim.baseUrl, sim.adminToken, "rateLimit", httpToken)).toMatchObject({ used: 1 });
    const requests = (await callAdmin(sim.baseUrl, sim.adminToken, "requests")) as { path: string }[];
    expect(requests.some((request) => request.path.startsWith("/_sim"))).toBe(false);

    const noAuth = await fetch(`${sim.baseUrl}/_sim/pulls`, { method: "POST", body: '["http","repo"]' });
    expect(noAuth.status).toBe(401);
    await expect(callAdmin(sim.baseUrl, sim.adminToken, "noSuchMethod")).rejects.toThrow(/404/);
    await expect(callAdmin(sim.baseUrl, sim.adminToken, "pulls", ["http", "missing"])).rejects.toThrow(/400/);
  });
});
