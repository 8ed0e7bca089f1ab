import { createHmac, randomUUID } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { githubTime } from "./ids.js";
import type { SimChange } from "./sim-changes.js";
import type { SimUrls } from "./sim-urls.js";
import { repoKey, type SimHook, type SimRepo, type SimState } from "./sim-state.js";
import { eventsFor } from "./webhook-events.js";

/**
 * Outgoing webhooks, delivered like GitHub's: every state change becomes the events GitHub would
 * send (`webhook-events.ts`), POSTed to each active hook of the repository subscribed to the
 * event (or to `*`), signed with the hook's secret (`X-Hub-Signature-256`, and the older SHA-1
 * `X-Hub-Signature`). Deliveries never hold up the request that caused them: they go out in the
 * background, one at a time and in order per hook, retried on a connection error or a 5xx after a
 * short pause. Every delivery is recorded; a redelivery sends the very same body with the very same
 * `X-GitHub-Delivery`, as GitHub's "Redeliver" does.
 */

export type DeliveryStatus = "pending" | "delivered" | "failed";

export interface WebhookDeliveryRecord {
  /** GitHub's numeric delivery id (what `redeliver` takes). */
  id: number;
  /** `X-GitHub-Delivery`: shared by a delivery and its redeliveries. */
  guid: string;
  event: string;
  action: string | null;
  hookId: number;
  /** "owner/name". */
  repo: string;
  url: string;
  redelivery: boolean;
  /** `delivered` once a 2xx came back; `failed` on any other answer or when retries ran out. */
  status: DeliveryStatus;
  /** The receiver's last HTTP status; null when it never answered. */
  statusCode: number | null;
  attempts: number;
  error: string | null;
  deliveredAt: string | null;
  requestHeaders: Record<string, string>;
  /** The exact bytes sent (null until the payload is built). */
  requestBody: string | null;
}

export interface WebhookOptions {
  /** Pauses before each retry; their count is the number of retries. Default 100, 300, 1000 ms. */
  retryDelaysMs?: readonly number[];
  /** How long a receiver may take to answer (GitHub: 10 s). */
  timeoutMs?: number;
}

interface Job {
  record: WebhookDeliveryRecord;
  repo: SimRepo;
  hook: SimHook;
  body: () => Promise<string>;
}

interface HookQueue {
  jobs: Job[];
  running: boolean;
}

const USER_AGENT = "GitHub-Hookshot/sim";
/** Bounded (records hold whole bodies), so a long benchmark cannot grow it without end. */
const MAX_RECORDS = 5_000;

function wants(hook: SimHook, event: string): boolean {
  return hook.events.includes("*") || hook.events.includes(event);
}

function encode(hook: SimHook, json: string): string {
  return hook.config.contentType === "form" ? `payload=${encodeURIComponent(json)}` : json;
}

export class WebhookDispatcher {
  private readonly records: WebhookDeliveryRecord[] = [];
  private readonly queues = new Map<number, HookQueue>();
  private readonly idleWaiters = new Set<() => void>();
  private readonly sleepers = new Set<() => void>();
  private readonly inFlight = new Set<http.ClientRequest>();
  private readonly retryDelaysMs: readonly number[];
  private readonly timeoutMs: number;
  private paused = false;
  private stopped = false;
  private lastId = 0;

  constructor(
    private readonly sim: { state: SimState; urls: SimUrls },
    options: WebhookOptions = {},
  ) {
    this.retryDelaysMs = options.retryDelaysMs ?? [100, 300, 1000];
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** The `SimState.onChange` listener: runs inside the change, so payloads see the state it left. */
  readonly onChange = (change: SimChange): void => {
    if (this.stopped) return;
    const hooks = change.repo.hooks.filter((hook) => hook.active);
    if (hooks.length === 0) return;
    try {
      this.enqueueEvents(change, hooks);
    } catch (error) {
      // A webhook bug must not fail the change (a push, a merge) that GitHub would have made.
      process.stderr.write(
        `github-sim: webhook payload for ${change.kind}: ${(error as Error).stack ?? String(error)}\n`,
      );
    }
  };

  private enqueueEvents(change: SimChange, hooks: readonly SimHook[]): void {
    for (const event of eventsFor(change, this.sim)) {
      const targets = hooks.filter((hook) =>
        event.hookId === undefined ? wants(hook, event.event) : hook.id === event.hookId,
      );
      if (targets.length === 0) continue;
      const json = event.payload().then((payload) => JSON.stringify(payload));
      // Failures are recorded per delivery; this only keeps an early one from going unhandled.
      json.catch(() => undefined);
      for (const hook of targets) {
        this.enqueue({
          record: this.newRecord(change.repo, hook, event.event, event.action, randomUUID(), false),
          repo: change.repo,
          hook,
          body: async () => encode(hook, await json),
        });
      }
    }
  }

  private newRecord(
    repo: SimRepo,
    hook: SimHook,
    event: string,
    action: string | null,
    guid: string,
    redelivery: boolean,
  ): WebhookDeliveryRecord {
    this.lastId += 1;
    return {
      id: this.lastId,
      guid,
      event,
      action,
      hookId: hook.id,
      repo: repo.fullName,
      url: hook.config.url,
      redelivery,
      status: "pending",
      statusCode: null,
      attempts: 0,
      error: null,
      deliveredAt: null,
      requestHeaders: {},
      requestBody: null,
    };
  }

  private enqueue(job: Job): void {
    this.records.push(job.record);
    if (this.records.length > MAX_RECORDS) this.records.splice(0, this.records.length - MAX_RECORDS);
    let queue = this.queues.get(job.hook.id);
    if (!queue) {
      queue = { jobs: [], running: false };
      this.queues.set(job.hook.id, queue);
    }
    queue.jobs.push(job);
    void this.drain(queue);
  }

  private async drain(queue: HookQueue): Promise<void> {
    if (queue.running) return;
    queue.running = true;
    try {
      while (!this.paused && !this.stopped) {
        const job = queue.jobs[0];
        if (!job) break;
        await this.deliver(job);
        queue.jobs.shift();
      }
    } finally {
      queue.running = false;
      this.wakeIdleWaiters();
    }
  }

  private headersFor(job: Job, body: string): Record<string, string> {
    const { hook, repo, record } = job;
    const headers: Record<string, string> = {
      accept: "*/*",
      "content-type":
        hook.config.contentType === "form" ? "application/x-www-form-urlencoded" : "application/json",
      "user-agent": USER_AGENT,
      "x-github-delivery": record.guid,
      "x-github-event": record.event,
      "x-github-hook-id": String(hook.id),
      "x-github-hook-installation-target-id": String(repo.id),
      "x-github-hook-installation-target-type": "repository",
    };
    const secret = hook.config.secret;
    if (secret !== null) {
      headers["x-hub-signature"] = `sha1=${createHmac("sha1", secret).update(body).digest("hex")}`;
      headers["x-hub-signature-256"] = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
    }
    return headers;
  }

  private async deliver(job: Job): Promise<void> {
    const { record, hook } = job;
    let body: string;
    try {
      body = await job.body();
    } catch (error) {
      record.status = "failed";
      record.error = `payload: ${(error as Error).message}`;
      return;
    }
    record.requestBody = body;
    record.requestHeaders = this.headersFor(job, body);
    for (let retry = 0; ; retry++) {
      if (this.stopped) {
        record.status = "failed";
        record.error ??= "the simulator stopped";
        return;
      }
      record.attempts += 1;
      const outcome = await this.post(hook, record.requestHeaders, body);
      record.statusCode = outcome.status ?? record.statusCode;
      record.error = outcome.error;
      const retryable = outcome.status === null || outcome.status >= 500;
      const delay = this.retryDelaysMs[retry];
      if (!retryable || delay === undefined) {
        record.status =
          outcome.status !== null && outcome.status >= 200 && outcome.status < 300 ? "delivered" : "failed";
        record.deliveredAt = githubTime();
        return;
      }
      await this.sleep(delay);
    }
  }

  private post(
    hook: SimHook,
    headers: Record<string, string>,
    body: string,
  ): Promise<{ status: number | null; error: string | null }> {
    return new Promise((resolve) => {
      let target: URL;
      try {
        target = new URL(hook.config.url);
      } catch {
        resolve({ status: null, error: `invalid URL ${hook.config.url}` });
        return;
      }
      const client = target.protocol === "https:" ? https : target.protocol === "http:" ? http : null;
      if (!client) {
        resolve({ status: null, error: `unsupported URL scheme ${target.protocol}` });
        return;
      }
      const request = client.request(
        target,
        {
          method: "POST",
          headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
          // A fresh connection per delivery: nothing stays open towards the receiver.
          agent: false,
          timeout: this.timeoutMs,
          rejectUnauthorized: hook.config.insecureSsl !== "1",
        },
        (response) => {
          response.resume();
          response.once("end", () => resolve({ status: response.statusCode ?? null, error: null }));
          response.once("error", (error) => resolve({ status: null, error: error.message }));
        },
      );
      this.inFlight.add(request);
      request.once("close", () => this.inFlight.delete(request));
      request.once("timeout", () => request.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      request.once("error", (error) => resolve({ status: null, error: error.message }));
      request.end(body);
    });
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  private busy(): boolean {
    return [...this.queues.values()].some(
      (queue) => queue.running || (!this.paused && queue.jobs.length > 0),
    );
  }

  private wakeIdleWaiters(): void {
    if (this.busy() && !this.stopped) return;
    for (const wake of this.idleWaiters) wake();
    this.idleWaiters.clear();
  }

  /** Every delivery of the repository, oldest first (copies). */
  deliveries(owner: string, name: string): WebhookDeliveryRecord[] {
    const key = repoKey(owner, name);
    return this.records
      .filter((record) => record.repo.toLowerCase() === key)
      .map((record) => ({ ...record, requestHeaders: { ...record.requestHeaders } }));
  }

  /** Sends a past delivery again: same body, same `X-GitHub-Delivery`, to the same hook. */
  redeliver(deliveryId: number): WebhookDeliveryRecord {
    const original = this.records.find((record) => record.id === deliveryId);
    if (!original) throw new Error(`no delivery ${deliveryId}`);
    const body = original.requestBody;
    if (body === null) throw new Error(`delivery ${deliveryId} has not been sent yet`);
    const [owner = "", name = ""] = original.repo.split("/");
    const repo = this.sim.state.findRepo(owner, name);
    const hook = repo?.hooks.find((candidate) => candidate.id === original.hookId);
    if (!repo || !hook) throw new Error(`the hook of delivery ${deliveryId} no longer exists`);
    const record = this.newRecord(repo, hook, original.event, original.action, original.guid, true);
    this.enqueue({ record, repo, hook, body: () => Promise.resolve(body) });
    return { ...record };
  }

  /** While paused, deliveries wait in their queues (the one being sent finishes). */
  setPaused(paused: boolean): void {
    this.paused = paused;
    if (!paused) for (const queue of this.queues.values()) void this.drain(queue);
  }

  /** Resolves once no delivery is being sent and none waits (except those held by a pause). */
  flush(): Promise<void> {
    if (!this.busy() || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.add(resolve));
  }

  /** Stops sending: queued deliveries are dropped, retries end, connections are destroyed. */
  stop(): void {
    this.stopped = true;
    for (const wake of this.sleepers) wake();
    this.sleepers.clear();
    for (const request of this.inFlight) request.destroy();
    this.inFlight.clear();
    this.wakeIdleWaiters();
  }
}
