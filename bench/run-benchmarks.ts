/**
 * `npm run bench`: runs every benchmark in sequence, prints a summary table, and writes
 * docs/performance.md (generated; overwritten on each run).
 *
 * Flags (for development): `--quick` uses small sizes and does not write docs/performance.md;
 * `--only=<id>[,<id>…]` runs some benchmarks (event-append, sse-delivery, server-ready, idle-rss, pr-open,
 * observer).
 * Exit code 1 when a benchmark could not run or lost events; a missed target is reported, not fatal.
 */
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { monotonicMs, newReport, REPO_ROOT, type BenchmarkReport } from "./bench-support.js";
import { EVENT_APPEND_DEFAULTS, runEventAppendBenchmark } from "./event-append.js";
import { IDLE_RSS_DEFAULTS, runIdleRssBenchmark } from "./idle-rss.js";
import { loadAverage, machineFacts } from "./machine-facts.js";
import { BENCH_PG_URL } from "./postgres-target.js";
import { renderConsole, renderMarkdown } from "./report.js";
import { OBSERVER_DEFAULTS, OBSERVER_QUICK, runObserverBenchmark } from "./observer.js";
import { PR_OPEN_DEFAULTS, runPrOpenBenchmark } from "./pr-open.js";
import { runServerReadyBenchmark, SERVER_READY_DEFAULTS } from "./server-ready.js";
import { runSseDeliveryBenchmark, SSE_DELIVERY_DEFAULTS } from "./sse-delivery.js";

const OUTPUT = path.join(REPO_ROOT, "docs", "performance.md");

interface Benchmark {
  id: string;
  title: string;
  run(): Promise<BenchmarkReport>;
}

function parseArgs(argv: readonly string[]): { quick: boolean; only: Set<string> | null } {
  let quick = false;
  let only: Set<string> | null = null;
  for (const arg of argv) {
    if (arg === "--quick") quick = true;
    else if (arg.startsWith("--only=")) only = new Set(arg.slice("--only=".length).split(","));
    else throw new Error(`unknown argument ${arg} (known: --quick, --only=<id>[,<id>…])`);
  }
  return { quick, only };
}

function benchmarks(quick: boolean): Benchmark[] {
  return [
    {
      id: "event-append",
      title: "Event appends per second",
      run: () =>
        runEventAppendBenchmark({
          ...(quick ? { roundMs: 300, rounds: 1, warmupMs: 100 } : EVENT_APPEND_DEFAULTS),
          postgresUrl: BENCH_PG_URL,
        }),
    },
    {
      id: "sse-delivery",
      title: "SSE delivery latency",
      run: () =>
        runSseDeliveryBenchmark(
          quick
            ? { ...SSE_DELIVERY_DEFAULTS, clients: 100, events: 50, warmupEvents: 5 }
            : SSE_DELIVERY_DEFAULTS,
        ),
    },
    {
      id: "server-ready",
      title: "Server ready time",
      run: () =>
        runServerReadyBenchmark(quick ? { ...SERVER_READY_DEFAULTS, runs: 2 } : SERVER_READY_DEFAULTS),
    },
    {
      id: "idle-rss",
      title: "Idle RSS",
      run: () => runIdleRssBenchmark(quick ? { idleMs: 1000 } : IDLE_RSS_DEFAULTS),
    },
    {
      id: "pr-open",
      title: "Opening pull requests",
      run: () => runPrOpenBenchmark(quick ? { sequential: 5, repos: 3, perRepo: 3 } : PR_OPEN_DEFAULTS),
    },
    {
      id: "observer",
      title: "PR observer: GitHub budget and reaction latency",
      run: () => runObserverBenchmark(quick ? OBSERVER_QUICK : OBSERVER_DEFAULTS),
    },
  ];
}

async function main(): Promise<number> {
  const { quick, only } = parseArgs(process.argv.slice(2));
  if (!existsSync(path.join(REPO_ROOT, "dist", "cli", "main.js"))) {
    process.stderr.write("dist/ is missing: run `npm run bench` (it builds first) or `npm run build`\n");
    return 1;
  }
  const started = monotonicMs();
  const loadBefore = loadAverage();
  const facts = await machineFacts(BENCH_PG_URL);
  process.stdout.write(
    `Shepherd benchmarks on ${facts.cpuModel} × ${facts.cores}, ${facts.memoryGiB.toFixed(1)} GiB, ` +
      `Node ${facts.node}; PostgreSQL: ${facts.postgres}\nload average: ${loadBefore}\n`,
  );
  const selected = benchmarks(quick).filter((benchmark) => only === null || only.has(benchmark.id));
  if (only !== null && selected.length !== only.size) {
    throw new Error(
      `unknown benchmark id in --only (known: ${benchmarks(quick)
        .map((b) => b.id)
        .join(", ")})`,
    );
  }

  const reports: BenchmarkReport[] = [];
  let peakLoad = Number(loadBefore.split(",")[0]);
  for (const benchmark of selected) {
    process.stdout.write(`\n▶ ${benchmark.title} (${benchmark.id})… `);
    const start = monotonicMs();
    let report: BenchmarkReport;
    try {
      report = await benchmark.run();
    } catch (error) {
      report = newReport(benchmark.id, benchmark.title);
      report.failures.push(`could not run: ${(error as Error).stack ?? String(error)}`);
    }
    const load = loadAverage();
    peakLoad = Math.max(peakLoad, Number(load.split(",")[0]));
    report.notes.push(`load average (1, 5, 15 min) when this benchmark finished: ${load}`);
    reports.push(report);
    process.stdout.write(`${((monotonicMs() - start) / 1000).toFixed(1)} s, load average ${load}\n`);
    for (const notice of report.notices) process.stdout.write(`  NOTICE: ${notice}\n`);
    for (const failure of report.failures) process.stdout.write(`  FAILURE: ${failure}\n`);
    for (const note of report.notes) process.stdout.write(`  ${note}\n`);
  }

  const loadAfter = loadAverage();
  const run = {
    facts,
    command: "npm run bench",
    loadBefore,
    loadAfter,
    peakLoad: Math.max(peakLoad, Number(loadAfter.split(",")[0])),
    durationS: (monotonicMs() - started) / 1000,
  };
  process.stdout.write(renderConsole(run, reports));
  if (quick || only !== null) {
    process.stdout.write(`(--quick/--only: ${path.relative(REPO_ROOT, OUTPUT)} left as it was)\n`);
  } else {
    await writeFile(OUTPUT, renderMarkdown(run, reports));
    process.stdout.write(`wrote ${path.relative(REPO_ROOT, OUTPUT)}\n`);
  }
  const failed = reports.some((report) => report.failures.length > 0);
  if (failed) process.stdout.write("\nBENCHMARK RUN FAILED: see the FAILURE lines above.\n");
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
