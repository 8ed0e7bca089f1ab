/**
 * One job queue interface (SPEC §1 deployment modes) with two implementations: a durable jobs
 * table in SQLite (embedded) and pg-boss (distributed). Both pass test/queue/job-queue.contract.ts.
 *
 * Semantics every implementation keeps:
 * - `dedupKey`: while a job with the same queue and key is queued or running, enqueue returns
 *   that job (`deduplicated: true`); once it has finished or failed, a new job is created.
 * - a failed attempt is retried after `backoffMs * 2^(attempt-1)` (±jitter, capped) until
 *   `maxAttempts`; a `PermanentJobError` fails the job at once.
 * - a running job holds a lease that its worker renews; if the process dies, the job runs again
 *   elsewhere once the lease lapses.
 * - `stop()` stops claiming, waits up to `graceMs` for running jobs, then releases the rest so
 *   another process runs them (a release is not a failed attempt).
 */

export type JobState = "queued" | "active" | "completed" | "failed";

export interface EnqueueOptions {
  dedupKey?: string | undefined;
  /** Do not start before this many milliseconds from now. */
  delayMs?: number | undefined;
  /** Total attempts including the first. Default 3. */
  maxAttempts?: number | undefined;
  /** Base of the exponential backoff between attempts. Default 1000 ms. */
  backoffMs?: number | undefined;
}

export interface EnqueueResult {
  id: string;
  /** True when an in-flight job with the same dedup key was returned instead of a new one. */
  deduplicated: boolean;
}

export interface JobContext<P> {
  id: string;
  queue: string;
  payload: P;
  /** 1 for the first attempt. */
  attempt: number;
  maxAttempts: number;
  /** Aborted when the job is released (shutdown past the grace period, or the lease was lost). */
  signal: AbortSignal;
  /** Epoch ms of the first deferral of this job, or null if it was never deferred. */
  deferredSince: number | null;
}

export type JobHandler<P> = (job: JobContext<P>) => Promise<void>;

export interface WorkOptions {
  /** Jobs of this queue run at once in this process. Default 1. */
  concurrency?: number;
}

export interface JobInfo {
  id: string;
  queue: string;
  state: JobState;
  payload: unknown;
  dedupKey: string | null;
  /** Attempts started so far. */
  attempts: number;
  maxAttempts: number;
  /** When it may (next) run. */
  runAt: Date;
  lastError: string | null;
}

export interface QueueDepth {
  queue: string;
  queued: number;
  active: number;
  failed: number;
}

export interface JobQueue {
  readonly kind: "sqlite" | "pg-boss";
  start(): Promise<void>;
  enqueue(queue: string, payload: unknown, options?: EnqueueOptions): Promise<EnqueueResult>;
  work<P>(queue: string, options: WorkOptions, handler: JobHandler<P>): Promise<void>;
  getJob(queue: string, id: string): Promise<JobInfo | null>;
  depth(): Promise<QueueDepth[]>;
  /** Throws when the queue's backing store cannot be reached. */
  ping(): Promise<void>;
  stop(options?: { graceMs?: number }): Promise<void>;
}

/** Thrown by a handler to fail its job without further attempts. */
export class PermanentJobError extends Error {
  override name = "PermanentJobError";
}

/** Thrown by a handler to run the job again after `delayMs`, without counting an attempt. */
export class DeferJobError extends Error {
  override name = "DeferJobError";
  constructor(
    readonly delayMs: number,
    reason: string,
  ) {
    super(reason);
  }
}

export const JOB_DEFAULTS = {
  maxAttempts: 3,
  backoffMs: 1000,
  maxBackoffMs: 5 * 60 * 1000,
  graceMs: 8000,
} as const;

const QUEUE_NAME = /^[a-z][a-z0-9_.-]{0,62}$/;

export function assertQueueName(name: string): void {
  if (!QUEUE_NAME.test(name)) throw new Error(`invalid queue name "${name}"`);
}

/** Delay before attempt `attempt + 1`, with ±20% jitter so retries of many jobs spread out. */
export function backoffDelay(backoffMs: number, attempt: number, random: number = Math.random()): number {
  const exponential = backoffMs * 2 ** Math.max(0, attempt - 1);
  const jittered = exponential * (0.8 + 0.4 * random);
  return Math.min(Math.round(jittered), JOB_DEFAULTS.maxBackoffMs);
}

export function errorText(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, 2000);
}
