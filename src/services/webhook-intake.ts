import { verify } from "@octokit/webhooks-methods";
import { SecretRefError } from "../config/secret-ref.js";
import { AppError } from "../domain/errors.js";
import type { Logger } from "../observability/logger.js";
import type { PullRequestStore } from "../store/pull-request-store.js";
import type { RepoObservationStore } from "../store/repo-observation-store.js";
import type { WebhookDeliveryStore, WebhookRepo } from "../store/webhook-delivery-store.js";
import type { EventLog } from "./event-log.js";
import type { SecretReader } from "./secrets.js";

/** The events that mark PRs dirty (SPEC C4 "Webhooks"); what a registered hook subscribes to. */
export const WEBHOOK_EVENTS = [
  "pull_request",
  "pull_request_review",
  "pull_request_review_comment",
  "pull_request_review_thread",
  "issue_comment",
  "check_run",
  "check_suite",
  "status",
] as const;

/** GitHub's own cap on a webhook payload. */
export const WEBHOOK_BODY_LIMIT_BYTES = 25 * 1024 * 1024;

/** Pull request actions that change the repo's open-PR list (a new PR is discovered by listing). */
const LIST_CHANGING_ACTIONS = new Set(["opened", "reopened", "closed"]);
const SIGNATURE = /^sha256=[0-9a-f]{64}$/;
const DELIVERY_ID = /^[A-Za-z0-9-]{1,100}$/;
const EVENT_NAME = /^[a-z0-9_]{1,64}$/;
const SHA = /^[0-9a-f]{7,64}$/i;

/** A delivery as it came in: the headers that matter and the exact body bytes. */
export interface WebhookRequest {
  event: string | undefined;
  deliveryId: string | undefined;
  signature: string | undefined;
  contentType: string | undefined;
  body: Buffer | undefined;
}

export type WebhookStatus = "accepted" | "pong" | "ignored" | "duplicate";

export interface WebhookOutcome {
  /** 202 for a handled event, 200 for everything else that was received. */
  httpStatus: 200 | 202;
  status: WebhookStatus;
  /** How many tracked PRs were marked dirty (accepted deliveries only). */
  dirty?: number;
}

/** What a delivery asks to refresh in its repo. */
export interface WebhookTargets {
  /** PR numbers the payload names. */
  numbers: number[];
  /** PRs whose head is this commit (status and check events). */
  headSha: string | null;
  /** The repo's open-PR list changed (a PR opened, closed or reopened). */
  listDirty: boolean;
}

type Json = Record<string, unknown>;

function object(value: unknown): Json | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function prNumber(value: unknown): number | undefined {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

function sha(value: unknown): string | null {
  return typeof value === "string" && SHA.test(value) ? value.toLowerCase() : null;
}

function numbersOf(...values: unknown[]): number[] {
  return values.map(prNumber).filter((n): n is number => n !== undefined);
}

/** `pull_requests[]` of a check run or suite, keeping only PRs whose base is this repository. */
function checkPullNumbers(pulls: unknown, repository: Json | undefined): number[] {
  if (!Array.isArray(pulls)) return [];
  const repoId = repository?.id;
  const fullName = typeof repository?.full_name === "string" ? repository.full_name.toLowerCase() : null;
  const numbers: number[] = [];
  for (const pull of pulls) {
    const base = object(object(object(pull)?.base)?.repo);
    const sameRepo =
      typeof base?.id === "number" && typeof repoId === "number"
        ? base.id === repoId
        : fullName !== null &&
          typeof base?.url === "string" &&
          base.url.toLowerCase().endsWith(`/repos/${fullName}`);
    const number = prNumber(object(pull)?.number);
    if (sameRepo && number !== undefined) numbers.push(number);
  }
  return numbers;
}

/** Which PRs a delivery concerns; null for an event Shepherd does not act on. Pure. */
export function webhookTargets(event: string, payload: Json): WebhookTargets | null {
  const none: WebhookTargets = { numbers: [], headSha: null, listDirty: false };
  const pull = object(payload.pull_request);
  switch (event) {
    case "pull_request":
      return {
        ...none,
        numbers: numbersOf(pull?.number ?? payload.number),
        listDirty: typeof payload.action === "string" && LIST_CHANGING_ACTIONS.has(payload.action),
      };
    case "pull_request_review":
    case "pull_request_review_comment":
    case "pull_request_review_thread":
      return { ...none, numbers: numbersOf(pull?.number) };
    case "issue_comment": {
      const issue = object(payload.issue);
      // Conversation comments on plain issues concern no PR.
      return { ...none, numbers: issue?.pull_request ? numbersOf(issue.number) : [] };
    }
    case "check_run":
    case "check_suite": {
      const check = object(payload[event]);
      return {
        ...none,
        numbers: checkPullNumbers(check?.pull_requests, object(payload.repository)),
        headSha: sha(check?.head_sha),
      };
    }
    case "status":
      return { ...none, headSha: sha(payload.sha) };
    default:
      return null;
  }
}

/** Where the one line per delivery goes (the request's logger, to carry its id). */
export type DeliveryLog = Pick<Logger, "info" | "warn">;

export interface WebhookIntakeDeps {
  deliveries: WebhookDeliveryStore;
  pullRequests: PullRequestStore;
  observations: RepoObservationStore;
  secrets: SecretReader;
  events: EventLog;
  logger: Logger;
  now?: () => number;
}

/**
 * `POST /webhooks/github` (SPEC C4 "Webhooks"): verifies the signature against the webhook secret
 * of the repo the payload names, then — once per delivery id, in one transaction — records the
 * delivery, marks the affected PRs (and, for new or closed PRs, the repo's PR list) dirty and
 * emits `webhook.received`, which wakes the observer for a targeted refresh.
 */
export class WebhookIntake {
  readonly #deps: WebhookIntakeDeps;

  constructor(deps: WebhookIntakeDeps) {
    this.#deps = deps;
  }

  async receive(request: WebhookRequest, log: DeliveryLog = this.#deps.logger): Promise<WebhookOutcome> {
    const { event, deliveryId } = request;
    // Header values as received, cut short: a refused request's headers are anyone's input.
    const fields = { event: event?.slice(0, 100), deliveryId: deliveryId?.slice(0, 100) };
    try {
      if (!request.signature || !SIGNATURE.test(request.signature)) {
        throw new AppError(
          "INVALID_SIGNATURE",
          request.signature
            ? "X-Hub-Signature-256 is malformed: expected sha256=<64 hex digits>"
            : "X-Hub-Signature-256 is missing: give the webhook a secret, and the same secret to the repo (webhookSecretRef)",
        );
      }
      const headerIssues = [
        ...(event && EVENT_NAME.test(event)
          ? []
          : [{ path: "headers.x-github-event", message: "must be a GitHub event name" }]),
        ...(deliveryId && DELIVERY_ID.test(deliveryId)
          ? []
          : [{ path: "headers.x-github-delivery", message: "must be a delivery id (letters, digits, -)" }]),
      ];
      if (headerIssues.length > 0 || !event || !deliveryId) {
        throw new AppError(
          "VALIDATION_ERROR",
          `invalid ${headerIssues.map((issue) => issue.path).join(", ")}: not a GitHub webhook delivery`,
          { details: { issues: headerIssues } },
        );
      }
      const { text, payload } = this.#decode(request);
      const fullName = object(payload.repository)?.full_name;
      const action = typeof payload.action === "string" ? payload.action.slice(0, 100) : null;
      const repos = await this.#verifiedRepos(fullName, text, request.signature);
      const outcome = await this.#record({ event, action, deliveryId, payload, repos });
      log.info(
        {
          ...fields,
          action,
          repo: repos.map((repo) => repo.name).join(","),
          outcome: outcome.status,
          dirty: outcome.dirty,
        },
        "webhook delivery",
      );
      return outcome;
    } catch (error) {
      if (error instanceof AppError) {
        log.warn(
          { ...fields, outcome: "rejected", code: error.code, reason: error.message },
          "webhook delivery",
        );
      }
      throw error;
    }
  }

  /**
   * The payload from the exact bytes: JSON, or a form with `payload=<json>`. The text must be
   * valid UTF-8, so that the string the signature is checked over encodes back to those bytes.
   */
  #decode(request: WebhookRequest): { text: string; payload: Json } {
    if (!request.body || request.body.length === 0) {
      throw new AppError("MALFORMED_REQUEST", "the webhook delivery has no body");
    }
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(request.body);
    } catch {
      throw new AppError("MALFORMED_REQUEST", "the webhook payload is not valid UTF-8");
    }
    const form = request.contentType?.toLowerCase().startsWith("application/x-www-form-urlencoded");
    const json = form ? new URLSearchParams(text).get("payload") : text;
    if (json === null) {
      throw new AppError("MALFORMED_REQUEST", "a form-encoded webhook delivery needs a payload=<json> field");
    }
    let payload: unknown;
    try {
      payload = JSON.parse(json);
    } catch {
      throw new AppError("MALFORMED_REQUEST", "the webhook payload is not valid JSON");
    }
    const body = object(payload);
    if (!body) throw new AppError("MALFORMED_REQUEST", "the webhook payload is not a JSON object");
    return { text, payload: body };
  }

  /** The registered repos whose webhook secret signed this body; refuses when there is none. */
  async #verifiedRepos(fullName: unknown, text: string, signature: string): Promise<WebhookRepo[]> {
    const coordinates =
      typeof fullName === "string" ? /^([^/\s]{1,100})\/([^/\s]{1,100})$/.exec(fullName) : null;
    if (!coordinates) {
      throw new AppError(
        "INVALID_SIGNATURE",
        "the payload names no repository (repository.full_name): only repository webhooks are accepted",
      );
    }
    const name = `${coordinates[1]}/${coordinates[2]}`;
    // One answer for every refusal: an unauthenticated caller learns nothing about which repos
    // are registered or configured. The reason goes to the log, for the operator.
    const refuse = (reason: string): AppError => {
      this.#deps.logger.warn({ repository: name, reason }, "webhook refused");
      return new AppError(
        "INVALID_SIGNATURE",
        `the signature does not match a webhook secret Shepherd holds for ${name} (the server log says why)`,
      );
    };
    const candidates = await this.#deps.deliveries.reposFor(
      coordinates[1] as string,
      coordinates[2] as string,
    );
    if (candidates.length === 0) throw refuse("no registered repo");
    const verified: WebhookRepo[] = [];
    let withSecret = 0;
    for (const repo of candidates) {
      if (!repo.webhookSecretRef) continue;
      let secret: string;
      try {
        secret = await this.#deps.secrets.read(repo.webhookSecretRef);
      } catch (error) {
        if (!(error instanceof SecretRefError)) throw error;
        this.#deps.logger.warn(
          { repoId: repo.id, ref: repo.webhookSecretRef, reason: error.message },
          "webhook secret cannot be read",
        );
        continue;
      }
      withSecret += 1;
      if (await verify(secret, text, signature)) verified.push(repo);
    }
    if (verified.length > 0) return verified;
    const names = candidates.map((repo) => repo.name).join(", ");
    throw refuse(
      withSecret === 0
        ? `repo ${names} has no readable webhook secret: set webhookSecretRef to the hook's secret`
        : `the signature does not match the webhook secret of ${names}`,
    );
  }

  async #record(input: {
    event: string;
    action: string | null;
    deliveryId: string;
    payload: Json;
    repos: WebhookRepo[];
  }): Promise<WebhookOutcome> {
    const { event, action, deliveryId, payload, repos } = input;
    const { deliveries, pullRequests, observations } = this.#deps;
    const targets = event === "ping" ? null : webhookTargets(event, payload);
    const now = (this.#deps.now ?? Date.now)();
    const { result } = await this.#deps.events.transaction(async (trx, emit) => {
      const first = await deliveries.insert(trx, {
        deliveryId,
        repoId: repos[0]?.id ?? null,
        event,
        action,
        receivedAt: now,
      });
      if (!first) return { duplicate: true, dirty: 0 };
      let dirty = 0;
      for (const repo of repos) {
        await observations.update(repo.id, { webhookLastDeliveryAt: now }, now, trx);
        let marked = 0;
        let numbers: number[] = [];
        if (targets) {
          marked = await pullRequests.markDirty(
            trx,
            {
              repoId: repo.id,
              numbers: targets.numbers,
              ...(targets.headSha ? { headSha: targets.headSha } : {}),
            },
            now,
          );
          const atHead = targets.headSha ? await deliveries.numbersAtHead(trx, repo.id, targets.headSha) : [];
          numbers = [...new Set([...targets.numbers, ...atHead])].sort((a, b) => a - b);
          if (targets.listDirty) await observations.markListDirty(trx, repo.id, now);
        }
        dirty += marked;
        emit({
          kind: "webhook.received",
          payload: {
            deliveryId,
            event,
            action,
            repoId: repo.id,
            repo: repo.name,
            numbers,
            ...(targets?.headSha ? { headSha: targets.headSha } : {}),
            listDirty: targets?.listDirty ?? false,
            dirty: marked,
          },
        });
      }
      return { duplicate: false, dirty };
    });
    if (result.duplicate) return { httpStatus: 200, status: "duplicate" };
    if (event === "ping") return { httpStatus: 200, status: "pong" };
    if (!targets) return { httpStatus: 200, status: "ignored" };
    return { httpStatus: 202, status: "accepted", dirty: result.dirty };
  }
}
