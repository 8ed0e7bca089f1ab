import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type { GitAuth, GitRunner } from "./git-runner.js";

const REF_CHARACTERS = /^[A-Za-z0-9._/-]{1,200}$/;

/**
 * Branch names we pass to git: no option injection, and nothing `git check-ref-format --branch`
 * would refuse (no `..`, no empty or dot-led or `.lock` components, not `HEAD`).
 */
export function isSafeRefName(name: string): boolean {
  if (!REF_CHARACTERS.test(name) || name.startsWith("-") || name === "HEAD") return false;
  if (name.includes("..") || name.endsWith(".")) return false;
  return name
    .split("/")
    .every((component) => component !== "" && !component.startsWith(".") && !component.endsWith(".lock"));
}

function assertRef(name: string): void {
  if (!isSafeRefName(name)) throw new Error(`refusing unsafe ref name ${JSON.stringify(name)}`);
}

/**
 * One persistent clone of a repository (SPEC C3 step 4: `<home>/clones/<repoId>`), driven only
 * through the token-safe runner. Callers hold the repo's lock: a clone is never used by two
 * operations at once.
 */
export class RepoClone {
  constructor(
    private readonly runner: GitRunner,
    /** Absolute path of the clone's working tree. */
    readonly dir: string,
    /** The remote URL without credentials. */
    private readonly remoteUrl: string,
    private readonly auth: GitAuth,
  ) {}

  #git(args: string[], timeoutMs?: number): Promise<{ stdout: string; stderr: string }> {
    return this.runner.run(args, { cwd: this.dir, auth: this.auth, timeoutMs });
  }

  /** Clones on first use; afterwards makes sure `origin` points at the registered URL. */
  async ensure(): Promise<void> {
    const isClone = await stat(path.join(this.dir, ".git")).then(
      (info) => info.isDirectory(),
      () => false,
    );
    if (isClone) {
      await this.#git(["remote", "set-url", "origin", this.remoteUrl]);
      return;
    }
    // A directory that is not a clone (an interrupted first clone) is started over.
    await rm(this.dir, { recursive: true, force: true });
    await mkdir(path.dirname(this.dir), { recursive: true, mode: 0o700 });
    await this.runner.run(["clone", "--no-tags", "--origin", "origin", "--", this.remoteUrl, this.dir], {
      cwd: path.dirname(this.dir),
      auth: this.auth,
    });
  }

  /**
   * Clean base (SPEC C3 step 5): fetch the base, discard every local change and untracked file,
   * and check out `branch` fresh from the base.
   */
  async resetToBase(base: string, branch: string): Promise<void> {
    assertRef(base);
    assertRef(branch);
    await this.#git(["fetch", "--no-tags", "origin", `+refs/heads/${base}:refs/remotes/origin/${base}`]);
    await this.#git(["reset", "--hard", `refs/remotes/origin/${base}`]);
    await this.#git(["clean", "-ffdx"]);
    await this.#git(["checkout", "-B", branch, `refs/remotes/origin/${base}`]);
  }

  /** The sha of `branch` on the remote, or null if it does not exist there. */
  async remoteBranchHead(branch: string): Promise<string | null> {
    assertRef(branch);
    const { stdout } = await this.#git(["ls-remote", "--heads", "origin", `refs/heads/${branch}`]);
    const line = stdout.split("\n").find((entry) => entry.endsWith(`\trefs/heads/${branch}`));
    return line ? (line.split("\t")[0] ?? null) : null;
  }

  async fetchBranch(branch: string): Promise<void> {
    assertRef(branch);
    await this.#git(["fetch", "--no-tags", "origin", `+refs/heads/${branch}:refs/remotes/origin/${branch}`]);
  }

  /** The full message of the newest commit of a remote-tracking branch. */
  async remoteCommitMessage(branch: string): Promise<string> {
    assertRef(branch);
    return (await this.#git(["log", "-1", "--format=%B", `refs/remotes/origin/${branch}`])).stdout;
  }

  /** The messages of the newest `limit` commits of a remote-tracking branch, newest first. */
  async remoteCommitMessages(branch: string, limit: number): Promise<string[]> {
    assertRef(branch);
    const { stdout } = await this.#git([
      "log",
      `--max-count=${Math.max(1, Math.floor(limit))}`,
      "--format=%B%x00",
      `refs/remotes/origin/${branch}`,
    ]);
    return stdout
      .split("\0")
      .map((message) => message.trim())
      .filter((message) => message !== "");
  }

  /** `git status --porcelain` lines: empty when the working tree matches HEAD. */
  async changedPaths(): Promise<string[]> {
    const { stdout } = await this.#git(["status", "--porcelain", "--untracked-files=all"]);
    return stdout.split("\n").filter(Boolean);
  }

  /**
   * Stages everything and commits with the message from a file (`-F`, never `-m`: the message
   * never appears in argv). The file lives inside `.git`, so it is never committed.
   */
  async commitAll(message: string): Promise<string> {
    await this.#git(["add", "--all", "--", "."]);
    const messageFile = path.join(this.dir, ".git", "SHEPHERD_COMMIT_MSG");
    await writeFile(messageFile, message, { mode: 0o600 });
    try {
      await this.#git(["commit", "--no-verify", "--no-gpg-sign", "-F", messageFile]);
    } finally {
      await rm(messageFile, { force: true });
    }
    return (await this.#git(["rev-parse", "HEAD"])).stdout.trim();
  }

  /** Pushes `branch` and sets its upstream; never forced. */
  async push(branch: string): Promise<void> {
    assertRef(branch);
    await this.#git([
      "push",
      "--no-verify",
      "--set-upstream",
      "origin",
      `refs/heads/${branch}:refs/heads/${branch}`,
    ]);
  }
}
