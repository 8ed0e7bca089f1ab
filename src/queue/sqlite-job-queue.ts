import { randomUUID } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import { newId } from "../store/ids.js";
import type { JobsTable, Schema } from "../store/schema.js";
import {
  assertQueueName,
  backoffDelay,
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

export interface SqliteJobQueueOptions {
  /** How long a claimed job is held without renewal before another worker may take it. */
  leaseMs?: number;
  /** Backstop check for due delayed jobs and lapsed leases; new jobs wake workers at once. */
  pollMs?: number;
  /** Finished jobs older than this are deleted. */
  retentionMs?: number;
  /** Applied to job error text before it is stored. */
  redact?: (text: string) => string;
  observer?: QueueObserver;
  now?: () => number;
}

interface Worker {
  queue: string;
  concurrency: number;
  handler: JobHandler<unknown>;
  running: Map<string, RunningJob>;
  timer: NodeJS.Timeout | null;
  filling: boolean;
  refill: boolean;
}

interface RunningJob {
  id: string;
  leaseToken: string;
  controller: AbortController;
  done: Promise<void>;
}

const IN_FLIGHT = ["queued", "active"] as const;

function toInfo(row: Selectable<JobsTable>): JobInfo {
  return {
    id: row.id,
    queue: row.queue,
    state: row.state as JobState,
    payload: JSON.parse(row.payload) as unknown,
    dedupKey: row.dedup_key,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    runAt: new Date(row.run_at),
    lastError: row.last_error,
  };
}

/** The embedded queue: a durable jobs table in the same SQLite database as everything else. */
export class SqliteJobQueue implements JobQueue {
  readonly kind = "sqlite";
  readonly #workers = new Map<string, Worker>();
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #retentionMs: number;
  readonly #redact: (text: string) => string;
  readonly #observer: QueueObserver;
  readonly #now: () => number;
  #started = false;
  #stopping = false;
  #lastPurge = 0;

  constructor(
    private readonly db: Kysely<Schema>,
    options: SqliteJobQueueOptions = {},
  ) {
    this.#leaseMs = options.leaseMs ?? 60_000;
    this.#pollMs = options.pollMs ?? 1000;
    this.#retentionMs = options.retentionMs ?? 7 * 24 * 3600 * 1000;
    this.#redact = options.redact ?? ((text) => text);
    this.#observer = options.observer ?? {};
    this.#now = options.now ?? Date.now;
  }

  async start(): Promise<void> {
    this.#started = true;
    for (const worker of this.#workers.values()) this.#schedule(worker, 0);
  }

  async enqueue(queue: string, payload: unknown, options: EnqueueOptions = {}): Promise<EnqueueResult> {
    assertQueueName(queue);
    const dedupKey = options.dedupKey ?? null;
    for (let attempt = 0; attempt < 5; attempt++) {
      const now = this.#now();
      const id = newId("job", now);
      const inserted = await this.db
        .insertInto("jobs")
        .values({
          id,
          queue,
          payload: JSON.stringify(payload ?? null),
          state: "queued",
          dedup_key: dedupKey,
          attempts: 0,
          max_attempts: Math.max(1, options.maxAttempts ?? JOB_DEFAULTS.maxAttempts),
          backoff_ms: Math.max(0, options.backoffMs ?? JOB_DEFAULTS.backoffMs),
          run_at: now + Math.max(0, options.delayMs ?? 0),
          lease_until: null,
          lease_token: null,
          last_error: null,
          created_at: now,
          updated_at: now,
          finished_at: null,
        })
        .onConflict((oc) => oc.doNothing())
        .returning("id")
        .executeTakeFirst();
      if (inserted) {
        this.#observer.enqueued?.(queue, false);
        this.#wake(queue, options.delayMs ?? 0);
        return { id, deduplicated: false };
      }
      const existing = await this.db
        .selectFrom("jobs")
        .select("id")
        .where("queue", "=", queue)
        .where("dedup_key", "=", dedupKey)
        .where("state", "in", IN_FLIGHT)
        .executeTakeFirst();
      if (existing) {
        this.#observer.enqueued?.(queue, true);
        return { id: existing.id, deduplicated: true };
      }
      // The in-flight job finished between our insert and our look-up: insert again.
    }
    throw new Error(`could not enqueue on ${queue}: dedup key ${dedupKey} kept changing state`);
  }

  async work<P>(queue: string, options: WorkOptions, handler: JobHandler<P>): Promise<void> {
    assertQueueName(queue);
    if (this.#workers.has(queue)) throw new Error(`a worker for queue ${queue} is already registered`);
    const worker: Worker = {
      queue,
      concurrency: Math.max(1, options.concurrency ?? 1),
      handler: handler as JobHandler<unknown>,
      running: new Map(),
      timer: null,
      filling: false,
      refill: false,
    };
    this.#workers.set(queue, worker);
    if (this.#started) this.#schedule(worker, 0);
  }

  async getJob(queue: string, id: string): Promise<JobInfo | null> {
    const row = await this.db
      .selectFrom("jobs")
      .selectAll()
      .where("id", "=", id)
      .where("queue", "=", queue)
      .executeTakeFirst();
    return row ? toInfo(row) : null;
  }

  async depth(): Promise<QueueDepth[]> {
    const rows = await this.db
      .selectFrom("jobs")
      .select(["queue", "state", (eb) => eb.fn.countAll<number>().as("n")])
      .where("state", "in", ["queued", "active", "failed"])
      .groupBy(["queue", "state"])
      .execute();
    const byQueue = new Map<string, QueueDepth>();
    for (const row of rows) {
      const depth = byQueue.get(row.queue) ?? { queue: row.queue, queued: 0, active: 0, failed: 0 };
      depth[row.state as "queued" | "active" | "failed"] = Number(row.n);
      byQueue.set(row.queue, depth);
    }
    return [...byQueue.values()].sort((a, b) => a.queue.localeCompare(b.queue));
  }

  async ping(): Promise<void> {
    await this.db.selectFrom("jobs").select("id").limit(1).execute();
  }

  async stop(options: { graceMs?: number } = {}): Promise<void> {
    this.#stopping = true;
    for (const worker of this.#workers.values()) {
      if (worker.timer) clearTimeout(worker.timer);
      worker.timer = null;
    }
    const running = [...this.#workers.values()].flatMap((worker) => [...worker.running.values()]);
    if (running.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, options.graceMs ?? JOB_DEFAULTS.graceMs);
    });
    await Promise.race([Promise.allSettled(running.map((job) => job.done)), deadline]);
    clearTimeout(timer);
    const now = this.#now();
    for (const worker of this.#workers.values()) {
      for (const job of worker.running.values()) {
        // Give the job back without counting the interrupted attempt; its late result is ignored.
        await this.db
          .updateTable("jobs")
          .set((eb) => ({
            state: "queued",
            attempts: eb("attempts", "-", 1),
            lease_token: null,
            lease_until: null,
            run_at: now,
            updated_at: now,
          }))
          .where("id", "=", job.id)
          .where("lease_token", "=", job.leaseToken)
          .execute()
          .catch((error: unknown) => this.#observer.internalError?.(error, "release job"));
        job.controller.abort(new Error("released: the worker is shutting down"));
        this.#observer.finished?.(worker.queue, "released", 0);
      }
    }
  }

  #wake(queue: string, delayMs: number): void {
    const worker = this.#workers.get(queue);
    if (worker && this.#started) this.#schedule(worker, delayMs);
  }

  /** Runs `fill` after `delayMs` unless it is already due sooner. */
  #schedule(worker: Worker, delayMs: number): void {
    if (this.#stopping) return;
    if (delayMs <= 0) {
      void this.#fill(worker);
      return;
    }
    const timer = setTimeout(() => void this.#fill(worker), delayMs);
    timer.unref();
  }

  async #fill(worker: Worker): Promise<void> {
    if (this.#stopping) return;
    if (worker.filling) {
      worker.refill = true;
      return;
    }
    worker.filling = true;
    try {
      do {
        worker.refill = false;
        while (!this.#stopping && worker.running.size < worker.concurrency) {
          const job = await this.#claim(worker.queue);
          if (!job) break;
          this.#run(worker, job);
        }
      } while (worker.refill && !this.#stopping);
      await this.#purgeOccasionally();
    } catch (error) {
      this.#observer.internalError?.(error, `claim on ${worker.queue}`);
    } finally {
      worker.filling = false;
    }
    // Backstop: delayed jobs coming due and leases of crashed processes lapsing.
    if (!this.#stopping) {
      if (worker.timer) clearTimeout(worker.timer);
      worker.timer = setTimeout(() => {
        worker.timer = null;
        void this.#fill(worker);
      }, this.#pollMs);
      worker.timer.unref();
    }
  }

  async #claim(queue: string): Promise<Selectable<JobsTable> | null> {
    const now = this.#now();
    // A job whose lease lapsed on its last allowed attempt has run out of attempts.
    await this.db
      .updateTable("jobs")
      .set({
        state: "failed",
        last_error: "lease expired: the process running the job stopped",
        lease_token: null,
        lease_until: null,
        finished_at: now,
        updated_at: now,
      })
      .where("queue", "=", queue)
      .where("state", "=", "active")
      .where("lease_until", "<", now)
      .whereRef("attempts", ">=", "max_attempts")
      .execute();
    const leaseToken = randomUUID();
    const row = await this.db
      .updateTable("jobs")
      .set((eb) => ({
        state: "active",
        attempts: eb("attempts", "+", 1),
        lease_token: leaseToken,
        lease_until: now + this.#leaseMs,
        updated_at: now,
      }))
      .where(
        "id",
        "=",
        this.db
          .selectFrom("jobs")
          .select("id")
          .where("queue", "=", queue)
          .where((eb) =>
            eb.or([
              eb.and([eb("state", "=", "queued"), eb("run_at", "<=", now)]),
              eb.and([eb("state", "=", "active"), eb("lease_until", "<", now)]),
            ]),
          )
          .orderBy("run_at", "asc")
          .orderBy("id", "asc")
          .limit(1),
      )
      .returningAll()
      .executeTakeFirst();
    return row ?? null;
  }

  #run(worker: Worker, row: Selectable<JobsTable>): void {
    const leaseToken = row.lease_token as string;
    const controller = new AbortController();
    const started = this.#now();
    const renew = setInterval(
      () => {
        const now = this.#now();
        this.db
          .updateTable("jobs")
          .set({ lease_until: now + this.#leaseMs, updated_at: now })
          .where("id", "=", row.id)
          .where("lease_token", "=", leaseToken)
          .executeTakeFirst()
          .then((result) => {
            if (result.numUpdatedRows === 0n) controller.abort(new Error("lease lost"));
          })
          .catch((error: unknown) => this.#observer.internalError?.(error, "renew lease"));
      },
      Math.max(100, Math.floor(this.#leaseMs / 3)),
    );
    renew.unref();

    const done = (async () => {
      try {
        await worker.handler({
          id: row.id,
          queue: row.queue,
          payload: JSON.parse(row.payload) as unknown,
          attempt: row.attempts,
          maxAttempts: row.max_attempts,
          signal: controller.signal,
          deferredSince: row.deferred_since,
        });
        await this.#settle(row, leaseToken, "completed", null, started);
      } catch (error) {
        if (error instanceof DeferJobError) {
          await this.#defer(row, leaseToken, error.delayMs);
          return;
        }
        const final = error instanceof PermanentJobError || row.attempts >= row.max_attempts;
        await this.#settle(row, leaseToken, final ? "failed" : "retrying", error, started);
      } finally {
        clearInterval(renew);
        worker.running.delete(row.id);
        if (!this.#stopping) void this.#fill(worker);
      }
    })();
    worker.running.set(row.id, { id: row.id, leaseToken, controller, done });
  }

  async #settle(
    row: Selectable<JobsTable>,
    leaseToken: string,
    outcome: "completed" | "retrying" | "failed",
    error: unknown,
    started: number,
  ): Promise<void> {
    const now = this.#now();
    const lastError = error === null ? null : this.#redact(errorText(error));
    const retryDelay = backoffDelay(row.backoff_ms, row.attempts);
    const set =
      outcome === "completed"
        ? { state: "completed", finished_at: now }
        : outcome === "failed"
          ? { state: "failed", finished_at: now, last_error: lastError }
          : { state: "queued", run_at: now + retryDelay, last_error: lastError };
    try {
      const result = await this.db
        .updateTable("jobs")
        .set({ ...set, lease_token: null, lease_until: null, updated_at: now })
        .where("id", "=", row.id)
        .where("lease_token", "=", leaseToken)
        .executeTakeFirst();
      // Zero rows: the job was released or taken over meanwhile; its new holder decides.
      if (result.numUpdatedRows > 0n) {
        this.#observer.finished?.(row.queue, outcome, now - started);
        if (outcome === "retrying") this.#wake(row.queue, retryDelay);
      }
    } catch (settleError) {
      this.#observer.internalError?.(settleError, "settle job");
    }
  }

  /** Back to the queue after `delayMs`; the attempt it was in is not counted. */
  async #defer(row: Selectable<JobsTable>, leaseToken: string, delayMs: number): Promise<void> {
    const now = this.#now();
    try {
      const result = await this.db
        .updateTable("jobs")
        .set((eb) => ({
          state: "queued",
          attempts: eb("attempts", "-", 1),
          run_at: now + Math.max(0, delayMs),
          deferred_since: row.deferred_since ?? now,
          lease_token: null,
          lease_until: null,
          updated_at: now,
        }))
        .where("id", "=", row.id)
        .where("lease_token", "=", leaseToken)
        .executeTakeFirst();
      if (result.numUpdatedRows > 0n) this.#wake(row.queue, delayMs);
    } catch (error) {
      this.#observer.internalError?.(error, "defer job");
    }
  }

  async #purgeOccasionally(): Promise<void> {
    const now = this.#now();
    if (now - this.#lastPurge < 3600_000) return;
    this.#lastPurge = now;
    await this.db
      .deleteFrom("jobs")
      .where("state", "in", ["completed", "failed"])
      .where("finished_at", "<", now - this.#retentionMs)
      .execute();
  }
}
