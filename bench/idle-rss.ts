/**
 * Benchmark 4: resident memory of an idle server (VmRSS from /proc/<pid>/status), against a bare
 * `node -e` http server read the same way.
 */
import { rm } from "node:fs/promises";
import {
  freePort,
  makeTempDir,
  newReport,
  pollUntilOk,
  readProcStatusMb,
  sleep,
  spawnBareServer,
  spawnShepherd,
  type BenchmarkReport,
  type SpawnedProcess,
} from "./bench-support.js";

export interface IdleRssOptions {
  idleMs: number;
}

export const IDLE_RSS_DEFAULTS: IdleRssOptions = { idleMs: 5000 };

const RSS_TARGET_MB = 150;

async function startReady(start: (port: number) => SpawnedProcess): Promise<SpawnedProcess> {
  const port = await freePort();
  const spawned = start(port);
  try {
    await pollUntilOk(`http://127.0.0.1:${port}/healthz`, spawned, { intervalMs: 10, timeoutMs: 30_000 });
  } catch (error) {
    await spawned.stop();
    throw error;
  }
  return spawned;
}

export async function runIdleRssBenchmark(options: IdleRssOptions): Promise<BenchmarkReport> {
  const report = newReport("idle-rss", "Idle resident memory (VmRSS)");
  const home = await makeTempDir("shepherd-bench-rss-");
  let ours: SpawnedProcess | null = null;
  let bare: SpawnedProcess | null = null;
  try {
    ours = await startReady((port) => spawnShepherd(home, port));
    bare = await startReady(spawnBareServer);
    // Both idle side by side for the same time.
    await sleep(options.idleMs);
    const oursPid = ours.child.pid as number;
    const barePid = bare.child.pid as number;
    const oursRss = await readProcStatusMb(oursPid);
    const bareRss = await readProcStatusMb(barePid);
    const oursPeak = await readProcStatusMb(oursPid, "VmHWM");
    const barePeak = await readProcStatusMb(barePid, "VmHWM");
    report.rows.push({
      name: "idle server, fresh home",
      unit: "MB",
      figure: oursRss,
      baseline: bareRss,
      ratioLabel: "ours / bare node -e",
      ratio: oursRss / bareRss,
      digits: 1,
      target: { op: "<=", value: RSS_TARGET_MB, label: "≤ 150 MB" },
    });
    report.notes.push(
      `peak RSS so far (VmHWM): Shepherd ${oursPeak.toFixed(1)} MB, bare node -e ${barePeak.toFixed(1)} MB`,
    );
  } finally {
    await ours?.stop();
    await bare?.stop();
    await rm(home, { recursive: true, force: true });
  }
  report.method =
    "`node bin/shepherd.js serve` on a fresh temporary home (default configuration, embedded SQLite) " +
    "and the baseline `node -e` bare `node:http` server are started as in the ready-time benchmark, " +
    `both wait until \`/healthz\` answers 200, then idle side by side for ${options.idleMs / 1000} s ` +
    "(no requests apart from the readiness polls); then VmRSS is read from `/proc/<pid>/status` of each " +
    "node process (MB = 1,024 kB × 1,024). Caveats: RSS counts shared pages (the node binary, shared " +
    `libraries) once per process, and V8 may not have collected start-up garbage after ${options.idleMs / 1000} s idle; the ` +
    "figure is one reading, not a distribution.";
  return report;
}
