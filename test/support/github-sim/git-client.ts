import { spawn } from "node:child_process";

/**
 * A real `git` client for tests, authenticated the way Shepherd does it: an Authorization header
 * given as configuration (`-c http.extraHeader=…`), never a URL with credentials, with prompts
 * and credential helpers off so a refusal fails at once instead of asking for a password.
 */

export interface GitRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The header value GitHub accepts for git over HTTPS with a token. */
export function basicAuthHeader(token: string): string {
  return `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}`;
}

export interface GitClientOptions {
  cwd: string;
  /** HOME for git (an empty temporary directory keeps the host's config out). */
  home: string;
  /** The token to authenticate with; null sends no credentials. */
  token: string | null;
  /** A raw `http.extraHeader` value instead of the token (for malformed credentials). */
  header?: string;
  /** Extra environment (e.g. GIT_TRACE_CURL). */
  env?: Record<string, string>;
}

export async function runGitClient(args: readonly string[], options: GitClientOptions): Promise<GitRun> {
  const header = options.header ?? (options.token === null ? null : basicAuthHeader(options.token));
  const config = [
    "-c",
    "credential.helper=",
    "-c",
    "user.name=Test Author",
    "-c",
    "user.email=test@example.com",
    "-c",
    "init.defaultBranch=main",
    ...(header === null ? [] : ["-c", `http.extraHeader=${header}`]),
  ];
  const child = spawn("git", [...config, ...args], {
    cwd: options.cwd,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: options.home,
      LANG: "C",
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_TERMINAL_PROMPT: "0",
      GIT_ASKPASS: "/bin/false",
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => (stdout += chunk));
  child.stderr.on("data", (chunk: string) => (stderr += chunk));
  const code = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (exitCode) => resolve(exitCode ?? -1));
  });
  return { code, stdout, stderr };
}

/** Like `runGitClient`, failing with git's output when it exits non-zero. */
export async function gitClient(args: readonly string[], options: GitClientOptions): Promise<string> {
  const result = await runGitClient(args, options);
  if (result.code !== 0) throw new Error(`git ${args.join(" ")} failed (${result.code}):\n${result.stderr}`);
  return result.stdout;
}
