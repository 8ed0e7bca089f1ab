import { SecretRefError } from "../config/secret-ref.js";
import { AppError } from "../domain/errors.js";
import { GitHubError, RateLimited } from "../github/github-errors.js";
import type { GitHubClients } from "../github/github-client.js";
import { createRepoHook, listRepoHooks, type RepoHook } from "../github/repo-hooks.js";
import type { RepoObservationStore } from "../store/repo-observation-store.js";
import type { RepoRecord } from "../store/repo-store.js";
import type { RepoService } from "./repo-service.js";
import type { SecretReader } from "./secrets.js";
import { WEBHOOK_EVENTS } from "./webhook-intake.js";

/** Where GitHub delivers, below the server's public URL. */
export const WEBHOOK_PATH = "/webhooks/github";

export interface WebhookRegistrationResult {
  repoId: string;
  name: string;
  repository: string;
  hookId: number;
  url: string;
  /** False when a hook with this URL was already there (it is reported, not duplicated). */
  created: boolean;
  active: boolean;
  events: string[];
}

const PERMISSION_HINT =
  "grant it Webhooks: read and write (fine-grained token) or the admin:repo_hook scope (classic token)";

/**
 * `POST /api/v1/repos/{id}/webhook` (SPEC C4): creates the repository hook that delivers to
 * `<server.publicUrl>/webhooks/github`, signed with the repo's webhook secret — once: an existing
 * hook with that URL is reported instead.
 */
export class WebhookRegistration {
  constructor(
    private readonly deps: {
      repos: RepoService;
      observations: RepoObservationStore;
      secrets: SecretReader;
      github: GitHubClients;
      publicUrl: string | null;
      now?: () => number;
    },
  ) {}

  async register(idOrName: string): Promise<WebhookRegistrationResult> {
    const record = await this.deps.repos.get(idOrName);
    if (!this.deps.publicUrl) {
      throw new AppError(
        "REPO_NOT_CONFIGURED",
        "the server has no public URL for GitHub to deliver to: set server.publicUrl (SHEPHERD_PUBLIC_URL)",
        { details: { missing: "server.publicUrl" } },
      );
    }
    const url = `${this.deps.publicUrl}${WEBHOOK_PATH}`;
    const secret = await this.#webhookSecret(record);
    let token: string;
    try {
      token = await this.deps.secrets.read(record.tokenRef);
    } catch (error) {
      if (!(error instanceof SecretRefError)) throw error;
      throw new AppError(
        "GITHUB_NOT_CONFIGURED",
        `the token of repo ${record.name} cannot be read: ${error.message}`,
        { retryAfterSeconds: 30, details: { repo: record.name, tokenRef: record.tokenRef } },
      );
    }
    const client = this.deps.github.forToken(token);
    const { owner, repo } = record;
    let hook: RepoHook;
    let created = false;
    try {
      const existing = (await listRepoHooks(client, owner, repo)).find((h) => h.url === url);
      if (existing) {
        hook = existing;
      } else {
        try {
          hook = await createRepoHook(client, { owner, repo, url, secret, events: WEBHOOK_EVENTS });
          created = true;
        } catch (error) {
          // Created meanwhile (a concurrent request, or a retried create whose answer was lost).
          const raced =
            error instanceof GitHubError && error.kind === "validation_failed"
              ? (await listRepoHooks(client, owner, repo)).find((h) => h.url === url)
              : undefined;
          if (!raced) throw error;
          hook = raced;
        }
      }
    } catch (error) {
      if (error instanceof GitHubError) throw this.#refused(record, error);
      throw error;
    }
    const now = (this.deps.now ?? Date.now)();
    await this.deps.observations.update(record.id, { webhookHookId: hook.id }, now);
    return {
      repoId: record.id,
      name: record.name,
      repository: `${owner}/${repo}`,
      hookId: hook.id,
      url,
      created,
      active: hook.active,
      events: hook.events,
    };
  }

  async #webhookSecret(record: RepoRecord): Promise<string> {
    if (!record.webhookSecretRef) {
      throw new AppError(
        "REPO_NOT_CONFIGURED",
        `repo ${record.name} has no webhook secret: set one first (shepherd repo set ${record.name} --webhook-secret-ref file:<name>)`,
        { details: { repo: record.name, missing: "webhookSecretRef" } },
      );
    }
    try {
      return await this.deps.secrets.read(record.webhookSecretRef);
    } catch (error) {
      if (!(error instanceof SecretRefError)) throw error;
      throw new AppError(
        "REPO_NOT_CONFIGURED",
        `the webhook secret of repo ${record.name} cannot be read: ${error.message}`,
        { details: { repo: record.name, webhookSecretRef: record.webhookSecretRef } },
      );
    }
  }

  /** GitHub said no: what to change, in the codes the rest of the API uses. */
  #refused(record: RepoRecord, error: GitHubError): AppError {
    const repository = `${record.owner}/${record.repo}`;
    const details = { repo: record.name, repository, githubStatus: error.status };
    if (error instanceof RateLimited) {
      return new AppError(
        "RATE_LIMITED",
        `GitHub rate-limits the token of repo ${record.name}; try again later`,
        {
          retryAfterSeconds: error.retryAfterSeconds,
          details,
        },
      );
    }
    switch (error.kind) {
      case "auth_failed":
        return new AppError(
          "REPO_NOT_CONFIGURED",
          `GitHub rejected the token of repo ${record.name} (401): it is wrong, expired or revoked`,
          { details },
        );
      case "forbidden":
        return new AppError(
          "REPO_NOT_CONFIGURED",
          `the token of repo ${record.name} may not manage the webhooks of ${repository} (GitHub answered 403): ${PERMISSION_HINT}`,
          { details: { ...details, permission: "webhooks:write" } },
        );
      case "not_found":
        return new AppError(
          "REPO_NOT_CONFIGURED",
          `GitHub answered 404 for the webhooks of ${repository}: the repository does not exist, or the token of repo ${record.name} cannot see its webhooks (${PERMISSION_HINT})`,
          { details: { ...details, permission: "webhooks:write" } },
        );
      case "validation_failed":
        return new AppError("REPO_NOT_CONFIGURED", `GitHub refused the webhook: ${error.message}`, {
          details,
        });
      case "unavailable":
        return new AppError("SERVICE_UNAVAILABLE", `GitHub could not be reached: ${error.message}`, {
          retryAfterSeconds: 30,
          details,
        });
      default:
        return new AppError("REPO_NOT_CONFIGURED", `GitHub refused the webhook request: ${error.message}`, {
          details,
        });
    }
  }
}
