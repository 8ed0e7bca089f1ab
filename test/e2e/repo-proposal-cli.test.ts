import { readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startGitHubSimulator, type GitHubSimulator } from "../support/github-sim/simulator.js";
import type { CreatedRepo } from "../support/github-sim/sim-admin.js";
import { waitFor } from "../support/wait-for.js";
import {
  cleanupAll,
  runCli,
  startServer,
  tempDir,
  type CliResult,
  type ShepherdServer,
  type ShepherdTarget,
} from "../support/processes.js";

/**
 * End to end, SPEC C2 and C3 through the CLI only: the GitHub simulator started here, a real
 * `shepherd serve` (SQLite, its shepherd.yaml pointing `github.url` at the simulator), and the
 * real `shepherd repo …` / `shepherd proposal …` commands (compiled dist/, run as processes).
 */

const OWNER = "acme";
const STACK_LINE = /^\s+at /m;
const REPO_ID = /repo_[0-9a-z]{26}/;
const PROPOSAL_ID = /prop_[0-9a-z]{26}/;

const PARAMS_JSON = `{
  "search": {
    "boost": {
      "title": 1.5,
      "body": 1
    },
    "fuzziness": "AUTO"
  },
  "limit": 20
}
`;

const PARAMS_YAML = `# Search tuning
search:
  boost:
    title: 1.5   # raise with care
limit: 20
`;

let sim: GitHubSimulator;
let server: ShepherdServer;
/** The CLI's target: the server's home, port and config, run from a work directory. */
let cli: ShepherdTarget;
let workDir: string;
/** Every token this file created: none may ever be printed by the CLI or the server. */
const tokens: string[] = [];
/** Every CLI result, scanned for tokens at the end. */
const results: CliResult[] = [];

function show(result: CliResult): string {
  return `exit=${result.code} signal=${result.signal}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
}

async function shepherd(...args: string[]): Promise<CliResult> {
  const result = await runCli(args, cli, { timeoutMs: 90_000 });
  results.push(result);
  return result;
}

function expectSuccess(result: CliResult): void {
  expect(result.code, show(result)).toBe(0);
  expect(result.stderr, show(result)).not.toMatch(STACK_LINE);
}

/** A user error: exactly one line on stderr, `shepherd: …`, no stack trace, a non-zero exit. */
function expectUserError(result: CliResult, exit: number | "non-zero", message: RegExp): void {
  const context = show(result);
  if (exit === "non-zero") {
    expect(result.code, context).not.toBe(0);
    expect(result.code, context).not.toBeNull();
  } else {
    expect(result.code, context).toBe(exit);
  }
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines, context).toHaveLength(1);
  expect(lines[0], context).toMatch(/^shepherd: /);
  expect(lines[0], context).toMatch(message);
  expect(result.stderr, context).not.toMatch(STACK_LINE);
  expect(result.stdout, context).not.toMatch(STACK_LINE);
}

/** A simulator repository, a token for it in `<home>/secrets/<secret>`, mode 0600. */
async function githubRepo(
  name: string,
  files: Record<string, string>,
  secret: string,
): Promise<{ repo: CreatedRepo; token: string }> {
  const repo = await sim.admin.createRepo({ owner: OWNER, name, files });
  const token = sim.admin.createToken({ repos: [repo.fullName] });
  tokens.push(token);
  await writeSecret(secret, token);
  return { repo, token };
}

async function writeSecret(name: string, value: string): Promise<void> {
  await writeFile(path.join(server.home, "secrets", name), `${value}\n`, { mode: 0o600 });
}

/** `repo add` through the CLI; returns the new repo's id. */
async function addRepo(name: string, url: string, tokenRef: string): Promise<string> {
  const added = await shepherd("repo", "add", name, url, "--token-ref", tokenRef);
  expectSuccess(added);
  const id = REPO_ID.exec(added.stdout)?.[0];
  expect(id, show(added)).toBeDefined();
  return id as string;
}

/** `proposal create …`; returns the new proposal's id from its one-line confirmation. */
async function createProposal(...args: string[]): Promise<string> {
  const created = await shepherd("proposal", "create", ...args);
  expectSuccess(created);
  const match = new RegExp(
    `^Created proposal (${PROPOSAL_ID.source}) \\((params|files)\\); open its PR with: shepherd proposal open-pr (${PROPOSAL_ID.source})\\n$`,
  ).exec(created.stdout);
  expect(match, show(created)).not.toBeNull();
  expect(match?.[3]).toBe(match?.[1]);
  return match?.[1] as string;
}

interface ProposalJson {
  id: string;
  repoId: string;
  title: string;
  kind: string;
  status: string;
  change: unknown;
  evidence: Record<string, unknown> | null;
  manual: boolean;
  rejectedReason: string | null;
  prOpenError: string | null;
  pr: { number: number; url: string; branch: string | null } | null;
}

async function proposalJson(id: string): Promise<ProposalJson> {
  const result = await shepherd("proposal", "show", id, "--json");
  expectSuccess(result);
  return JSON.parse(result.stdout) as ProposalJson;
}

/** The data rows of a CLI table (the header line dropped), split on runs of 2+ spaces. */
function rowsOf(stdout: string, header: RegExp): string[][] {
  const lines = stdout.trimEnd().split("\n");
  expect(lines[0], stdout).toMatch(header);
  return lines.slice(1).map((line) => line.split(/ {2,}/));
}

beforeAll(async () => {
  sim = await startGitHubSimulator();
  workDir = await tempDir("shepherd-repo-cli-");
  const configFile = path.join(workDir, "shepherd.yaml");
  await writeFile(
    configFile,
    [
      "github:",
      `  url: ${sim.baseUrl}`,
      "  writeSpacingMs: 10",
      "  requestTimeoutSeconds: 5",
      "  maxRateLimitWaitSeconds: 5",
      "  secondaryLimitFallbackSeconds: 1",
      "  retryBaseMs: 100",
      "prWorker:",
      "  concurrency: 2",
      "  gitTimeoutSeconds: 30",
      "  retryBackoffSeconds: 1",
      "observer:",
      "  intervalSeconds: 5",
      "",
    ].join("\n"),
  );
  server = await startServer({ env: { SHEPHERD_CONFIG: configFile } });
  cli = { ...server.target, cwd: workDir };
});

afterAll(async () => {
  try {
    // SPEC C2/C3: no token ever reaches the CLI's output or the server's logs.
    for (const token of tokens) {
      for (const result of results) {
        expect(`${result.stdout}${result.stderr}`.includes(token), "a CLI output contains a token").toBe(
          false,
        );
      }
      expect(`${server.proc.stdout}${server.proc.stderr}`.includes(token), "the server printed a token").toBe(
        false,
      );
    }
    expect(results.length).toBeGreaterThan(0);
    expect(server.proc.running, server.proc.describe()).toBe(true);
  } finally {
    await cleanupAll();
    await sim.stop();
  }
});

describe("shepherd repo", () => {
  test("add, ls (table and --json), show, check, set --token-ref, rm", async () => {
    const { repo, token } = await githubRepo("search-config", { "README.md": "hi\n" }, "acme-search.token");

    const added = await shepherd(
      "repo",
      "add",
      "acme-search",
      `${repo.webUrl}.git`,
      "--token-ref",
      "file:acme-search.token",
    );
    expectSuccess(added);
    const id = REPO_ID.exec(added.stdout)?.[0] as string;
    expect(added.stdout).toBe(`Registered acme-search (${repo.webUrl}, base main) as ${id}.\n`);
    expect(added.stderr).toBe("");

    const ls = await shepherd("repo", "ls");
    expectSuccess(ls);
    const row = rowsOf(ls.stdout, /^NAME\s+URL\s+BASE\s+TOKEN REF\s+AUTO-MERGE\s+ID$/).find(
      (cells) => cells[0] === "acme-search",
    );
    expect(row, show(ls)).toEqual(["acme-search", repo.webUrl, "main", "file:acme-search.token", "no", id]);

    const lsJson = await shepherd("repo", "ls", "--json");
    expectSuccess(lsJson);
    const listed = (JSON.parse(lsJson.stdout) as { id: string; name: string }[]).find((r) => r.id === id);
    expect(listed).toMatchObject({
      name: "acme-search",
      url: repo.webUrl,
      owner: OWNER,
      repo: "search-config",
      tokenRef: "file:acme-search.token",
      baseBranch: "main",
    });

    const shown = await shepherd("repo", "show", "acme-search");
    expectSuccess(shown);
    const lines = shown.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("acme-search");
    expect(lines).toContain(`  ${"id".padEnd(19)} ${id}`);
    expect(lines).toContain(`  ${"url".padEnd(19)} ${repo.webUrl}`);
    expect(lines).toContain(`  ${"token ref".padEnd(19)} file:acme-search.token`);
    expect(lines).toContain(`  ${"auto-merge".padEnd(19)} no (method squash)`);
    const byId = await shepherd("repo", "show", id, "--json");
    expectSuccess(byId);
    expect(JSON.parse(byId.stdout)).toMatchObject({ id, name: "acme-search" });

    const checked = await shepherd("repo", "check", "acme-search");
    expectSuccess(checked);
    expect(checked.stdout).toMatch(/^acme\/search-config with file:acme-search\.token: OK$/m);
    expect(checked.stdout).toMatch(/^ {2}push yes, admin no, default branch main$/m);
    const budget = sim.admin.rateLimit(token);
    expect(checked.stdout).toContain(`  rate limit ${budget.remaining}/${budget.limit} left`);
    expect(checked.stdout).not.toMatch(/^ {2}- /m);
    const checkedJson = await shepherd("repo", "check", "acme-search", "--json");
    expectSuccess(checkedJson);
    expect(JSON.parse(checkedJson.stdout)).toMatchObject({ ok: true, access: { push: true }, problems: [] });

    // A token that can read but not push: set it, and check says so (exit 1).
    const readOnly = sim.admin.createToken({ repos: [repo.fullName], permissions: { contents: "read" } });
    tokens.push(readOnly);
    await writeSecret("read-only.token", readOnly);
    const set = await shepherd("repo", "set", "acme-search", "--token-ref", "file:read-only.token");
    expectSuccess(set);
    expect(set.stdout).toBe("Updated acme-search.\n");
    const afterSet = await shepherd("repo", "show", "acme-search");
    expect(afterSet.stdout).toContain(`  ${"token ref".padEnd(19)} file:read-only.token`);
    const cannotPush = await shepherd("repo", "check", "acme-search");
    expectUserError(cannotPush, 1, /^shepherd: the token of acme-search is not ready for PR work/);
    expect(cannotPush.stdout).toMatch(/^acme\/search-config with file:read-only\.token: PROBLEMS$/m);
    expect(cannotPush.stdout).toMatch(/^ {2}push no, /m);
    expect(cannotPush.stdout).toMatch(/^ {2}- the token cannot push to the repository/m);

    // Back to the good token, then GitHub revokes it: check prints the problem and exits 1.
    expectSuccess(await shepherd("repo", "set", "acme-search", "--token-ref", "file:acme-search.token"));
    expectSuccess(await shepherd("repo", "check", "acme-search"));
    sim.admin.revokeToken(token);
    const revoked = await shepherd("repo", "check", "acme-search");
    expectUserError(revoked, 1, /not ready for PR work/);
    expect(revoked.stdout).toMatch(/: PROBLEMS$/m);
    expect(revoked.stdout).toMatch(/^ {2}- GitHub rejected the token \(401\)/m);

    // An unreadable ref: the problem is printed, GitHub is not needed.
    await writeSecret("acme-search.token", "");
    const empty = await shepherd("repo", "check", "acme-search");
    expectUserError(empty, 1, /not ready for PR work/);
    expect(empty.stdout).toMatch(/^ {2}- token file:acme-search\.token cannot be read: .*is empty/m);

    const removed = await shepherd("repo", "rm", "acme-search");
    expectSuccess(removed);
    expect(removed.stdout).toBe("Removed acme-search.\n");
    expectUserError(
      await shepherd("repo", "show", "acme-search"),
      1,
      /no repo acme-search \[REPO_NOT_FOUND\]$/,
    );
    expectUserError(await shepherd("repo", "rm", "acme-search"), 1, /\[REPO_NOT_FOUND\]$/);
    expectUserError(await shepherd("repo", "check", id), 1, /\[REPO_NOT_FOUND\]$/);
    const lsAfter = await shepherd("repo", "ls", "--json");
    expect((JSON.parse(lsAfter.stdout) as { id: string }[]).map((r) => r.id)).not.toContain(id);
  });

  test("refusals are one line each: taken name, wrong host, bad ref, bad name, bad flags", async () => {
    const { repo } = await githubRepo("refusals", { "README.md": "hi\n" }, "refusals.token");
    await addRepo("refusals", repo.webUrl, "file:refusals.token");

    expectUserError(
      await shepherd("repo", "add", "refusals", repo.webUrl, "--token-ref", "file:refusals.token"),
      1,
      /a repo named refusals is already registered \[REPO_NAME_TAKEN\]$/,
    );
    expectUserError(
      await shepherd(
        "repo",
        "add",
        "elsewhere",
        "https://github.com/acme/refusals",
        "--token-ref",
        "file:refusals.token",
      ),
      1,
      /is not a repository on .*\[UNSUPPORTED_PROVIDER\]$/,
    );
    expectUserError(
      await shepherd("repo", "add", "deep", `${repo.webUrl}/tree/main`, "--token-ref", "file:refusals.token"),
      1,
      /\[UNSUPPORTED_PROVIDER\]$/,
    );
    expectUserError(
      await shepherd(
        "repo",
        "add",
        "ssh",
        `git@127.0.0.1:${OWNER}/refusals.git`,
        "--token-ref",
        "file:refusals.token",
      ),
      1,
      /\[UNSUPPORTED_PROVIDER\]$/,
    );
    expectUserError(
      await shepherd("repo", "add", "missing-ref", repo.webUrl, "--token-ref", "file:nope.token"),
      1,
      /tokenRef file:nope\.token cannot be used: .*no such file.*\[TOKEN_REF_NOT_FOUND\]$/,
    );
    expectUserError(
      await shepherd("repo", "add", "escape", repo.webUrl, "--token-ref", "file:../admin.token"),
      1,
      /"\.\." is not allowed.*\[TOKEN_REF_NOT_FOUND\]$/,
    );
    expectUserError(
      await shepherd("repo", "add", "Bad Name", repo.webUrl, "--token-ref", "file:refusals.token"),
      1,
      /\[VALIDATION_ERROR\]$/,
    );
    expectUserError(
      await shepherd(
        "repo",
        "add",
        "method",
        repo.webUrl,
        "--token-ref",
        "file:refusals.token",
        "--merge-method",
        "yolo",
      ),
      2,
      /--merge-method must be one of merge, squash, rebase; got "yolo"/,
    );
    expectUserError(await shepherd("repo", "set", "refusals"), 2, /nothing to change/);
    expectUserError(
      await shepherd("repo", "set", "refusals", "--auto-merge", "maybe"),
      2,
      /--auto-merge takes yes or no/,
    );
    expectUserError(
      await shepherd("repo", "set", "refusals", "--token-ref", "file:nope.token"),
      1,
      /\[TOKEN_REF_NOT_FOUND\]$/,
    );
    expectUserError(await shepherd("repo", "show", "no-such-repo"), 1, /\[REPO_NOT_FOUND\]$/);
    // None of the refused adds registered anything.
    const names = (JSON.parse((await shepherd("repo", "ls", "--json")).stdout) as { name: string }[]).map(
      (r) => r.name,
    );
    for (const refused of ["elsewhere", "deep", "ssh", "missing-ref", "escape", "method"]) {
      expect(names).not.toContain(refused);
    }
    expectSuccess(await shepherd("repo", "rm", "refusals"));
  });
});

describe("shepherd proposal", () => {
  test("a params proposal with evidence, listed, shown, opened with open-pr --wait", async () => {
    const { repo } = await githubRepo("search-params", { "config/params.json": PARAMS_JSON }, "params.token");
    const repoId = await addRepo("acme-params", repo.webUrl, "file:params.token");
    await writeFile(
      path.join(workDir, "evidence.json"),
      JSON.stringify({
        summary: "Titles matter more than we thought.",
        metrics: [{ name: "ndcg@10", baseline: 0.41, achieved: 0.45 }],
        followups: ["tune the body boost next"],
        links: [{ title: "Experiment", url: "https://example.com/exp/42" }],
      }),
    );

    const id = await createProposal(
      "--repo",
      "acme-params",
      "--title",
      "Raise the title boost",
      "--params",
      "config/params.json",
      "--set",
      "search.boost.title=2.5",
      "--expect",
      "search.boost.title=1.5",
      "--evidence",
      "evidence.json",
    );

    const shown = await shepherd("proposal", "show", id);
    expectSuccess(shown);
    expect(shown.stdout.split("\n")[0]).toBe(`${id}  Raise the title boost`);
    expect(shown.stdout).toMatch(/^ {2}status {8}pending$/m);
    expect(shown.stdout).toContain(`  repo          ${repoId}`);
    expect(shown.stdout).toMatch(/^ {2}kind {10}params$/m);
    expect(shown.stdout).toMatch(/^ {2}pull request {2}-$/m);
    expect(shown.stdout).toMatch(
      /^ {2}change {8}\{.*"search\.boost\.title":\{("to":2\.5,"from":1\.5|"from":1\.5,"to":2\.5)\}/m,
    );
    const json = await proposalJson(id);
    expect(json).toMatchObject({
      id,
      repoId,
      kind: "params",
      status: "pending",
      manual: false,
      change: { path: "config/params.json", set: { "search.boost.title": { from: 1.5, to: 2.5 } } },
      evidence: { summary: "Titles matter more than we thought." },
      pr: null,
      prOpenError: null,
    });

    const ls = await shepherd("proposal", "ls");
    expectSuccess(ls);
    const row = rowsOf(ls.stdout, /^ID\s+STATUS\s+KIND\s+TITLE\s+PR\s+ERROR$/).find(
      (cells) => cells[0] === id,
    );
    expect(row, show(ls)).toEqual([id, "pending", "params", "Raise the title boost", "-", "-"]);
    const pending = await shepherd("proposal", "ls", "--status", "pending", "--json");
    expect((JSON.parse(pending.stdout) as ProposalJson[]).map((p) => p.id)).toContain(id);
    const rejected = await shepherd("proposal", "ls", "--status", "rejected", "--json");
    expect((JSON.parse(rejected.stdout) as ProposalJson[]).map((p) => p.id)).not.toContain(id);
    const byRepo = await shepherd("proposal", "ls", "--repo", "acme-params", "--json");
    expect((JSON.parse(byRepo.stdout) as ProposalJson[]).map((p) => p.id)).toEqual([id]);

    const opened = await shepherd("proposal", "open-pr", id, "--wait");
    expectSuccess(opened);
    expect(opened.stdout).toBe(`Opened #1: ${repo.webUrl}/pull/1\n`);

    const pulls = sim.admin.pulls(OWNER, "search-params");
    expect(pulls).toHaveLength(1);
    expect(pulls[0]).toMatchObject({
      number: 1,
      title: "Raise the title boost",
      state: "open",
      headRef: `shepherd/proposal-${id}`,
      baseRef: "main",
    });
    expect(pulls[0]?.body).toContain("Titles matter more than we thought.");
    expect(pulls[0]?.body).toContain("| `search.boost.title` | `1.5` | `2.5` |");
    const after = await sim.admin.readFile({
      owner: OWNER,
      repo: "search-params",
      ref: `shepherd/proposal-${id}`,
      path: "config/params.json",
    });
    expect(after).toBe(PARAMS_JSON.replace('"title": 1.5', '"title": 2.5'));
    expect(
      await sim.admin.readFile({
        owner: OWNER,
        repo: "search-params",
        ref: "main",
        path: "config/params.json",
      }),
    ).toBe(PARAMS_JSON);

    const afterShow = await shepherd("proposal", "show", id);
    expect(afterShow.stdout).toMatch(/^ {2}status {8}pr_opened$/m);
    expect(afterShow.stdout).toContain(`  pull request  #1 ${repo.webUrl}/pull/1`);
    const openedLs = await shepherd("proposal", "ls", "--status", "pr_opened");
    expect(rowsOf(openedLs.stdout, /^ID\s+STATUS/).find((cells) => cells[0] === id)).toEqual([
      id,
      "pr_opened",
      "params",
      "Raise the title boost",
      "#1",
      "-",
    ]);

    // Not closed, not pending: reopen, open-pr and reject are refused in one line each.
    expectUserError(
      await shepherd("proposal", "reopen", id),
      1,
      new RegExp(
        `^shepherd: cannot reopen proposal ${id}: it is pr_opened, not closed \\[INVALID_STATE_TRANSITION\\]$`,
      ),
    );
    expectUserError(await shepherd("proposal", "open-pr", id, "--wait"), 1, /\[INVALID_STATE_TRANSITION\]$/);
    expectUserError(
      await shepherd("proposal", "reject", id, "--reason", "late"),
      1,
      /\[INVALID_STATE_TRANSITION\]$/,
    );
    expect(sim.admin.pulls(OWNER, "search-params")).toHaveLength(1);
    expect((await proposalJson(id)).status).toBe("pr_opened");
  });

  test("files proposals: --write path=localfile, --delete, and --from a YAML file", async () => {
    const { repo } = await githubRepo(
      "search-files",
      { "README.md": "# search\n", "old.txt": "bye\n", "tuning.yaml": PARAMS_YAML },
      "files.token",
    );
    const repoId = await addRepo("acme-files", repo.webUrl, "file:files.token");
    const runbook = "# Runbook\n\nRestart the indexer.\n";
    await writeFile(path.join(workDir, "runbook.md"), runbook);

    const filesId = await createProposal(
      "--repo",
      "acme-files",
      "--title",
      "Add a runbook",
      "--write",
      "docs/runbook.md=runbook.md",
      "--delete",
      "old.txt",
    );
    const files = await proposalJson(filesId);
    expect(files).toMatchObject({
      kind: "files",
      manual: true,
      change: {
        files: [
          { path: "docs/runbook.md", content: runbook },
          { path: "old.txt", delete: true },
        ],
      },
    });
    const opened = await shepherd("proposal", "open-pr", filesId, "--wait");
    expectSuccess(opened);
    expect(opened.stdout).toBe(`Opened #1: ${repo.webUrl}/pull/1\n`);
    const branch = `shepherd/proposal-${filesId}`;
    expect(
      await sim.admin.readFile({ owner: OWNER, repo: "search-files", ref: branch, path: "docs/runbook.md" }),
    ).toBe(runbook);
    expect(
      await sim.admin.readFile({ owner: OWNER, repo: "search-files", ref: branch, path: "old.txt" }),
    ).toBeNull();
    expect(
      await sim.admin.readFile({ owner: OWNER, repo: "search-files", ref: "main", path: "old.txt" }),
    ).toBe("bye\n");

    // --from: the whole proposal from a YAML file; a flag overrides its title.
    await writeFile(
      path.join(workDir, "proposal.yaml"),
      [
        "repoId: acme-files",
        "title: From the file",
        "kind: params",
        "change:",
        "  path: tuning.yaml",
        "  set:",
        "    search.boost.title: { from: 1.5, to: 2 }",
        "    limit: { to: 30 }",
        "evidence:",
        "  summary: Tuned offline.",
        "",
      ].join("\n"),
    );
    const fromId = await createProposal("--from", "proposal.yaml", "--title", "Tune from a file");
    expect(await proposalJson(fromId)).toMatchObject({
      repoId,
      title: "Tune from a file",
      kind: "params",
      manual: false,
      change: { path: "tuning.yaml", set: { "search.boost.title": { from: 1.5, to: 2 }, limit: { to: 30 } } },
      evidence: { summary: "Tuned offline." },
    });
    const second = await shepherd("proposal", "open-pr", fromId, "--wait");
    expectSuccess(second);
    expect(second.stdout).toBe(`Opened #2: ${repo.webUrl}/pull/2\n`);
    expect(
      await sim.admin.readFile({
        owner: OWNER,
        repo: "search-files",
        ref: `shepherd/proposal-${fromId}`,
        path: "tuning.yaml",
      }),
    ).toBe(PARAMS_YAML.replace("title: 1.5   #", "title: 2   #").replace("limit: 20", "limit: 30"));
    expect(sim.admin.pulls(OWNER, "search-files").map((pull) => pull.title)).toEqual([
      "Add a runbook",
      "Tune from a file",
    ]);

    // A JSON --from works too, with --repo overriding the file's.
    await writeFile(
      path.join(workDir, "proposal.json"),
      JSON.stringify({
        repoId: "nope",
        title: "JSON",
        kind: "files",
        change: { files: [{ path: "a.txt", content: "a\n" }] },
      }),
    );
    const jsonId = await createProposal("--from", "proposal.json", "--repo", "acme-files");
    expect(await proposalJson(jsonId)).toMatchObject({ repoId, title: "JSON", kind: "files" });
  });

  test("a drifted proposal: open-pr --wait exits 1 with PARAM_DRIFT; then rejected with a reason", async () => {
    const { repo } = await githubRepo("search-drift", { "config/params.json": PARAMS_JSON }, "drift.token");
    await addRepo("acme-drift", repo.webUrl, "file:drift.token");
    const id = await createProposal(
      "--repo",
      "acme-drift",
      "--title",
      "Based on an old read",
      "--params",
      "config/params.json",
      "--set",
      "search.boost.title=2.5",
      "--expect",
      "search.boost.title=1.2",
    );

    const drifted = await shepherd("proposal", "open-pr", id, "--wait");
    expectUserError(drifted, 1, /^shepherd: not opened: PARAM_DRIFT: .*search\.boost\.title/);
    expect(drifted.stdout).not.toContain("Opened");
    expect(sim.admin.pulls(OWNER, "search-drift")).toEqual([]);
    const json = await proposalJson(id);
    expect(json.status).toBe("pending");
    expect(json.prOpenError).toMatch(/^PARAM_DRIFT: /);
    const shown = await shepherd("proposal", "show", id);
    expect(shown.stdout).toMatch(/^ {2}last error {4}PARAM_DRIFT: /m);
    const ls = await shepherd("proposal", "ls", "--status", "pending");
    expect(
      rowsOf(ls.stdout, /^ID\s+STATUS/)
        .find((cells) => cells[0] === id)
        ?.at(-1),
    ).toBe("PARAM_DRIFT");

    const rejected = await shepherd("proposal", "reject", id, "--reason", "the repo moved on");
    expectSuccess(rejected);
    expect(rejected.stdout).toBe(`Rejected ${id}.\n`);
    const afterReject = await shepherd("proposal", "show", id);
    expect(afterReject.stdout).toMatch(/^ {2}status {8}rejected \(the repo moved on\)$/m);
    expect(await proposalJson(id)).toMatchObject({ status: "rejected", rejectedReason: "the repo moved on" });
    const listed = await shepherd("proposal", "ls", "--status", "rejected", "--json");
    expect((JSON.parse(listed.stdout) as ProposalJson[]).map((p) => p.id)).toContain(id);

    expectUserError(
      await shepherd("proposal", "reject", id, "--reason", "again"),
      1,
      /it is rejected, not pending \[INVALID_STATE_TRANSITION\]$/,
    );
    expectUserError(
      await shepherd("proposal", "reopen", id),
      1,
      /it is rejected, not closed \[INVALID_STATE_TRANSITION\]$/,
    );
    expectUserError(await shepherd("proposal", "open-pr", id), 1, /\[INVALID_STATE_TRANSITION\]$/);
    expect(sim.admin.pulls(OWNER, "search-drift")).toEqual([]);
  });

  test("proposal user errors are one line each, and a removed repo takes its clone with it", async () => {
    const { repo } = await githubRepo("search-errors", { "p.json": '{"a": 1}\n' }, "errors.token");
    const repoId = await addRepo("acme-errors", repo.webUrl, "file:errors.token");
    await writeFile(path.join(workDir, "local.txt"), "local\n");

    expectUserError(
      await shepherd("proposal", "create", "--title", "t", "--params", "p.json", "--set", "a=2"),
      2,
      /--repo/,
    );
    expectUserError(
      await shepherd("proposal", "create", "--repo", "acme-errors", "--params", "p.json", "--set", "a=2"),
      2,
      /--title/,
    );
    expectUserError(
      await shepherd("proposal", "create", "--repo", "acme-errors", "--title", "t"),
      2,
      /say what to change/,
    );
    expectUserError(
      await shepherd("proposal", "create", "--repo", "acme-errors", "--title", "t", "--params", "p.json"),
      2,
      /--params needs at least one --set/,
    );
    expectUserError(
      await shepherd(
        "proposal",
        "create",
        "--repo",
        "acme-errors",
        "--title",
        "t",
        "--params",
        "p.json",
        "--set",
        "novalue",
      ),
      2,
      /--set takes key=value/,
    );
    expectUserError(
      await shepherd(
        "proposal",
        "create",
        "--repo",
        "acme-errors",
        "--title",
        "t",
        "--params",
        "p.json",
        "--set",
        "a=2",
        "--expect",
        "b=1",
      ),
      2,
      /--expect b=… has no matching --set b=…/,
    );
    expectUserError(
      await shepherd(
        "proposal",
        "create",
        "--repo",
        "acme-errors",
        "--title",
        "t",
        "--write",
        "x.txt=missing-local.txt",
      ),
      1,
      /cannot read missing-local\.txt: ENOENT/,
    );
    expectUserError(
      await shepherd(
        "proposal",
        "create",
        "--repo",
        "acme-errors",
        "--title",
        "t",
        "--params",
        "p.json",
        "--set",
        "a=2",
        "--evidence",
        "nope.json",
      ),
      1,
      /cannot read evidence file nope\.json/,
    );
    await writeFile(path.join(workDir, "broken.json"), "{ not json");
    expectUserError(
      await shepherd("proposal", "create", "--from", "broken.json"),
      1,
      /proposal file broken\.json is not valid JSON/,
    );
    expectUserError(
      await shepherd(
        "proposal",
        "create",
        "--repo",
        "no-such-repo",
        "--title",
        "t",
        "--params",
        "p.json",
        "--set",
        "a=2",
      ),
      1,
      /\[REPO_NOT_FOUND\]$/,
    );
    expectUserError(
      await shepherd(
        "proposal",
        "create",
        "--repo",
        "acme-errors",
        "--title",
        "t",
        "--write",
        "../escape.txt=local.txt",
      ),
      1,
      /\[VALIDATION_ERROR\]$/,
    );
    expectUserError(
      await shepherd("proposal", "show", "prop_01m7xz0000000000000000000"),
      1,
      /\[PROPOSAL_NOT_FOUND\]$/,
    );
    expectUserError(
      await shepherd("proposal", "open-pr", "prop_01m7xz0000000000000000000"),
      1,
      /\[PROPOSAL_NOT_FOUND\]$/,
    );
    expectUserError(await shepherd("proposal", "ls", "--status", "bogus"), 1, /\[VALIDATION_ERROR\]$/);
    const proposals = await shepherd("proposal", "ls", "--repo", "acme-errors", "--json");
    expect(JSON.parse(proposals.stdout)).toEqual([]);

    // Open one PR (that makes the clone), then remove the repo: the clone goes too.
    const id = await createProposal(
      "--repo",
      "acme-errors",
      "--title",
      "Set a",
      "--params",
      "p.json",
      "--set",
      "a=2",
    );
    expectSuccess(await shepherd("proposal", "open-pr", id, "--wait"));
    const clone = path.join(server.home, "clones", repoId);
    expect((await stat(path.join(clone, ".git"))).isDirectory()).toBe(true);
    expect(await readFile(path.join(clone, ".git", "config"), "utf8")).not.toMatch(
      /extraheader|github_pat_/i,
    );
    expectSuccess(await shepherd("repo", "rm", "acme-errors"));
    await expect(stat(clone)).rejects.toMatchObject({ code: "ENOENT" });
    // Its proposal keeps its history; a new proposal for the removed repo is refused.
    expect((await proposalJson(id)).status).toBe("pr_opened");
    expectUserError(
      await shepherd(
        "proposal",
        "create",
        "--repo",
        "acme-errors",
        "--title",
        "t",
        "--params",
        "p.json",
        "--set",
        "a=3",
      ),
      1,
      /\[REPO_NOT_FOUND\]$/,
    );
  });

  test("usage errors (missing argument or option, unknown option) are one `shepherd: ` line too", async () => {
    // SPEC C1 "helpful errors"; src/cli/main.ts: "User errors print one line (`shepherd: …`)".
    expectUserError(await shepherd("proposal", "reject", "prop_01m7xz0000000000000000000"), 2, /--reason/);
    expectUserError(await shepherd("repo", "add", "x", "http://127.0.0.1/acme/x"), 2, /--token-ref/);
    expectUserError(await shepherd("repo", "show"), 2, /name/);
    expectUserError(await shepherd("proposal", "create", "--bogus"), 2, /--bogus/);
  });

  test("an unparsable --from YAML file is one `shepherd: ` line (no multi-line parser excerpt)", async () => {
    await writeFile(path.join(workDir, "broken.yaml"), "title: [unclosed\n");
    expectUserError(
      await shepherd("proposal", "create", "--from", "broken.yaml"),
      1,
      /^shepherd: proposal file broken\.yaml is not valid YAML: .*line 2, column 1/,
    );
  });
});

describe("shepherd pr", () => {
  test("ls and show: the PR the worker opened, as the running observer sees it (failing check with its log)", async () => {
    const { repo } = await githubRepo(
      "search-observed",
      { "config/params.json": PARAMS_JSON },
      "observed.token",
    );
    await addRepo("observed", repo.webUrl, "file:observed.token");
    const id = await createProposal(
      "--repo",
      "observed",
      "--title",
      "Lower the limit",
      "--params",
      "config/params.json",
      "--set",
      "limit=10",
    );
    expectSuccess(await shepherd("proposal", "open-pr", id, "--wait"));
    const head = (await sim.admin.branchHead(OWNER, "search-observed", `shepherd/proposal-${id}`)) ?? "";
    sim.admin.setCheckRun({
      owner: OWNER,
      repo: "search-observed",
      sha: head,
      name: "relevance-eval",
      status: "completed",
      conclusion: "failure",
      log: "ndcg@10 dropped from 0.45 to 0.31\n",
    });
    // The server's own observer (every 5 s here) reads the failure.
    const observed = await waitFor(
      async () => {
        const result = await shepherd("pr", "show", "observed#1", "--json");
        const view = JSON.parse(result.stdout) as { ci: string; id: string };
        return view.ci === "failure" ? view : null;
      },
      { timeoutMs: 30_000, intervalMs: 500, message: "the observer never saw the failing check" },
    );
    expect(observed.id).toMatch(/^pr_[0-9a-z]{26}$/);

    const ls = await shepherd("pr", "ls", "--repo", "observed");
    expectSuccess(ls);
    const row = rowsOf(ls.stdout, /^ID\s+PR\s+STATE\s+CI\s+MERGEABLE\s+REVIEW\s+TITLE$/)[0];
    expect(row?.slice(1, 4), show(ls)).toEqual(["observed#1", "open", "failure (relevance-eval)"]);
    expect(row?.at(-1)).toBe("Lower the limit");

    const shown = await shepherd("pr", "show", observed.id);
    expectSuccess(shown);
    expect(shown.stdout.split("\n")[0]).toBe("observed#1  Lower the limit");
    expect(shown.stdout).toMatch(/^ {2}proposal {3}prop_[0-9a-z]{26}$/m);
    expect(shown.stdout).toContain("Failing checks:\n  relevance-eval (failure)");
    expect(shown.stdout).toContain("    | ndcg@10 dropped from 0.45 to 0.31");

    const repoShown = await shepherd("repo", "show", "observed");
    expect(repoShown.stdout).toMatch(/^ {2}observer {12}ok \(last poll /m);
    expectUserError(
      await shepherd("pr", "show", "observed#99"),
      1,
      /^shepherd: Shepherd tracks no pull request observed#99$/,
    );
  });
});
