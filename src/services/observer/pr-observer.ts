import type { EventLog } from "../event-log.js";
import type { Logger } from "../../observability/logger.js";
import type { ObserverLeadership } from "./observer-leadership.js";
import { ObserverPass, type ObserverPassDeps, type PassKind, type PassReport } from "./observer-pass.js";

export interface PrObserverDeps extends ObserverPassDeps {
  leadership: ObserverLeadership;
  events: EventLog;
  logger: Logger;
  now?: () => number;
  /** Called after every pass (metrics, benchmarks). */
  onPass?: (report: PassReport) => void;
  /** Upkeep run at most hourly by the leader (e.g. forgetting old webhook delivery ids). */
  housekeeping?: (now: number) => Promise<void>;
}

const HOUSEKEEPING_EVERY_MS = 60 * 60_000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/**
 * The PR observer (SPEC C4): while this process leads, a poll pass every interval, and a
 * targeted pass as soon as a webhook marks PRs dirty. Passes never overlap, so every reaction is
 * decided in one place at a time.
 */
export class PrObserver {
  readonly #pass: ObserverPass;
  readonly #abort = new AbortController();
  readonly #now: () => number;
  #chain: Promise<unknown> = Promise.resolve();
  #refreshQueued = false;
  #lastHousekeeping = 0;
  #running: Promise<void> | null = null;

  constructor(private readonly deps: PrObserverDeps) {
    this.#now = deps.now ?? Date.now;
    this.#pass = new ObserverPass(deps, new Map(), this.#now, this.#abort.signal);
  }

  /** One periodic pass now (tests and benchmarks drive the observer with this). */
  tick(): Promise<PassReport> {
    return this.#exclusive("poll");
  }

  /** One targeted pass over what webhooks marked dirty. */
  refresh(): Promise<PassReport> {
    return this.#exclusive("dirty");
  }

  #exclusive(kind: PassKind): Promise<PassReport> {
    const run = this.#chain.then(async () => {
      if (kind === "dirty") this.#refreshQueued = false;
      const report = await this.#pass.run(kind);
      this.deps.onPass?.(report);
      return report;
    });
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** Starts leading when it can, then polling and listening for webhooks until `stop()`. */
  start(): void {
    this.#running ??= this.#lead().catch((error: unknown) =>
      this.deps.logger.error({ err: error }, "observer stopped unexpectedly"),
    );
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
    await this.#chain;
    await this.deps.leadership.release();
  }

  async #housekeeping(): Promise<void> {
    const now = this.#now();
    if (!this.deps.housekeeping || now - this.#lastHousekeeping < HOUSEKEEPING_EVERY_MS) return;
    this.#lastHousekeeping = now;
    await this.deps.housekeeping(now);
  }

  #wake(): void {
    if (this.#refreshQueued || this.#abort.signal.aborted) return;
    this.#refreshQueued = true;
    this.refresh().catch((error: unknown) =>
      this.deps.logger.error({ err: error }, "observer refresh failed"),
    );
  }

  async #lead(): Promise<void> {
    const { signal } = this.#abort;
    while (!signal.aborted) {
      if (!(await this.deps.leadership.acquire(signal))) return;
      this.deps.logger.info("PR observer started (this process leads)");
      const lost = new AbortController();
      const stopWatching = (): void => lost.abort();
      signal.addEventListener("abort", stopWatching, { once: true });
      const watching = this.#watchWebhooks(lost.signal);
      try {
        while (!signal.aborted && this.deps.leadership.held()) {
          try {
            await this.tick();
            await this.#housekeeping();
          } catch (error) {
            this.deps.logger.error({ err: error }, "observer pass failed");
          }
          await sleep(this.deps.config.intervalSeconds * 1000, signal);
        }
      } finally {
        lost.abort();
        signal.removeEventListener("abort", stopWatching);
        await watching;
      }
      if (!signal.aborted) this.deps.logger.warn("observer leadership lost; trying to lead again");
    }
  }

  /** Wakes a targeted pass for every `webhook.received` (from this or any other process). */
  async #watchWebhooks(signal: AbortSignal): Promise<void> {
    try {
      const since = await this.deps.events.head();
      for await (const item of this.deps.events.stream({ since, signal })) {
        if (item.event.kind === "webhook.received") this.#wake();
      }
    } catch (error) {
      if (!signal.aborted) this.deps.logger.error({ err: error }, "observer stopped listening for webhooks");
    }
  }
}
