import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitClient } from "../support/github-sim/git-client.js";
import { OpenApiValidator } from "../support/github-sim/openapi-validator.js";
import { callSim, type SimHttpAnswer } from "../support/github-sim/sim-http-client.js";
import { startGitHubSimulator, type GitHubSimulator } from "../support/github-sim/simulator.js";

/**
 * Every REST endpoint the simulator serves, driven through a real scenario (a branch pushed with
 * real git, a PR opened, commented, checked, merged) with each answer validated against GitHub's
 * own OpenAPI description of GHES 3.19 for that operation and status.
 */

/** The operations the simulator promises, as the OpenAPI description names their paths. */
const ENDPOINTS = [
  "GET /user",
  "GET /rate_limit",
  "GET /repos/{owner}/{repo}",
  "GET /repos/{owner}/{repo}/pulls",
  "POST /repos/{owner}/{repo}/pulls",
  "GET /repos/{owner}/{repo}/pulls/{pull_number}",
  "PATCH /repos/{owner}/{repo}/pulls/{pull_number}",
  "PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge",
  "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
  "GET /repos/{owner}/{repo}/issues/{issue_number}/comments",
  "GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
  "GET /repos/{owner}/{repo}/commits/{ref}/status",
  "GET /repos/{owner}/{repo}/commits/{ref}/statuses",
  "GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs",
  "GET /repos/{owner}/{repo}/hooks",
  "POST /repos/{owner}/{repo}/hooks",
  "DELETE /repos/{owner}/{repo}/hooks/{hook_id}",
] as const;

let sim: GitHubSimulator;
let validator: OpenApiValidator;
let token: string;
let work: string;
const validated = new Set<string>();

beforeAll(async () => {
  [sim, validator] = await Promise.all([startGitHubSimulator(), OpenApiValidator.load()]);
  await sim.admin.createRepo({
    owner: "acme",
    name: "widgets",
    files: { "README.md": "# widgets\n", "config/params.yaml": "search:\n  boost: 1.0\n" },
  });
  token = sim.admin.createToken({ repos: ["acme/widgets"] });
  work = await mkdtemp(path.join(os.tmpdir(), "sim-openapi-"));
  const options = { cwd: work, home: work, token };
  await gitClient(["clone", "--quiet", `${sim.baseUrl}/acme/widgets.git`, "clone"], options);
  const clone = { ...options, cwd: path.join(work, "clone") };
  await gitClient(["checkout", "-q", "-b", "shepherd/proposal-1"], clone);
  await writeFile(path.join(clone.cwd, "config/params.yaml"), "search:\n  boost: 1.5\n");
  await writeFile(path.join(clone.cwd, "notes.md"), "why\n");
  await gitClient(["add", "-A"], clone);
  await gitClient(["commit", "-q", "-m", "Tune boost"], clone);
  await gitClient(["push", "-q", "--set-upstream", "origin", "shepherd/proposal-1"], clone);
}, 60_000);

afterAll(async () => {
  await sim?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Validates the answer against the description's response for this status, and records coverage. */
function conforms(method: string, template: string, answer: SimHttpAnswer): SimHttpAnswer {
  const result = validator.validate(method, template, answer.status, answer.json);
  expect(result.errors, `${method} ${template} → ${answer.status}: ${answer.text.slice(0, 500)}`).toEqual([]);
  expect(result.valid).toBe(true);
  if (answer.status < 300 || answer.status === 302) validated.add(`${method} ${template}`);
  return answer;
}

const call = (method: string, apiPath: string, body?: unknown): Promise<SimHttpAnswer> =>
  callSim(sim.baseUrl, method, apiPath, { token, body });

describe("REST answers against GitHub's OpenAPI description (GHES 3.19)", () => {
  it("the validator itself rejects a body that breaks the schema", () => {
    const broken = validator.validate("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", 200, {
      number: "one",
    });
    expect(broken.valid).toBe(false);
    expect(broken.errors.length).toBeGreaterThan(0);
  });

  it("account endpoints: GET /user and GET /rate_limit", async () => {
    const user = conforms("GET", "/user", await call("GET", "/user"));
    expect(user.status).toBe(200);
    expect((user.json as { login: string }).login).toBe("shepherd-bot");
    const limits = conforms("GET", "/rate_limit", await call("GET", "/rate_limit"));
    expect((limits.json as { resources: { core: { limit: number } } }).resources.core.limit).toBe(5000);
  });

  it("GET /repos/{owner}/{repo} carries this token's permissions", async () => {
    const repo = conforms("GET", "/repos/{owner}/{repo}", await call("GET", "/repos/acme/widgets"));
    expect(repo.json).toMatchObject({
      full_name: "acme/widgets",
      default_branch: "main",
      private: true,
      permissions: { push: true, pull: true, admin: false },
    });
    const missing = conforms("GET", "/repos/{owner}/{repo}", await call("GET", "/repos/acme/nothing"));
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ message: "Not Found" });
  });

  it("pull requests: create, list, read, update, refuse invalid ones, merge", async () => {
    const templates = {
      list: "/repos/{owner}/{repo}/pulls",
      one: "/repos/{owner}/{repo}/pulls/{pull_number}",
      merge: "/repos/{owner}/{repo}/pulls/{pull_number}/merge",
    };
    const created = conforms(
      "POST",
      templates.list,
      await call("POST", "/repos/acme/widgets/pulls", {
        title: "Tune search boost",
        body: "Raises boost to 1.5",
        head: "shepherd/proposal-1",
        base: "main",
      }),
    );
    expect(created.status).toBe(201);
    const pr = created.json as {
      number: number;
      head: { sha: string };
      mergeable: boolean | null;
      node_id: string;
    };
    expect(pr.head.sha).toBe(await sim.admin.branchHead("acme", "widgets", "shepherd/proposal-1"));
    expect(pr.node_id).toMatch(/^PR_/);

    for (const [body, message] of [
      [{ title: "x", head: "no-such-branch", base: "main" }, undefined],
      [{ title: "x", head: "main", base: "main" }, "No commits between main and main"],
      [
        { title: "again", head: "shepherd/proposal-1", base: "main" },
        "A pull request already exists for acme:shepherd/proposal-1.",
      ],
      [{ head: "shepherd/proposal-1", base: "main" }, undefined],
    ] as const) {
      const refused = conforms("POST", templates.list, await call("POST", "/repos/acme/widgets/pulls", body));
      expect(refused.status).toBe(422);
      expect(refused.json).toMatchObject({ message: "Validation Failed" });
      if (message) {
        expect(
          (refused.json as { errors: { message?: string }[] }).errors.map((error) => error.message),
        ).toContain(message);
      }
    }

    const list = conforms("GET", templates.list, await call("GET", "/repos/acme/widgets/pulls?state=open"));
    expect((list.json as { number: number }[]).map((item) => item.number)).toEqual([pr.number]);
    const byHead = conforms(
      "GET",
      templates.list,
      await call("GET", "/repos/acme/widgets/pulls?head=acme:shepherd/proposal-1&state=all"),
    );
    expect(byHead.json).toHaveLength(1);

    const first = conforms("GET", templates.one, await call("GET", `/repos/acme/widgets/pulls/${pr.number}`));
    expect(first.json).toMatchObject({
      number: pr.number,
      commits: 1,
      changed_files: 2,
      additions: 2,
      deletions: 1,
    });
    const updated = conforms(
      "PATCH",
      templates.one,
      await call("PATCH", `/repos/acme/widgets/pulls/${pr.number}`, { title: "Tune search boost (1.5)" }),
    );
    expect(updated.json).toMatchObject({ title: "Tune search boost (1.5)", state: "open" });
    const absent = conforms("GET", templates.one, await call("GET", "/repos/acme/widgets/pulls/999"));
    expect(absent.status).toBe(404);

    const merged = conforms(
      "PUT",
      templates.merge,
      await call("PUT", `/repos/acme/widgets/pulls/${pr.number}/merge`, { merge_method: "squash" }),
    );
    expect(merged.json).toMatchObject({ merged: true, message: "Pull Request successfully merged" });
    const again = conforms(
      "PUT",
      templates.merge,
      await call("PUT", `/repos/acme/widgets/pulls/${pr.number}/merge`, { merge_method: "squash" }),
    );
    expect(again.status).toBe(405);
    const final = conforms("GET", templates.one, await call("GET", `/repos/acme/widgets/pulls/${pr.number}`));
    expect(final.json).toMatchObject({ state: "closed", merged: true });
  });

  it("conversation comments, check runs, statuses and job logs of a PR", async () => {
    await sim.admin.pushFiles({
      owner: "acme",
      repo: "widgets",
      branch: "ci-branch",
      files: { "ci.txt": "1\n" },
    });
    const opened = await call("POST", "/repos/acme/widgets/pulls", {
      title: "CI",
      head: "ci-branch",
      base: "main",
    });
    const pr = opened.json as { number: number; head: { sha: string } };
    const comments = "/repos/{owner}/{repo}/issues/{issue_number}/comments";
    const posted = conforms(
      "POST",
      comments,
      await call("POST", `/repos/acme/widgets/issues/${pr.number}/comments`, { body: "![chart](x.png)" }),
    );
    expect(posted.status).toBe(201);
    const listed = conforms(
      "GET",
      comments,
      await call("GET", `/repos/acme/widgets/issues/${pr.number}/comments`),
    );
    expect((listed.json as { body: string }[]).map((comment) => comment.body)).toEqual(["![chart](x.png)"]);
    const emptyComment = conforms(
      "POST",
      comments,
      await call("POST", `/repos/acme/widgets/issues/${pr.number}/comments`, {}),
    );
    expect(emptyComment.status).toBe(422);

    const sha = pr.head.sha;
    const { jobId } = sim.admin.setCheckRun({
      owner: "acme",
      repo: "widgets",
      sha,
      name: "unit tests",
      status: "completed",
      conclusion: "failure",
      log: "line 1\nline 2\nFAILED: boost out of range\n",
    });
    sim.admin.setCheckRun({ owner: "acme", repo: "widgets", sha, name: "lint", status: "in_progress" });
    sim.admin.setCommitStatus({
      owner: "acme",
      repo: "widgets",
      sha,
      context: "ci/legacy",
      state: "pending",
    });
    sim.admin.setCommitStatus({
      owner: "acme",
      repo: "widgets",
      sha,
      context: "ci/legacy",
      state: "success",
      targetUrl: "https://ci.example.com/1",
      description: "passed",
    });

    const runs = conforms(
      "GET",
      "/repos/{owner}/{repo}/commits/{ref}/check-runs",
      await call("GET", `/repos/acme/widgets/commits/${sha}/check-runs`),
    );
    const runBody = runs.json as {
      total_count: number;
      check_runs: { name: string; pull_requests: unknown[] }[];
    };
    expect(runBody.total_count).toBe(2);
    expect(runBody.check_runs.map((run) => run.name).sort()).toEqual(["lint", "unit tests"]);
    expect(runBody.check_runs[0]?.pull_requests).toHaveLength(1);
    const combined = conforms(
      "GET",
      "/repos/{owner}/{repo}/commits/{ref}/status",
      await call("GET", "/repos/acme/widgets/commits/ci-branch/status"),
    );
    expect(combined.json).toMatchObject({ state: "success", total_count: 1, sha });
    const statuses = conforms(
      "GET",
      "/repos/{owner}/{repo}/commits/{ref}/statuses",
      await call("GET", `/repos/acme/widgets/commits/${sha}/statuses`),
    );
    expect((statuses.json as { state: string }[]).map((status) => status.state)).toEqual([
      "success",
      "pending",
    ]);

    const logs = conforms(
      "GET",
      "/repos/{owner}/{repo}/actions/jobs/{job_id}/logs",
      await call("GET", `/repos/acme/widgets/actions/jobs/${jobId}/logs`),
    );
    expect(logs.status).toBe(302);
    const location = logs.headers.get("location") ?? "";
    expect(location.startsWith(sim.baseUrl)).toBe(true);
    const download = await fetch(location);
    expect(await download.text()).toBe("line 1\nline 2\nFAILED: boost out of range\n");
  });

  it("repository webhooks: create, list, delete", async () => {
    const hooks = "/repos/{owner}/{repo}/hooks";
    const created = conforms(
      "POST",
      hooks,
      await call("POST", "/repos/acme/widgets/hooks", {
        name: "web",
        active: true,
        events: ["pull_request", "check_run"],
        config: { url: "http://127.0.0.1:9/webhooks/github", content_type: "json", secret: "s3cret" },
      }),
    );
    expect(created.status).toBe(201);
    expect(created.text).not.toContain("s3cret");
    const hook = created.json as { id: number };
    const invalid = conforms("POST", hooks, await call("POST", "/repos/acme/widgets/hooks", { config: {} }));
    expect(invalid.status).toBe(422);
    const listed = conforms("GET", hooks, await call("GET", "/repos/acme/widgets/hooks"));
    expect((listed.json as { id: number }[]).map((item) => item.id)).toEqual([hook.id]);
    const deleted = conforms(
      "DELETE",
      "/repos/{owner}/{repo}/hooks/{hook_id}",
      await call("DELETE", `/repos/acme/widgets/hooks/${hook.id}`),
    );
    expect(deleted.status).toBe(204);
    const gone = conforms(
      "DELETE",
      "/repos/{owner}/{repo}/hooks/{hook_id}",
      await call("DELETE", `/repos/acme/widgets/hooks/${hook.id}`),
    );
    expect(gone.status).toBe(404);
  });

  it("covered every endpoint the simulator promises", () => {
    expect([...validated].sort()).toEqual([...ENDPOINTS].sort());
  });
});
