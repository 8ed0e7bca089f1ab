import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { startShepherd, type RunningShepherd, type StartOptions } from "../../src/app.js";
import type { Config, ServerRole } from "../../src/config/config-schema.js";
import { loadConfig } from "../../src/config/load-config.js";
import type { Role } from "../../src/domain/roles.js";
import type { ApiApp } from "../../src/api/api-context.js";
import type { GitObserver } from "../../src/git/git-runner.js";
import { createTestDatabase, type DatabaseKind, type TestDatabase } from "./databases.js";
import { LogCapture } from "./log-capture.js";

export interface TestServer {
  running: RunningShepherd;
  /** The Fastify app, for `inject()` tests. */
  app: ApiApp;
  /** Base URL when listening (always: port 0 picks a free port). */
  url: string;
  home: string;
  config: Config;
  logs: LogCapture;
  adminToken: string;
  /** Creates a token with this role (agents are bound to `sessionId`) and returns its secret. */
  tokenFor(role: Role, sessionId?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface TestServerOptions {
  kind?: DatabaseKind;
  /** Content of a shepherd.yaml for this server (written into its home). */
  configYaml?: string;
  gitObserver?: GitObserver;
  lockRetryMs?: number;
  /** An existing database to share with another server (two processes on one PostgreSQL). */
  database?: TestDatabase;
  role?: ServerRole;
  env?: Record<string, string>;
  notificationTuning?: StartOptions["notificationTuning"];
  /** Default `manual`: the observer exists but only runs when a test calls tick()/refresh(). */
  observer?: StartOptions["observer"];
  observerClock?: StartOptions["observerClock"];
}

/** Starts Shepherd in this process the way `shepherd serve` does, on a fresh home and database. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const home = await mkdtemp(path.join(os.tmpdir(), "shepherd-home-"));
  const ownDatabase = options.database ? null : await createTestDatabase(options.kind ?? "sqlite");
  const database = options.database ?? (ownDatabase as TestDatabase);
  const configFile = path.join(home, "shepherd.yaml");
  if (options.configYaml !== undefined) await writeFile(configFile, options.configYaml);
  const config = await loadConfig({
    ...(options.configYaml === undefined ? {} : { configPath: configFile }),
    env: {
      SHEPHERD_HOME: home,
      SHEPHERD_PORT: "0",
      SHEPHERD_LOG_LEVEL: "debug",
      SHEPHERD_DATABASE_URL: database.target.url,
      ...options.env,
    },
    cwd: home,
  });
  const logs = new LogCapture();
  const running = await startShepherd({
    config,
    role: options.role ?? "all",
    logDestination: logs,
    announce: () => undefined,
    queueTuning: { pollMs: 100, superviseIntervalSeconds: 1 },
    gitObserver: options.gitObserver,
    lockRetryMs: options.lockRetryMs,
    notificationTuning: options.notificationTuning,
    observer: options.observer ?? "manual",
    observerClock: options.observerClock,
  });
  const adminToken = (await readFile(running.adminTokenFile, "utf8")).trim();
  let stopped = false;
  return {
    running,
    app: running.http as ApiApp,
    url: running.url ?? "",
    home,
    config,
    logs,
    adminToken,
    async tokenFor(role, sessionId) {
      const { secret } = await running.tokens.create({
        name: `test-${role}`,
        role,
        sessionId: role === "agent" ? (sessionId ?? "sess-test") : null,
        createdBy: null,
      });
      return secret;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await running.stop();
      await ownDatabase?.cleanup();
      await rm(home, { recursive: true, force: true });
    },
  };
}
