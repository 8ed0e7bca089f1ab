import { spawn } from "node:child_process";

/**
 * Runs `git` for the simulator's own work on its bare repositories. The environment is built
 * from scratch: the host's global and system git config, credential helpers and any GIT_* variable
 * of the test process (a hook environment, say) must not leak into the simulated server.
 */

export interface GitResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export class GitCommandError extends Error {
  override name = "GitCommandError";
  constructor(
    readonly args: readonly string[],
    readonly result: GitResult,
  ) {
    super(`git ${args.join(" ")} exited with ${result.code}: ${result.stderr.trim()}`);
  }
}

export const SIM_IDENTITY = { name: "sim", email: "sim@example.com" } as const;

/** A clean environment for git run by the simulator (and for the `git http-backend` it spawns). */
export function gitEnvironment(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    LANG: "C",
    LC_ALL: "C",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_AUTHOR_NAME: SIM_IDENTITY.name,
    GIT_AUTHOR_EMAIL: SIM_IDENTITY.email,
    GIT_COMMITTER_NAME: SIM_IDENTITY.name,
    GIT_COMMITTER_EMAIL: SIM_IDENTITY.email,
    ...extra,
  };
}

export interface GitRunOptions {
  cwd: string;
  home: string;
  input?: string | Buffer;
  env?: Record<string, string>;
  /** Exit codes that are answers rather than failures (e.g. 1 for `merge-tree` conflicts). */
  okCodes?: readonly number[];
}

export async function runGit(args: readonly string[], options: GitRunOptions): Promise<GitResult> {
  const child = spawn("git", args, {
    cwd: options.cwd,
    env: gitEnvironment(options.home, options.env),
    stdio: ["pipe", "pipe", "pipe"],
  });
  const stdout: Buffer[] = [];
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => (stderr += chunk));
  // A git that exits before reading all its input makes stdin emit EPIPE; the exit code tells.
  child.stdin.on("error", () => undefined);
  child.stdin.end(options.input ?? "");
  const code = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (exitCode) => resolve(exitCode ?? -1));
  });
  const result = { code, stdout: Buffer.concat(stdout), stderr };
  if (code !== 0 && !(options.okCodes ?? []).includes(code)) throw new GitCommandError(args, result);
  return result;
}
