import type { NotificationsConfig, NotificationWebhookConfig } from "../config/reactions-schema.js";
import { SecretRefError } from "../config/secret-ref.js";
import { AppError } from "../domain/errors.js";
import type { SecretRedactor } from "../domain/redact.js";
import type { Priority } from "../domain/reaction-config.js";
import type { Principal } from "../domain/roles.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import { PermanentJobError, type JobContext, type JobQueue } from "../queue/job-queue.js";
import { newId } from "../store/ids.js";
import type {
  DeliveryRecord,
  NotificationFilter,
  NotificationRecord,
  NotificationStore,
} from "../store/notification-store.js";
import { VERSION } from "../version.js";
import type { EventLog } from "./event-log.js";
import type { NotificationRequest, Notifier } from "./notifier.js";
import type { SecretReader } from "./secrets.js";

export const NOTIFY_WEBHOOK_QUEUE = "notify-webhook";

export interface NotifyWebhookJob {
  deliveryId: string;
}

/** A notification with what happened to it on each routed target. */
export interface NotificationDetails extends NotificationRecord {
  deliveries: DeliveryRecord[];
}

export interface NotificationServiceDeps {
  store: NotificationStore;
  events: EventLog;
  queue: JobQueue;
  secrets: SecretReader;
  redactor: SecretRedactor;
  config: NotificationsConfig;
  /** Base URL of the dashboard, for links in webhook messages; null leaves links out. */
  publicUrl: string | null;
  metrics: Metrics;
  logger: Logger;
  /** Attempts per webhook delivery (default 5) and the base of their exponential backoff (default 5 s). */
  retry?: { maxAttempts?: number | undefined; backoffMs?: number | undefined } | undefined;
  /** Deadline of one webhook POST. Default 10 s. */
  requestTimeoutMs?: number | undefined;
  now?: () => number;
}

export const TITLE_MAX = 256;
export const BODY_MAX = 16_000;
/** Slack shows long messages collapsed; keep the body of a webhook message well under its limits. */
const SLACK_BODY_MAX = 3000;
/** How much of a failed webhook answer is kept as the delivery's `lastError`. */
const ERROR_BODY_MAX = 200;
const RESUME_PAGE = 200;

type AttemptOutcome = { ok: true } | { ok: false; retryable: boolean; error: string };

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Slack's mrkdwn needs exactly these three escaped (https://api.slack.com/reference/surfaces/formatting). */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The dashboard page a notification is about: its session, else its PR, else the inbox entry. */
export function notificationLink(notification: NotificationRecord, publicUrl: string | null): string | null {
  if (publicUrl === null) return null;
  const base = publicUrl.replace(/\/+$/, "");
  if (notification.sessionId) return `${base}/sessions/${encodeURIComponent(notification.sessionId)}`;
  if (notification.prId) return `${base}/prs/${encodeURIComponent(notification.prId)}`;
  return `${base}/notifications/${encodeURIComponent(notification.id)}`;
}

/** A Slack-compatible incoming-webhook message: priority and title, then the body, then the link. */
export function slackPayload(notification: NotificationRecord, publicUrl: string | null): { text: string } {
  const lines = [`*[${notification.priority.toUpperCase()}]* ${escapeSlack(notification.title)}`];
  if (notification.body.trim() !== "") lines.push(escapeSlack(cut(notification.body.trim(), SLACK_BODY_MAX)));
  const link = notificationLink(notification, publicUrl);
  // Inside <…|…> the URL must not hold the characters that delimit the link.
  if (link) lines.push(`<${link.replace(/[<>|]/g, encodeURIComponent)}|Open in Shepherd>`);
  return { text: lines.join("\n") };
}

/** The `json` format: the notification itself. */
export function jsonPayload(
  notification: NotificationRecord,
  publicUrl: string | null,
): Record<string, string | null> {
  return {
    id: notification.id,
    kind: notification.kind,
    priority: notification.priority,
    title: notification.title,
    body: notification.body,
    repoId: notification.repoId,
    prId: notification.prId,
    sessionId: notification.sessionId,
    createdAt: new Date(notification.createdAt).toISOString(),
    url: notificationLink(notification, publicUrl),
  };
}

/** Worth another attempt: the server's fault, or "not now". Any other 4xx will not get better. */
function retryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 425 || status === 429;
}

async function readStart(response: Response, maxBytes: number): Promise<string> {
  if (!response.body) return "";
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    // Leaving the loop early cancels the rest of the body.
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      chunks.push(Buffer.from(chunk));
      size += chunk.byteLength;
      if (size >= maxBytes) break;
    }
  } catch {
    // A body cut short still tells what it had.
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString("utf8");
}

function webhookName(target: string): string {
  return target.slice("webhook:".length);
}

/**
 * Notifications (SPEC C5): the dashboard inbox and the webhook targets routed for each priority.
 * A notification, its deliveries and its `notification.sent` event commit together; webhook
 * deliveries then run as queued jobs, retried with backoff, and end `delivered` or `failed`.
 */
export class NotificationService implements Notifier {
  readonly #deps: NotificationServiceDeps;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #maxAttempts: number;
  readonly #backoffMs: number;
  #sweeper: NodeJS.Timeout | null = null;
  #sweeping = false;

  constructor(deps: NotificationServiceDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#log = deps.logger.child({ component: "notifications" });
    this.#maxAttempts = Math.max(1, deps.retry?.maxAttempts ?? 5);
    this.#backoffMs = Math.max(0, deps.retry?.backoffMs ?? 5000);
  }

  /** The targets routed for a priority (`dashboard`, `webhook:<name>`), in configured order. */
  targetsFor(priority: Priority): string[] {
    return [...new Set(this.#deps.config.routes[priority] ?? ["dashboard"])];
  }

  async notify(request: NotificationRequest): Promise<{ id: string; created: boolean }> {
    const { store, events } = this.#deps;
    const now = this.#now();
    const targets = this.targetsFor(request.priority);
    const { result } = await events.transaction(async (trx, emit) => {
      const { record, created } = await store.insertOnce(
        trx,
        {
          id: newId("ntf", now),
          dedupKey: request.dedupKey,
          kind: request.kind,
          priority: request.priority,
          title: cut(request.title.trim(), TITLE_MAX) || request.kind,
          body: cut(request.body, BODY_MAX),
          repoId: request.repoId ?? null,
          prId: request.prId ?? null,
          sessionId: request.sessionId ?? null,
        },
        now,
      );
      if (!created) return { record, created, deliveries: [] as DeliveryRecord[] };
      // Ids sort like the configured targets, so deliveries list in routing order.
      const ids = targets.map(() => newId("ntd", now)).sort();
      const deliveries = await store.insertDeliveries(
        trx,
        record.id,
        targets.map((target, index) => ({
          id: ids[index] as string,
          target,
          // The inbox is the notification itself: it is delivered by being stored.
          state: target === "dashboard" ? "delivered" : "pending",
        })),
        now,
      );
      emit({
        kind: "notification.sent",
        sessionId: record.sessionId,
        payload: {
          notificationId: record.id,
          kind: record.kind,
          priority: record.priority,
          title: record.title,
          targets,
        },
      });
      return { record, created, deliveries };
    });
    if (!result.created) return { id: result.record.id, created: false };
    this.#deps.metrics.notificationsCreated.inc({ priority: result.record.priority });
    for (const delivery of result.deliveries) {
      if (delivery.state === "pending") await this.#enqueue(delivery);
    }
    return { id: result.record.id, created: true };
  }

  async get(id: string): Promise<NotificationDetails> {
    const record = await this.#deps.store.get(id);
    if (!record) throw new AppError("NOT_FOUND", `no notification ${id}`);
    return this.#withDeliveries(record);
  }

  async list(
    filter: NotificationFilter & { before?: string | undefined; limit: number },
  ): Promise<NotificationDetails[]> {
    const records = await this.#deps.store.list(filter);
    const deliveries = await this.#deps.store.deliveriesOf(records.map((record) => record.id));
    return records.map((record) => ({ ...record, deliveries: deliveries.get(record.id) ?? [] }));
  }

  count(filter: NotificationFilter): Promise<number> {
    return this.#deps.store.count(filter);
  }

  /** Marks a notification seen by `by`; acknowledging it again changes nothing. */
  async acknowledge(id: string, by: Principal | null): Promise<NotificationDetails> {
    const result = await this.#deps.store.acknowledge(id, by?.tokenId ?? null, this.#now());
    if (result.ok) {
      // Every inbox showing it (other dashboards, `shepherd logs`) can drop it at once.
      await this.#deps.events.append({
        kind: "notification.acknowledged",
        sessionId: result.record.sessionId,
        payload: { notificationId: id, acknowledgedBy: result.record.acknowledgedBy },
      });
      return this.#withDeliveries(result.record);
    }
    if (result.current === null) throw new AppError("NOT_FOUND", `no notification ${id}`);
    return this.#withDeliveries(result.current);
  }

  async #withDeliveries(record: NotificationRecord): Promise<NotificationDetails> {
    const deliveries = await this.#deps.store.deliveriesOf([record.id]);
    return { ...record, deliveries: deliveries.get(record.id) ?? [] };
  }

  /**
   * Queues every pending webhook delivery again (a delivery whose job is still queued or running
   * gets that job back). For a worker at start, and periodically: a delivery whose enqueue failed
   * after its notification was committed is picked up here. `staleForMs` skips deliveries touched
   * more recently than that.
   */
  async resumePending(options: { staleForMs?: number } = {}): Promise<{ pending: number; queued: number }> {
    const cutoff = this.#now() - (options.staleForMs ?? 0);
    let pending = 0;
    let queued = 0;
    let afterId: string | undefined;
    for (;;) {
      const page = await this.#deps.store.listPendingWebhooks({ afterId, limit: RESUME_PAGE });
      for (const delivery of page) {
        if (delivery.updatedAt > cutoff) continue;
        pending += 1;
        if (await this.#enqueue(delivery)) queued += 1;
      }
      if (page.length < RESUME_PAGE) break;
      afterId = page.at(-1)?.id;
    }
    if (pending > 0) this.#log.info({ pending, queued }, "pending webhook deliveries resumed");
    return { pending, queued };
  }

  /** True when the delivery has a job (new or already in flight). Never throws: it stays pending. */
  async #enqueue(delivery: DeliveryRecord): Promise<boolean> {
    try {
      const job = await this.#deps.queue.enqueue(
        NOTIFY_WEBHOOK_QUEUE,
        { deliveryId: delivery.id } satisfies NotifyWebhookJob,
        {
          dedupKey: `notify-webhook:${delivery.id}`,
          maxAttempts: this.#maxAttempts,
          backoffMs: this.#backoffMs,
        },
      );
      if (job.id !== delivery.jobId) await this.#deps.store.setJobId(delivery.id, job.id, this.#now());
      return true;
    } catch (error) {
      this.#log.warn(
        { err: error, deliveryId: delivery.id, notificationId: delivery.notificationId },
        "webhook delivery not queued; it stays pending until resumed",
      );
      return false;
    }
  }

  /**
   * Runs the webhook deliveries in this process: registers the queue worker, resumes what was
   * left pending, and sweeps for stranded deliveries every `sweepIntervalMs`.
   */
  async startDelivery(options: { concurrency?: number; sweepIntervalMs?: number } = {}): Promise<void> {
    await this.#deps.queue.work<NotifyWebhookJob>(
      NOTIFY_WEBHOOK_QUEUE,
      { concurrency: options.concurrency ?? 4 },
      (job) => this.deliver(job),
    );
    await this.#sweep(0);
    const interval = options.sweepIntervalMs ?? 5 * 60_000;
    this.#sweeper = setInterval(() => void this.#sweep(60_000), interval);
    this.#sweeper.unref();
  }

  stopDelivery(): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = null;
  }

  async #sweep(staleForMs: number): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      await this.resumePending({ staleForMs });
    } catch (error) {
      this.#log.warn({ err: error }, "pending webhook deliveries could not be resumed");
    } finally {
      this.#sweeping = false;
    }
  }

  /** The `notify-webhook` job: one POST; throws to have the queue retry, fails for good at the end. */
  async deliver(job: JobContext<NotifyWebhookJob>): Promise<void> {
    const { store, metrics } = this.#deps;
    const delivery = await store.getDelivery(job.payload.deliveryId);
    // Settled already (a re-run after a lost lease), or gone: nothing to do.
    if (!delivery || delivery.state !== "pending") return;
    const notification = await store.get(delivery.notificationId);
    if (!notification) return;
    const name = webhookName(delivery.target);
    const log = this.#log.child({
      deliveryId: delivery.id,
      notificationId: notification.id,
      webhook: name,
      attempt: job.attempt,
    });
    const hook = this.#deps.config.webhooks[name];
    let outcome: AttemptOutcome;
    try {
      outcome = hook
        ? await this.#attempt(hook, notification, job.signal)
        : { ok: false, retryable: false, error: `webhook "${name}" is not configured (any more)` };
    } catch (error) {
      // Counted like any failed attempt, so that the delivery still ends delivered or failed.
      log.error({ err: error }, "webhook delivery attempt failed unexpectedly");
      outcome = { ok: false, retryable: true, error: `internal error (${(error as Error).name})` };
    }

    if (outcome.ok) {
      await store.markDelivered(delivery.id, this.#now());
      metrics.notificationWebhookDeliveries.inc({ webhook: name, outcome: "delivered" });
      log.info("notification delivered to webhook");
      return;
    }
    // Released (shutdown, lost lease): not an attempt; the job runs again elsewhere.
    if (job.signal.aborted) throw new Error("webhook delivery interrupted");
    const final = !outcome.retryable || job.attempt >= job.maxAttempts;
    await this.#recordFailure(delivery, notification, outcome.error, final);
    metrics.notificationWebhookDeliveries.inc({ webhook: name, outcome: final ? "failed" : "retrying" });
    log.warn({ willRetry: !final, reason: outcome.error }, "notification webhook delivery failed");
    if (final) throw new PermanentJobError(`webhook ${name}: ${outcome.error}`);
    throw new Error(`webhook ${name}: ${outcome.error}`);
  }

  async #recordFailure(
    delivery: DeliveryRecord,
    notification: NotificationRecord,
    error: string,
    final: boolean,
  ): Promise<void> {
    const now = this.#now();
    if (!final) {
      await this.#deps.store.recordFailure(delivery.id, { error, final }, now);
      return;
    }
    // The failed state and the event saying so commit together.
    await this.#deps.events.transaction(async (trx, emit) => {
      const failed = await this.#deps.store.recordFailure(delivery.id, { error, final }, now, trx);
      if (!failed) return;
      emit({
        kind: "error",
        sessionId: notification.sessionId,
        payload: {
          code: "NOTIFICATION_DELIVERY_FAILED",
          notificationId: notification.id,
          deliveryId: delivery.id,
          target: delivery.target,
          attempts: failed.attempts,
          message: error,
        },
      });
    });
  }

  async #attempt(
    hook: NotificationWebhookConfig,
    notification: NotificationRecord,
    jobSignal: AbortSignal,
  ): Promise<AttemptOutcome> {
    let url: string;
    if (hook.urlRef !== null) {
      try {
        url = (await this.#deps.secrets.read(hook.urlRef)).trim();
      } catch (error) {
        if (!(error instanceof SecretRefError)) throw error;
        return {
          ok: false,
          retryable: false,
          error: `the URL in ${hook.urlRef} cannot be read: ${error.message}`,
        };
      }
      this.#protectUrl(url);
    } else {
      url = hook.url ?? "";
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
      if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw new Error("scheme");
    } catch {
      return { ok: false, retryable: false, error: "the webhook URL is not an http(s) URL" };
    }
    const payload =
      hook.format === "slack"
        ? slackPayload(notification, this.#deps.publicUrl)
        : jsonPayload(notification, this.#deps.publicUrl);
    const timeoutMs = this.#deps.requestTimeoutMs ?? 10_000;
    let response: Response;
    try {
      response = await fetch(parsed, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": `shepherd/${VERSION}` },
        body: JSON.stringify(payload),
        // A redirect would send the message somewhere nobody configured.
        redirect: "manual",
        signal: AbortSignal.any([jobSignal, AbortSignal.timeout(timeoutMs)]),
      });
    } catch (error) {
      const name = (error as Error).name;
      if (name === "TimeoutError") {
        const deadline = timeoutMs % 1000 === 0 ? `${timeoutMs / 1000} s` : `${timeoutMs} ms`;
        return { ok: false, retryable: true, error: `no answer within ${deadline}` };
      }
      const cause = (error as { cause?: { code?: unknown } }).cause;
      const code = typeof cause?.code === "string" ? cause.code : name;
      return { ok: false, retryable: true, error: `connection failed (${code})` };
    }
    if (response.status >= 200 && response.status < 300) {
      await response.body?.cancel().catch(() => undefined);
      return { ok: true };
    }
    const start = this.#clean(await readStart(response, ERROR_BODY_MAX * 4), url).slice(0, ERROR_BODY_MAX);
    return {
      ok: false,
      retryable: retryableStatus(response.status),
      error: `HTTP ${response.status}${start ? `: ${start}` : ""}`,
    };
  }

  /**
   * A URL from a secret ref is a secret as a whole (a Slack webhook URL is a credential), and so
   * is its path: an error page that echoes the path must not carry it into logs or the API.
   */
  #protectUrl(url: string): void {
    this.#deps.redactor.add(url);
    try {
      const parsed = new URL(url);
      this.#deps.redactor.add(`${parsed.pathname}${parsed.search}`);
      for (const segment of parsed.pathname.split("/"))
        if (segment.length >= 16) this.#deps.redactor.add(segment);
      for (const value of parsed.searchParams.values())
        if (value.length >= 16) this.#deps.redactor.add(value);
    } catch {
      // Not a URL: the attempt reports that, and the whole value is already known.
    }
  }

  /** One line, no URL, no known secret. */
  #clean(text: string, url: string): string {
    const withoutUrl = url === "" ? text : text.split(url).join("[webhook URL]");
    return (
      this.#deps.redactor
        .redact(withoutUrl)
        // eslint-disable-next-line no-control-regex
        .replace(/[\u0000-\u001f\u007f]+/g, " ")
        .replace(/\s+/g, " ")
        .trim()
    );
  }
}
