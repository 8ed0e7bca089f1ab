import { spawn } from "node:child_process";

export interface GitIdentity {
  name: string;
  email: string;
}

/** Credentials for one remote: sent as an HTTP header through the environment, nowhere else. */
export interface GitAuth {
  /** The remote's base URL, e.g. `https://github.com` (the header is scoped to it). */
  remoteBase: string;
  token: string;
}

export interface GitRunOptions {
  cwd: string;
  auth?: GitAuth | undefined;
  timeoutMs?: number;
}

export interface GitResult {
  stdout: string;
  stderr: string;
}

/** What a runner reports about each git process (metrics; tests assert serialization with it). */
export interface GitObserver {
  started?(cwd: string, args: readonly string[]): void;
  finished?(
    cwd: string,
    args: readonly string[],
    outcome: "ok" | "failed" | "timed_out",
    durationMs: number,
  ): void;
}

export class GitError extends Error {
  override name = "GitError";
  constructor(
    message: string,
    /** The git subcommand, e.g. `push`. */
    readonly command: string,
    readonly exitCode: number | null,
    /** Redacted stderr (or stdout when stderr is empty). */
    readonly output: string,
    readonly timedOut: boolean,
  ) {
    super(message);
  }
}

export interface GitRunnerOptions {
  identity: GitIdentity;
  /** Applied to every text a GitError carries. */
  redact: (text: string) => string;
  /** An empty directory used as HOME, so no user's ~/.gitconfig or credential store is read. */
  homeDir: string;
  defaultTimeoutMs?: number;
  observer?: GitObserver;
}

const MAX_OUTPUT = 64 * 1024;

/** `Authorization: basic base64(x-access-token:<token>)`, which GitHub and GHES accept for any token kind. */
function authorizationHeader(token: string): string {
  return `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}`;
}

/**
 * Runs git the token-safe way (SPEC C3 step 4): argument arrays (no shell); auth only through
 * GIT_CONFIG_COUNT/KEY/VALUE as an `http.<remote>.extraheader`, so the token is never in argv,
 * a remote URL or `.git/config`; no prompts, no credential helpers, no system or global config;
 * the bot identity from settings; a timeout that kills git and its helpers.
 */
export class GitRunner {
  readonly #options: GitRunnerOptions;

  constructor(options: GitRunnerOptions) {
    this.#options = options;
  }

  environment(auth: GitAuth | undefined): NodeJS.ProcessEnv {
    const { identity, homeDir } = this.#options;
    const config: [string, string][] = [
      // An empty helper list: git never asks a credential helper (or a keychain) for anything.
      ["credential.helper", ""],
      ["core.askPass", ""],
    ];
    if (auth)
      config.push([
        `http.${auth.remoteBase.replace(/\/+$/, "")}/.extraheader`,
        authorizationHeader(auth.token),
      ]);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: homeDir,
      LANG: "C",
      LC_ALL: "C",
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_TERMINAL_PROMPT: "0",
      GIT_ASKPASS: "",
      SSH_ASKPASS: "",
      GCM_INTERACTIVE: "never",
      GIT_AUTHOR_NAME: identity.name,
      GIT_AUTHOR_EMAIL: identity.email,
      GIT_COMMITTER_NAME: identity.name,
      GIT_COMMITTER_EMAIL: identity.email,
      GIT_CONFIG_COUNT: String(config.length),
    };
    config.forEach(([key, value], index) => {
      env[`GIT_CONFIG_KEY_${index}`] = key;
      env[`GIT_CONFIG_VALUE_${index}`] = value;
    });
    return env;
  }

  run(args: readonly string[], options: GitRunOptions): Promise<GitResult> {
    const { observer, redact } = this.#options;
    const timeoutMs = options.timeoutMs ?? this.#options.defaultTimeoutMs ?? 120_000;
    const command = args.find((arg) => !arg.startsWith("-")) ?? "git";
    const started = Date.now();
    observer?.started?.(options.cwd, args);
    return new Promise((resolve, reject) => {
      // Its own process group, so a timeout also kills git-remote-http and friends.
      const child = spawn("git", args, {
        cwd: options.cwd,
        env: this.environment(options.auth),
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      let stdout = "";
      let stderr = "";
      let timedOut = false;
      child.stdout.on("data", (chunk: Buffer) => {
        if (stdout.length < MAX_OUTPUT) stdout += chunk.toString("utf8");
      });
      child.stderr.on("data", (chunk: Buffer) => {
        if (stderr.length < MAX_OUTPUT) stderr += chunk.toString("utf8");
      });
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
      }, timeoutMs);
      let finished = false;
      const finish = (code: number | null, spawnError?: Error): void => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        const outcome = timedOut ? "timed_out" : code === 0 ? "ok" : "failed";
        observer?.finished?.(options.cwd, args, outcome, Date.now() - started);
        if (outcome === "ok") {
          resolve({ stdout, stderr });
          return;
        }
        const output = redact((stderr.trim() || stdout.trim() || spawnError?.message || "").slice(0, 4000));
        const reason = timedOut
          ? `timed out after ${Math.round(timeoutMs / 1000)} s`
          : `exited ${code ?? "abnormally"}`;
        reject(new GitError(`git ${command} ${reason}: ${output}`, command, code, output, timedOut));
      };
      child.on("error", (error) => finish(null, error));
      child.on("close", (code) => finish(code));
    });
  }
}
