import { rm } from "node:fs/promises";
import path from "node:path";
import { AppError } from "../domain/errors.js";
import { webhookHealthy } from "../domain/webhook-health.js";
import type { RepoHealth, RepoObservationStore } from "../store/repo-observation-store.js";
import {
  isValidRepoName,
  parseRepoUrl,
  REPO_ID,
  repoWebUrl,
  withoutCredentials,
  type FollowUpMode,
  type MergeMethod,
} from "../domain/repo.js";
import type { Principal } from "../domain/roles.js";
import { GitHubError } from "../github/github-errors.js";
import type { GitHubClients } from "../github/github-client.js";
import { newId } from "../store/ids.js";
import { isUniqueViolation, type RepoPatch, type RepoRecord, type RepoStore } from "../store/repo-store.js";
import { StaleVersionError } from "../store/transitions.js";
import type { EventLog } from "./event-log.js";
import type { SecretReader } from "./secrets.js";

export interface CreateRepoInput {
  name: string;
  url: string;
  baseBranch: string;
  tokenRef: string;
  webhookSecretRef: string | null;
  autoMerge: boolean;
  mergeMethod: MergeMethod;
  followUps: FollowUpMode;
}

export interface RepoCheck {
  ok: boolean;
  repository: string;
  tokenRef: string;
  /** What GitHub says the token may do, when it answered. */
  access: {
    defaultBranch: string;
    private: boolean;
    push: boolean;
    admin: boolean;
    scopes: string[] | null;
  } | null;
  rateLimit: { remaining: number; limit: number; reset: number } | null;
  problems: string[];
}

/** Registered repositories and their per-repo tokens (SPEC C2). */
/** The observer's view of a repo, as the API shows it. */
export interface RepoObservationView {
  health: RepoHealth;
  healthReason: string | null;
  healthSince: number | null;
  lastPolledAt: number | null;
  lastSuccessAt: number | null;
  webhookHookId: number | null;
  webhookLastDeliveryAt: number | null;
  webhookHealthy: boolean;
}

export class RepoService {
  constructor(
    private readonly deps: {
      store: RepoStore;
      events: EventLog;
      secrets: SecretReader;
      github: GitHubClients;
      webUrl: string;
      clonesDir: string;
      /** The observer's per-repo state (health, polls, webhooks), shown with the repo. */
      observations: RepoObservationStore;
      webhookHealthyMs: number;
      now?: () => number;
    },
  ) {}

  /** What the observer knows of these repos, by repo id (SPEC C4 health states). */
  async observationsOf(records: readonly RepoRecord[]): Promise<Map<string, RepoObservationView>> {
    const states = new Map(
      (await this.deps.observations.list(records.map((record) => record.id))).map((state) => [
        state.repoId,
        state,
      ]),
    );
    const now = this.#now();
    return new Map(
      records.map((record) => {
        const state = states.get(record.id) ?? null;
        return [
          record.id,
          {
            health: state?.health ?? "unknown",
            healthReason: state?.healthReason ?? null,
            healthSince: state?.healthSince ?? null,
            lastPolledAt: state?.lastPolledAt ?? null,
            lastSuccessAt: state?.lastSuccessAt ?? null,
            webhookHookId: state?.webhookHookId ?? null,
            webhookLastDeliveryAt: state?.webhookLastDeliveryAt ?? null,
            webhookHealthy: webhookHealthy(state, now, this.deps.webhookHealthyMs),
          },
        ];
      }),
    );
  }

  #now(): number {
    return (this.deps.now ?? Date.now)();
  }

  async #assertRefReadable(field: string, ref: string): Promise<void> {
    const problem = await this.deps.secrets.problem(ref);
    if (problem) {
      throw new AppError("TOKEN_REF_NOT_FOUND", `${field} ${ref} cannot be used: ${problem}`, {
        details: { field },
      });
    }
  }

  async create(input: CreateRepoInput, by: Principal | null): Promise<RepoRecord> {
    if (!isValidRepoName(input.name)) {
      throw new AppError("VALIDATION_ERROR", `${input.name} cannot be a repo name`, {
        details: {
          issues: [
            { path: "body.name", message: "not a valid repo name (and must not look like a repo id)" },
          ],
        },
      });
    }
    const coordinates = parseRepoUrl(input.url, this.deps.webUrl);
    if (!coordinates) {
      throw new AppError(
        "UNSUPPORTED_PROVIDER",
        `${withoutCredentials(input.url)} is not a repository on ${this.deps.webUrl}; expected ${this.deps.webUrl}/<owner>/<repo>`,
        { details: { field: "url" } },
      );
    }
    await this.#assertRefReadable("tokenRef", input.tokenRef);
    if (input.webhookSecretRef) await this.#assertRefReadable("webhookSecretRef", input.webhookSecretRef);
    // Friendly message for the common case; the unique index decides races.
    if (await this.deps.store.getByName(input.name)) throw this.#nameTaken(input.name);
    const now = this.#now();
    let record: RepoRecord;
    try {
      record = await this.deps.store.insert({
        id: newId("repo", now),
        name: input.name,
        owner: coordinates.owner,
        repo: coordinates.repo,
        baseBranch: input.baseBranch,
        tokenRef: input.tokenRef,
        webhookSecretRef: input.webhookSecretRef,
        autoMerge: input.autoMerge,
        mergeMethod: input.mergeMethod,
        followUps: input.followUps,
        createdAt: now,
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw this.#nameTaken(input.name);
      throw error;
    }
    await this.deps.events.append({
      kind: "repo.created",
      payload: {
        repoId: record.id,
        name: record.name,
        repository: `${record.owner}/${record.repo}`,
        by: by?.tokenId ?? null,
      },
    });
    return record;
  }

  #nameTaken(name: string): AppError {
    return new AppError("REPO_NAME_TAKEN", `a repo named ${name} is already registered`, {
      details: { name },
    });
  }

  /** By id, or by name (what people type). */
  async get(idOrName: string): Promise<RepoRecord> {
    const record = REPO_ID.test(idOrName)
      ? await this.deps.store.get(idOrName)
      : await this.deps.store.getByName(idOrName);
    if (!record) throw new AppError("REPO_NOT_FOUND", `no repo ${idOrName}`);
    return record;
  }

  list(options: { before?: string | undefined; limit: number }): Promise<RepoRecord[]> {
    return this.deps.store.list(options);
  }

  count(): Promise<number> {
    return this.deps.store.count();
  }

  webUrlOf(record: RepoRecord): string {
    return repoWebUrl(this.deps.webUrl, record);
  }

  /**
   * Changes settings. With `expectedVersion`, a write based on a stale read is refused (409);
   * without it, the change is applied to the current version.
   */
  async update(
    idOrName: string,
    patch: RepoPatch,
    expectedVersion: number | undefined,
    by: Principal | null,
  ): Promise<RepoRecord> {
    if (patch.tokenRef !== undefined) await this.#assertRefReadable("tokenRef", patch.tokenRef);
    if (patch.webhookSecretRef) await this.#assertRefReadable("webhookSecretRef", patch.webhookSecretRef);
    for (let attempt = 0; ; attempt++) {
      const current = await this.get(idOrName);
      try {
        const updated = await this.deps.store.update(
          current.id,
          expectedVersion ?? current.version,
          patch,
          this.#now(),
        );
        await this.deps.events.append({
          kind: "repo.updated",
          payload: {
            repoId: updated.id,
            name: updated.name,
            fields: Object.keys(patch),
            by: by?.tokenId ?? null,
          },
        });
        return updated;
      } catch (error) {
        if (!(error instanceof StaleVersionError)) throw error;
        if (expectedVersion !== undefined || attempt >= 4) {
          throw new AppError(
            "VERSION_CONFLICT",
            `repo ${current.name} changed meanwhile; read it again and retry`,
            {
              details: { currentVersion: (await this.get(current.id)).version },
            },
          );
        }
      }
    }
  }

  /** Removes the repo (its proposals keep their history) and its clone. */
  async remove(idOrName: string, by: Principal | null): Promise<RepoRecord> {
    const record = await this.get(idOrName);
    if (!(await this.deps.store.softDelete(record.id, this.#now()))) {
      throw new AppError("REPO_NOT_FOUND", `no repo ${idOrName}`);
    }
    await rm(path.join(this.deps.clonesDir, record.id), { recursive: true, force: true });
    await this.deps.events.append({
      kind: "repo.deleted",
      payload: { repoId: record.id, name: record.name, by: by?.tokenId ?? null },
    });
    return record;
  }

  /** Asks GitHub what the repo's token may do there, and says plainly what is missing. */
  async check(idOrName: string): Promise<RepoCheck> {
    const record = await this.get(idOrName);
    const repository = `${record.owner}/${record.repo}`;
    const result: RepoCheck = {
      ok: false,
      repository,
      tokenRef: record.tokenRef,
      access: null,
      rateLimit: null,
      problems: [],
    };
    let token: string;
    try {
      token = await this.deps.secrets.read(record.tokenRef);
    } catch (error) {
      result.problems.push(`token ${record.tokenRef} cannot be read: ${(error as Error).message}`);
      return result;
    }
    const client = this.deps.github.forToken(token);
    try {
      const access = await client.getRepository(record.owner, record.repo);
      result.access = {
        defaultBranch: access.defaultBranch,
        private: access.private,
        push: access.permissions?.push ?? false,
        admin: access.permissions?.admin ?? false,
        scopes: access.scopes,
      };
      if (!access.permissions?.push) {
        result.problems.push("the token cannot push to the repository: grant Contents read and write");
      }
      if (
        access.scopes !== null &&
        !access.scopes.includes("repo") &&
        !(access.scopes.includes("public_repo") && !access.private)
      ) {
        result.problems.push(
          `the classic token's scopes (${access.scopes.join(", ") || "none"}) lack "repo"`,
        );
      }
    } catch (error) {
      if (!(error instanceof GitHubError)) throw error;
      const reasons: Record<string, string> = {
        auth_failed: "GitHub rejected the token (401): it is wrong, expired or revoked",
        not_found: `${repository} was not found, or the token has no access to it`,
        forbidden: "the token is not allowed to read the repository",
        rate_limited: "the token's rate limit is exhausted; try again later",
      };
      result.problems.push(reasons[error.kind] ?? `GitHub could not be asked: ${error.message}`);
    }
    const budget = client.fingerprint
      ? this.deps.github.budget.snapshot(client.fingerprint).find((b) => b.resource === "core")
      : undefined;
    if (budget) result.rateLimit = { remaining: budget.remaining, limit: budget.limit, reset: budget.reset };
    result.ok = result.problems.length === 0;
    return result;
  }
}
