import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { sign } from "@octokit/webhooks-methods";
import type { LightMyRequestResponse } from "fastify";
import { PullRequestStore, type PullRequestRecord } from "../../src/store/pull-request-store.js";
import { RepoObservationStore } from "../../src/store/repo-observation-store.js";
import { WebhookDeliveryStore } from "../../src/store/webhook-delivery-store.js";
import type { TestServer } from "../support/test-server.js";

/** Helpers shared by the webhook tests: repos with secrets, signed deliveries, and what they left. */

let counter = 0;

export interface WebhookTestRepo {
  id: string;
  name: string;
  owner: string;
  repo: string;
  secret: string | null;
}

/**
 * Registers `owner/repo` through the API as any admin would. It needs no GitHub: the URL is checked
 * against the configured GitHub URL (github.com here) and the refs only have to resolve.
 */
export async function registerRepo(
  server: TestServer,
  input: { owner: string; repo: string; secret?: string | null; urlCase?: "as-is" | "lower" },
): Promise<WebhookTestRepo> {
  counter += 1;
  const name = `wh-${counter}-${input.repo.toLowerCase().replace(/[^a-z0-9]/g, "")}`.slice(0, 60);
  await writeFile(path.join(server.home, "secrets", `${name}-token`), `ghp_${"t".repeat(36)}\n`, {
    mode: 0o600,
  });
  const secret = input.secret === undefined ? `secret-${randomUUID()}` : input.secret;
  if (secret !== null) {
    await writeFile(path.join(server.home, "secrets", `${name}-hook`), `${secret}\n`, { mode: 0o600 });
  }
  const slug = `${input.owner}/${input.repo}`;
  const response = await server.app.inject({
    method: "POST",
    url: "/api/v1/repos",
    headers: { authorization: `Bearer ${server.adminToken}` },
    payload: {
      name,
      url: `${server.config.github.webUrl}/${input.urlCase === "lower" ? slug.toLowerCase() : slug}`,
      tokenRef: `file:${name}-token`,
      ...(secret === null ? {} : { webhookSecretRef: `file:${name}-hook` }),
    },
  });
  if (response.statusCode !== 201)
    throw new Error(`register ${slug}: ${response.statusCode} ${response.body}`);
  return { id: response.json<{ id: string }>().id, name, owner: input.owner, repo: input.repo, secret };
}

export interface DeliveryInput {
  event: string;
  /** A payload object (JSON-encoded here) or the exact body to send. */
  payload: unknown;
  secret: string | null;
  deliveryId?: string;
  form?: boolean;
  /** Replaces the computed signature header (null: none). */
  signature?: string | null;
  headers?: Record<string, string>;
}

export function bodyOf(input: Pick<DeliveryInput, "payload" | "form">): string {
  const json = typeof input.payload === "string" ? input.payload : JSON.stringify(input.payload);
  return input.form ? `payload=${encodeURIComponent(json)}` : json;
}

/** POSTs a delivery the way GitHub does: the signature is computed over the exact body bytes. */
export async function deliver(server: TestServer, input: DeliveryInput): Promise<LightMyRequestResponse> {
  const body = bodyOf(input);
  const signature =
    input.signature !== undefined
      ? input.signature
      : input.secret === null
        ? null
        : await sign(input.secret, body);
  return server.app.inject({
    method: "POST",
    url: "/webhooks/github",
    headers: {
      "content-type": input.form ? "application/x-www-form-urlencoded" : "application/json",
      "user-agent": "GitHub-Hookshot/test",
      "x-github-event": input.event,
      "x-github-delivery": input.deliveryId ?? randomUUID(),
      ...(signature === null ? {} : { "x-hub-signature-256": signature }),
      ...input.headers,
    },
    payload: body,
  });
}

export function repositoryOf(repo: { owner: string; repo: string }): Record<string, unknown> {
  return {
    id: 1296269,
    full_name: `${repo.owner}/${repo.repo}`,
    name: repo.repo,
    owner: { login: repo.owner },
  };
}

export class WebhookProbe {
  readonly deliveries: WebhookDeliveryStore;
  readonly pulls: PullRequestStore;
  readonly observations: RepoObservationStore;

  constructor(private readonly server: TestServer) {
    const db = server.running.database.db;
    this.deliveries = new WebhookDeliveryStore(db);
    this.pulls = new PullRequestStore(db);
    this.observations = new RepoObservationStore(db);
  }

  async webhookEvents(): Promise<Record<string, unknown>[]> {
    const events = await this.server.running.events.list({ kind: "webhook.received", limit: 10_000 });
    return events.map((event) => JSON.parse(event.payloadJson) as Record<string, unknown>).reverse();
  }

  /** A tracked PR, as the observer or the PR worker would create it, with no dirty mark. */
  async trackedPull(repoId: string, number: number, headSha: string): Promise<PullRequestRecord> {
    const record = await this.pulls.track(
      {
        nodeId: `PR_${repoId}_${number}`,
        repoId,
        number,
        url: `https://github.com/x/y/pull/${number}`,
        title: `PR ${number}`,
        author: "octocat",
        headRef: `feature-${number}`,
        headRepo: null,
        headSha,
        baseRef: "main",
        state: "open",
        draft: false,
        ghUpdatedAt: null,
        sessionId: null,
        proposalId: null,
      },
      Date.now(),
    );
    await this.cleanPull(record.id);
    return record;
  }

  async cleanPull(id: string): Promise<void> {
    await this.server.running.database.db
      .updateTable("pull_requests")
      .set({ dirty_at: null })
      .where("id", "=", id)
      .execute();
  }

  async dirtyAt(pullId: string): Promise<number | null> {
    return (await this.pulls.get(pullId))?.dirtyAt ?? null;
  }
}
