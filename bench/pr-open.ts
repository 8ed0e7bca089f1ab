/**
 * Benchmark 5: opening pull requests against the GitHub simulator's real git (SPEC §P "PR open").
 * One proposal at a time (request → `pr.opened` event) against the bare minimum the same work needs
 * (a persistent clone: fetch, reset, branch, edit, commit, push, then one `POST /pulls`), and 100
 * proposals over 10 repositories at once, counting duplicates and losses.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { readSse } from "../src/cli/sse-reader.js";
import { startGitHubSimulator, type GitHubSimulator } from "../test/support/github-sim/simulator.js";
import { gitClient } from "../test/support/github-sim/git-client.js";
import {
  cleanChildEnv,
  freePort,
  makeTempDir,
  monotonicMs,
  newReport,
  percentile,
  pollUntilOk,
  SHEPHERD_BIN,
  spawnProcess,
  type BenchmarkReport,
  type SpawnedProcess,
} from "./bench-support.js";

export interface PrOpenOptions {
  /** Proposals opened one after the other. */
  sequential: number;
  repos: number;
  perRepo: number;
}

export const PR_OPEN_DEFAULTS: PrOpenOptions = { sequential: 20, repos: 10, perRepo: 10 };

const OWNER = "bench";
const P99_TARGET_MS = 2000;

interface Outcome {
  at: number;
  ok: boolean;
  detail: string;
}

/** Follows the server's event stream and resolves waiters when a proposal's PR opens (or fails). */
class OutcomeWatcher {
  readonly #outcomes = new Map<string, Outcome>();
  readonly #waiters = new Map<string, (outcome: Outcome) => void>();
  readonly #controller = new AbortController();

  async start(baseUrl: string, token: string): Promise<void> {
    const head = await fetch(`${baseUrl}/api/v1/events?limit=1`, {
      headers: { authorization: `Bearer ${token}`, accept: "application/json" },
    });
    const since = ((await head.json()) as { data: { seq: number }[] }).data[0]?.seq ?? 0;
    const response = await fetch(`${baseUrl}/api/v1/events?since=${since}`, {
      headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
      signal: this.#controller.signal,
    });
    if (!response.body) throw new Error("no event stream");
    void (async () => {
      try {
        for await (const message of readSse(response.body as ReadableStream<Uint8Array>)) {
          const event = JSON.parse(message.data) as { kind: string; payload: Record<string, unknown> };
          const id = typeof event.payload.proposalId === "string" ? event.payload.proposalId : "";
          if (!id) continue;
          if (event.kind === "pr.opened" && !event.payload.orphaned) {
            this.#settle(id, { at: monotonicMs(), ok: true, detail: `#${String(event.payload.number)}` });
          } else if (event.kind === "error" && event.payload.willRetry === false) {
            this.#settle(id, { at: monotonicMs(), ok: false, detail: String(event.payload.code) });
          }
        }
      } catch {
        // The stream ends when the benchmark stops.
      }
    })();
  }

  #settle(id: string, outcome: Outcome): void {
    if (this.#outcomes.has(id)) return;
    this.#outcomes.set(id, outcome);
    this.#waiters.get(id)?.(outcome);
  }

  wait(id: string, timeoutMs: number): Promise<Outcome> {
    const known = this.#outcomes.get(id);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => resolve({ at: monotonicMs(), ok: false, detail: "timed out" }),
        timeoutMs,
      );
      this.#waiters.set(id, (outcome) => {
        clearTimeout(timer);
        resolve(outcome);
      });
    });
  }

  stop(): void {
    this.#controller.abort();
  }
}

interface Shepherd {
  process: SpawnedProcess;
  url: string;
  token: string;
  home: string;
}

async function startShepherd(sim: GitHubSimulator): Promise<Shepherd> {
  const home = await makeTempDir("shepherd-bench-pr-");
  await mkdir(path.join(home, "secrets"), { recursive: true, mode: 0o700 });
  const config = path.join(home, "shepherd.yaml");
  // Default policy (1 s between a token's writes, two workers): the figures are what a user gets.
  await writeFile(config, `github:\n  url: ${sim.baseUrl}\nlog:\n  level: warn\n`);
  const port = await freePort();
  const server = spawnProcess(process.execPath, [SHEPHERD_BIN, "serve"], {
    env: cleanChildEnv({ SHEPHERD_HOME: home, SHEPHERD_PORT: String(port), SHEPHERD_CONFIG: config }),
  });
  const url = `http://127.0.0.1:${port}`;
  await pollUntilOk(`${url}/healthz`, server, { intervalMs: 20, timeoutMs: 30_000 });
  const token = (await readFile(path.join(home, "admin.token"), "utf8")).trim();
  return { process: server, url, token, home };
}

async function api<T>(shepherd: Shepherd, method: string, url: string, body?: unknown): Promise<T> {
  const response = await fetch(`${shepherd.url}${url}`, {
    method,
    headers: {
      authorization: `Bearer ${shepherd.token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

const PARAMS = (value: number): string => `{\n  "search": { "boost": ${value} }\n}\n`;

/** A simulated repository registered with Shepherd under its own token. */
async function registerRepo(sim: GitHubSimulator, shepherd: Shepherd, name: string): Promise<void> {
  const repo = await sim.admin.createRepo({ owner: OWNER, name, files: { "params.json": PARAMS(0) } });
  const token = sim.admin.createToken({ repos: [repo.fullName] });
  await writeFile(path.join(shepherd.home, "secrets", name), `${token}\n`, { mode: 0o600 });
  await api(shepherd, "POST", "/api/v1/repos", { name, url: repo.webUrl, tokenRef: `file:${name}` });
}

async function propose(shepherd: Shepherd, repo: string, value: number): Promise<string> {
  const created = await api<{ id: string }>(shepherd, "POST", "/api/v1/proposals", {
    repoId: repo,
    title: `Set the boost to ${value}`,
    kind: "params",
    change: { path: "params.json", set: { "search.boost": { to: value } } },
  });
  return created.id;
}

/** The baseline: the same change done by hand with git and one REST call, on a persistent clone. */
async function rawOpenings(sim: GitHubSimulator, count: number): Promise<number[]> {
  const repo = await sim.admin.createRepo({
    owner: OWNER,
    name: "raw-baseline",
    files: { "params.json": PARAMS(0) },
  });
  const token = sim.admin.createToken({ repos: [repo.fullName] });
  const base = await makeTempDir("shepherd-bench-raw-");
  const home = path.join(base, "home");
  await mkdir(home);
  const dir = path.join(base, "clone");
  const git = (args: string[], cwd = dir): Promise<string> => gitClient(args, { cwd, home, token });
  await git(["clone", repo.gitUrl, dir], base);
  const latencies: number[] = [];
  try {
    for (let i = 1; i <= count; i++) {
      const started = monotonicMs();
      await git(["fetch", "origin", "main"]);
      await git(["reset", "--hard", "origin/main"]);
      await git(["clean", "-ffdx"]);
      await git(["checkout", "-B", `raw-${i}`, "origin/main"]);
      await writeFile(path.join(dir, "params.json"), PARAMS(i));
      await git(["commit", "-am", `Set the boost to ${i}`]);
      await git(["push", "--set-upstream", "origin", `raw-${i}`]);
      const response = await fetch(`${sim.baseUrl}/api/v3/repos/${OWNER}/raw-baseline/pulls`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ title: `Set the boost to ${i}`, head: `raw-${i}`, base: "main", body: "" }),
      });
      if (response.status !== 201) throw new Error(`baseline PR ${i}: ${response.status}`);
      latencies.push(monotonicMs() - started);
    }
  } finally {
    await rm(base, { recursive: true, force: true });
  }
  return latencies;
}

export async function runPrOpenBenchmark(options: PrOpenOptions): Promise<BenchmarkReport> {
  const report = newReport("pr-open", "Opening pull requests");
  const sim = await startGitHubSimulator();
  let shepherd: Shepherd | null = null;
  const watcher = new OutcomeWatcher();
  try {
    shepherd = await startShepherd(sim);
    await watcher.start(shepherd.url, shepherd.token);

    // 1. One at a time.
    await registerRepo(sim, shepherd, "one-at-a-time");
    const sequential: number[] = [];
    for (let i = 1; i <= options.sequential; i++) {
      const id = await propose(shepherd, "one-at-a-time", i);
      const started = monotonicMs();
      await api(shepherd, "POST", `/api/v1/proposals/${id}/open-pr`);
      const outcome = await watcher.wait(id, 60_000);
      if (!outcome.ok) report.failures.push(`one-at-a-time proposal ${i}: ${outcome.detail}`);
      sequential.push(outcome.at - started);
    }
    const raw = await rawOpenings(sim, options.sequential);
    const ours = [...sequential].sort((a, b) => a - b);
    const base = [...raw].sort((a, b) => a - b);
    for (const [label, p] of [
      ["p50", 50],
      ["p99", 99],
    ] as const) {
      const figure = percentile(ours, p);
      const baseline = percentile(base, p);
      report.rows.push({
        name: `one proposal at a time, request → PR open, ${label}`,
        unit: "ms",
        figure,
        baseline,
        ratioLabel: "ours / git + one POST by hand",
        ratio: figure / baseline,
        ...(p === 99 ? { target: { op: "<=" as const, value: P99_TARGET_MS, label: "≤ 2,000 ms" } } : {}),
      });
    }

    // 2. Many at once, over several repositories.
    const names = Array.from({ length: options.repos }, (_, r) => `many-${r + 1}`);
    for (const name of names) await registerRepo(sim, shepherd, name);
    const ids: { id: string; repo: string }[] = [];
    for (const name of names) {
      for (let i = 1; i <= options.perRepo; i++)
        ids.push({ id: await propose(shepherd, name, i), repo: name });
    }
    const started = monotonicMs();
    const live = shepherd;
    await Promise.all(ids.map(({ id }) => api(live, "POST", `/api/v1/proposals/${id}/open-pr`)));
    const outcomes = await Promise.all(ids.map(({ id }) => watcher.wait(id, 300_000)));
    const wall = monotonicMs() - started;
    const opened = outcomes.filter((o) => o.ok).length;
    const total = ids.length;
    let pulls = 0;
    let duplicates = 0;
    for (const name of names) {
      const count = sim.admin.pulls(OWNER, name).length;
      pulls += count;
      duplicates += Math.max(0, count - options.perRepo);
    }
    const lost = total - opened;
    const latencies = outcomes.map((o) => o.at - started).sort((a, b) => a - b);
    report.rows.push(
      {
        name: `${total} proposals over ${options.repos} repos at once: duplicate PRs`,
        unit: "PRs",
        figure: duplicates,
        baseline: 0,
        ratioLabel: "ours / git + one POST by hand",
        ratio: duplicates === 0 ? 1 : Number.POSITIVE_INFINITY,
        target: { op: "<=", value: 0, label: "0" },
      },
      {
        name: `${total} proposals over ${options.repos} repos at once: lost proposals`,
        unit: "proposals",
        figure: lost,
        baseline: 0,
        ratioLabel: "ours / git + one POST by hand",
        ratio: lost === 0 ? 1 : Number.POSITIVE_INFINITY,
        target: { op: "<=", value: 0, label: "0" },
      },
      {
        name: `${total} proposals at once: request → PR open, p99 (queued behind each other)`,
        unit: "ms",
        figure: percentile(latencies, 99),
        baseline: percentile(base, 99),
        ratioLabel: "ours / git + one POST by hand",
        ratio: percentile(latencies, 99) / percentile(base, 99),
      },
    );
    if (duplicates > 0) report.failures.push(`${duplicates} duplicate PRs`);
    if (lost > 0) {
      const reasons = outcomes.filter((o) => !o.ok).map((o) => o.detail);
      report.failures.push(`${lost} proposals not opened: ${[...new Set(reasons)].join(", ")}`);
    }
    report.notes.push(
      `${total} proposals: ${opened} opened, ${pulls} PRs on GitHub, all done in ${(wall / 1000).toFixed(1)} s ` +
        `(${((opened / wall) * 60_000).toFixed(0)} PRs per minute with two workers and one token per repo)`,
      `one at a time: ${options.sequential} proposals, p50 ${percentile(ours, 50).toFixed(0)} ms, max ${ours.at(-1)?.toFixed(0)} ms`,
    );
  } finally {
    watcher.stop();
    if (shepherd) {
      await shepherd.process.stop();
      await rm(shepherd.home, { recursive: true, force: true });
    }
    await sim.stop();
  }
  report.method =
    "The GitHub simulator (real bare repositories behind `git http-backend`, the REST API on loopback) " +
    "and `node bin/shepherd.js serve` (embedded SQLite, default policy: two PR workers, a token's writes " +
    "at least 1 s apart) run on the same machine. Each proposal edits one value of a JSON file. " +
    "Latency is from the `open-pr` request to the `pr.opened` event on the server's SSE stream, so it " +
    "includes queueing, the per-repo lock, clone reset, edit, commit, push, the PR request and the event " +
    "delivery. One token's PR requests are at least 1 s apart (GitHub's guidance), so back-to-back " +
    "proposals on one repository cannot go faster than one a second whatever the git work costs. " +
    "The baseline does the same work by hand on a persistent clone (fetch, reset, clean, " +
    "branch, edit, commit, push, one `POST /pulls`) with nothing in between. The many-at-once run " +
    "registers one token per repository; per-token write spacing and the per-repo lock make PRs of one " +
    "repository sequential, so its latencies mostly measure the queue. Duplicates are PRs beyond one " +
    "per proposal on the simulator; lost proposals are those with no `pr.opened` event within 5 minutes.";
  return report;
}
