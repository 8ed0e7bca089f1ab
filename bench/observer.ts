/**
 * Benchmark 6: the PR observer's GitHub budget and reaction latency (SPEC §P "observer cost",
 * "capacity", "reaction latency"). On the GitHub simulator, with a fleet of open PRs each owned by
 * a session (discovered by branch, as in production):
 * - the budget per 30 s tick of Shepherd's observer (REST core and GraphQL points, from the
 *   simulator's accounting, cross-checked with the observer's own PassReport) with nothing
 *   changing, 1 % and 10 % of the PRs changing per tick, once with one token per repo and once
 *   with one token for all repos; next to it, on the same repos and in the same ticks, a naive
 *   per-PR REST poller (the baseline);
 * - the capacity of one token derived from those per-PR costs;
 * - webhook → nudge latency on a server with registered webhooks, and poll-mode latency in ticks.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { startShepherd, type RunningShepherd } from "../src/app.js";
import { loadConfig } from "../src/config/load-config.js";
import type { PassReport } from "../src/services/observer/observer-pass.js";
import type { PrObserver } from "../src/services/observer/pr-observer.js";
import { SessionStore } from "../src/store/session-store.js";
import { startGitHubSimulator, type GitHubSimulator } from "../test/support/github-sim/simulator.js";
import {
  formatNumber,
  freePort,
  makeTempDir,
  monotonicMs,
  newReport,
  percentile,
  type BenchmarkReport,
  type ResultRow,
} from "./bench-support.js";

export interface ObserverBenchOptions {
  /** The budget fleet: `repos` × `perRepo` open PRs. */
  repos: number;
  perRepo: number;
  /** Ticks measured per regime with one token per repo (≥ 10: one full 5-minute stale cycle). */
  ticksPerRegime: number;
  /** Ticks measured per regime with one shared token. */
  sharedTicksPerRegime: number;
  /** Ticks per regime in which the naive poller also runs (its cost does not depend on changes). */
  naiveTicksPerRegime: number;
  /** Webhook latency: repos × PRs per repo, one sample per PR. */
  latencyRepos: number;
  latencyPerRepo: number;
  /** Pairs of changes on one repo (the second within a second of the first), per repo. */
  burstPairsPerRepo: number;
  /** PRs changed at once in the burst tick of each budget run (a multiple of 25). */
  burstChanges: number;
}

export const OBSERVER_DEFAULTS: ObserverBenchOptions = {
  repos: 50,
  perRepo: 20,
  ticksPerRegime: 12,
  sharedTicksPerRegime: 10,
  naiveTicksPerRegime: 1,
  latencyRepos: 6,
  latencyPerRepo: 20,
  burstPairsPerRepo: 3,
  burstChanges: 100,
};

export const OBSERVER_QUICK: ObserverBenchOptions = {
  repos: 5,
  perRepo: 20,
  ticksPerRegime: 6,
  sharedTicksPerRegime: 6,
  naiveTicksPerRegime: 1,
  latencyRepos: 4,
  latencyPerRepo: 5,
  burstPairsPerRepo: 1,
  burstChanges: 25,
};

const OWNER = "bench";
const TICK_MS = 30_000;
const TICKS_PER_HOUR = 3_600_000 / TICK_MS;
const HOURLY_BUDGET = 5_000;
/** SPEC C4 default: a PR not read for 5 minutes is read again. */
const STALE_TICKS = 10;
/** One change in this many gets a failing CI result (when the PR was green), so nudges happen. */
const FAILURE_EVERY = 5;
const REGIMES = [
  { name: "idle", rate: 0 },
  { name: "0.1 %", rate: 0.001 },
  { name: "1 %", rate: 0.01 },
  { name: "10 %", rate: 0.1 },
] as const;
type RegimeName = (typeof REGIMES)[number]["name"];
const RATIO_LABEL = "ours / the baseline named in the row";
const FAILING_LOG = Array.from({ length: 30 }, (_, i) => `step ${i}: ${i === 29 ? "FAILED" : "ok"}`).join(
  "\n",
);

const METHOD =
  "Everything runs in this process: the GitHub simulator (real git; REST, GraphQL and signed webhooks; " +
  "rate-limit accounting per token, 304s free) and Shepherd started with `startShepherd` (embedded SQLite, " +
  "default observer settings: 30 s interval, 5-minute stale re-read, batches of 25; log level warn). " +
  "Fleet: 20 open PRs per repo, each on its own branch changing its own file (all mergeable), a green `ci` " +
  "check run on its head, and one session per PR owning its branch (`SessionStore.create`, run state " +
  "running), so the observer discovers and tracks the PRs by branch on its first pass as in production; each " +
  "PR is read once over REST when created, so GitHub's lazy mergeability is known before the observer starts. " +
  'Budget: the observer is driven pass by pass (`observer: "manual"`, `tick()`), its clock moved 30 s per ' +
  "tick. After the discovery pass (reported in the notes: it also reads each PR's review threads once), four " +
  "regimes follow on the same server: nothing changing, then 0.1 %, 1 % and 10 % of the PRs changing per tick (a new " +
  "random draw each tick; fractions carry over, so 0.1 % of 1,000 PRs is one change a tick). A change is a push to the PR's branch followed by a completed check run on the new " +
  "head: green, or red for one change in five when the PR was green (a red one must nudge the session and costs " +
  "a job-log read). Points are the simulator's accounting (REST core and GraphQL `used`, per token, summed " +
  "over the observer's tokens) read before and after each pass, and checked against the pass's PassReport " +
  "(`restCost`, `graphqlCost`): they agreed on every pass unless a note says otherwise. Means are over all " +
  "ticks of a regime, which span at least one full 5-minute stale cycle (10 ticks), so they include the stale " +
  're-reads; the "stale re-reads excluded" figure takes the stale share out of each pass\'s GraphQL points in ' +
  "proportion to the PRs it read for that reason. Two configurations run at the same time on two identical " +
  "fleets: one token per repo (the documented default) and one token for all repos. A GraphQL query can only " +
  "carry PRs its token can read, so only the shared token lets the observer fill batches of 25 across repos; " +
  "and since GitHub's primary limits are per account, per-repo tokens of one bot account still share one " +
  "budget (the per-repo figures are sums over tokens). The simulator answers mergeable UNKNOWN to the first " +
  "read after each push (GitHub's background job), so a change is read twice, `changed` then `in_flux`; GitHub " +
  "often has the merge commit ready by the time a 30 s poll reads the PR, so its cost per change may lie " +
  "between one and two reads. " +
  "Batching: at the end of each budget run, after two quiet ticks, a burst of PRs (a multiple of 25) changes at " +
  "once; the GraphQL points that pass spent beyond the full batches its stale re-reads alone need, per 25 changes, " +
  "is the batch cost (pro rata attribution, which charges the changes for the stale re-reads' partly filled last " +
  "query, is in the notes), and the passes after it, until no PR is read for a change or for settling, give the cost until " +
  "settled. " +
  "Baseline: a naive per-PR REST poller implemented in the benchmark, on the per-repo fleet with tokens of its " +
  "own, run once per regime right after the observer's pass: for every PR `GET /pulls/{n}`, the head commit's " +
  "check runs and combined status, and the PR's reviews (the simulator has no reviews endpoint and answers 404, " +
  "which costs a point like any answer), 8 requests in flight, no conditional requests; it costs 4 points per PR " +
  "per tick whatever changes. Per observed PR-hour = points per tick × 120 / PRs. " +
  "Capacity is derived, not run: from the shared-token figures, GraphQL points/hour = 120 × N × ρ × q / 25 " +
  "(ρ = PRs read per PR per tick, q = measured points per query, full batches assumed) and REST points/hour = " +
  "120 × N × r (r = REST points per PR per tick: list pages of repos with a change, plus job logs; it grows with " +
  "the number of repos, here 20 PRs each); the capacity is the largest N for which both stay ≤ 5,000. The " +
  "target row assumes 0.1 % of the PRs changing per tick: each open PR changes (a push, with its CI result) about " +
  "every 8 hours, three times a day, one change in five failing CI; the 1 % row (each PR every 50 minutes) shows " +
  "where a busier fleet ends. No real run at 5,000 PRs was made. " +
  "Latency: a second server listening on a port with SHEPHERD_PUBLIC_URL, its observer running (`auto`, a " +
  "1-hour poll interval, so only webhooks bring changes in), webhooks registered on the simulator with " +
  "`POST /api/v1/repos/{id}/webhook`, one session per PR. A sample is a new failing check run on a PR's " +
  "head (the simulator then delivers check_run created and completed and check_suite completed); latency runs " +
  "from just before that state change to the `nudge.sent` event on the server's event stream, subscribed " +
  "in-process; the baseline is the same change to its first `webhook.received` event (delivery, signature " +
  "check and recording). One change at a time: round-robin over the repos, each after the previous one's " +
  "deliveries and passes are done; bursts: a second change on another PR of the same repo a random 0–1,000 ms after the first. Poll-mode " +
  "latency is counted in ticks in the budget runs (in time: at most one interval plus the pass). " +
  "Not covered: GitHub's own timings and secondary limits (the simulator has no concurrency or per-minute point " +
  "limits); reviews, comments and threads during the regimes (threads are read only at discovery); PRs " +
  "opening, closing or merging during the regimes; CI that stays pending for minutes (in poll mode a pending " +
  "PR is re-read every pass until CI settles, so long CI multiplies the cost per change); PostgreSQL. Pass " +
  "times include the simulator's work in the same process.";

/** A small deterministic PRNG (mulberry32): the same changes on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await work(item);
      }
    }),
  );
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
}

function fixed(value: number, digits = 2): string {
  return formatNumber(value, digits);
}

// ---------------------------------------------------------------------------------------------
// The simulated fleet

interface FleetPr {
  repo: string;
  number: number;
  branch: string;
  file: string;
  sha: string;
  version: number;
  ci: "success" | "failure";
}

interface Fleet {
  repos: string[];
  prs: FleetPr[];
}

/**
 * `perRepo` open PRs in each of `repos` new repositories, each on its own branch with one file of
 * its own (so all are mergeable) and a green check run on its head. Each PR is read once with
 * REST after it opens, so GitHub's lazy mergeability is known before the observer first reads it
 * (as for PRs that have been open a while).
 */
async function createFleet(
  sim: GitHubSimulator,
  prefix: string,
  repos: number,
  perRepo: number,
): Promise<Fleet> {
  const names = Array.from({ length: repos }, (_, index) => `${prefix}-${index + 1}`);
  const author = sim.admin.createToken({ repos: "*", login: "agent-bot" });
  const prs: FleetPr[] = [];
  await pool(names, 4, async (name) => {
    await sim.admin.createRepo({ owner: OWNER, name, files: { "README.md": `${name}\n` } });
    const api = `${sim.baseUrl}/api/v3/repos/${OWNER}/${name}`;
    const headers = { authorization: `token ${author}`, "content-type": "application/json" };
    for (let i = 1; i <= perRepo; i++) {
      const branch = `agent/task-${i}`;
      const file = `work/task-${i}.txt`;
      const sha = await sim.admin.pushFiles({ owner: OWNER, repo: name, branch, files: { [file]: "v0\n" } });
      const created = await fetch(`${api}/pulls`, {
        method: "POST",
        headers,
        body: JSON.stringify({ title: `Task ${i}`, head: branch, base: "main", body: "" }),
      });
      if (created.status !== 201) throw new Error(`creating a PR in ${name}: ${created.status}`);
      const { number } = (await created.json()) as { number: number };
      sim.admin.setCheckRun({
        owner: OWNER,
        repo: name,
        sha,
        name: "ci",
        status: "completed",
        conclusion: "success",
      });
      const read = await fetch(`${api}/pulls/${number}`, { headers });
      await read.arrayBuffer();
      prs.push({ repo: name, number, branch, file, sha, version: 0, ci: "success" });
    }
  });
  return { repos: names, prs };
}

/**
 * One change per PR: a push to its branch, then a completed check run on the new head (green, or
 * red for one change in FAILURE_EVERY when the PR was green: every red one starts a new CI episode
 * and must nudge the PR's session).
 */
async function applyChanges(
  sim: GitHubSimulator,
  changed: readonly FleetPr[],
  counter: { n: number },
): Promise<FleetPr[]> {
  const failing: FleetPr[] = [];
  const plan = changed.map((pr) => {
    counter.n += 1;
    const fail = counter.n % FAILURE_EVERY === 0 && pr.ci === "success";
    if (fail) failing.push(pr);
    return { pr, fail };
  });
  await pool(plan, 4, async ({ pr, fail }) => {
    pr.version += 1;
    pr.sha = await sim.admin.pushFiles({
      owner: OWNER,
      repo: pr.repo,
      branch: pr.branch,
      files: { [pr.file]: `v${pr.version}\n` },
    });
    pr.ci = fail ? "failure" : "success";
    sim.admin.setCheckRun({
      owner: OWNER,
      repo: pr.repo,
      sha: pr.sha,
      name: "ci",
      status: "completed",
      conclusion: pr.ci,
      ...(fail ? { log: FAILING_LOG } : {}),
    });
  });
  return failing;
}

/** `count` distinct PRs, a different draw each tick. */
function pick(prs: readonly FleetPr[], count: number, next: () => number): FleetPr[] {
  const chosen = new Set<number>();
  while (chosen.size < Math.min(count, prs.length)) chosen.add(Math.floor(next() * prs.length));
  return [...chosen].map((index) => prs[index] as FleetPr);
}

/** Points a set of tokens used so far (the simulator's accounting, per token as GitHub's headers). */
function usage(sim: GitHubSimulator, tokens: readonly string[]): { rest: number; graphql: number } {
  let rest = 0;
  let graphql = 0;
  for (const token of new Set(tokens)) {
    const limits = sim.admin.rateLimit(token);
    rest += limits.used;
    graphql += limits.graphql.used;
  }
  return { rest, graphql };
}

// ---------------------------------------------------------------------------------------------
// The naive baseline: a per-PR REST poller

/**
 * What a per-PR poller does each tick for every PR: `GET /pulls/{n}`, then the head commit's
 * check runs and combined status, and the PR's reviews; no conditional requests. (The simulator
 * has no reviews endpoint: it answers 404, which GitHub counts like any other answer.)
 */
async function naiveTick(
  sim: GitHubSimulator,
  fleet: Fleet,
  tokens: ReadonlyMap<string, string>,
): Promise<number> {
  let requests = 0;
  const get = async (url: string, token: string): Promise<Response> => {
    requests += 1;
    const response = await fetch(url, {
      headers: { authorization: `token ${token}`, accept: "application/vnd.github+json" },
    });
    if (response.status !== 200 && response.status !== 404)
      throw new Error(`naive poller: ${response.status} on ${url}`);
    return response;
  };
  await pool(fleet.prs, 8, async (pr) => {
    const token = tokens.get(pr.repo) as string;
    const api = `${sim.baseUrl}/api/v3/repos/${OWNER}/${pr.repo}`;
    const pull = (await (await get(`${api}/pulls/${pr.number}`, token)).json()) as { head: { sha: string } };
    await (await get(`${api}/commits/${pull.head.sha}/check-runs`, token)).arrayBuffer();
    await (await get(`${api}/commits/${pull.head.sha}/status`, token)).arrayBuffer();
    await (await get(`${api}/pulls/${pr.number}/reviews`, token)).arrayBuffer();
  });
  return requests;
}

// ---------------------------------------------------------------------------------------------
// Shepherd in this process

interface Shepherd {
  running: RunningShepherd;
  observer: PrObserver;
  home: string;
  adminToken: string;
  sessions: SessionStore;
  logs: string[];
  /** Shepherd's repo id per simulator repo name. */
  repoIds: Map<string, string>;
  stop(): Promise<void>;
}

async function startServer(
  sim: GitHubSimulator,
  options: {
    observer: "manual" | "auto";
    intervalSeconds: number;
    clock?: () => number;
    publicUrl?: boolean;
  },
): Promise<Shepherd> {
  const home = await makeTempDir("shepherd-bench-observer-");
  await mkdir(path.join(home, "secrets"), { recursive: true, mode: 0o700 });
  const configPath = path.join(home, "shepherd.yaml");
  await writeFile(
    configPath,
    `github:\n  url: ${sim.baseUrl}\nobserver:\n  intervalSeconds: ${options.intervalSeconds}\n`,
  );
  const port = options.publicUrl ? await freePort() : 0;
  const config = await loadConfig({
    configPath,
    env: {
      SHEPHERD_HOME: home,
      SHEPHERD_PORT: String(port),
      SHEPHERD_LOG_LEVEL: "warn",
      ...(options.publicUrl ? { SHEPHERD_PUBLIC_URL: `http://127.0.0.1:${port}` } : {}),
    },
    cwd: home,
  });
  const logs: string[] = [];
  let running: RunningShepherd;
  try {
    running = await startShepherd({
      config,
      role: "all",
      logDestination: {
        write: (line: string) => {
          logs.push(line);
          if (logs.length > 200) logs.shift();
        },
      },
      announce: () => undefined,
      observer: options.observer,
      ...(options.clock ? { observerClock: options.clock } : {}),
    });
  } catch (error) {
    await rm(home, { recursive: true, force: true });
    throw error;
  }
  const observer = running.observer;
  if (!observer) throw new Error("the server has no PR observer");
  return {
    running,
    observer,
    home,
    adminToken: (await readFile(running.adminTokenFile, "utf8")).trim(),
    sessions: new SessionStore(running.database.db),
    logs,
    repoIds: new Map(),
    async stop() {
      await running.stop();
      await rm(home, { recursive: true, force: true });
    },
  };
}

async function api<T>(shepherd: Shepherd, method: "GET" | "POST", url: string, body?: object): Promise<T> {
  const app = shepherd.running.http;
  if (!app) throw new Error("the server has no HTTP API");
  const response = await app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${shepherd.adminToken}` },
    ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
  });
  if (response.statusCode >= 300)
    throw new Error(`${method} ${url}: ${response.statusCode} ${response.body}`);
  return JSON.parse(response.body) as T;
}

/** Registers the fleet's repos (token per repo: the map's value) and one session per PR branch. */
async function adopt(
  shepherd: Shepherd,
  sim: GitHubSimulator,
  fleet: Fleet,
  tokens: ReadonlyMap<string, string>,
  options: { webhookSecret?: string; now: () => number },
): Promise<Map<string, FleetPr>> {
  const secretNames = new Map<string, string>();
  for (const name of fleet.repos) {
    const token = tokens.get(name) as string;
    let secret = secretNames.get(token);
    if (!secret) {
      secret = `token-${secretNames.size + 1}`;
      secretNames.set(token, secret);
      await writeFile(path.join(shepherd.home, "secrets", secret), `${token}\n`, { mode: 0o600 });
    }
    if (options.webhookSecret !== undefined) {
      await writeFile(path.join(shepherd.home, "secrets", "hook"), options.webhookSecret, { mode: 0o600 });
    }
    const created = await api<{ id: string }>(shepherd, "POST", "/api/v1/repos", {
      name,
      url: `${sim.baseUrl}/${OWNER}/${name}`,
      tokenRef: `file:${secret}`,
      ...(options.webhookSecret === undefined ? {} : { webhookSecretRef: "file:hook" }),
    });
    shepherd.repoIds.set(name, created.id);
  }
  const bySession = new Map<string, FleetPr>();
  for (const pr of fleet.prs) {
    const session = await shepherd.sessions.create(
      {
        goal: `keep ${pr.repo} ${pr.branch} green`,
        repoId: shepherd.repoIds.get(pr.repo) ?? null,
        branch: pr.branch,
        agent: { skill: "config-tuner" },
        runState: "running",
        createdBy: "bench",
      },
      options.now(),
    );
    bySession.set(session.id, pr);
  }
  return bySession;
}

/** Sessions nudged since `after` (event seq), and the newest seq seen. */
async function nudgedSince(shepherd: Shepherd, after: number): Promise<{ sessions: string[]; head: number }> {
  const events = await shepherd.running.events.list({ kind: "nudge.sent", after, limit: 100_000 });
  return {
    sessions: events.map((event) => event.sessionId ?? ""),
    head: Math.max(after, ...events.map((event) => event.seq)),
  };
}

// ---------------------------------------------------------------------------------------------
// Budget per tick, one token configuration

interface TickFigures {
  changes: number;
  rest: number;
  graphql: number;
  report: PassReport;
  passMs: number;
}

interface RegimeFigures {
  name: RegimeName;
  ticks: TickFigures[];
  /** Naive poller: points per tick (one sample per naive tick). */
  naive: number[];
  naiveRequests: number[];
}

/** GraphQL spent on a burst of changes; `…ForChanges` take the stale re-reads out pro rata. */
interface BurstFigures {
  changes: number;
  /** The pass that reads the changes. */
  graphql: number;
  graphqlForChanges: number;
  /** What the pass spent beyond the queries its stale re-reads alone need (full batches of 25). */
  graphqlBeyondStale: number;
  queries: number;
  fetched: number;
  /** The passes after it, until no PR is read for a change or for settling. */
  settleTicks: number;
  settleGraphqlForChanges: number;
  settleFetched: number;
}

/** The part of a pass's GraphQL points that went to PRs read for another reason than staleness. */
function forChanges(graphql: number, report: PassReport): number {
  const stale = report.fetchReasons.stale ?? 0;
  return report.fetched === 0 ? 0 : (graphql * (report.fetched - stale)) / report.fetched;
}

interface BudgetRun {
  label: string;
  tokens: number;
  discovery: { rest: number; graphql: number; report: PassReport; passMs: number; settleTicks: number };
  regimes: RegimeFigures[];
  /** Poll mode: ticks from a failing change to its nudge (1 = the first tick after the change). */
  pollLatencyTicks: number[];
  /** One tick with `changes` PRs changed at once, then the ticks until they all settled. */
  burst: BurstFigures;
  missingNudges: number;
  reportMismatch: string[];
}

async function measureBudget(
  sim: GitHubSimulator,
  fleet: Fleet,
  options: {
    label: string;
    observerTokens: ReadonlyMap<string, string>;
    naiveTokens: ReadonlyMap<string, string> | null;
    ticksPerRegime: number;
    naiveTicksPerRegime: number;
    burstChanges: number;
    seed: number;
  },
): Promise<BudgetRun> {
  let offset = 0;
  const clock = (): number => Date.now() + offset;
  const shepherd = await startServer(sim, { observer: "manual", intervalSeconds: TICK_MS / 1000, clock });
  const tokens = [...options.observerTokens.values()];
  const reportMismatch: string[] = [];
  try {
    const bySession = await adopt(shepherd, sim, fleet, options.observerTokens, { now: clock });
    const sessionOf = new Map([...bySession].map(([session, pr]) => [pr, session]));
    let seq = await shepherd.running.events.head();

    const tick = async (): Promise<{ rest: number; graphql: number; report: PassReport; passMs: number }> => {
      const before = usage(sim, tokens);
      const started = monotonicMs();
      const report = await shepherd.observer.tick();
      const passMs = monotonicMs() - started;
      const after = usage(sim, tokens);
      const rest = after.rest - before.rest;
      const graphql = after.graphql - before.graphql;
      if (rest !== report.restCost || graphql !== report.graphqlCost) {
        reportMismatch.push(
          `${options.label}: the simulator counted ${rest} REST / ${graphql} GraphQL points, the PassReport ${report.restCost} / ${report.graphqlCost}`,
        );
      }
      if (report.errors > 0 || report.rateLimited) {
        throw new Error(
          `observer pass had ${report.errors} errors (rate-limited: ${report.rateLimited}):\n${shepherd.logs.join("")}`,
        );
      }
      offset += TICK_MS;
      return { rest, graphql, report, passMs };
    };

    // Discovery: the first pass tracks every PR by its session's branch; then passes until quiet.
    const first = await tick();
    if (first.report.tracked !== fleet.prs.length) {
      throw new Error(`the observer tracked ${first.report.tracked} of ${fleet.prs.length} PRs`);
    }
    let settleTicks = 0;
    for (; settleTicks < 5; settleTicks++) {
      const next = await tick();
      if (next.report.fetched === 0) break;
    }
    seq = (await nudgedSince(shepherd, seq)).head;

    const next = random(options.seed);
    const counter = { n: 0 };
    const pending = new Map<string, number>();
    const pollLatencyTicks: number[] = [];
    let tickIndex = 0;
    const regimes: RegimeFigures[] = [];
    for (const regime of REGIMES) {
      const figures: RegimeFigures = { name: regime.name, ticks: [], naive: [], naiveRequests: [] };
      // Fractional rates carry over: 0.1 % of 100 PRs is one change every 10 ticks.
      let due = 0;
      for (let t = 0; t < options.ticksPerRegime; t++) {
        due += regime.rate * fleet.prs.length;
        const count = Math.floor(due + 1e-9);
        due -= count;
        const changed = pick(fleet.prs, count, next);
        const failing = await applyChanges(sim, changed, counter);
        for (const pr of failing) pending.set(sessionOf.get(pr) as string, tickIndex);
        const measured = await tick();
        figures.ticks.push({ changes: changed.length, ...measured });
        const nudged = await nudgedSince(shepherd, seq);
        seq = nudged.head;
        for (const session of nudged.sessions) {
          const since = pending.get(session);
          if (since === undefined) continue;
          pollLatencyTicks.push(tickIndex - since + 1);
          pending.delete(session);
        }
        if (options.naiveTokens && t < options.naiveTicksPerRegime) {
          const naiveTokens = [...options.naiveTokens.values()];
          const before = usage(sim, naiveTokens).rest;
          figures.naiveRequests.push(await naiveTick(sim, fleet, options.naiveTokens));
          figures.naive.push(usage(sim, naiveTokens).rest - before);
        }
        tickIndex += 1;
        sim.admin.clearRequests();
      }
      regimes.push(figures);
    }

    // A burst: after two quiet ticks (the last changes settle), `burstChanges` PRs change at once.
    for (let quiet = 0; quiet < 2; quiet++) await tick();
    const burstPrs = pick(fleet.prs, options.burstChanges, next);
    await applyChanges(sim, burstPrs, counter);
    const read = await tick();
    const burst: BurstFigures = {
      changes: burstPrs.length,
      graphql: read.graphql,
      graphqlForChanges: forChanges(read.graphql, read.report),
      graphqlBeyondStale:
        read.graphql -
        Math.ceil((read.report.fetchReasons.stale ?? 0) / 25) *
          (read.report.graphqlQueries > 0 ? read.graphql / read.report.graphqlQueries : 1),
      queries: read.report.graphqlQueries,
      fetched: read.report.fetched,
      settleTicks: 0,
      settleGraphqlForChanges: 0,
      settleFetched: 0,
    };
    for (; burst.settleTicks < 5; burst.settleTicks++) {
      const settling = await tick();
      const reasons = settling.report.fetchReasons;
      const forChange = settling.report.fetched - (reasons.stale ?? 0);
      if (forChange === 0) break;
      burst.settleGraphqlForChanges += forChanges(settling.graphql, settling.report);
      burst.settleFetched += forChange;
    }
    return {
      burst,
      label: options.label,
      tokens: new Set(tokens).size,
      discovery: { ...first, settleTicks },
      regimes,
      pollLatencyTicks,
      missingNudges: pending.size,
      reportMismatch,
    };
  } finally {
    await shepherd.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Webhook → nudge latency

interface LatencyRun {
  /** Changes one at a time, each on a repo (token) the observer had not read for a while. */
  isolated: { nudgeMs: number[]; deliveryMs: number[] };
  /** The second of two changes on one repo, a random 0–1,000 ms after the first. */
  burst: { nudgeMs: number[]; deliveryMs: number[]; firstNudgeMs: number[] };
  timeouts: number;
  /** GraphQL points and queries the observer spent per isolated change. */
  graphqlPerChange: number;
  queriesPerChange: number;
}

/** The second change of a burst comes this long after the first, at most (uniformly at random). */
const BURST_WINDOW_MS = 1000;

async function measureWebhookLatency(options: ObserverBenchOptions): Promise<LatencyRun> {
  const sim = await startGitHubSimulator({
    restLimit: 1e9,
    graphqlLimit: 1e9,
    contentCreationPerMinute: 1e9,
  });
  let shepherd: Shepherd | null = null;
  const controller = new AbortController();
  try {
    const perRepo = options.latencyPerRepo + 2 * options.burstPairsPerRepo;
    const fleet = await createFleet(sim, "hooked", options.latencyRepos, perRepo);
    // A poll interval of an hour: only webhooks bring changes in.
    shepherd = await startServer(sim, { observer: "auto", intervalSeconds: 3600, publicUrl: true });
    const live = shepherd;
    const tokens = new Map(
      fleet.repos.map((name) => [name, sim.admin.createToken({ repos: [`${OWNER}/${name}`] })]),
    );
    const bySession = await adopt(live, sim, fleet, tokens, { webhookSecret: "whsec-bench", now: Date.now });
    const sessionOf = new Map([...bySession].map(([session, pr]) => [pr, session]));
    // The auto loop's first pass ran before the repos existed: one pass now tracks every PR.
    const first = await live.observer.tick();
    if (first.tracked !== fleet.prs.length)
      throw new Error(`tracked ${first.tracked} of ${fleet.prs.length} PRs`);
    for (const name of fleet.repos)
      await api(live, "POST", `/api/v1/repos/${live.repoIds.get(name)}/webhook`);
    await sim.admin.flushDeliveries();
    await live.observer.refresh();

    // Arrival times of the events that matter, from the server's event stream.
    const deliveries = new Map<string, number>();
    const nudges = new Map<string, number>();
    const waiters = new Map<string, () => void>();
    const since = await live.running.events.head();
    void (async () => {
      try {
        for await (const item of live.running.events.stream({ since, signal: controller.signal })) {
          const at = monotonicMs();
          const { event } = item;
          if (event.kind === "webhook.received") {
            const payload = JSON.parse(event.payloadJson) as { repo?: string; numbers?: number[] };
            for (const number of payload.numbers ?? []) {
              const key = `${payload.repo}#${number}`;
              if (!deliveries.has(key)) deliveries.set(key, at);
            }
          } else if (event.kind === "nudge.sent" && event.sessionId) {
            if (!nudges.has(event.sessionId)) nudges.set(event.sessionId, at);
            waiters.get(event.sessionId)?.();
          }
        }
      } catch {
        // The stream ends when the benchmark stops.
      }
    })();

    const run: LatencyRun = {
      isolated: { nudgeMs: [], deliveryMs: [] },
      burst: { nudgeMs: [], deliveryMs: [], firstNudgeMs: [] },
      timeouts: 0,
      graphqlPerChange: 0,
      queriesPerChange: 0,
    };
    /** Fails a green PR's new check run; resolves with (nudge, delivery) ms after the change, or null. */
    const fail = (pr: FleetPr): Promise<{ nudge: number; delivery: number | null } | null> => {
      const session = sessionOf.get(pr) as string;
      const key = `${pr.repo}#${pr.number}`;
      const nudged = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 10_000);
        waiters.set(session, () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      const started = monotonicMs();
      sim.admin.setCheckRun({
        owner: OWNER,
        repo: pr.repo,
        sha: pr.sha,
        // A new check run (as GitHub creates one per job): an update of the green "ci" run sends no webhook.
        name: "unit",
        status: "completed",
        conclusion: "failure",
        log: FAILING_LOG,
      });
      return nudged.then((ok) => {
        waiters.delete(session);
        if (!ok) {
          run.timeouts += 1;
          return null;
        }
        const delivered = deliveries.get(key);
        return {
          nudge: (nudges.get(session) as number) - started,
          delivery: delivered === undefined ? null : delivered - started,
        };
      });
    };
    /** Waits until the change's other deliveries (check_run completed, check_suite) and their passes are done. */
    const settle = async (): Promise<void> => {
      await sim.admin.flushDeliveries();
      await live.observer.refresh();
    };
    const byRepo = fleet.repos.map((name) => fleet.prs.filter((pr) => pr.repo === name));

    // Isolated changes, round-robin over the repos, each after the previous one has settled.
    sim.admin.clearRequests();
    const before = usage(sim, [...tokens.values()]);
    for (let i = 0; i < options.latencyPerRepo; i++) {
      for (const prs of byRepo) {
        const pr = prs[i] as FleetPr;
        const sample = await fail(pr);
        if (sample) {
          run.isolated.nudgeMs.push(sample.nudge);
          if (sample.delivery !== null) run.isolated.deliveryMs.push(sample.delivery);
        }
        await settle();
      }
    }
    const after = usage(sim, [...tokens.values()]);
    const queries = sim.admin.requests().filter((request) => request.path === "/api/graphql").length;
    const changes = options.latencyPerRepo * byRepo.length;
    run.graphqlPerChange = (after.graphql - before.graphql) / changes;
    run.queriesPerChange = queries / changes;

    // Bursts: a second change on the same repo at a random moment within a second of the first.
    const gap = random(3);
    for (let i = 0; i < options.burstPairsPerRepo; i++) {
      for (const prs of byRepo) {
        const firstPr = prs[options.latencyPerRepo + 2 * i] as FleetPr;
        const secondPr = prs[options.latencyPerRepo + 2 * i + 1] as FleetPr;
        const firstSample = fail(firstPr);
        await new Promise((resolve) => setTimeout(resolve, Math.floor(gap() * BURST_WINDOW_MS)));
        const secondSample = fail(secondPr);
        const [one, two] = await Promise.all([firstSample, secondSample]);
        if (one) run.burst.firstNudgeMs.push(one.nudge);
        if (two) {
          run.burst.nudgeMs.push(two.nudge);
          if (two.delivery !== null) run.burst.deliveryMs.push(two.delivery);
        }
        await settle();
      }
    }
    return run;
  } finally {
    controller.abort();
    await shepherd?.stop();
    await sim.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Figures

interface RegimeSummary {
  name: RegimeName;
  ticks: number;
  changesPerTick: number;
  rest: number;
  graphql: number;
  queries: number;
  fetched: number;
  reasons: Record<string, number>;
  /** GraphQL points per tick that went to the changes (stale re-reads taken out pro rata). */
  graphqlForChanges: number;
  maxQueryCost: number;
  logTails: number;
  passMsP50: number;
  passMsMax: number;
  naivePerTick: number;
  naiveRequestsPerTick: number;
}

function summarize(regime: RegimeFigures): RegimeSummary {
  const reasons: Record<string, number> = {};
  for (const tick of regime.ticks) {
    for (const [reason, count] of Object.entries(tick.report.fetchReasons))
      reasons[reason] = (reasons[reason] ?? 0) + (count ?? 0);
  }
  const n = regime.ticks.length;
  for (const reason of Object.keys(reasons)) reasons[reason] = (reasons[reason] ?? 0) / n;
  const spentOnChanges = regime.ticks.map((tick) => forChanges(tick.graphql, tick.report));
  const passes = regime.ticks.map((tick) => tick.passMs).sort((a, b) => a - b);
  return {
    name: regime.name,
    ticks: n,
    changesPerTick: mean(regime.ticks.map((tick) => tick.changes)),
    rest: mean(regime.ticks.map((tick) => tick.rest)),
    graphql: mean(regime.ticks.map((tick) => tick.graphql)),
    queries: mean(regime.ticks.map((tick) => tick.report.graphqlQueries)),
    fetched: mean(regime.ticks.map((tick) => tick.report.fetched)),
    reasons,
    graphqlForChanges: mean(spentOnChanges),
    maxQueryCost: Math.max(
      0,
      ...regime.ticks
        .filter((tick) => tick.report.graphqlQueries > 0)
        .map((tick) => tick.graphql / tick.report.graphqlQueries),
    ),
    logTails: mean(regime.ticks.map((tick) => tick.report.logTailsFetched)),
    passMsP50: percentile(passes, 50),
    passMsMax: passes.at(-1) ?? 0,
    naivePerTick: mean(regime.naive),
    naiveRequestsPerTick: mean(regime.naiveRequests),
  };
}

function reasonsText(reasons: Record<string, number>): string {
  const entries = Object.entries(reasons).filter(([, count]) => count > 0);
  return entries.length === 0
    ? "none"
    : entries.map(([reason, count]) => `${reason} ${fixed(count, 1)}`).join(", ");
}

export async function runObserverBenchmark(options: ObserverBenchOptions): Promise<BenchmarkReport> {
  const report = newReport("observer", "PR observer: GitHub budget and reaction latency");
  const prs = options.repos * options.perRepo;
  const fleetLabel = `${formatNumber(prs)} PRs, ${options.repos} repos`;
  const started = monotonicMs();
  if (Math.min(options.ticksPerRegime, options.sharedTicksPerRegime) < STALE_TICKS) {
    report.notes.push(
      `fewer than ${STALE_TICKS} ticks per regime: the means miss part of the 5-minute stale re-reads`,
    );
  }

  // 1–3: budget. Two fleets of the same shape on one simulator, observed at the same time (the
  // observer mostly waits for GitHub, so the two runs overlap): one with a token per repo (and the
  // naive poller beside it, on the same repos), one with a single token for all repos.
  const sim = await startGitHubSimulator({
    restLimit: 1e9,
    graphqlLimit: 1e9,
    contentCreationPerMinute: 1e9,
  });
  let perRepo: BudgetRun;
  let shared: BudgetRun;
  try {
    const [fleetA, fleetB] = await Promise.all([
      createFleet(sim, "own", options.repos, options.perRepo),
      createFleet(sim, "shared", options.repos, options.perRepo),
    ]);
    const perRepoTokens = (fleet: Fleet): Map<string, string> =>
      new Map(fleet.repos.map((name) => [name, sim.admin.createToken({ repos: [`${OWNER}/${name}`] })]));
    const sharedToken = sim.admin.createToken({ repos: fleetB.repos.map((name) => `${OWNER}/${name}`) });
    [perRepo, shared] = await Promise.all([
      measureBudget(sim, fleetA, {
        label: "one token per repo",
        observerTokens: perRepoTokens(fleetA),
        naiveTokens: perRepoTokens(fleetA),
        ticksPerRegime: options.ticksPerRegime,
        naiveTicksPerRegime: options.naiveTicksPerRegime,
        burstChanges: options.burstChanges,
        seed: 1,
      }),
      measureBudget(sim, fleetB, {
        label: "one shared token",
        observerTokens: new Map(fleetB.repos.map((name) => [name, sharedToken])),
        naiveTokens: null,
        ticksPerRegime: options.sharedTicksPerRegime,
        naiveTicksPerRegime: 0,
        burstChanges: options.burstChanges,
        seed: 2,
      }),
    ]);
  } finally {
    await sim.stop();
  }

  // 4: webhook → nudge.
  const budgetDone = monotonicMs();
  const latency = await measureWebhookLatency(options);
  const latencyDone = monotonicMs();

  const a = perRepo.regimes.map(summarize);
  const b = shared.regimes.map(summarize);
  const naivePerTick = mean(a.map((regime) => regime.naivePerTick));
  const naivePerPrHour = (naivePerTick * TICKS_PER_HOUR) / prs;
  const byName = (list: RegimeSummary[], name: RegimeName): RegimeSummary =>
    list.find((r) => r.name === name) as RegimeSummary;
  const perPrHour = (regime: RegimeSummary): number =>
    ((regime.rest + regime.graphql) * TICKS_PER_HOUR) / prs;
  const row = (input: Omit<ResultRow, "ratio" | "ratioLabel">): ResultRow => ({
    ...input,
    ratioLabel: RATIO_LABEL,
    ratio: input.figure / input.baseline,
  });

  for (const [run, list] of [
    [perRepo, a],
    [shared, b],
  ] as const) {
    const idle = byName(list, "idle");
    report.rows.push(
      row({
        name: `idle tick, REST core points (${fleetLabel}, ${run.label}; baseline: naive per-PR poller)`,
        unit: "points/tick",
        figure: idle.rest,
        baseline: naivePerTick,
        digits: 2,
        target: { op: "<=", value: 1, label: "≤ 1 point/tick" },
      }),
    );
  }
  for (const [run, list] of [
    [perRepo, a],
    [shared, b],
  ] as const) {
    for (const regime of list) {
      report.rows.push(
        row({
          name: `${regime.name === "idle" ? "nothing changing" : `${regime.name} of PRs changing per tick`}, REST + GraphQL points per tick incl. 5-min stale re-reads (${run.label}; baseline: naive)`,
          unit: "points/tick",
          figure: regime.rest + regime.graphql,
          baseline: naivePerTick,
          digits: 1,
        }),
      );
    }
  }
  for (const [run, list] of [
    [perRepo, a],
    [shared, b],
  ] as const) {
    for (const name of ["0.1 %", "1 %", "10 %"] as const) {
      const regime = byName(list, name);
      const ours = perPrHour(regime);
      report.rows.push(
        row({
          name: `budget points per observed PR-hour, ${name} changing (${run.label}; baseline: naive; naive ÷ ours = ${fixed(naivePerPrHour / ours, 0)}×)`,
          unit: "points/PR-h",
          figure: ours,
          baseline: naivePerPrHour,
          digits: 2,
          target: { op: "<=", value: naivePerPrHour / 20, label: "≥ 20× fewer than naive" },
        }),
      );
    }
  }
  // Batching: the burst tick reads its changed PRs; then the re-reads until they settle.
  for (const run of [shared, perRepo]) {
    const burst = run.burst;
    const isShared = run === shared;
    report.rows.push(
      row({
        name: `GraphQL points per 25 changed PRs: what the pass that reads ${burst.changes} PRs changed at once spent beyond its stale re-reads' own batches (${run.label}${isShared ? "" : ": a query holds one repo's PRs"}; baseline: naive, 4 REST points per PR read)`,
        unit: "points",
        figure: (burst.graphqlBeyondStale * 25) / burst.changes,
        baseline: 100,
        digits: 2,
        ...(isShared ? { target: { op: "<=" as const, value: 1, label: "≤ 1 point" } } : {}),
      }),
      row({
        name: `GraphQL points per 25 changed PRs until settled: that pass and the ${burst.settleTicks} re-read pass(es) while GitHub computes mergeability (${run.label}; baseline: naive)`,
        unit: "points",
        figure: ((burst.graphqlForChanges + burst.settleGraphqlForChanges) * 25) / burst.changes,
        baseline: 100,
        digits: 2,
      }),
    );
  }

  // Capacity of one token, from the per-PR costs measured with the shared token: GraphQL from the
  // PRs read per tick (in full batches of 25, at the measured points per query), REST from the
  // list pages and job logs per PR (20 PRs per repo, as measured).
  const capacity = (regime: RegimeSummary): { graphql: number; rest: number; both: number } => {
    const pointsPerQuery = regime.queries > 0 ? regime.graphql / regime.queries : 1;
    const graphqlPerPr = ((regime.fetched / prs) * pointsPerQuery) / 25;
    const restPerPr = regime.rest / prs;
    const graphql =
      graphqlPerPr === 0 ? Number.POSITIVE_INFINITY : HOURLY_BUDGET / (TICKS_PER_HOUR * graphqlPerPr);
    const rest = restPerPr === 0 ? Number.POSITIVE_INFINITY : HOURLY_BUDGET / (TICKS_PER_HOUR * restPerPr);
    return { graphql, rest, both: Math.min(graphql, rest) };
  };
  const naiveCapacity = HOURLY_BUDGET / (naivePerPrHour || 1);
  for (const name of ["0.1 %", "1 %"] as const) {
    const fit = capacity(byName(b, name));
    report.rows.push(
      row({
        name: `capacity of one 5,000-points/hour token at a 30 s cadence, ${name} of the PRs changing per tick (derived, ${fit.rest < fit.graphql ? "REST" : "GraphQL"}-bound; baseline: naive)`,
        unit: "PRs",
        figure: Math.floor(fit.both),
        baseline: Math.floor(naiveCapacity),
        ...(name === "0.1 %" ? { target: { op: ">=" as const, value: 5000, label: "≥ 5,000 PRs" } } : {}),
      }),
    );
  }

  // Latency.
  const sorted = (values: readonly number[]): number[] => [...values].sort((x, y) => x - y);
  const isolated = sorted(latency.isolated.nudgeMs);
  const isolatedDelivery = sorted(latency.isolated.deliveryMs);
  const burst = sorted(latency.burst.nudgeMs);
  const burstDelivery = sorted(latency.burst.deliveryMs);
  for (const [label, p] of [
    ["p50", 50],
    ["p99", 99],
  ] as const) {
    report.rows.push(
      row({
        name: `webhook → nudge delivered, one change at a time, ${label} (${isolated.length} samples; baseline: state change → delivery received)`,
        unit: "ms",
        figure: percentile(isolated, p),
        baseline: percentile(isolatedDelivery, p),
        digits: 0,
        ...(p === 99 ? { target: { op: "<=" as const, value: 1000, label: "p99 ≤ 1,000 ms" } } : {}),
      }),
    );
  }
  for (const [label, p] of [
    ["p50", 50],
    ["p99", 99],
  ] as const) {
    report.rows.push(
      row({
        name: `webhook → nudge delivered, a second change on the same repo 0–1 s after a first, ${label} (${burst.length} samples; baseline: its delivery)`,
        unit: "ms",
        figure: percentile(burst, p),
        baseline: percentile(burstDelivery, p),
        digits: 0,
        ...(p === 99 ? { target: { op: "<=" as const, value: 1000, label: "p99 ≤ 1,000 ms" } } : {}),
      }),
    );
  }
  const pollTicks = [...perRepo.pollLatencyTicks, ...shared.pollLatencyTicks];
  report.rows.push(
    row({
      name: `poll mode (no webhooks): failing CI → nudge, worst of ${pollTicks.length} changes (baseline: one tick)`,
      unit: "ticks",
      figure: Math.max(0, ...pollTicks),
      baseline: 1,
      target: { op: "<=", value: 1, label: "≤ 1 tick" },
    }),
  );

  // Failures and notes.
  for (const run of [perRepo, shared]) {
    if (run.missingNudges > 0)
      report.failures.push(`${run.label}: ${run.missingNudges} failing changes were never nudged`);
    report.notes.push(...run.reportMismatch.slice(0, 5));
  }
  if (latency.timeouts > 0)
    report.failures.push(`${latency.timeouts} webhook samples got no nudge within 10 s`);
  for (const [run, list] of [
    [perRepo, a],
    [shared, b],
  ] as const) {
    report.notes.push(
      `${run.label} (${run.tokens} token${run.tokens === 1 ? "" : "s"}): discovery pass ${fixed(run.discovery.passMs / 1000, 1)} s, ` +
        `${run.discovery.rest} REST + ${run.discovery.graphql} GraphQL points in ${run.discovery.report.graphqlQueries} queries ` +
        `(${fixed(run.discovery.graphql / run.discovery.report.graphqlQueries, 1)} points/query: the first read of each PR also reads its review threads); ` +
        `${run.discovery.settleTicks} more pass(es) until nothing was read`,
    );
    for (const regime of list) {
      report.notes.push(
        `${run.label}, ${regime.name} (${regime.ticks} ticks, ${fixed(regime.changesPerTick, 0)} changes/tick): ` +
          `REST ${fixed(regime.rest)}/tick (log tails ${fixed(regime.logTails)}), GraphQL ${fixed(regime.graphql)}/tick in ${fixed(regime.queries, 1)} queries ` +
          `(max ${fixed(regime.maxQueryCost)} point/query), of which for changes ${fixed(regime.graphqlForChanges)}; ` +
          `PRs read/tick ${fixed(regime.fetched, 1)} (${reasonsText(regime.reasons)}); pass p50 ${fixed(regime.passMsP50, 0)} ms, max ${fixed(regime.passMsMax, 0)} ms` +
          (regime.naivePerTick > 0
            ? `; naive poller ${fixed(regime.naivePerTick, 0)} points/tick (${fixed(regime.naiveRequestsPerTick, 0)} requests)`
            : ""),
      );
    }
  }
  const capacityText = (name: RegimeName): string => {
    const c = capacity(byName(b, name));
    const bound = (value: number): string =>
      Number.isFinite(value) ? formatNumber(Math.floor(value)) : "unbounded";
    return `${name} changing ${bound(c.both)} PRs (GraphQL-bound ${bound(c.graphql)}, REST-bound ${bound(c.rest)})`;
  };
  // The change rate at which 5,000 PRs still fit one token, linear between the idle and 1 % costs.
  const perPrTick = (regime: RegimeSummary): { graphql: number; rest: number } => ({
    graphql: ((regime.fetched / prs) * (regime.queries > 0 ? regime.graphql / regime.queries : 1)) / 25,
    rest: regime.rest / prs,
  });
  const idleCost = perPrTick(byName(b, "idle"));
  const onePercentCost = perPrTick(byName(b, "1 %"));
  const allowance = HOURLY_BUDGET / TICKS_PER_HOUR / 5000;
  const rateFor = (zero: number, one: number): number =>
    one <= zero ? Number.POSITIVE_INFINITY : (0.01 * (allowance - zero)) / (one - zero);
  const maxRate = Math.min(
    rateFor(idleCost.graphql, onePercentCost.graphql),
    rateFor(idleCost.rest, onePercentCost.rest),
  );
  const tenShared = byName(b, "10 %");
  report.notes.push(
    `capacity of one 5,000-points/hour token, derived from the shared-token figures: ${REGIMES.map((regime) => capacityText(regime.name)).join("; ")}; ` +
      `5,000 PRs fit one token up to about ${fixed(maxRate * 100)} % of them changing per tick (linear between the idle and 1 % costs)`,
    `batch cost, one shared token, 10 % changing: ${fixed((tenShared.graphql * 25) / Math.max(1, tenShared.fetched))} GraphQL points per 25 PRs read; ` +
      `a change is read ${fixed((tenShared.fetched - (tenShared.reasons.stale ?? 0)) / Math.max(1, tenShared.changesPerTick))} times on average ` +
      "(once changed, once more while GitHub computes its mergeability)",
    `poll mode: ${pollTicks.length} failing changes, nudged after ${[...new Set(pollTicks)].sort().join(", ") || "—"} tick(s)`,
    `webhook → nudge, one change at a time: ${isolated.length} samples over ${options.latencyRepos} repos, min ${fixed(isolated[0] ?? Number.NaN, 0)} ms, ` +
      `max ${fixed(isolated.at(-1) ?? Number.NaN, 0)} ms; delivery p50 ${fixed(percentile(isolatedDelivery, 50), 0)} ms, max ${fixed(isolatedDelivery.at(-1) ?? Number.NaN, 0)} ms; ` +
      `the observer spent ${fixed(latency.graphqlPerChange)} GraphQL points in ${fixed(latency.queriesPerChange)} queries per change`,
    `webhook → nudge, bursts: the first change of each pair p50 ${fixed(percentile(sorted(latency.burst.firstNudgeMs), 50), 0)} ms; ` +
      `the second (0–1 s later, same repo and token) p50 ${fixed(percentile(burst, 50), 0)} ms, max ${fixed(burst.at(-1) ?? Number.NaN, 0)} ms`,
  );
  for (const run of [shared, perRepo]) {
    const burst = run.burst;
    report.notes.push(
      `${run.label}, burst: ${burst.changes} PRs changed at once were read in ${burst.queries} queries for ${burst.graphql} GraphQL points ` +
        `(${burst.fetched} PRs read in that pass, stale ones included; attributed pro rata to the changes: ${fixed((burst.graphqlForChanges * 25) / burst.changes)} points per 25); then ${burst.settleFetched} re-reads in ${burst.settleTicks} pass(es) ` +
        `for ${fixed(burst.settleGraphqlForChanges)} points until nothing was read for a change or for settling`,
    );
  }
  report.notes.push(
    `slowest pass: ${perRepo.label} ${fixed(Math.max(...a.map((r) => r.passMsMax)) / 1000, 1)} s, ${shared.label} ${fixed(Math.max(...b.map((r) => r.passMsMax)) / 1000, 1)} s ` +
      "(the simulator answers in the same process; a pass must fit in the 30 s interval)",
    `phases: budget runs ${fixed((budgetDone - started) / 1000, 0)} s, webhook latency ${fixed((latencyDone - budgetDone) / 1000, 0)} s`,
  );
  report.method = METHOD;
  return report;
}
