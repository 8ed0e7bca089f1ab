import { randomUUID } from "node:crypto";
import { PgBoss, type JobWithMetadata } from "pg-boss";
import {
  assertQueueName,
  DeferJobError,
  errorText,
  JOB_DEFAULTS,
  PermanentJobError,
  type EnqueueOptions,
  type EnqueueResult,
  type JobHandler,
  type JobInfo,
  type JobQueue,
  type JobState,
  type QueueDepth,
  type WorkOptions,
} from "./job-queue.js";
import type { QueueObserver } from "./queue-observer.js";

export interface PgBossJobQueueOptions {
  connectionString: string;
  /** Heartbeat lease: a job whose worker stops heart-beating this long is retried. pg-boss needs ≥ 10. */
  leaseSeconds?: number;
  /** How often pg-boss looks for lapsed heartbeats. */
  superviseIntervalSeconds?: number;
  schema?: string;
  redact?: (text: string) => string;
  observer?: QueueObserver;
}

/** pg-boss needs an object; any JSON payload travels inside this envelope. */
interface Envelope {
  payload: unknown;
  /** Set by a deferral (see #defer). */
  deferredSince?: number;
}

interface RunningJob {
  queue: string;
  id: string;
  retryCount: number;
  controller: AbortController;
  done: Promise<void>;
}

const IN_FLIGHT_STATES = new Set(["created", "retry", "active"]);
const MAX_RUN_SECONDS = 6 * 3600;

function toState(state: JobWithMetadata["state"]): JobState {
  switch (state) {
    case "created":
    case "retry":
      return "queued";
    case "active":
      return "active";
    case "completed":
      return "completed";
    default:
      return "failed";
  }
}

/** The failure text of a job's output: ours is `{message}`, pg-boss's own is `{value: {message}}`. */
function outputMessage(output: unknown): string | null {
  if (output === null || output === undefined) return null;
  if (typeof output === "object") {
    if ("message" in output) return String(output.message);
    if ("value" in output) return outputMessage(output.value);
  }
  return JSON.stringify(output);
}

/**
 * The distributed queue on pg-boss. Queues use the `exclusive` policy: at most one queued or
 * active job per singleton key, which is how the in-flight dedup key is kept by the database.
 * Jobs without a dedup key get a unique key of their own.
 */
export class PgBossJobQueue implements JobQueue {
  readonly kind = "pg-boss";
  readonly #boss: PgBoss;
  readonly #schema: string;
  readonly #leaseSeconds: number;
  readonly #redact: (text: string) => string;
  readonly #observer: QueueObserver;
  readonly #queues = new Map<string, Promise<void>>();
  readonly #running = new Map<string, RunningJob>();
  readonly #workedQueues = new Set<string>();
  #stopping = false;

  constructor(options: PgBossJobQueueOptions) {
    this.#schema = options.schema ?? "pgboss";
    this.#leaseSeconds = Math.max(10, Math.round(options.leaseSeconds ?? 60));
    this.#redact = options.redact ?? ((text) => text);
    this.#observer = options.observer ?? {};
    this.#boss = new PgBoss({
      connectionString: options.connectionString,
      schema: this.#schema,
      application_name: "shepherd-queue",
      useListenNotify: true,
      // Lapsed heartbeats are swept by the monitor pass, which runs at the slower of the two.
      superviseIntervalSeconds: options.superviseIntervalSeconds ?? 10,
      monitorIntervalSeconds: options.superviseIntervalSeconds ?? 10,
      max: 5,
    });
    this.#boss.on("error", (error) => this.#observer.internalError?.(error, "pg-boss"));
  }

  async start(): Promise<void> {
    await this.#boss.start();
  }

  async enqueue(queue: string, payload: unknown, options: EnqueueOptions = {}): Promise<EnqueueResult> {
    await this.#ensureQueue(queue);
    const maxAttempts = Math.max(1, options.maxAttempts ?? JOB_DEFAULTS.maxAttempts);
    const backoffMs = Math.max(0, options.backoffMs ?? JOB_DEFAULTS.backoffMs);
    const data: Envelope = { payload: payload ?? null };
    for (let attempt = 0; attempt < 5; attempt++) {
      const id = await this.#boss.send(queue, data, {
        singletonKey: options.dedupKey ?? `unique:${randomUUID()}`,
        startAfter: new Date(Date.now() + Math.max(0, options.delayMs ?? 0)),
        retryLimit: maxAttempts - 1,
        retryDelay: Math.max(1, Math.ceil(backoffMs / 1000)),
        retryBackoff: true,
        retryDelayMax: JOB_DEFAULTS.maxBackoffMs / 1000,
        expireInSeconds: MAX_RUN_SECONDS,
      });
      if (id) {
        this.#observer.enqueued?.(queue, false);
        return { id, deduplicated: false };
      }
      const existing = await this.#inFlight(queue, options.dedupKey);
      if (existing) {
        this.#observer.enqueued?.(queue, true);
        return { id: existing, deduplicated: true };
      }
      // The in-flight job finished between the insert and the look-up: insert again.
    }
    throw new Error(`could not enqueue on ${queue}: dedup key ${options.dedupKey} kept changing state`);
  }

  async work<P>(queue: string, options: WorkOptions, handler: JobHandler<P>): Promise<void> {
    await this.#ensureQueue(queue);
    if (this.#workedQueues.has(queue)) throw new Error(`a worker for queue ${queue} is already registered`);
    this.#workedQueues.add(queue);
    await this.#boss.work(
      queue,
      {
        localConcurrency: Math.max(1, options.concurrency ?? 1),
        batchSize: 1,
        includeMetadata: true,
        perJobResults: true,
        // NOTIFY wakes workers for new jobs only; retries, delayed starts and lapsed leases are
        // found by this poll, so it bounds their extra latency.
        pollingIntervalSeconds: 1,
        notifyPollingIntervalSeconds: 1,
      },
      async (jobs: JobWithMetadata<Envelope>[]) => {
        const job = jobs[0];
        if (!job) return [];
        return [await this.#run(queue, job, handler as JobHandler<unknown>)];
      },
    );
  }

  async #run(
    queue: string,
    job: JobWithMetadata<Envelope>,
    handler: JobHandler<unknown>,
  ): Promise<{ id: string; status: "completed" | "failed" | "deadletter"; output?: object }> {
    const controller = new AbortController();
    const started = Date.now();
    let settle!: () => void;
    const running: RunningJob = {
      queue,
      id: job.id,
      retryCount: job.retryCount,
      controller,
      done: new Promise<void>((resolve) => (settle = resolve)),
    };
    this.#running.set(job.id, running);
    const onLost = (): void => controller.abort(new Error("lease lost"));
    job.signal.addEventListener("abort", onLost, { once: true });
    try {
      await handler({
        id: job.id,
        queue,
        payload: job.data.payload,
        attempt: job.retryCount + 1,
        maxAttempts: job.retryLimit + 1,
        signal: controller.signal,
        deferredSince: job.data.deferredSince ?? null,
      });
      this.#observer.finished?.(queue, "completed", Date.now() - started);
      return { id: job.id, status: "completed" };
    } catch (error) {
      if (error instanceof DeferJobError) {
        await this.#defer(queue, job, error.delayMs);
        // pg-boss's completion is fenced on the attempt we held, which #defer has given back: a no-op.
        return { id: job.id, status: "completed" };
      }
      const permanent = error instanceof PermanentJobError;
      const final = permanent || job.retryCount >= job.retryLimit;
      this.#observer.finished?.(queue, final ? "failed" : "retrying", Date.now() - started);
      return {
        id: job.id,
        status: permanent ? "deadletter" : "failed",
        output: { message: this.#redact(errorText(error)) },
      };
    } finally {
      job.signal.removeEventListener("abort", onLost);
      this.#running.delete(job.id);
      settle();
    }
  }

  async getJob(queue: string, id: string): Promise<JobInfo | null> {
    await this.#ensureQueue(queue);
    const job = await this.#boss.getJobById<Envelope>(queue, id).catch(() => null);
    if (!job) return null;
    const started = job.startedOn !== null && job.startedOn !== undefined;
    return {
      id: job.id,
      queue,
      state: toState(job.state),
      payload: job.data?.payload ?? null,
      dedupKey: job.singletonKey?.startsWith("unique:") ? null : (job.singletonKey ?? null),
      attempts: job.retryCount + (started ? 1 : 0),
      maxAttempts: job.retryLimit + 1,
      runAt: new Date(job.startAfter),
      lastError: job.state === "completed" ? null : outputMessage((job as { output?: unknown }).output),
    };
  }

  async depth(): Promise<QueueDepth[]> {
    const result = await this.#boss.getDb().executeSql(
      `SELECT name, state::text AS state, count(*)::int AS n FROM ${this.#schema}.job
       WHERE state IN ('created', 'retry', 'active', 'failed') GROUP BY name, state`,
      [],
    );
    const byQueue = new Map<string, QueueDepth>();
    for (const row of result.rows as { name: string; state: string; n: number }[]) {
      const depth = byQueue.get(row.name) ?? { queue: row.name, queued: 0, active: 0, failed: 0 };
      if (row.state === "active") depth.active += row.n;
      else if (row.state === "failed") depth.failed += row.n;
      else depth.queued += row.n;
      byQueue.set(row.name, depth);
    }
    return [...byQueue.values()].sort((a, b) => a.queue.localeCompare(b.queue));
  }

  async ping(): Promise<void> {
    await this.#boss.getDb().executeSql("SELECT 1", []);
  }

  async stop(options: { graceMs?: number } = {}): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    await Promise.allSettled(
      [...this.#workedQueues].map((queue) => this.#boss.offWork(queue, { wait: false })),
    );
    const running = [...this.#running.values()];
    if (running.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, options.graceMs ?? JOB_DEFAULTS.graceMs);
      });
      await Promise.race([Promise.allSettled(running.map((job) => job.done)), deadline]);
      clearTimeout(timer);
    }
    for (const job of this.#running.values()) await this.#release(job);
    await this.#boss.stop({ graceful: false, close: true });
  }

  /**
   * Gives a running job back to the queue without counting the interrupted attempt (pg-boss's
   * own shutdown would fail it, spending a retry). Fenced on the attempt we hold.
   */
  async #release(job: RunningJob): Promise<void> {
    try {
      await this.#boss.getDb().executeSql(
        `UPDATE ${this.#schema}.job
         SET state = 'created', started_on = NULL, heartbeat_on = NULL, start_after = now()
         WHERE name = $1 AND id = $2::uuid AND state = 'active' AND retry_count = $3`,
        [job.queue, job.id, job.retryCount],
      );
      this.#observer.finished?.(job.queue, "released", 0);
    } catch (error) {
      this.#observer.internalError?.(error, "release job");
    }
    job.controller.abort(new Error("released: the worker is shutting down"));
  }

  /**
   * Puts a running job back to start after `delayMs` without spending a retry: back to `created`
   * with no `started_on` (so the next claim does not count), fenced on the attempt we hold.
   */
  async #defer(queue: string, job: JobWithMetadata<Envelope>, delayMs: number): Promise<void> {
    try {
      await this.#boss.getDb().executeSql(
        `UPDATE ${this.#schema}.job
         SET state = 'created', started_on = NULL, heartbeat_on = NULL,
             start_after = now() + ($4::int * interval '1 millisecond'),
             data = jsonb_set(data, '{deferredSince}', to_jsonb(COALESCE((data->>'deferredSince')::bigint, $5::bigint)))
         WHERE name = $1 AND id = $2::uuid AND state = 'active' AND retry_count = $3`,
        [queue, job.id, job.retryCount, Math.max(0, Math.round(delayMs)), Date.now()],
      );
    } catch (error) {
      this.#observer.internalError?.(error, "defer job");
    }
  }

  async #inFlight(queue: string, dedupKey: string | undefined): Promise<string | null> {
    if (dedupKey === undefined) return null;
    const jobs = await this.#boss.findJobs(queue, { key: dedupKey });
    return jobs.find((job) => IN_FLIGHT_STATES.has(job.state))?.id ?? null;
  }

  #ensureQueue(queue: string): Promise<void> {
    assertQueueName(queue);
    let ready = this.#queues.get(queue);
    if (!ready) {
      ready = (async () => {
        if (await this.#boss.getQueue(queue)) return;
        await this.#boss.createQueue(queue, {
          policy: "exclusive",
          heartbeatSeconds: this.#leaseSeconds,
          notify: true,
          expireInSeconds: MAX_RUN_SECONDS,
        });
      })();
      ready.catch(() => this.#queues.delete(queue));
      this.#queues.set(queue, ready);
    }
    return ready;
  }
}
