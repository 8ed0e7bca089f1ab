import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createTestDatabase,
  DATABASE_KINDS,
  type DatabaseKind,
  type TestDatabase,
} from "../support/databases.js";
import { startGitHubSimulator, type GitHubSimulator } from "../support/github-sim/simulator.js";
import type { Fault } from "../support/github-sim/faults.js";
import { cleanupAll, freePort, newHome, startServer, type ShepherdServer } from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";

/**
 * SPEC §R "Crash safety": `kill -9` at any step of the PR worker, then restart → each proposal
 * ends with exactly one PR. The simulator withholds GitHub's (or git's) answer at the chosen step
 * — the effect has happened, the worker has not seen it — and the server is killed right there.
 */
interface KillPoint {
  name: string;
  fault: Fault;
  /** True once the worker is stuck at that point. */
  reached: (sim: GitHubSimulator, branch: string) => Promise<boolean> | boolean;
}

const OWNER = "acme";
const REPO = "crashy";

const POINTS: KillPoint[] = [
  {
    name: "while git fetches the base (clone in progress)",
    fault: { match: { method: "POST", path: "git-upload-pack$" }, times: 1, action: { type: "hold" } },
    reached: (sim) => sim.admin.requests().some((r) => r.path.endsWith("git-upload-pack") && r.status === 0),
  },
  {
    name: "after the push landed, before git heard back",
    fault: { match: { method: "POST", path: "git-receive-pack$" }, times: 1, action: { type: "hold" } },
    reached: async (sim, branch) => (await sim.admin.branchHead(OWNER, REPO, branch)) !== null,
  },
  {
    name: "after GitHub created the PR, before the answer came back",
    fault: { match: { method: "POST", path: "/pulls$" }, times: 1, action: { type: "hold" } },
    reached: (sim) => sim.admin.pulls(OWNER, REPO).length === 1,
  },
  {
    name: "after the chart comment was posted, before the answer came back",
    fault: { match: { method: "POST", path: "/comments$" }, times: 1, action: { type: "hold" } },
    reached: (sim) =>
      sim.admin.pulls(OWNER, REPO)[0] ? sim.admin.issueComments(OWNER, REPO, 1).length === 1 : false,
  },
];

describe.each(DATABASE_KINDS)("PR worker crash safety ($kind)", ({ kind, skip }) => {
  let sim: GitHubSimulator;
  let database: TestDatabase | null = null;

  beforeEach(async () => {
    if (skip) return;
    sim = await startGitHubSimulator();
  });

  afterEach(async () => {
    if (skip) return;
    await cleanupAll();
    await sim.stop();
    await database?.cleanup();
    database = null;
  });

  async function configure(
    dbKind: DatabaseKind,
  ): Promise<{ home: string; port: number; env: Record<string, string> }> {
    const home = await newHome();
    const port = await freePort();
    const configFile = path.join(home, "shepherd.yaml");
    await mkdir(home, { recursive: true });
    await writeFile(
      configFile,
      [
        "github:",
        `  url: ${sim.baseUrl}`,
        "  writeSpacingMs: 10",
        "  retryBaseMs: 100",
        "queue:",
        "  leaseSeconds: 10",
        "prWorker:",
        "  retryBackoffSeconds: 1",
        "log:",
        "  level: warn",
      ].join("\n"),
    );
    const env: Record<string, string> = { SHEPHERD_CONFIG: configFile };
    if (dbKind === "postgres") {
      database = await createTestDatabase("postgres");
      env.SHEPHERD_DATABASE_URL = database.target.url;
    }
    return { home, port, env };
  }

  async function client(server: ShepherdServer) {
    const token = (await readFile(path.join(server.home, "admin.token"), "utf8")).trim();
    return async <T>(method: string, url: string, body?: unknown): Promise<{ status: number; body: T }> => {
      const response = await fetch(`${server.url ?? ""}${url}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as T };
    };
  }

  it.skipIf(skip).each(POINTS)(
    "a SIGKILL $name, then a restart: exactly one PR and one comment",
    async (point) => {
      const { home, port, env } = await configure(kind);
      let server = await startServer({ home, port, env, readyTimeoutMs: 30_000 });
      let api = await client(server);

      const created = await sim.admin.createRepo({
        owner: OWNER,
        name: REPO,
        files: { "p.json": '{"a": 1, "b": 2}\n' },
      });
      const token = sim.admin.createToken({ repos: [created.fullName] });
      await writeFile(path.join(home, "secrets", "crashy-token"), `${token}\n`, { mode: 0o600 });
      expect(
        (
          await api("POST", "/api/v1/repos", {
            name: REPO,
            url: created.webUrl,
            tokenRef: "file:crashy-token",
          })
        ).status,
      ).toBe(201);
      const proposal = await api<{ id: string }>("POST", "/api/v1/proposals", {
        repoId: REPO,
        title: "Tune a",
        kind: "params",
        change: { path: "p.json", set: { a: { to: 3 } } },
        evidence: { importance: { a: 0.8, b: 0.2 } },
      });
      const id = proposal.body.id;
      const branch = `shepherd/proposal-${id}`;

      sim.admin.addFault(point.fault);
      expect((await api("POST", `/api/v1/proposals/${id}/open-pr`)).status).toBe(202);
      await waitFor(() => point.reached(sim, branch), {
        timeoutMs: 30_000,
        message: `never reached: ${point.name}`,
      });
      await server.proc.kill();
      sim.admin.releaseHeld();
      sim.admin.clearFaults();

      server = await startServer({ home, port, env, readyTimeoutMs: 30_000 });
      api = await client(server);
      const done = await waitFor(
        async () => {
          const current = await api<{
            status: string;
            prOpenError: string | null;
            pr: { number: number } | null;
          }>("GET", `/api/v1/proposals/${id}`);
          return current.body.status === "pr_opened" ? current.body : null;
        },
        {
          timeoutMs: 90_000,
          intervalMs: 200,
          message: "the proposal never reached pr_opened after the restart",
        },
      );
      const pulls = sim.admin.pulls(OWNER, REPO);
      expect(pulls).toHaveLength(1);
      expect(done.pr?.number).toBe(pulls[0]?.number);
      expect(sim.admin.issueComments(OWNER, REPO, pulls[0]?.number ?? 0)).toHaveLength(1);
      expect(pulls[0]?.state).toBe("open");
    },
    150_000,
  );
});
