import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startGitHubSimulator, type GitHubSimulator } from "../../test/support/github-sim/simulator.js";
import { GitError, GitRunner, type GitObserver } from "./git-runner.js";
import { isSafeRefName, RepoClone } from "./repo-clone.js";

/**
 * The persistent clone (SPEC C3 steps 4–6, 10–11) with real git against the simulator's git over
 * HTTP: clone / re-clone / re-point, a clean base, remote heads, `commit -F`, pushes that are
 * never forced, ref-name checks before git runs, and no credentials left on disk.
 */

const IDENTITY = { name: "Shepherd Bot", email: "bot@shepherd.test" };
const OWNER = "acme";

interface Command {
  event: "started" | "finished";
  cwd: string;
  args: string[];
  outcome?: string;
}

class RecordingObserver implements GitObserver {
  readonly events: Command[] = [];
  started(cwd: string, args: readonly string[]): void {
    this.events.push({ event: "started", cwd, args: [...args] });
  }
  finished(cwd: string, args: readonly string[], outcome: string): void {
    this.events.push({ event: "finished", cwd, args: [...args], outcome });
  }
  started_(subcommand: string): string[][] {
    return this.events
      .filter((event) => event.event === "started" && event.args[0] === subcommand)
      .map((event) => event.args);
  }
}

let sim: GitHubSimulator;
let token: string;
let work: string;
let home: string;
let counter = 0;

beforeAll(async () => {
  sim = await startGitHubSimulator();
  token = sim.admin.createToken({ repos: "*" });
  work = await mkdtemp(path.join(os.tmpdir(), "repo-clone-test-"));
  home = path.join(work, "home");
  await mkdir(home);
});

afterEach(() => {
  sim.admin.clearFaults();
  sim.admin.releaseHeld();
});

afterAll(async () => {
  await sim?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

interface Fixture {
  name: string;
  url: string;
  dir: string;
  clone: RepoClone;
  runner: GitRunner;
  observer: RecordingObserver;
  git: (args: string[]) => Promise<string>;
}

/** A fresh repository on the simulator and a RepoClone for it (not cloned yet). */
async function fixture(files: Record<string, string> = {}): Promise<Fixture> {
  counter += 1;
  const name = `repo-${counter}`;
  const created = await sim.admin.createRepo({
    owner: OWNER,
    name,
    files: {
      "README.md": "hello\n",
      ".gitignore": "*.log\nbuild/\n",
      "config/app.yaml": "boost: 1\n",
      ...files,
    },
  });
  const observer = new RecordingObserver();
  const runner = new GitRunner({
    identity: IDENTITY,
    redact: (text) => text.replaceAll(token, "[TOKEN]"),
    homeDir: home,
    observer,
  });
  const dir = path.join(work, "clones", name);
  const clone = new RepoClone(runner, dir, created.gitUrl, { remoteBase: sim.baseUrl, token });
  const git = async (args: string[]): Promise<string> => (await runner.run(args, { cwd: dir })).stdout;
  return { name, url: created.gitUrl, dir, clone, runner, observer, git };
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
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

/** Every file under `dir`, recursively. */
async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await allFiles(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

function encodedHeader(secret: string): string {
  return Buffer.from(`x-access-token:${secret}`).toString("base64");
}

describe("clone, commit and push through RepoClone", () => {
  it("works with the environment's credentials only and leaves none on disk", async () => {
    const f = await fixture();
    await f.clone.ensure();
    await f.clone.resetToBase("main", "shepherd/proposal-1");
    await writeFile(path.join(f.dir, "config", "app.yaml"), "boost: 2\n");
    await writeFile(path.join(f.dir, "new.txt"), "new\n");
    expect((await f.clone.changedPaths()).sort()).toEqual([" M config/app.yaml", "?? new.txt"]);

    const message = "Raise the boost\n\nShepherd-Proposal: p-1\n";
    const sha = await f.clone.commitAll(message);
    expect(await f.clone.changedPaths()).toEqual([]);
    expect(await f.clone.remoteBranchHead("shepherd/proposal-1")).toBeNull();
    await f.clone.push("shepherd/proposal-1");

    expect(await sim.admin.branchHead(OWNER, f.name, "shepherd/proposal-1")).toBe(sha);
    expect(await f.clone.remoteBranchHead("shepherd/proposal-1")).toBe(sha);
    expect(await sim.admin.commitMessage(OWNER, f.name, sha)).toBe(message);
    expect(
      await sim.admin.readFile({
        owner: OWNER,
        repo: f.name,
        ref: "shepherd/proposal-1",
        path: "config/app.yaml",
      }),
    ).toBe("boost: 2\n");
    // The upstream is set by the push.
    expect((await f.git(["rev-parse", "--abbrev-ref", "shepherd/proposal-1@{upstream}"])).trim()).toBe(
      "origin/shepherd/proposal-1",
    );

    // No credentials in .git/config (the remote URL is exactly the registered one) ...
    const config = await readFile(path.join(f.dir, ".git", "config"), "utf8");
    expect(config).not.toContain(token);
    expect(config).not.toContain(encodedHeader(token));
    expect(config).not.toMatch(/extraheader|authorization|x-access-token/i);
    expect((await f.git(["remote", "get-url", "origin"])).trim()).toBe(f.url);
    // ... nor anywhere else in the clone, nor in the empty HOME.
    for (const file of [...(await allFiles(f.dir)), ...(await allFiles(home))]) {
      const bytes = await readFile(file);
      expect(bytes.includes(token), file).toBe(false);
      expect(bytes.includes(encodedHeader(token)), file).toBe(false);
    }
    // ... and never in argv.
    for (const event of f.observer.events) expect(event.args.join(" ")).not.toContain(token);
  });

  it("commits as the bot even when the host has a global git config with another identity", async () => {
    const hostHome = path.join(work, `host-home-${++counter}`);
    await mkdir(hostHome);
    const globalFile = path.join(hostHome, "global.gitconfig");
    await writeFile(
      globalFile,
      "[user]\n\tname = Host Person\n\temail = host@host.test\n[commit]\n\tgpgSign = true\n",
    );
    await writeFile(
      path.join(hostHome, ".gitconfig"),
      "[user]\n\tname = Home Person\n\temail = home@host.test\n",
    );

    // Control: a plain git with that GIT_CONFIG_GLOBAL does take the other identity from it.
    const control = await new Promise<string>((resolve, reject) => {
      const child = spawn("git", ["var", "GIT_AUTHOR_IDENT"], {
        cwd: hostHome,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: hostHome, GIT_CONFIG_GLOBAL: globalFile },
        stdio: ["ignore", "pipe", "ignore"],
      });
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
      child.once("error", reject);
      child.once("close", () => resolve(out));
    });
    expect(control).toMatch(/^Host Person <host@host\.test>/);

    const saved = { HOME: process.env.HOME, GIT_CONFIG_GLOBAL: process.env.GIT_CONFIG_GLOBAL };
    process.env.HOME = hostHome;
    process.env.GIT_CONFIG_GLOBAL = globalFile;
    try {
      const f = await fixture();
      await f.clone.ensure();
      await f.clone.resetToBase("main", "shepherd/session-7");
      await writeFile(path.join(f.dir, "x.txt"), "x\n");
      // (The global file also asks for signed commits: read, it would make the commit fail.)
      const sha = await f.clone.commitAll("Add x\n");
      await f.clone.push("shepherd/session-7");
      const who = (await f.git(["log", "-1", "--format=%an|%ae|%cn|%ce", sha])).trim();
      expect(who).toBe(`${IDENTITY.name}|${IDENTITY.email}|${IDENTITY.name}|${IDENTITY.email}`);
      expect(await sim.admin.branchHead(OWNER, f.name, "shepherd/session-7")).toBe(sha);
      const origins = await f.git(["config", "--list", "--show-origin"]);
      expect(origins).not.toContain("Person");
      expect(origins).not.toContain(hostHome);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});

describe("RepoClone.ensure", () => {
  it("clones on first use into a new parent directory (mode 0700)", async () => {
    const f = await fixture();
    const nested = path.join(work, `nested-${++counter}`, "clones", "r");
    const clone = new RepoClone(f.runner, nested, f.url, { remoteBase: sim.baseUrl, token });
    await clone.ensure();
    expect(await readFile(path.join(nested, "README.md"), "utf8")).toBe("hello\n");
    expect((await stat(path.dirname(nested))).mode & 0o777).toBe(0o700);
  });

  it("re-clones a directory that is not a clone (an interrupted first clone)", async () => {
    const f = await fixture();
    await mkdir(f.dir, { recursive: true });
    await writeFile(path.join(f.dir, "junk.txt"), "left over\n");
    await f.clone.ensure();
    expect(await exists(path.join(f.dir, "junk.txt"))).toBe(false);
    expect((await stat(path.join(f.dir, ".git"))).isDirectory()).toBe(true);
    expect(await readFile(path.join(f.dir, "README.md"), "utf8")).toBe("hello\n");
    expect(f.observer.started_("clone")).toHaveLength(1);
  });

  it("re-clones when .git is a file, not a directory", async () => {
    const f = await fixture();
    await mkdir(f.dir, { recursive: true });
    await writeFile(path.join(f.dir, ".git"), "gitdir: /nowhere\n");
    await f.clone.ensure();
    expect((await stat(path.join(f.dir, ".git"))).isDirectory()).toBe(true);
    expect(await readFile(path.join(f.dir, "README.md"), "utf8")).toBe("hello\n");
  });

  it("keeps an existing clone (no second clone) and re-points origin when the URL changed", async () => {
    const f = await fixture();
    await f.clone.ensure();
    await writeFile(path.join(f.dir, "keep.txt"), "still here\n");
    await f.clone.ensure();
    expect(await exists(path.join(f.dir, "keep.txt"))).toBe(true);
    expect(f.observer.started_("clone")).toHaveLength(1);
    expect(f.observer.started_("remote")).toEqual([["remote", "set-url", "origin", f.url]]);

    // The repository is registered under another URL now (another repository, to tell them apart).
    const other = await fixture({ "README.md": "the other one\n" });
    const moved = new RepoClone(f.runner, f.dir, other.url, { remoteBase: sim.baseUrl, token });
    await moved.ensure();
    expect((await f.git(["remote", "get-url", "origin"])).trim()).toBe(other.url);
    await moved.resetToBase("main", "work");
    expect(await readFile(path.join(f.dir, "README.md"), "utf8")).toBe("the other one\n");
    expect(f.observer.started_("clone")).toHaveLength(1);
  });
});

describe("RepoClone.resetToBase", () => {
  it("discards tracked changes, untracked and ignored files, local commits; the branch starts fresh from the base", async () => {
    const f = await fixture();
    await f.clone.ensure();
    await f.clone.resetToBase("main", "work");
    // A local commit on the branch, then a mess on top of it.
    await writeFile(path.join(f.dir, "local.txt"), "local\n");
    const localSha = await f.clone.commitAll("local commit\n");
    await writeFile(path.join(f.dir, "config", "app.yaml"), "boost: 99\n");
    await writeFile(path.join(f.dir, "untracked.txt"), "u\n");
    await mkdir(path.join(f.dir, "newdir", "deep"), { recursive: true });
    await writeFile(path.join(f.dir, "newdir", "deep", "file.txt"), "d\n");
    await writeFile(path.join(f.dir, "debug.log"), "ignored\n");
    await mkdir(path.join(f.dir, "build"));
    await writeFile(path.join(f.dir, "build", "out.bin"), "ignored\n");
    // Meanwhile, the base moved on the server.
    const baseSha = await sim.admin.pushFiles({
      owner: OWNER,
      repo: f.name,
      branch: "main",
      files: { "config/app.yaml": "boost: 3\n" },
    });

    await f.clone.resetToBase("main", "work");

    expect((await f.git(["rev-parse", "HEAD"])).trim()).toBe(baseSha);
    expect((await f.git(["rev-parse", "--abbrev-ref", "HEAD"])).trim()).toBe("work");
    expect(await f.clone.changedPaths()).toEqual([]);
    expect(await readFile(path.join(f.dir, "config", "app.yaml"), "utf8")).toBe("boost: 3\n");
    for (const gone of ["local.txt", "untracked.txt", "newdir", "debug.log", "build"]) {
      expect(await exists(path.join(f.dir, gone)), gone).toBe(false);
    }
    const branchLog = await f.git(["log", "--format=%H", "work"]);
    expect(branchLog).not.toContain(localSha);
  });

  it("takes another base branch when asked", async () => {
    const f = await fixture();
    await sim.admin.pushFiles({ owner: OWNER, repo: f.name, branch: "release", files: { "rel.txt": "r\n" } });
    await f.clone.ensure();
    await f.clone.resetToBase("release", "shepherd/proposal-2");
    expect((await f.git(["rev-parse", "HEAD"])).trim()).toBe(
      await sim.admin.branchHead(OWNER, f.name, "release"),
    );
    expect(await readFile(path.join(f.dir, "rel.txt"), "utf8")).toBe("r\n");
  });
});

describe("remote heads and messages", () => {
  it("remoteBranchHead: null for a missing branch (even when a longer name exists), the sha otherwise", async () => {
    const f = await fixture();
    await f.clone.ensure();
    expect(await f.clone.remoteBranchHead("main")).toBe(await sim.admin.branchHead(OWNER, f.name, "main"));
    expect(await f.clone.remoteBranchHead("feature")).toBeNull();
    const longer = await sim.admin.pushFiles({
      owner: OWNER,
      repo: f.name,
      branch: "feature-x",
      files: { "f.txt": "f\n" },
    });
    const nested = await sim.admin.pushFiles({
      owner: OWNER,
      repo: f.name,
      branch: "team/feature",
      files: { "g.txt": "g\n" },
    });
    expect(await f.clone.remoteBranchHead("feature")).toBeNull();
    expect(await f.clone.remoteBranchHead("feature-x")).toBe(longer);
    expect(await f.clone.remoteBranchHead("team/feature")).toBe(nested);
  });

  it("fetchBranch + remoteCommitMessage: the full message of the branch's newest commit (trailer included)", async () => {
    const f = await fixture();
    await f.clone.ensure();
    const message = "Earlier attempt\n\nBody line.\n\nShepherd-Proposal: p-42\n";
    await sim.admin.pushFiles({
      owner: OWNER,
      repo: f.name,
      branch: "shepherd/proposal-42",
      files: { a: "a\n" },
      message,
    });
    await f.clone.fetchBranch("shepherd/proposal-42");
    expect((await f.clone.remoteCommitMessage("shepherd/proposal-42")).trimEnd()).toBe(message.trimEnd());
  });
});

describe("RepoClone.commitAll", () => {
  it("uses -F with a file inside .git (never -m), removes it afterwards and never commits it", async () => {
    const f = await fixture();
    await f.clone.ensure();
    await f.clone.resetToBase("main", "b1");
    await writeFile(path.join(f.dir, "c.txt"), "c\n");
    const message = "Subject MSG-MARKER-123\n\nBody with `quotes` and $dollars.\n\nShepherd-Proposal: p-9\n";
    await f.clone.commitAll(message);

    const commits = f.observer.started_("commit");
    expect(commits).toHaveLength(1);
    const args = commits[0] ?? [];
    expect(args).toContain("-F");
    expect(args.some((arg) => arg === "-m" || arg.startsWith("--message") || /^-[a-zA-Z]*m/.test(arg))).toBe(
      false,
    );
    const file = args[args.indexOf("-F") + 1] ?? "";
    expect(path.isAbsolute(file)).toBe(true);
    expect(file.startsWith(path.join(f.dir, ".git") + path.sep)).toBe(true);
    expect(await exists(file)).toBe(false);
    for (const event of f.observer.events) expect(event.args.join(" ")).not.toContain("MSG-MARKER-123");

    expect((await f.git(["log", "-1", "--format=%B"])).trimEnd()).toBe(message.trimEnd());
    const tree = await f.git(["ls-tree", "-r", "--name-only", "HEAD"]);
    expect(tree.split("\n")).toContain("c.txt");
    expect(tree).not.toContain("SHEPHERD_COMMIT_MSG");
  });

  it("stages deletions and new files alike", async () => {
    const f = await fixture();
    await f.clone.ensure();
    await f.clone.resetToBase("main", "b2");
    await rm(path.join(f.dir, "README.md"));
    await mkdir(path.join(f.dir, "docs"));
    await writeFile(path.join(f.dir, "docs", "new.md"), "n\n");
    await f.clone.commitAll("Move things\n");
    const tree = (await f.git(["ls-tree", "-r", "--name-only", "HEAD"])).split("\n").filter(Boolean);
    expect(tree).not.toContain("README.md");
    expect(tree).toContain("docs/new.md");
  });

  it("a failed commit (nothing to commit) → GitError, and the message file is still removed", async () => {
    const f = await fixture();
    await f.clone.ensure();
    await f.clone.resetToBase("main", "b3");
    const error = await caught(f.clone.commitAll("nothing\n"));
    expect(error).toBeInstanceOf(GitError);
    expect((error as GitError).command).toBe("commit");
    expect(await exists(path.join(f.dir, ".git", "SHEPHERD_COMMIT_MSG"))).toBe(false);
    expect(
      f.observer.events.filter((event) => event.event === "finished" && event.args[0] === "commit"),
    ).toEqual([expect.objectContaining({ outcome: "failed" })]);
  });
});

describe("RepoClone.push", () => {
  it("never forces: a diverged remote branch is refused and left as it was", async () => {
    const f = await fixture();
    await f.clone.ensure();
    const theirs = await sim.admin.pushFiles({
      owner: OWNER,
      repo: f.name,
      branch: "shepherd/proposal-5",
      files: { "theirs.txt": "t\n" },
    });
    await f.clone.resetToBase("main", "shepherd/proposal-5");
    await writeFile(path.join(f.dir, "ours.txt"), "o\n");
    await f.clone.commitAll("ours\n");

    const error = await caught(f.clone.push("shepherd/proposal-5"));
    expect(error).toBeInstanceOf(GitError);
    expect((error as GitError).command).toBe("push");
    expect((error as GitError).message).toMatch(/rejected|non-fast-forward|fetch first/);
    expect(await sim.admin.branchHead(OWNER, f.name, "shepherd/proposal-5")).toBe(theirs);

    for (const args of f.observer.started_("push")) {
      expect(args).not.toContain("--force");
      expect(args).not.toContain("-f");
      expect(args.some((arg) => arg.startsWith("--force"))).toBe(false);
      expect(args.some((arg) => arg.startsWith("+"))).toBe(false);
      expect(args).toContain("--set-upstream");
    }
  });

  it("a push refused by the server's hook → GitError carrying the remote's reason", async () => {
    const f = await fixture();
    await f.clone.ensure();
    await f.clone.resetToBase("main", "shepherd/proposal-6");
    await writeFile(path.join(f.dir, "p.txt"), "p\n");
    await f.clone.commitAll("p\n");
    await sim.admin.setPushRejection({ owner: OWNER, repo: f.name, reason: "protected by policy" });
    const error = await caught(f.clone.push("shepherd/proposal-6"));
    expect(error).toBeInstanceOf(GitError);
    expect((error as GitError).output).toContain("protected by policy");
    expect(await sim.admin.branchHead(OWNER, f.name, "shepherd/proposal-6")).toBeNull();
  });
});

describe("ref names", () => {
  it.each([
    ["main", true],
    ["shepherd/proposal-123", true],
    ["shepherd/session-abc_DEF.1", true],
    ["release/1.2", true],
    ["a-", true],
    ["", false],
    ["-x", false],
    ["--upload-pack=evil", false],
    ["a..b", false],
    ["a//b", false],
    ["x.lock", false],
    ["a/x.lock", false],
    ["@{", false],
    ["a@{1}", false],
    ["/a", false],
    ["a/", false],
    ["a.", false],
    ["a b", false],
    ["a~1", false],
    ["a^", false],
    ["a:b", false],
    ["a?", false],
    ["a*", false],
    ["a[", false],
    ["a\\b", false],
    ["a\nb", false],
    ["ä", false],
    ["x".repeat(200), true],
    ["x".repeat(201), false],
  ] as const)("isSafeRefName(%j) → %s", (name, safe) => {
    expect(isSafeRefName(name)).toBe(safe);
  });

  it("every name isSafeRefName accepts is one git accepts as a branch name", async () => {
    const candidates = [
      "main",
      "shepherd/proposal-1",
      "a-",
      "release/1.2",
      ".hidden",
      "a/.b",
      "a.lock/b",
      "HEAD",
      "a/-b",
    ];
    const refusedByGit: string[] = [];
    for (const name of candidates.filter(isSafeRefName)) {
      const ok = await new Promise<boolean>((resolve) => {
        const child = spawn("git", ["check-ref-format", "--branch", name], { stdio: "ignore" });
        child.once("error", () => resolve(false));
        child.once("close", (code) => resolve(code === 0));
      });
      if (!ok) refusedByGit.push(name);
    }
    expect(refusedByGit).toEqual([]);
  });

  it.each(["-x", "a..b", "a//b", "x.lock", "@{", "--force"])(
    "%j is refused by every method before git runs",
    async (bad) => {
      const f = await fixture();
      const attempts: [string, () => Promise<unknown>][] = [
        ["resetToBase(base)", () => f.clone.resetToBase(bad, "ok-branch")],
        ["resetToBase(branch)", () => f.clone.resetToBase("main", bad)],
        ["remoteBranchHead", () => f.clone.remoteBranchHead(bad)],
        ["fetchBranch", () => f.clone.fetchBranch(bad)],
        ["remoteCommitMessage", () => f.clone.remoteCommitMessage(bad)],
        ["push", () => f.clone.push(bad)],
      ];
      for (const [what, attempt] of attempts) {
        const error = await caught(attempt());
        expect(error, what).toBeInstanceOf(Error);
        expect(error, what).not.toBeInstanceOf(GitError);
        expect((error as Error).message, what).toContain("unsafe ref name");
      }
      expect(f.observer.events).toEqual([]);
    },
  );
});

describe("the observer", () => {
  it("receives started and finished, in pairs and in order, for every command of a full run", async () => {
    const f = await fixture();
    await f.clone.ensure();
    await f.clone.resetToBase("main", "shepherd/proposal-8");
    await writeFile(path.join(f.dir, "o.txt"), "o\n");
    await f.clone.commitAll("o\n");
    await f.clone.push("shepherd/proposal-8");
    await caught(f.clone.fetchBranch("no-such-branch"));

    const events = f.observer.events;
    expect(events.length % 2).toBe(0);
    for (let index = 0; index < events.length; index += 2) {
      const started = events[index];
      const finished = events[index + 1];
      expect(started?.event).toBe("started");
      expect(finished?.event).toBe("finished");
      expect(finished?.args).toEqual(started?.args);
      expect(finished?.cwd).toBe(started?.cwd);
    }
    const commands = events
      .filter((event) => event.event === "finished")
      .map((event) => [event.args[0], event.outcome]);
    expect(commands).toEqual([
      ["clone", "ok"],
      ["fetch", "ok"],
      ["reset", "ok"],
      ["clean", "ok"],
      ["checkout", "ok"],
      ["add", "ok"],
      ["commit", "ok"],
      ["rev-parse", "ok"],
      ["push", "ok"],
      ["fetch", "failed"],
    ]);
    // The clone runs next to the clone directory; everything else inside it.
    expect(events[0]?.cwd).toBe(path.dirname(f.dir));
    expect(events.slice(2).every((event) => event.cwd === f.dir)).toBe(true);
  });
});
