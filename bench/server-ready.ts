/**
 * Benchmark 3: wall time from spawning `node bin/shepherd.js serve` until GET /healthz first
 * answers 200, on a fresh home (database created and migrated) and on an existing one, against
 * a `node -e` bare http server measured the same way.
 */
import { rm } from "node:fs/promises";
import {
  freePort,
  makeTempDir,
  median,
  monotonicMs,
  newReport,
  pollUntilOk,
  spawnBareServer,
  spawnShepherd,
  type BenchmarkReport,
  type ResultRow,
  type SpawnedProcess,
} from "./bench-support.js";

export interface ServerReadyOptions {
  runs: number;
  pollIntervalMs: number;
}

export const SERVER_READY_DEFAULTS: ServerReadyOptions = { runs: 5, pollIntervalMs: 10 };

const READY_TARGET_MS = 1500;

/** Spawns, polls /healthz until 200, stops; returns the ready time in ms. */
async function timeToReady(
  start: (port: number) => SpawnedProcess,
  options: ServerReadyOptions,
): Promise<number> {
  const port = await freePort();
  const started = monotonicMs();
  const spawned = start(port);
  try {
    const ready = await pollUntilOk(`http://127.0.0.1:${port}/healthz`, spawned, {
      intervalMs: options.pollIntervalMs,
      timeoutMs: 30_000,
    });
    return ready - started;
  } finally {
    await spawned.stop();
  }
}

function rows(label: string, ours: number[], bare: number[]): ResultRow[] {
  const target = { op: "<=" as const, value: READY_TARGET_MS, label: "≤ 1,500 ms" };
  return [
    {
      name: `${label}: median`,
      unit: "ms",
      figure: median(ours),
      baseline: median(bare),
      ratioLabel: "ours / bare node -e",
      ratio: median(ours) / median(bare),
      target,
    },
    {
      name: `${label}: max`,
      unit: "ms",
      figure: Math.max(...ours),
      baseline: Math.max(...bare),
      ratioLabel: "ours / bare node -e",
      ratio: Math.max(...ours) / Math.max(...bare),
      target,
    },
  ];
}

export async function runServerReadyBenchmark(options: ServerReadyOptions): Promise<BenchmarkReport> {
  const report = newReport("server-ready", "Server ready time (spawn → first 200 from GET /healthz)");
  const homes: string[] = [];
  const fresh: number[] = [];
  const existing: number[] = [];
  const bare: number[] = [];
  try {
    // One untimed start creates the home the "existing home" runs reuse.
    const existingHome = await makeTempDir("shepherd-bench-ready-");
    homes.push(existingHome);
    await timeToReady((port) => spawnShepherd(existingHome, port), options);
    // Interleaved, so that background load on the machine hits all three alike.
    for (let run = 0; run < options.runs; run++) {
      const freshHome = await makeTempDir("shepherd-bench-ready-");
      homes.push(freshHome);
      fresh.push(await timeToReady((port) => spawnShepherd(freshHome, port), options));
      existing.push(await timeToReady((port) => spawnShepherd(existingHome, port), options));
      bare.push(await timeToReady(spawnBareServer, options));
    }
  } finally {
    for (const home of homes) await rm(home, { recursive: true, force: true });
  }
  report.rows.push(...rows("fresh home (creates and migrates the database)", fresh, bare));
  report.rows.push(...rows("existing home", existing, bare));
  const list = (values: number[]): string => values.map((value) => Math.round(value)).join(", ");
  report.notes.push(
    `runs (ms): fresh home ${list(fresh)}; existing home ${list(existing)}; bare node -e ${list(bare)}`,
  );
  report.method =
    "Wall time from `spawn(node bin/shepherd.js serve --port <free port>)` (the compiled dist/, as a user " +
    "runs it; default configuration and log level; embedded SQLite in `SHEPHERD_HOME`) until " +
    `\`GET /healthz\` first answers 200, polled every ${options.pollIntervalMs} ms with a new connection ` +
    `each time. ${options.runs} runs each, interleaved: a fresh temporary home per run (so the figure ` +
    "includes creating the database, running the migrations and writing the admin token file), and one " +
    "existing home (started once beforehand, untimed). Baseline: `node -e` with a bare `node:http` server " +
    "answering 200, spawned and polled the same way, so Node's own start-up is in both figures. Caveats: the polling interval quantizes every figure to about 10 ms; " +
    "each server is stopped with SIGTERM before the next run starts; the machine's other load is not " +
    "controlled.";
  return report;
}
