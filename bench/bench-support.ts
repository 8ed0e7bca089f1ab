/**
 * Shared pieces of the benchmark suite: the result model every benchmark returns, statistics,
 * clocks, temporary directories, free ports and child processes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const SHEPHERD_BIN = path.join(REPO_ROOT, "bin", "shepherd.js");

/** A SPEC target: the figure must be at least / at most `value`. */
export interface Target {
  op: ">=" | "<=";
  value: number;
  /** How the target reads in the tables, e.g. "≥ 20,000 events/s". */
  label: string;
}

/** One measured figure, its baseline from the same run, and the ratio between them. */
export interface ResultRow {
  name: string;
  unit: string;
  figure: number;
  baseline: number;
  /** What the ratio is, e.g. "ours / raw driver". */
  ratioLabel: string;
  /** figure / baseline. */
  ratio: number;
  /** Digits shown for the figure and the baseline. */
  digits?: number;
  target?: Target;
}

export interface BenchmarkReport {
  id: string;
  title: string;
  rows: ResultRow[];
  /** The "how measured / caveats" paragraph of docs/performance.md. */
  method: string;
  /** Extra facts worth keeping with the figures (sample counts, peak RSS, …). */
  notes: string[];
  /** Said loudly: a part that was skipped (e.g. PostgreSQL unreachable). */
  notices: string[];
  /** Anything here fails the run (exit code 1): lost events, a benchmark that could not run. */
  failures: string[];
}

export function newReport(id: string, title: string): BenchmarkReport {
  return { id, title, rows: [], method: "", notes: [], notices: [], failures: [] };
}

/** true = target met, false = missed, null = no target. */
export function meetsTarget(row: ResultRow): boolean | null {
  if (!row.target) return null;
  return row.target.op === ">=" ? row.figure >= row.target.value : row.figure <= row.target.value;
}

/** Milliseconds on the system-wide monotonic clock (CLOCK_MONOTONIC): comparable across processes. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export function formatNumber(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return String(value);
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatRatio(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return `${value.toFixed(value >= 10 ? 1 : 2)}×`;
}

export function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** A TCP port that was free a moment ago (the OS picks it; the socket is closed again). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Our environment without SHEPHERD_* settings or NODE_OPTIONS (tsx must not leak into children). */
export function cleanChildEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith("SHEPHERD_") || key === "NODE_OPTIONS") continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** A spawned process with its output kept (for error messages) and a way to wait for its exit. */
export interface SpawnedProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnProcess(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): SpawnedProcess {
  const child = spawn(command, args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env ?? cleanChildEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer): void => {
    output += chunk.toString("utf8");
    if (output.length > 20_000) output = output.slice(-10_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    output: () => output,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** One GET; resolves with the status code, or null when the connection failed. */
export function httpStatus(url: string, timeoutMs = 1000): Promise<number | null> {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false, timeout: timeoutMs }, (response) => {
      response.resume();
      resolve(response.statusCode ?? null);
    });
    request.on("timeout", () => request.destroy());
    request.on("error", () => resolve(null));
  });
}

/**
 * Polls `url` every `intervalMs` until it answers 200; fails if the process exits first or after
 * `timeoutMs`. Returns the monotonic time of the first 200.
 */
export async function pollUntilOk(
  url: string,
  spawned: SpawnedProcess,
  options: { intervalMs: number; timeoutMs: number },
): Promise<number> {
  let exited = false;
  void spawned.exited.then(() => (exited = true));
  const deadline = monotonicMs() + options.timeoutMs;
  for (;;) {
    const status = await httpStatus(url, 1000);
    if (status === 200) return monotonicMs();
    if (exited) throw new Error(`process exited before ${url} answered 200:\n${spawned.output()}`);
    if (monotonicMs() > deadline) {
      throw new Error(`${url} did not answer 200 within ${options.timeoutMs} ms:\n${spawned.output()}`);
    }
    await sleep(options.intervalMs);
  }
}

/** Resident set size of a process in MB (VmRSS, or another field of /proc/<pid>/status). */
export async function readProcStatusMb(pid: number, field = "VmRSS"): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

/** A bare node:http server answering 200 on every path, as a `node -e` script (the baseline process). */
export function bareHttpServerScript(port: number): string {
  return (
    `require("node:http").createServer((q, s) => { s.writeHead(200, {"content-type": "application/json"}); ` +
    `s.end('{"status":"ok"}'); }).listen(${port}, "127.0.0.1");`
  );
}

/** `node bin/shepherd.js serve --port <port>` as a user starts it, with its own home. */
export function spawnShepherd(home: string, port: number): SpawnedProcess {
  return spawnProcess(process.execPath, [SHEPHERD_BIN, "serve", "--port", String(port)], {
    env: cleanChildEnv({ SHEPHERD_HOME: home }),
  });
}

/** `node -e` with a bare node:http server on `port`: the baseline process. */
export function spawnBareServer(port: number): SpawnedProcess {
  return spawnProcess(process.execPath, ["-e", bareHttpServerScript(port)]);
}
