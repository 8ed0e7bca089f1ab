import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "./wait-for.js";

/**
 * Helpers for end-to-end tests that drive Shepherd as a user does: real `shepherd serve`
 * processes, the real CLI (`node bin/shepherd.js …`, i.e. the compiled dist/), plain HTTP.
 * Every process and temporary directory made here is tracked; call `cleanupAll` in afterEach.
 */

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const SHEPHERD_BIN = path.join(REPO_ROOT, "bin", "shepherd.js");
/** SPEC C1: graceful shutdown on SIGINT/SIGTERM within 10 s. */
export const SHUTDOWN_BOUND_MS = 10_000;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliResult extends ExitInfo {
  stdout: string;
  stderr: string;
}

const liveProcesses = new Set<ManagedProcess>();
const tempDirs = new Set<string>();
const extraCleanups: (() => unknown)[] = [];

/** The environment of a child: ours without any SHEPHERD_* setting, plus `extra` (undefined deletes). */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith("SHEPHERD_") || key.startsWith("VITEST") || key === "NODE_OPTIONS") continue;
    env[key] = value;
  }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** A child process (leader of its own process group) with its output collected as text. */
export class ManagedProcess {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  exitInfo: ExitInfo | null = null;
  /** Resolves when the process has exited (its output may still be draining). */
  readonly exited: Promise<ExitInfo>;
  /** Resolves when the process has exited and every holder of its stdout/stderr has closed them. */
  readonly closed: Promise<ExitInfo>;

  constructor(
    readonly label: string,
    command: string,
    args: readonly string[],
    options: { cwd: string; env: NodeJS.ProcessEnv },
  ) {
    this.child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so that cleanup reaches grandchildren (npm → node) too.
      detached: true,
    });
    liveProcesses.add(this);
    this.child.stdout?.setEncoding("utf8");
    this.child.stderr?.setEncoding("utf8");
    this.child.stdout?.on("data", (chunk: string) => (this.stdout += chunk));
    this.child.stderr?.on("data", (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
      this.child.once("error", (error) => {
        this.stderr += `\n[spawn error: ${error.message}]`;
        this.exitInfo ??= { code: null, signal: null };
        resolve(this.exitInfo);
      });
    });
    this.closed = new Promise((resolve) => {
      this.child.once("close", (code, signal) => {
        liveProcesses.delete(this);
        this.exitInfo ??= { code, signal };
        resolve(this.exitInfo);
      });
      this.child.once("error", () => {
        liveProcesses.delete(this);
        resolve(this.exitInfo ?? { code: null, signal: null });
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  /** stdout and stderr, labelled, for failure messages. */
  describe(): string {
    const tail = (text: string): string => (text.length > 4000 ? `…${text.slice(-4000)}` : text);
    return (
      `[${this.label}] exit=${JSON.stringify(this.exitInfo)}\n` +
      `--- stdout ---\n${tail(this.stdout)}\n--- stderr ---\n${tail(this.stderr)}`
    );
  }

  /** Waits until `pattern` matches the chosen output; fails if the process exits first. */
  async waitForOutput(
    pattern: RegExp,
    options: { stream?: "stdout" | "stderr" | "both"; timeoutMs?: number } = {},
  ): Promise<RegExpMatchArray> {
    const stream = options.stream ?? "both";
    const text = (): string =>
      stream === "stdout"
        ? this.stdout
        : stream === "stderr"
          ? this.stderr
          : `${this.stdout}\n${this.stderr}`;
    try {
      return await waitFor(
        () => {
          const match = pattern.exec(text());
          if (match) return match;
          if (!this.running) throw new Error(`exited before printing ${String(pattern)}`);
          return null;
        },
        { timeoutMs: options.timeoutMs ?? 30_000, intervalMs: 25, message: String(pattern) },
      );
    } catch (error) {
      throw new Error(`${this.label}: ${(error as Error).message}\n${this.describe()}`, { cause: error });
    }
  }

  /** Sends a signal to the process itself, or (`group`) to its whole process group, like a terminal. */
  signal(signal: NodeJS.Signals, options: { group?: boolean } = {}): void {
    if (!this.running) return;
    try {
      process.kill(options.group ? -this.pid : this.pid, signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
  }

  /** The exit, or null if the process is still running after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<ExitInfo | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for the output pipes to close (after exit), at most `timeoutMs`. */
  async drain(timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** SIGKILLs the whole process group (if still there) and waits for it. */
  async kill(): Promise<void> {
    if (this.pid > 0) {
      try {
        process.kill(-this.pid, "SIGKILL");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
      }
    }
    await this.drain(5000);
    liveProcesses.delete(this);
  }
}

/** A fresh temporary directory, removed by `cleanupAll`. */
export async function tempDir(prefix = "shepherd-e2e-"): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** A home path that does not exist yet (inside a fresh temporary directory). */
export async function newHome(): Promise<string> {
  return path.join(await tempDir(), "home");
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Runs something else at cleanup time (a net.Server, a WebSocket, a test database…). */
export function onCleanup(cleanup: () => unknown): void {
  extraCleanups.push(cleanup);
}

export interface ShepherdTarget {
  home: string;
  port?: number;
  /** Extra environment; undefined values remove a variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
}

function shepherdEnv(target: ShepherdTarget): NodeJS.ProcessEnv {
  return childEnv({
    SHEPHERD_HOME: target.home,
    ...(target.port === undefined ? {} : { SHEPHERD_PORT: String(target.port) }),
    ...target.env,
  });
}

/** Starts `node bin/shepherd.js <args>` and returns at once (for long-running commands). */
export function spawnCli(args: readonly string[], target: ShepherdTarget, label?: string): ManagedProcess {
  return new ManagedProcess(
    label ?? `shepherd ${args.join(" ")}`,
    process.execPath,
    [SHEPHERD_BIN, ...args],
    {
      cwd: target.cwd ?? path.dirname(target.home),
      env: shepherdEnv(target),
    },
  );
}

/** Runs `shepherd <args>` to completion. */
export async function runCli(
  args: readonly string[],
  target: ShepherdTarget,
  options: { timeoutMs?: number } = {},
): Promise<CliResult> {
  const proc = spawnCli(args, target);
  const timeoutMs = options.timeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([
    proc.closed.then(() => true),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (!done) {
    await proc.kill();
    throw new Error(`shepherd ${args.join(" ")} did not finish within ${timeoutMs} ms\n${proc.describe()}`);
  }
  const exit = proc.exitInfo ?? { code: null, signal: null };
  return { ...exit, stdout: proc.stdout, stderr: proc.stderr };
}

export interface ServerOptions {
  home?: string;
  port?: number;
  role?: "api" | "worker" | "all";
  env?: Record<string, string | undefined>;
  /** Extra arguments after `serve`. */
  args?: readonly string[];
  readyTimeoutMs?: number;
}

export interface ShepherdServer {
  proc: ManagedProcess;
  home: string;
  port: number;
  /** The listening URL it printed (null for a worker). */
  url: string | null;
  /** The target for CLI commands against this server (same home, port and environment). */
  target: ShepherdTarget;
}

/** Spawns `shepherd serve` without waiting (for tests that expect it to refuse to start). */
export function spawnServer(options: ServerOptions & { home: string; port: number }): ManagedProcess {
  const args = ["serve", ...(options.role ? ["--role", options.role] : []), ...(options.args ?? [])];
  return spawnCli(
    args,
    { home: options.home, port: options.port, env: options.env },
    `serve:${options.port}`,
  );
}

/**
 * Starts `shepherd serve` on a temporary home (unless given) and a free port (unless given), and
 * waits until it prints "listening on" (a worker: "running"). Fails with its output if it exits.
 */
export async function startServer(options: ServerOptions = {}): Promise<ShepherdServer> {
  const home = options.home ?? (await newHome());
  const port = options.port ?? (await freePort());
  const proc = spawnServer({ ...options, home, port });
  const ready = options.role === "worker" ? /\(worker\) running/ : /listening on (http:\/\/\S+)/;
  const match = await proc.waitForOutput(ready, { stream: "stderr", timeoutMs: options.readyTimeoutMs });
  return {
    proc,
    home,
    port,
    url: match[1] ?? null,
    target: { home, port, env: options.env },
  };
}

/**
 * Sends `signal` and waits for the exit, at most the spec's shutdown bound. Returns the exit, or
 * null if the process was still running at the deadline (then it is killed).
 */
export async function stopWithin(
  proc: ManagedProcess,
  signal: NodeJS.Signals = "SIGTERM",
  boundMs = SHUTDOWN_BOUND_MS,
): Promise<ExitInfo | null> {
  proc.signal(signal);
  const exit = await proc.waitForExit(boundMs);
  if (exit === null) await proc.kill();
  else await proc.drain();
  return exit;
}

/** Kills every process still running, runs the extra cleanups and removes the temporary directories. */
export async function cleanupAll(): Promise<void> {
  const procs = [...liveProcesses];
  await Promise.all(procs.map((proc) => proc.kill()));
  const cleanups = extraCleanups.splice(0).reverse();
  for (const cleanup of cleanups) {
    try {
      await cleanup();
    } catch {
      // Best effort: one failing cleanup must not keep the others from running.
    }
  }
  const dirs = [...tempDirs];
  tempDirs.clear();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}

// Last resort if the test worker exits without running afterEach: do not leave servers behind.
process.once("exit", () => {
  for (const proc of liveProcesses) {
    try {
      process.kill(-proc.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
});
