import type { ServerRole } from "../config/config-schema.js";
import type { JobQueue, QueueDepth } from "../queue/job-queue.js";
import type { Database } from "../store/database.js";
import type { RepoHealth } from "../store/repo-observation-store.js";
import { currentMigration } from "../store/migrate.js";
import type { EventLog } from "./event-log.js";

export interface CheckResult {
  ok: boolean;
  error?: string;
}

export interface RepoHealthEntry {
  name: string;
  health: RepoHealth;
  since: string | null;
}

export interface Readiness {
  ready: boolean;
  checks: Record<string, CheckResult>;
  /** Per-repo GitHub health as the observer last saw it; a bad repo does not make the process unready. */
  github: { status: "ok" | "degraded"; repos: RepoHealthEntry[] };
}

export interface StatusReport {
  version: string;
  node: string;
  role: ServerRole;
  startedAt: string;
  uptimeSeconds: number;
  database: { dialect: string; location: string; migration: string | null };
  queue: { kind: string; depth: QueueDepth[] };
  events: { head: number };
}

const CHECK_TIMEOUT_MS = 2000;

async function check(probe: () => Promise<unknown>): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([probe(), timeout]);
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

/** Health, readiness and the status report (`shepherd status`). */
export class SystemStatus {
  constructor(
    private readonly deps: {
      database: Database;
      queue: JobQueue;
      events: EventLog;
      version: string;
      role: ServerRole;
      startedAt: number;
      now?: () => number;
      /** Repos and their observation health (SPEC C1 `/readyz`). */
      repoHealth?: () => Promise<RepoHealthEntry[]>;
    },
  ) {}

  async readiness(): Promise<Readiness> {
    const [database, queue] = await Promise.all([
      check(() => this.deps.database.ping()),
      check(() => this.deps.queue.ping()),
    ]);
    const repos = database.ok && this.deps.repoHealth ? await this.deps.repoHealth().catch(() => []) : [];
    const degraded = repos.some((repo) => repo.health === "auth_failed" || repo.health === "no_token");
    return {
      ready: database.ok && queue.ok,
      checks: { database, queue },
      github: { status: degraded ? "degraded" : "ok", repos },
    };
  }

  queueDepth(): Promise<QueueDepth[]> {
    return this.deps.queue.depth();
  }

  async status(): Promise<StatusReport> {
    const { database, queue, events } = this.deps;
    const now = (this.deps.now ?? Date.now)();
    const [migration, depth, head] = await Promise.all([
      currentMigration(database),
      queue.depth(),
      events.head(),
    ]);
    return {
      version: this.deps.version,
      node: process.version,
      role: this.deps.role,
      startedAt: new Date(this.deps.startedAt).toISOString(),
      uptimeSeconds: Math.round((now - this.deps.startedAt) / 1000),
      database: { dialect: database.dialect, location: database.description, migration },
      queue: { kind: queue.kind, depth },
      events: { head },
    };
  }
}
