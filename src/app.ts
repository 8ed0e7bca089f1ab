import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { DestinationStream } from "pino";
import { buildHttpApp } from "./api/http-app.js";
import type { ApiApp } from "./api/api-context.js";
import type { Config, ServerRole } from "./config/config-schema.js";
import { parseSecretRef, resolveSecretRef, secretsDir } from "./config/secret-ref.js";
import { SecretRedactor } from "./domain/redact.js";
import { GitRunner, type GitObserver } from "./git/git-runner.js";
import { GitHubBudget } from "./github/github-budget.js";
import { GitHubClients } from "./github/github-client.js";
import { MemoryEtagCache } from "./github/octokit-plugins.js";
import { createLogger, type Logger } from "./observability/logger.js";
import { createMetrics, type Metrics } from "./observability/metrics.js";
import { createJobQueue } from "./queue/create-job-queue.js";
import type { JobQueue } from "./queue/job-queue.js";
import { EventHub } from "./services/event-hub.js";
import { EventLog } from "./services/event-log.js";
import { SystemStatus } from "./services/system-status.js";
import { TokenService } from "./services/token-service.js";
import { PrWorker } from "./services/pr-worker.js";
import { PR_OPEN_QUEUE, ProposalService, type PrOpenJob } from "./services/proposal-service.js";
import { NotificationService } from "./services/notification-service.js";
import { createObserver } from "./services/observer/create-observer.js";
import type { PrObserver } from "./services/observer/pr-observer.js";
import { PullRequestService } from "./services/pull-request-service.js";
import { repoHealthReader } from "./services/repo-health.js";
import { RepoService } from "./services/repo-service.js";
import { SecretReader } from "./services/secrets.js";
import { createSessions } from "./services/sessions/create-sessions.js";
import type { SessionService } from "./services/sessions/session-service.js";
import { SkillPackError } from "./agents/skills/skill-pack-error.js";
import { WebhookIntake } from "./services/webhook-intake.js";
import { WebhookRegistration } from "./services/webhook-registration.js";
import { PostgresRepoLocks } from "./store/postgres-repo-locks.js";
import { NotificationStore } from "./store/notification-store.js";
import { ProposalStore } from "./store/proposal-store.js";
import { PullRequestStore } from "./store/pull-request-store.js";
import { InProcessRepoLocks, type RepoLocks } from "./store/repo-locks.js";
import { RepoStore } from "./store/repo-store.js";
import { openDatabase, DatabaseUnavailableError, type Database } from "./store/database.js";
import { LocalEventSignal, type EventSignal } from "./store/event-signal.js";
import { EventStore } from "./store/event-store.js";
import { migrateToLatest, MigrationError } from "./store/migrate.js";
import { PostgresEventSignal } from "./store/postgres-event-signal.js";
import { RepoObservationStore } from "./store/repo-observation-store.js";
import { TokenStore } from "./store/token-store.js";
import { WebhookDeliveryStore } from "./store/webhook-delivery-store.js";
import { VERSION } from "./version.js";

/** A problem that stops the server from starting, told to the user in one line. */
export class StartupError extends Error {
  override name = "StartupError";
}

export interface StartOptions {
  config: Config;
  role: ServerRole;
  /** Where JSON logs go (stdout by default); tests capture them. */
  logDestination?: DestinationStream;
  /** Human-facing lines (the listening URL, where the admin token is); stderr by default. */
  announce?: (line: string) => void;
  /** Test hook: faster queue backstops. */
  queueTuning?: { pollMs?: number; superviseIntervalSeconds?: number };
  /** Test hook: watch every git process (e.g. to prove a clone is never used twice at once). */
  gitObserver?: GitObserver;
  /** Test hook: shorter waits when a repo is busy. */
  lockRetryMs?: number;
  /** Test hook: fewer, faster webhook delivery attempts with a shorter deadline. */
  notificationTuning?: { maxAttempts?: number; backoffMs?: number; requestTimeoutMs?: number };
  /**
   * Test hook: `manual` builds the PR observer without starting its loop (tests call `tick()` and
   * `refresh()`); `auto` (the default) starts it when `observer.enabled` is set.
   */
  observer?: "auto" | "manual";
  /** Test hook: the observer's clock. */
  observerClock?: () => number;
}

export interface RunningShepherd {
  config: Config;
  role: ServerRole;
  /** Base URL of the HTTP API, or null for a worker-only process. */
  url: string | null;
  adminTokenFile: string;
  logger: Logger;
  metrics: Metrics;
  database: Database;
  queue: JobQueue;
  events: EventLog;
  tokens: TokenService;
  repos: RepoService;
  proposals: ProposalService;
  /** The PR observer (worker and all roles, unless `observer.enabled: false`). */
  observer: PrObserver | null;
  notifications: NotificationService;
  /** Built-in agent sessions and their approvals (SPEC C6). */
  sessions: SessionService;
  github: GitHubClients;
  redactor: SecretRedactor;
  http: ApiApp | null;
  /** Stops accepting, ends streams, finishes or releases jobs, closes the database. */
  stop(): Promise<void>;
}

/** Everything opened so far, closed in reverse order if a later step fails. */
class Resources {
  readonly #closers: (() => Promise<void>)[] = [];

  add(close: () => Promise<unknown>): void {
    this.#closers.push(async () => {
      await close();
    });
  }

  async closeAll(): Promise<void> {
    for (const close of this.#closers.reverse()) await close().catch(() => undefined);
  }
}

async function registerKnownSecrets(config: Config, redactor: SecretRedactor, logger: Logger): Promise<void> {
  if (config.database.kind === "postgres") {
    const password = new URL(config.database.url).password;
    if (password) redactor.add(decodeURIComponent(password));
  }
  if (!config.github.tokenRef) {
    logger.info("no default GitHub token configured: GitHub features stay off until a repo has its own");
    return;
  }
  try {
    const secret = await resolveSecretRef(parseSecretRef(config.github.tokenRef), config.home);
    redactor.add(secret.value);
    if (secret.looseMode !== null) {
      logger.warn(
        { ref: config.github.tokenRef, mode: secret.looseMode.toString(8) },
        "secret file is readable by others; chmod 600 it",
      );
    }
  } catch (error) {
    logger.warn(
      { ref: config.github.tokenRef, reason: (error as Error).message },
      "default GitHub token cannot be read",
    );
  }
}

export async function startShepherd(options: StartOptions): Promise<RunningShepherd> {
  const { config, role } = options;
  const announce = options.announce ?? ((line: string) => process.stderr.write(`${line}\n`));
  const redactor = new SecretRedactor();
  const logger = createLogger({ level: config.log.level, redactor, destination: options.logDestination });
  const resources = new Resources();
  try {
    if (config.database.kind === "sqlite" && role !== "all") {
      throw new StartupError(
        `--role ${role} needs PostgreSQL (SHEPHERD_DATABASE_URL=postgres://…); the embedded SQLite mode runs everything in one process (--role all)`,
      );
    }
    await mkdir(config.home, { recursive: true, mode: 0o700 });
    await mkdir(secretsDir(config.home), { recursive: true, mode: 0o700 });
    await registerKnownSecrets(config, redactor, logger);

    const database = await openDatabase(config.database).catch((error: unknown) => {
      if (error instanceof DatabaseUnavailableError) throw new StartupError(redactor.redact(error.message));
      throw error;
    });
    resources.add(() => database.close());
    const migration = await migrateToLatest(database).catch((error: unknown) => {
      if (error instanceof MigrationError) throw new StartupError(redactor.redact(error.message));
      throw error;
    });
    if (migration.applied.length > 0) logger.info({ applied: migration.applied }, "database migrated");

    const metrics = createMetrics();
    const signal: EventSignal =
      config.database.kind === "postgres"
        ? new PostgresEventSignal(config.database.url, (error) =>
            logger.warn({ err: error }, "event notification connection lost; reconnecting"),
          )
        : new LocalEventSignal();
    await signal.start();
    resources.add(() => signal.close());

    const eventStore = new EventStore(database);
    const hub = new EventHub(eventStore, signal, (error) =>
      logger.error({ err: error }, "event fan-out failed"),
    );
    await hub.start();
    resources.add(async () => hub.stop());
    const events = new EventLog({
      store: eventStore,
      signal,
      hub,
      redactor,
      onAppended: (count) => metrics.eventsAppended.inc(count),
    });
    const tokens = new TokenService(new TokenStore(database.db), redactor, events);
    const adminToken = await tokens.ensureAdminTokenFile(config.home);

    const queue = await createJobQueue(database, {
      leaseMs: config.queue.leaseSeconds * 1000,
      postgresUrl: config.database.kind === "postgres" ? config.database.url : undefined,
      pollMs: options.queueTuning?.pollMs,
      superviseIntervalSeconds: options.queueTuning?.superviseIntervalSeconds,
      redact: (text) => redactor.redact(text),
      observer: {
        enqueued: (name, deduplicated) =>
          metrics.jobsEnqueued.inc({ queue: name, deduplicated: String(deduplicated) }),
        finished: (name, outcome) => metrics.jobsFinished.inc({ queue: name, outcome }),
        internalError: (error, context) => logger.error({ err: error, context }, "job queue error"),
      },
    });
    // Every role starts the queue: api processes enqueue; worker and all processes also run the
    // job handlers, which capabilities register here (the foundation itself defines none).
    await queue.start();
    resources.add(() => queue.stop());

    const secrets = new SecretReader(config.home, redactor);
    const github = new GitHubClients(
      config.github.apiUrl,
      {
        writeSpacingMs: config.github.writeSpacingMs,
        maxRateLimitWaitSeconds: config.github.maxRateLimitWaitSeconds,
        rateLimitRetries: 2,
        serverErrorRetries: 2,
        retryBaseMs: config.github.retryBaseMs,
        requestTimeoutMs: config.github.requestTimeoutSeconds * 1000,
        secondaryLimitFallbackSeconds: config.github.secondaryLimitFallbackSeconds,
      },
      new GitHubBudget(metrics),
      new MemoryEtagCache(),
    );
    const clonesDir = path.join(config.home, "clones");
    const gitHome = path.join(config.home, "git-home");
    await mkdir(gitHome, { recursive: true, mode: 0o700 });
    const repoStore = new RepoStore(database.db);
    const proposalStore = new ProposalStore(database.db);
    const repos = new RepoService({
      store: repoStore,
      events,
      secrets,
      github,
      webUrl: config.github.webUrl,
      clonesDir,
      observations: new RepoObservationStore(database.db),
      webhookHealthyMs: config.observer.webhookHealthySeconds * 1000,
    });
    const pullRequestStore = new PullRequestStore(database.db);
    const pullRequests = new PullRequestService({ store: pullRequestStore, repos: repoStore });
    const proposals = new ProposalService({
      store: proposalStore,
      repos: repoStore,
      pullRequests: pullRequestStore,
      events,
      queue,
      secrets,
      retryBackoffMs: config.prWorker.retryBackoffSeconds * 1000,
    });
    const webhookIntake = new WebhookIntake({
      deliveries: new WebhookDeliveryStore(database.db),
      pullRequests: pullRequestStore,
      observations: new RepoObservationStore(database.db),
      secrets,
      events,
      logger,
    });
    const webhookRegistration = new WebhookRegistration({
      repos,
      observations: new RepoObservationStore(database.db),
      secrets,
      github,
      publicUrl: config.server.publicUrl,
    });
    const notifications = new NotificationService({
      store: new NotificationStore(database.db),
      events,
      queue,
      secrets,
      redactor,
      config: config.notifications,
      publicUrl: config.server.publicUrl,
      metrics,
      logger,
      retry: options.notificationTuning,
      requestTimeoutMs: options.notificationTuning?.requestTimeoutMs,
    });

    const gitRunner = new GitRunner({
      identity: { name: config.git.authorName, email: config.git.authorEmail },
      redact: (text) => redactor.redact(text),
      homeDir: gitHome,
      defaultTimeoutMs: config.prWorker.gitTimeoutSeconds * 1000,
      observer: options.gitObserver,
    });
    let sessions;
    try {
      sessions = await createSessions({
        config,
        database,
        events,
        queue,
        secrets,
        repos: repoStore,
        proposals,
        git: gitRunner,
        notifier: notifications,
        redactor,
        runsAgents: role !== "api",
        logger,
      });
    } catch (error) {
      if (error instanceof SkillPackError) throw new StartupError(`invalid skill pack:\n${error.message}`);
      throw error;
    }
    const agentSessions = sessions;
    resources.add(() => agentSessions.close());
    if (role !== "api") await agentSessions.startWorkers();

    if (role !== "api") {
      const locks: RepoLocks =
        config.database.kind === "postgres"
          ? new PostgresRepoLocks(config.database.url, config.prWorker.concurrency + 1)
          : new InProcessRepoLocks();
      resources.add(() => locks.close());
      const worker = new PrWorker({
        proposals: proposalStore,
        repos: repoStore,
        pullRequests: pullRequestStore,
        events,
        secrets,
        github,
        git: gitRunner,
        locks,
        urls: config.github,
        clonesDir,
        publicUrl: config.server.publicUrl,
        redactor,
        logger,
        lockTimeoutMs: config.prWorker.lockTimeoutSeconds * 1000,
        lockRetryMs: options.lockRetryMs ?? 2000,
        sessionFacts: agentSessions.facts,
      });
      await queue.work<PrOpenJob>(PR_OPEN_QUEUE, { concurrency: config.prWorker.concurrency }, (job) =>
        worker.handle(job),
      );
    }
    if (role !== "api") {
      resources.add(async () => notifications.stopDelivery());
      await notifications.startDelivery();
    }
    let observer: PrObserver | null = null;
    if (role !== "api" && config.observer.enabled) {
      const created = createObserver({
        config,
        database,
        repos: repoStore,
        pullRequests: pullRequestStore,
        events,
        secrets,
        github,
        notifier: notifications,
        metrics,
        logger,
        now: options.observerClock,
        sessionFacts: agentSessions.facts,
        wakeSession: (sessionId) => agentSessions.service.wake(sessionId),
      });
      observer = created;
      resources.add(() => created.stop());
      if ((options.observer ?? "auto") === "auto") created.start();
    }

    const system = new SystemStatus({
      database,
      queue,
      events,
      version: VERSION,
      role,
      startedAt: Date.now(),
      repoHealth: repoHealthReader(repoStore, new RepoObservationStore(database.db)),
    });

    let http: ApiApp | null = null;
    let url: string | null = null;
    if (role !== "worker") {
      http = await buildHttpApp(
        {
          config,
          version: VERSION,
          metrics,
          redactor,
          tokens,
          events,
          system,
          repos,
          proposals,
          pullRequests,
          webhookIntake,
          webhookRegistration,
          notifications,
          sessions: agentSessions.service,
        },
        logger,
      );
      const app = http;
      resources.add(() => app.close());
      url = await listen(http, config.server.host, config.server.port);
    }

    announce(
      url
        ? `Shepherd ${VERSION} (${role}) listening on ${url} — data: ${database.description}`
        : `Shepherd ${VERSION} (${role}) running — data: ${database.description}`,
    );
    announce(
      adminToken.created
        ? `Admin token written to ${adminToken.path} (mode 0600; the CLI uses it for this server)`
        : `Admin token: ${adminToken.path}`,
    );

    let stopping: Promise<void> | null = null;
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        logger.info("shutting down");
        await observer?.stop().catch((error: unknown) => logger.warn({ err: error }, "observer stop failed"));
        // Streams end first so that closing the server does not wait on them.
        hub.stop();
        for (const client of http?.websocketServer.clients ?? []) client.close(1001, "server shutting down");
        if (http)
          await http.close().catch((error: unknown) => logger.warn({ err: error }, "http close failed"));
        notifications.stopDelivery();
        await queue
          .stop({ graceMs: 7000 })
          .catch((error: unknown) => logger.warn({ err: error }, "queue stop failed"));
        await signal.close();
        await database.close();
        logger.info("stopped");
        logger.flush();
      })();
      return stopping;
    };

    return {
      config,
      role,
      url,
      adminTokenFile: adminToken.path,
      logger,
      metrics,
      database,
      queue,
      events,
      tokens,
      repos,
      proposals,
      sessions: agentSessions.service,
      observer,
      notifications,
      github,
      redactor,
      http,
      stop,
    };
  } catch (error) {
    await resources.closeAll();
    logger.flush();
    throw error;
  }
}

async function listen(app: ApiApp, host: string, port: number): Promise<string> {
  try {
    await app.listen({ host, port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") {
      throw new StartupError(
        `port ${port} on ${host} is already in use (another Shepherd?); choose another with --port or SHEPHERD_PORT`,
      );
    }
    if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND") {
      throw new StartupError(`cannot listen on ${host}: no such local address`);
    }
    if (code === "EACCES") throw new StartupError(`not allowed to listen on ${host}:${port}`);
    throw error;
  }
  const address = app.server.address();
  if (address === null || typeof address === "string") return `http://${host}:${port}`;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return `http://${shownHost}:${address.port}`;
}
