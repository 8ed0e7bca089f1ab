import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { runGit, SIM_IDENTITY, type GitResult } from "./git-runner.js";

/**
 * One bare repository on disk and the git plumbing the simulator needs on it. Every write the
 * simulator makes itself (initial commit, `pushFiles`, merges) goes through here, so the repository
 * stays a real one that `git http-backend` serves and real clients clone.
 */

export interface CommitAuthor {
  name: string;
  email: string;
}

export interface CommitInput {
  /** Branch to write the commit to (created if missing). */
  branch: string;
  /** Parent commit; null makes a root commit. */
  parent: string | null;
  files: Record<string, string | Buffer>;
  deletes?: readonly string[];
  message: string;
  author?: CommitAuthor;
}

/** A commit's metadata as git stores it (dates in ISO 8601, as `%aI` prints them). */
export interface CommitInfo {
  tree: string;
  parents: string[];
  author: { name: string; email: string; date: string };
  committer: { name: string; email: string; date: string };
  message: string;
}

/** The paths a commit changed compared with its first parent (everything, for a root commit). */
export interface CommitFiles {
  added: string[];
  removed: string[];
  modified: string[];
}

export interface DiffStats {
  additions: number;
  deletions: number;
  changedFiles: number;
}

const SHA = /^[0-9a-f]{40}$/;

export function isSha(value: string): boolean {
  return SHA.test(value);
}

/** Refuses paths git would store oddly or that escape the tree; test input, but fail clearly. */
export function checkRepoPath(file: string): string {
  const parts = file.split("/");
  if (
    file === "" ||
    file.includes("\0") ||
    parts.some((part) => part === "" || part === "." || part === ".." || part === ".git")
  ) {
    throw new Error(`invalid repository path ${JSON.stringify(file)}`);
  }
  return file;
}

function hasControlCharacter(text: string): boolean {
  return [...text].some((char) => {
    const code = char.charCodeAt(0);
    return code < 0x20 || code === 0x7f;
  });
}

/** A branch name git accepts and that cannot be read as an option. */
export function checkBranchName(branch: string): string {
  if (
    branch === "" ||
    branch.startsWith("-") ||
    branch.startsWith("/") ||
    branch.endsWith("/") ||
    branch.endsWith(".lock") ||
    branch.includes("..") ||
    branch.includes("//") ||
    /[\s~^:?*[\\]/.test(branch) ||
    hasControlCharacter(branch) ||
    branch.includes("@{")
  ) {
    throw new Error(`invalid branch name ${JSON.stringify(branch)}`);
  }
  return branch;
}

/** fast-import's C-style quoting, always applied so any legal path round-trips. */
function quotePath(file: string): string {
  let out = '"';
  for (const byte of Buffer.from(file, "utf8")) {
    if (byte === 0x22) out += '\\"';
    else if (byte === 0x5c) out += "\\\\";
    else if (byte === 0x0a) out += "\\n";
    else if (byte < 0x20 || byte >= 0x7f) out += `\\${byte.toString(8).padStart(3, "0")}`;
    else out += String.fromCharCode(byte);
  }
  return `${out}"`;
}

function identityLine(role: "author" | "committer", who: CommitAuthor, seconds: number): string {
  return `${role} ${who.name} <${who.email}> ${seconds} +0000\n`;
}

export class BareRepo {
  constructor(
    /** The `<name>.git` directory. */
    readonly dir: string,
    /** HOME for git (and scratch space for worktrees). */
    private readonly home: string,
  ) {}

  static async create(dir: string, home: string, defaultBranch: string): Promise<BareRepo> {
    checkBranchName(defaultBranch);
    await mkdir(dir, { recursive: true });
    const repo = new BareRepo(dir, home);
    await repo.git(["init", "--quiet", "--bare", `--initial-branch=${defaultBranch}`, "."]);
    return repo;
  }

  private git(
    args: readonly string[],
    options: { input?: string | Buffer; okCodes?: readonly number[]; cwd?: string } = {},
  ): Promise<GitResult> {
    return runGit(args, {
      cwd: options.cwd ?? this.dir,
      home: this.home,
      input: options.input,
      okCodes: options.okCodes,
    });
  }

  /** Writes one commit with `git fast-import` (one process whatever the number of files). */
  async commit(input: CommitInput): Promise<string> {
    checkBranchName(input.branch);
    if (input.parent !== null && !isSha(input.parent)) throw new Error(`parent must be a sha`);
    const seconds = Math.floor(Date.now() / 1000);
    const author = input.author ?? SIM_IDENTITY;
    const message = Buffer.from(input.message, "utf8");
    const chunks: Buffer[] = [
      Buffer.from(
        `commit refs/heads/${input.branch}\nmark :1\n` +
          identityLine("author", author, seconds) +
          identityLine("committer", SIM_IDENTITY, seconds) +
          `data ${message.length}\n`,
      ),
      message,
      Buffer.from(`\n${input.parent === null ? "" : `from ${input.parent}\n`}`),
    ];
    for (const file of input.deletes ?? []) chunks.push(Buffer.from(`D ${quotePath(checkRepoPath(file))}\n`));
    for (const [file, content] of Object.entries(input.files)) {
      const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
      chunks.push(Buffer.from(`M 100644 inline ${quotePath(checkRepoPath(file))}\ndata ${bytes.length}\n`));
      chunks.push(bytes, Buffer.from("\n"));
    }
    chunks.push(Buffer.from("get-mark :1\ndone\n"));
    // --force: a commit on an explicit older parent is a deliberate non-fast-forward (a test
    // rewriting a branch), not a mistake to refuse.
    const result = await this.git(["fast-import", "--quiet", "--force", "--done"], {
      input: Buffer.concat(chunks),
    });
    const sha = result.stdout.toString("utf8").trim();
    if (!isSha(sha)) throw new Error(`fast-import returned ${JSON.stringify(sha)}`);
    return sha;
  }

  /** Every branch and its tip. */
  async heads(): Promise<Map<string, string>> {
    const result = await this.git(["for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/"]);
    const heads = new Map<string, string>();
    for (const line of result.stdout.toString("utf8").split("\n")) {
      const match = /^([0-9a-f]{40}) refs\/heads\/(.+)$/.exec(line);
      if (match?.[1] && match[2]) heads.set(match[2], match[1]);
    }
    return heads;
  }

  /** The commit a branch name or sha names, or null. */
  async resolveCommit(rev: string): Promise<string | null> {
    if (rev === "" || rev.startsWith("-")) return null;
    const target = isSha(rev) ? rev : `refs/heads/${rev}`;
    const result = await this.git(["rev-parse", "--verify", "--quiet", `${target}^{commit}`], {
      okCodes: [1, 128],
    });
    const sha = result.stdout.toString("utf8").trim();
    return result.code === 0 && isSha(sha) ? sha : null;
  }

  /** A file's bytes at a commit, or null when the commit or the file does not exist. */
  async readBlob(commit: string, file: string): Promise<Buffer | null> {
    if (!isSha(commit)) return null;
    try {
      checkRepoPath(file);
    } catch {
      return null;
    }
    const type = await this.git(["cat-file", "-t", `${commit}:${file}`], { okCodes: [1, 128] });
    if (type.code !== 0 || type.stdout.toString("utf8").trim() !== "blob") return null;
    const result = await this.git(["cat-file", "blob", `${commit}:${file}`]);
    return result.stdout;
  }

  /** A commit's full message, exactly as stored. */
  async commitMessage(sha: string): Promise<string> {
    if (!isSha(sha)) throw new Error("not a sha");
    const raw = (await this.git(["cat-file", "commit", sha])).stdout.toString("utf8");
    const split = raw.indexOf("\n\n");
    return split === -1 ? "" : raw.slice(split + 2);
  }

  /** A commit's tree, parents, author, committer and message, or null when there is no such commit. */
  async commitInfo(sha: string): Promise<CommitInfo | null> {
    if (!isSha(sha)) return null;
    const format = ["%T", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%B"].join("%x00");
    const result = await this.git(["show", "-s", "--no-color", `--format=${format}`, sha, "--"], {
      okCodes: [128],
    });
    if (result.code !== 0) return null;
    const [tree = "", parents = "", an = "", ae = "", ad = "", cn = "", ce = "", cd = "", ...message] =
      result.stdout.toString("utf8").split("\0");
    return {
      tree,
      parents: parents.split(" ").filter(isSha),
      author: { name: an, email: ae, date: ad },
      committer: { name: cn, email: ce, date: cd },
      // `show` ends the message with one newline of its own.
      message: message.join("\0").replace(/\n$/, ""),
    };
  }

  /** What a commit added, removed and modified against its first parent. */
  async commitFiles(sha: string, firstParent: string | null): Promise<CommitFiles> {
    const range = firstParent === null ? ["--root", sha] : [firstParent, sha];
    const result = await this.git([
      "diff-tree",
      "-r",
      "--no-commit-id",
      "--no-renames",
      "--name-status",
      "-z",
      ...range,
    ]);
    const files: CommitFiles = { added: [], removed: [], modified: [] };
    const fields = result.stdout.toString("utf8").split("\0");
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const status = fields[i] ?? "";
      const file = fields[i + 1] ?? "";
      if (status === "A") files.added.push(file);
      else if (status === "D") files.removed.push(file);
      else if (status !== "") files.modified.push(file);
    }
    return files;
  }

  /** A real three-way merge without a worktree: clean → the merged tree. */
  async mergeTree(ours: string, theirs: string): Promise<{ clean: boolean; tree: string | null }> {
    const result = await this.git(["merge-tree", "--write-tree", "--no-messages", ours, theirs], {
      okCodes: [1, 128],
    });
    if (result.code === 128) return { clean: false, tree: null };
    const tree = result.stdout.toString("utf8").split("\n")[0] ?? "";
    return { clean: result.code === 0, tree: result.code === 0 && isSha(tree) ? tree : null };
  }

  async mergeBase(a: string, b: string): Promise<string | null> {
    const result = await this.git(["merge-base", a, b], { okCodes: [1] });
    const sha = result.stdout.toString("utf8").trim();
    return result.code === 0 && isSha(sha) ? sha : null;
  }

  async isAncestor(ancestor: string, of: string): Promise<boolean> {
    const result = await this.git(["merge-base", "--is-ancestor", ancestor, of], { okCodes: [1] });
    return result.code === 0;
  }

  /** Commits reachable from `to` but not from `from`, oldest first. */
  async commitsBetween(from: string, to: string, options: { noMerges?: boolean } = {}): Promise<string[]> {
    const args = ["rev-list", "--reverse", "--topo-order", ...(options.noMerges ? ["--no-merges"] : [])];
    const result = await this.git([...args, `${from}..${to}`]);
    return result.stdout.toString("utf8").split("\n").filter(isSha);
  }

  /** Lines added and removed and files changed from `from` to `to` (binary files count as changed). */
  async diffStats(from: string, to: string): Promise<DiffStats> {
    const result = await this.git(["diff", "--numstat", "-z", "--no-renames", from, to]);
    const stats: DiffStats = { additions: 0, deletions: 0, changedFiles: 0 };
    for (const record of result.stdout.toString("utf8").split("\0")) {
      const match = /^(\d+|-)\t(\d+|-)\t/.exec(record);
      if (!match) continue;
      stats.changedFiles++;
      stats.additions += match[1] === "-" ? 0 : Number(match[1]);
      stats.deletions += match[2] === "-" ? 0 : Number(match[2]);
    }
    return stats;
  }

  async commitTree(
    tree: string,
    parents: readonly string[],
    message: string,
    author: CommitAuthor = SIM_IDENTITY,
  ): Promise<string> {
    const parentArgs = parents.flatMap((parent) => ["-p", parent]);
    const result = await runGit(["commit-tree", tree, ...parentArgs], {
      cwd: this.dir,
      home: this.home,
      input: message,
      env: { GIT_AUTHOR_NAME: author.name, GIT_AUTHOR_EMAIL: author.email },
    });
    return result.stdout.toString("utf8").trim();
  }

  /** Compare-and-swap of a branch: false when someone moved it first. */
  async updateBranch(branch: string, sha: string, expectedOld: string | null): Promise<boolean> {
    checkBranchName(branch);
    const old = expectedOld ?? "0".repeat(40);
    const result = await this.git(["update-ref", `refs/heads/${branch}`, sha, old], { okCodes: [128] });
    return result.code === 0;
  }

  async deleteBranch(branch: string): Promise<void> {
    checkBranchName(branch);
    await this.git(["update-ref", "-d", `refs/heads/${branch}`]);
  }

  /**
   * Replays `commits` onto `onto` (a rebase merge), keeping authors and messages; null when one
   * does not apply. Uses a throw-away worktree: git 2.39's merge-tree cannot take a merge base.
   */
  async replay(onto: string, commits: readonly string[]): Promise<string | null> {
    const scratch = path.join(this.home, "worktrees");
    await mkdir(scratch, { recursive: true });
    const worktree = await mkdtemp(path.join(scratch, "rebase-"));
    await this.git(["worktree", "add", "--quiet", "--detach", worktree, onto]);
    try {
      if (commits.length > 0) {
        const picked = await this.git(["cherry-pick", "--keep-redundant-commits", ...commits], {
          cwd: worktree,
          okCodes: [1],
        });
        if (picked.code !== 0) return null;
      }
      return (await this.git(["rev-parse", "HEAD"], { cwd: worktree })).stdout.toString("utf8").trim();
    } finally {
      await this.git(["worktree", "remove", "--force", worktree], { okCodes: [128] });
      await rm(worktree, { recursive: true, force: true });
      await this.git(["worktree", "prune"]);
    }
  }

  /**
   * Installs (or, with null, removes) a `pre-receive` hook that refuses every push with `reason`:
   * a real hook, so clients see exactly what a server-side refusal looks like.
   */
  async setPushRejection(reason: string | null): Promise<void> {
    const hook = path.join(this.dir, "hooks", "pre-receive");
    const reasonFile = path.join(this.dir, "hooks", "push-rejection.txt");
    if (reason === null) {
      await rm(hook, { force: true });
      await rm(reasonFile, { force: true });
      return;
    }
    await mkdir(path.dirname(hook), { recursive: true });
    await writeFile(reasonFile, reason.endsWith("\n") ? reason : `${reason}\n`);
    await writeFile(hook, '#!/bin/sh\ncat "$(dirname "$0")/push-rejection.txt" >&2\nexit 1\n');
    await chmod(hook, 0o755);
  }
}
