import { mkdir, stat } from "node:fs/promises";
import path from "node:path";
import { GitError, type GitAuth, type GitRunner } from "../../git/git-runner.js";
import { isSafeRefName } from "../../git/repo-clone.js";
import { repoPathProblem } from "../../domain/repo-path.js";

/** What an agent may read of one file, and how many matches a search returns at most. */
/** Within what the git runner keeps of a command's output (64 KiB). */
export const READ_MAX_BYTES = 60 * 1024;
export const SEARCH_MAX_MATCHES = 100;

export class RepoReadError extends Error {
  override name = "RepoReadError";
}

export interface RepoTarget {
  repoId: string;
  /** Remote URL without credentials. */
  remoteUrl: string;
  auth: GitAuth;
}

/**
 * Read-only access to a repository for agents (`read_file`, `search_code`): a bare mirror per
 * repo under `<home>/mirrors`, separate from the PR worker's working clones, read with
 * `git show` / `git grep` on a fetched ref. Nothing is ever checked out, so no path an agent
 * names can reach the file system; paths are checked like a proposal's (repo-relative, no `..`).
 */
export class RepoReader {
  constructor(
    private readonly runner: GitRunner,
    private readonly mirrorsDir: string,
  ) {}

  #dir(repoId: string): string {
    return path.join(this.mirrorsDir, `${repoId}.git`);
  }

  async #fetch(target: RepoTarget, ref: string): Promise<string> {
    if (!isSafeRefName(ref)) throw new RepoReadError(`"${ref}" is not a valid branch name`);
    const dir = this.#dir(target.repoId);
    const exists = await stat(path.join(dir, "HEAD")).then(
      () => true,
      () => false,
    );
    if (!exists) {
      await mkdir(this.mirrorsDir, { recursive: true, mode: 0o700 });
      await this.runner.run(["init", "--bare", "--quiet", dir], { cwd: this.mirrorsDir });
    }
    const local = `refs/shepherd/${ref}`;
    try {
      await this.runner.run(
        ["fetch", "--no-tags", "--depth=1", "--", target.remoteUrl, `+refs/heads/${ref}:${local}`],
        { cwd: dir, auth: target.auth },
      );
    } catch (error) {
      if (error instanceof GitError) throw new RepoReadError(`branch "${ref}" could not be fetched`);
      throw error;
    }
    return local;
  }

  async readFile(
    target: RepoTarget,
    ref: string,
    filePath: string,
  ): Promise<{ path: string; ref: string; content: string; truncated: boolean }> {
    const problem = repoPathProblem(filePath);
    if (problem) throw new RepoReadError(`"${filePath}" is not a path inside the repository`);
    const local = await this.#fetch(target, ref);
    const dir = this.#dir(target.repoId);
    let size: number;
    try {
      const type = (
        await this.runner.run(["cat-file", "-t", `${local}:${filePath}`], { cwd: dir })
      ).stdout.trim();
      if (type !== "blob") throw new RepoReadError(`"${filePath}" is a directory, not a file`);
      size = Number(
        (await this.runner.run(["cat-file", "-s", `${local}:${filePath}`], { cwd: dir })).stdout.trim(),
      );
    } catch (error) {
      if (error instanceof GitError) throw new RepoReadError(`"${filePath}" does not exist on ${ref}`);
      throw error;
    }
    const { stdout } = await this.runner.run(["cat-file", "blob", `${local}:${filePath}`], { cwd: dir });
    if (stdout.includes("\u0000")) throw new RepoReadError(`"${filePath}" is a binary file`);
    const truncated = size > READ_MAX_BYTES;
    return { path: filePath, ref, content: truncated ? stdout.slice(0, READ_MAX_BYTES) : stdout, truncated };
  }

  async search(
    target: RepoTarget,
    ref: string,
    query: string,
    pathPrefix: string | null,
  ): Promise<{ matches: { path: string; line: number; text: string }[]; truncated: boolean }> {
    if (query.length === 0 || query.length > 200)
      throw new RepoReadError("the query must be 1–200 characters");
    if (pathPrefix !== null && repoPathProblem(pathPrefix)) {
      throw new RepoReadError(`"${pathPrefix}" is not a path inside the repository`);
    }
    const local = await this.#fetch(target, ref);
    const args = ["grep", "-n", "-I", "--fixed-strings", "--full-name", "-e", query, local, "--"];
    if (pathPrefix !== null) args.push(pathPrefix);
    let stdout: string;
    try {
      stdout = (await this.runner.run(args, { cwd: this.#dir(target.repoId) })).stdout;
    } catch (error) {
      // git grep exits 1 when nothing matches.
      if (error instanceof GitError && error.exitCode === 1) return { matches: [], truncated: false };
      throw error;
    }
    const prefix = `${local}:`;
    const lines = stdout.split("\n").filter(Boolean);
    const matches = lines.slice(0, SEARCH_MAX_MATCHES).flatMap((line) => {
      const rest = line.startsWith(prefix) ? line.slice(prefix.length) : line;
      const match = /^(.*?):(\d+):(.*)$/.exec(rest);
      return match
        ? [{ path: match[1] ?? "", line: Number(match[2]), text: (match[3] ?? "").slice(0, 400) }]
        : [];
    });
    return { matches, truncated: lines.length > SEARCH_MAX_MATCHES };
  }
}
