import { writeFile } from "node:fs/promises";
import path from "node:path";
import type { GitObserver } from "../../src/git/git-runner.js";
import { createTestDatabase, type DatabaseKind, type TestDatabase } from "./databases.js";
import { startGitHubSimulator, type GitHubSimulator } from "./github-sim/simulator.js";
import { freePort } from "./processes.js";
import { startTestServer, type TestServer } from "./test-server.js";
import { waitFor } from "./wait-for.js";

export const OWNER = "acme";

export interface ProposalView {
  id: string;
  status: string;
  prOpenError: string | null;
  pr: { number: number; url: string; nodeId: string | null; branch: string | null } | null;
  openJobId: string | null;
  manual: boolean;
}

export interface ApiAnswer<T> {
  status: number;
  body: T;
}

/** Records every git process per clone directory, and the most that ever ran at once in one. */
export class GitOperations implements GitObserver {
  readonly #active = new Map<string, number>();
  maxConcurrentPerClone = 0;
  readonly commands: { cwd: string; args: readonly string[] }[] = [];

  started(cwd: string, args: readonly string[]): void {
    // A clone's first operation runs in the clones directory; attribute it to the clone it makes.
    const key = args[0] === "clone" ? (args.at(-1) ?? cwd) : cwd;
    const now = (this.#active.get(key) ?? 0) + 1;
    this.#active.set(key, now);
    this.maxConcurrentPerClone = Math.max(this.maxConcurrentPerClone, now);
    this.commands.push({ cwd, args });
  }

  finished(cwd: string, args: readonly string[]): void {
    const key = args[0] === "clone" ? (args.at(-1) ?? cwd) : cwd;
    this.#active.set(key, (this.#active.get(key) ?? 1) - 1);
  }
}

export interface HarnessRepo {
  name: string;
  owner: string;
  repo: string;
  token: string;
  repoId: string;
}

export interface PrHarness {
  sim: GitHubSimulator;
  server: TestServer;
  database: TestDatabase;
  git: GitOperations;
  addRepo(input: {
    name: string;
    files: Record<string, string>;
    token?: string;
    baseBranch?: string;
    /** A webhook secret for the repo (stored as a secret file, registered as its webhookSecretRef). */
    webhookSecret?: string;
  }): Promise<HarnessRepo>;
  api<T>(method: string, url: string, body?: unknown): Promise<ApiAnswer<T>>;
  propose(body: Record<string, unknown>): Promise<ProposalView>;
  openPr(id: string): Promise<ApiAnswer<{ jobId: string; deduplicated: boolean }>>;
  proposal(id: string): Promise<ProposalView>;
  /** Waits until the proposal left `pending`, or carries an error that is not being retried. */
  settled(id: string, timeoutMs?: number): Promise<ProposalView>;
  eventsOf(kind: string): Promise<{ kind: string; payload: Record<string, unknown> }[]>;
  stop(): Promise<void>;
}

export interface PrHarnessOptions {
  kind?: DatabaseKind;
  /** Extra shepherd.yaml lines (appended to the harness's own). */
  extraYaml?: string;
  lockRetryMs?: number;
  concurrency?: number;
  lockTimeoutSeconds?: number;
  requestTimeoutSeconds?: number;
  observer?: "auto" | "manual";
  observerClock?: () => number;
  /** Listen on a known port with SHEPHERD_PUBLIC_URL pointing at it, so GitHub's webhooks can reach the server. */
  publicUrl?: boolean;
}

/** A GitHub simulator and a Shepherd server (in this process) configured to talk to it. */
export async function startPrHarness(options: PrHarnessOptions = {}): Promise<PrHarness> {
  const sim = await startGitHubSimulator();
  const database = await createTestDatabase(options.kind ?? "sqlite");
  const git = new GitOperations();
  const port = options.publicUrl ? await freePort() : null;
  const yaml = [
    "github:",
    `  url: ${sim.baseUrl}`,
    "  writeSpacingMs: 10",
    `  requestTimeoutSeconds: ${options.requestTimeoutSeconds ?? 5}`,
    "  maxRateLimitWaitSeconds: 5",
    "  secondaryLimitFallbackSeconds: 1",
    "  retryBaseMs: 100",
    "prWorker:",
    `  concurrency: ${options.concurrency ?? 4}`,
    `  lockTimeoutSeconds: ${options.lockTimeoutSeconds ?? 60}`,
    "  gitTimeoutSeconds: 30",
    "  retryBackoffSeconds: 1",
    options.extraYaml ?? "",
  ].join("\n");
  const server = await startTestServer({
    database,
    configYaml: yaml,
    gitObserver: git,
    lockRetryMs: options.lockRetryMs ?? 200,
    observer: options.observer,
    observerClock: options.observerClock,
    ...(port === null
      ? {}
      : { env: { SHEPHERD_PORT: String(port), SHEPHERD_PUBLIC_URL: `http://127.0.0.1:${port}` } }),
  });
  const headers = { authorization: `Bearer ${server.adminToken}` };

  const api = async <T>(method: string, url: string, body?: unknown): Promise<ApiAnswer<T>> => {
    const response = await server.app.inject({
      method: method as "GET",
      url,
      headers,
      ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
    });
    return { status: response.statusCode, body: (response.body ? JSON.parse(response.body) : null) as T };
  };
  const proposal = async (id: string): Promise<ProposalView> => {
    const answer = await api<ProposalView>("GET", `/api/v1/proposals/${id}`);
    if (answer.status !== 200)
      throw new Error(`GET proposal ${id}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  };

  return {
    sim,
    server,
    database,
    git,
    api,
    proposal,
    async addRepo(input) {
      const created = await sim.admin.createRepo({
        owner: OWNER,
        name: input.name,
        files: input.files,
        defaultBranch: input.baseBranch ?? "main",
      });
      const token = sim.admin.createToken({
        repos: [created.fullName],
        ...(input.token === undefined ? {} : { value: input.token }),
      });
      const secretName = `${input.name}-token`;
      await writeFile(path.join(server.home, "secrets", secretName), `${token}\n`, { mode: 0o600 });
      if (input.webhookSecret !== undefined) {
        await writeFile(path.join(server.home, "secrets", `${input.name}-hook`), input.webhookSecret, {
          mode: 0o600,
        });
      }
      const answer = await api<{ id: string }>("POST", "/api/v1/repos", {
        name: input.name,
        url: created.webUrl,
        tokenRef: `file:${secretName}`,
        baseBranch: input.baseBranch ?? "main",
        ...(input.webhookSecret === undefined ? {} : { webhookSecretRef: `file:${input.name}-hook` }),
      });
      if (answer.status !== 201)
        throw new Error(`register repo: ${answer.status} ${JSON.stringify(answer.body)}`);
      return { name: input.name, owner: OWNER, repo: input.name, token, repoId: answer.body.id };
    },
    async propose(body) {
      const answer = await api<ProposalView>("POST", "/api/v1/proposals", body);
      if (answer.status !== 201)
        throw new Error(`create proposal: ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body;
    },
    openPr: (id) => api("POST", `/api/v1/proposals/${id}/open-pr`),
    async settled(id, timeoutMs = 60_000) {
      return waitFor(
        async () => {
          const current = await proposal(id);
          const done =
            current.status !== "pending" ||
            (current.prOpenError !== null && !current.prOpenError.endsWith("(retrying)"));
          return done ? current : null;
        },
        { timeoutMs, intervalMs: 50, message: `proposal ${id} never settled` },
      );
    },
    async eventsOf(kind) {
      const events = await server.running.events.list({ kind, limit: 10_000 });
      return events.map((event) => ({
        kind: event.kind,
        payload: JSON.parse(event.payloadJson) as Record<string, unknown>,
      }));
    },
    async stop() {
      await server.stop();
      await database.cleanup();
      await sim.stop();
    },
  };
}
