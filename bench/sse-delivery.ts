/**
 * Benchmark 2: SSE delivery latency to many connected clients. The real server (startShepherd,
 * embedded SQLite, log level "warn") against a bare node:http server writing the same frames,
 * with the same client fleet and the same clock.
 */
import { fork } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { startShepherd, type RunningShepherd } from "../src/app.js";
import { loadConfig } from "../src/config/load-config.js";
import {
  makeTempDir,
  monotonicMs,
  newReport,
  percentile,
  REPO_ROOT,
  sleep,
  type BenchmarkReport,
  type ResultRow,
} from "./bench-support.js";
import type { ChildCommand, ChildReply } from "./sse-client-child.js";
import { SseClientFleet, type FleetOptions, type FleetResult } from "./sse-clients.js";

export type ClientPlacement = "in-process" | "child-process";

export interface SseDeliveryOptions {
  clients: number;
  events: number;
  /** Gap between two appends (each is its own fan-out). */
  intervalMs: number;
  /** Events sent first and not measured (JIT, first-use allocations). */
  warmupEvents: number;
  /**
   * Where the client fleet runs: in this process (server and clients share one event loop), and/or
   * in a child process (server and clients then use different cores).
   */
  placements: readonly ClientPlacement[];
}

export const SSE_DELIVERY_DEFAULTS: SseDeliveryOptions = {
  clients: 1000,
  events: 200,
  intervalMs: 20,
  warmupEvents: 20,
  placements: ["in-process", "child-process"],
};

const P99_TARGET_MS = 100;
const SSE_PATH = "/api/v1/events";

/** A server the fleet connects to, which sends event `n` when told. */
interface SseServer {
  label: string;
  url: string;
  headers: Record<string, string>;
  connectedStreams(): Promise<number>;
  send(n: number): Promise<void>;
  warnings(): string[];
  close(): Promise<void>;
}

/** The fleet, in this process or in a child. */
interface ClientSide {
  connect(): Promise<void>;
  finish(timeoutMs: number): Promise<FleetResult>;
  close(): void;
}

function samplePayload(n: number): Record<string, unknown> {
  return {
    tool: "bash",
    args: { command: "npm test -- --run", cwd: "/srv/shepherd/work/acme-api" },
    status: "ok",
    n,
    sentAtMs: monotonicMs(),
  };
}

async function startOurs(): Promise<SseServer> {
  const home = await makeTempDir("shepherd-bench-sse-");
  const config = await loadConfig({
    env: { SHEPHERD_HOME: home, SHEPHERD_PORT: "0", SHEPHERD_LOG_LEVEL: "warn" },
    cwd: home,
  });
  const logged: string[] = [];
  let running: RunningShepherd;
  try {
    running = await startShepherd({
      config,
      role: "all",
      logDestination: { write: (line: string) => void logged.push(line) },
      announce: () => undefined,
    });
  } catch (error) {
    await rm(home, { recursive: true, force: true });
    throw error;
  }
  const token = (await readFile(running.adminTokenFile, "utf8")).trim();
  return {
    label: "Shepherd",
    url: `${running.url}${SSE_PATH}`,
    headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
    async connectedStreams() {
      const gauge = await running.metrics.streamClients.get();
      return gauge.values.find((value) => value.labels.transport === "sse")?.value ?? 0;
    },
    async send(n) {
      await running.events.append({ kind: "tool.invoked", sessionId: null, payload: samplePayload(n) });
    },
    warnings: () => logged,
    async close() {
      await running.stop();
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** The baseline: node:http, no framework, no database; writes one prebuilt frame to every response. */
async function startBare(): Promise<SseServer> {
  const responses = new Set<http.ServerResponse>();
  const server = http.createServer((request, response) => {
    response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    response.write("retry: 2000\n: connected\n\n");
    responses.add(response);
    response.on("close", () => responses.delete(response));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    label: "bare node:http",
    url: `http://127.0.0.1:${port}${SSE_PATH}`,
    headers: { authorization: "Bearer ignored", accept: "text/event-stream" },
    connectedStreams: async () => responses.size,
    async send(n) {
      const seq = n + 1;
      const json =
        `{"seq":${seq},"kind":"tool.invoked","sessionId":null,"ts":${JSON.stringify(new Date().toISOString())},` +
        `"payload":${JSON.stringify(samplePayload(n))}}`;
      const frame = `id: ${seq}\nevent: tool.invoked\ndata: ${json}\n\n`;
      for (const response of responses) response.write(frame);
    },
    warnings: () => [],
    async close() {
      for (const response of responses) response.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function inProcessClients(options: FleetOptions): ClientSide {
  const fleet = new SseClientFleet(options);
  return {
    connect: () => fleet.connect(),
    async finish(timeoutMs) {
      await fleet.waitForAll(timeoutMs);
      return fleet.result();
    },
    close: () => fleet.close(),
  };
}

function childProcessClients(options: FleetOptions): ClientSide {
  const child = fork(path.join(REPO_ROOT, "bench", "sse-client-child.ts"), [], {
    execArgv: ["--import", "tsx"],
    cwd: REPO_ROOT,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const replies: ChildReply[] = [];
  const waiters: ((reply: ChildReply) => void)[] = [];
  child.on("message", (message: ChildReply) => {
    const waiter = waiters.shift();
    if (waiter) waiter(message);
    else replies.push(message);
  });
  let exited = false;
  child.on("exit", (code) => {
    exited = true;
    const waiter = waiters.shift();
    waiter?.({ type: "error", message: `client process exited (code ${code}) without answering` });
  });
  const next = (): Promise<ChildReply> => {
    const queued = replies.shift();
    if (queued) return Promise.resolve(queued);
    if (exited) return Promise.resolve({ type: "error", message: "client process has exited" });
    return new Promise((resolve) => waiters.push(resolve));
  };
  const send = (command: ChildCommand): void => void child.send(command);
  return {
    async connect() {
      send({ type: "connect", options });
      const reply = await next();
      if (reply.type !== "connected") {
        throw new Error(reply.type === "error" ? reply.message : `unexpected reply ${reply.type}`);
      }
    },
    async finish(timeoutMs) {
      send({ type: "finish", timeoutMs });
      const reply = await next();
      if (reply.type !== "result") {
        throw new Error(reply.type === "error" ? reply.message : `unexpected reply ${reply.type}`);
      }
      return reply.result;
    },
    close() {
      if (!exited) child.kill();
    },
  };
}

interface PhaseResult {
  fleet: FleetResult;
  sorted: number[];
  connectMs: number;
  sendOverrunMs: number;
  warnings: string[];
}

async function runPhase(
  server: SseServer,
  clients: ClientSide,
  options: SseDeliveryOptions,
): Promise<PhaseResult> {
  try {
    const connectStart = monotonicMs();
    try {
      await clients.connect();
    } catch (error) {
      const message = (error as Error).message;
      if (message.includes("EMFILE")) {
        throw new Error(
          `out of file descriptors (EMFILE) opening ${options.clients} clients: raise ulimit -n`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
    // Every stream must be subscribed before the first append, or a sample would be missing.
    const deadline = monotonicMs() + 10_000;
    while ((await server.connectedStreams()) < options.clients) {
      if (monotonicMs() > deadline) {
        throw new Error(
          `${server.label}: only ${await server.connectedStreams()} of ${options.clients} streams are open`,
        );
      }
      await sleep(20);
    }
    const connectMs = monotonicMs() - connectStart;
    await sleep(300);
    for (let n = -options.warmupEvents; n < 0; n++) {
      await server.send(n);
      await sleep(options.intervalMs);
    }
    await sleep(300);

    const start = monotonicMs();
    let sendOverrunMs = 0;
    for (let n = 0; n < options.events; n++) {
      const due = start + n * options.intervalMs;
      const wait = due - monotonicMs();
      if (wait > 0) await sleep(wait);
      else sendOverrunMs = Math.max(sendOverrunMs, -wait);
      await server.send(n);
    }
    const fleet = await clients.finish(10_000);
    const sorted = [...fleet.latencies].sort((a, b) => a - b);
    return { fleet, sorted, connectMs, sendOverrunMs, warnings: server.warnings() };
  } finally {
    clients.close();
    await server.close();
  }
}

function latencyRows(label: string, ours: number[], bare: number[], withTarget: boolean): ResultRow[] {
  return ([50, 95, 99, 100] as const).map((p) => {
    const figure = percentile(ours, p);
    const baseline = percentile(bare, p);
    const name = p === 100 ? "max" : `p${p}`;
    return {
      name: `${label}: ${name}`,
      unit: "ms",
      figure,
      baseline,
      ratioLabel: "ours / bare node:http",
      ratio: figure / baseline,
      digits: 1,
      ...(p === 99 && withTarget
        ? { target: { op: "<=" as const, value: P99_TARGET_MS, label: "p99 ≤ 100 ms" } }
        : {}),
    };
  });
}

function checkPhase(
  report: BenchmarkReport,
  what: string,
  phase: PhaseResult,
  options: SseDeliveryOptions,
): void {
  const { fleet } = phase;
  report.notes.push(
    `${what}: ${fleet.latencies.length.toLocaleString("en-US")} samples of ${fleet.expected.toLocaleString("en-US")} ` +
      `expected (${options.clients} clients × ${options.events} events); connecting all clients took ` +
      `${Math.round(phase.connectMs)} ms; worst lateness of an append against its ${options.intervalMs} ms schedule: ` +
      `${phase.sendOverrunMs.toFixed(1)} ms`,
  );
  if (fleet.missing > 0) {
    report.failures.push(
      `${what}: LOST EVENTS — ${fleet.missing} of ${fleet.expected} (client, event) samples never arrived`,
    );
  }
  if (fleet.duplicates > 0) report.failures.push(`${what}: ${fleet.duplicates} events delivered twice`);
  if (fleet.outOfOrder > 0)
    report.failures.push(`${what}: ${fleet.outOfOrder} events delivered out of order`);
  if (fleet.errors.length > 0) {
    report.failures.push(`${what}: client errors: ${fleet.errors.slice(0, 5).join("; ")}`);
  }
  if (phase.warnings.length > 0) {
    report.notes.push(
      `${what}: the server logged ${phase.warnings.length} warning(s), e.g. ${phase.warnings[0]}`,
    );
  }
}

export async function runSseDeliveryBenchmark(options: SseDeliveryOptions): Promise<BenchmarkReport> {
  const report = newReport(
    "sse-delivery",
    `SSE delivery latency, ${options.clients.toLocaleString("en-US")} clients on GET /api/v1/events`,
  );
  const fleetOptions = (server: SseServer): FleetOptions => ({
    url: server.url,
    headers: server.headers,
    clients: options.clients,
    events: options.events,
  });
  const variants = options.placements.map((placement) =>
    placement === "in-process"
      ? { label: "clients in the server's process", clients: inProcessClients }
      : { label: "clients in a child process", clients: childProcessClients },
  );
  for (const variant of variants) {
    const bareServer = await startBare();
    const bare = await runPhase(bareServer, variant.clients(fleetOptions(bareServer)), options);
    checkPhase(report, `baseline, ${variant.label}`, bare, options);
    const oursServer = await startOurs();
    const ours = await runPhase(oursServer, variant.clients(fleetOptions(oursServer)), options);
    checkPhase(report, `Shepherd, ${variant.label}`, ours, options);
    report.rows.push(...latencyRows(variant.label, ours.sorted, bare.sorted, true));
  }

  report.method =
    `${options.clients.toLocaleString("en-US")} SSE connections (raw \`http.get\` with one keep-alive ` +
    "agent, maxSockets above the client count) to `GET /api/v1/events` with the admin token, on the real " +
    "server started in-process by `startShepherd` (fresh temporary home, embedded SQLite, log level " +
    "`warn`). Once every stream is open (checked with the server's stream-client gauge), " +
    `${options.warmupEvents} unmeasured warm-up events and then ${options.events} measured ` +
    "`tool.invoked` events are appended one at a time through `EventLog.append`, " +
    `on a fixed ${options.intervalMs} ms schedule, each payload carrying the monotonic time just before ` +
    "the append; each client records receive time − append time for each event, so a latency includes " +
    "the SQLite commit, the hub's read-back, the fan-out and the client's own socket read. Percentiles " +
    "(nearest rank) are over all clients × events samples. Baseline: the same fleet against a bare " +
    "`node:http` server in the same process that writes the same prebuilt SSE frame to every open " +
    "response when told (no framework, no database). Caveats: in the first variant server and clients " +
    "share one Node event loop on a 2-core machine, so a client's parse time delays the next client and " +
    "the clients' work is counted in both figures alike; the second variant forks the fleet into a child " +
    "process (both read CLOCK_MONOTONIC via `process.hrtime`, which is system-wide on Linux), so server " +
    "and clients each get a core, which is closer to real remote clients but shares the machine with " +
    "PostgreSQL and anything else running.";
  return report;
}
