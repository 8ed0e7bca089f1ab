import { AppError } from "../domain/errors.js";
import type { Evidence, ProposalChange, ProposalKind, ProposalStatus } from "../domain/proposal.js";
import { describeRepoPathProblem, repoPathProblem } from "../domain/repo-path.js";
import type { Principal } from "../domain/roles.js";
import type { JobQueue } from "../queue/job-queue.js";
import { newId } from "../store/ids.js";
import type { ProposalFilter, ProposalRecord, ProposalStore } from "../store/proposal-store.js";
import type { PullRequestRecord, PullRequestStore } from "../store/pull-request-store.js";
import type { RepoRecord, RepoStore } from "../store/repo-store.js";
import type { EventLog } from "./event-log.js";
import type { SecretReader } from "./secrets.js";

export const PR_OPEN_QUEUE = "pr-open";

export interface PrOpenJob {
  proposalId: string;
}

export interface CreateProposalInput {
  repoId: string;
  sessionId: string | null;
  title: string;
  kind: ProposalKind;
  change: ProposalChange;
  evidence: Evidence | null;
  /** A pull request id (`pr_…`): commit the change on that open PR's branch instead of opening a PR. */
  followUpOf?: string | null;
}

export interface OpenPrResult {
  proposalId: string;
  status: "pending";
  jobId: string;
  /** True when a PR opening for this proposal was already under way (same job). */
  deduplicated: boolean;
}

function changedPaths(kind: ProposalKind, change: ProposalChange): string[] {
  if (kind === "params") return [(change as { path: string }).path];
  return (change as { files: { path: string }[] }).files.map((file) => file.path);
}

function followUpInvalid(message: string): AppError {
  return new AppError("VALIDATION_ERROR", message, {
    details: { issues: [{ path: "body.followUpOf", message }] },
  });
}

/** The last attempt ended with an error that is not being retried. */
function failedForGood(proposal: ProposalRecord): boolean {
  return proposal.prOpenError !== null && !proposal.prOpenError.endsWith("(retrying)");
}

/**
 * Whether a follow-up is opened without a new approval: the repo says `followUps: auto` and an
 * operator approved the PR (Shepherd opened it from a proposal, which only an approval does).
 */
export function followUpOpensItself(repo: RepoRecord, target: PullRequestRecord): boolean {
  return repo.followUps === "auto" && target.proposalId !== null;
}

/** Proposals and the operator's approval of one: opening its PR (SPEC C3). */
export class ProposalService {
  constructor(
    private readonly deps: {
      store: ProposalStore;
      repos: RepoStore;
      pullRequests: PullRequestStore;
      events: EventLog;
      queue: JobQueue;
      secrets: SecretReader;
      /** First wait before a failed attempt is retried by the queue. */
      retryBackoffMs?: number;
      now?: () => number;
    },
  ) {}

  #now(): number {
    return (this.deps.now ?? Date.now)();
  }

  async create(input: CreateProposalInput, by: Principal | null): Promise<ProposalRecord> {
    const repo = await this.deps.repos.get(input.repoId);
    if (!repo)
      throw new AppError("REPO_NOT_FOUND", `no repo ${input.repoId}`, { details: { field: "repoId" } });
    const paths = changedPaths(input.kind, input.change);
    for (const path of paths) {
      const problem = repoPathProblem(path);
      if (problem) {
        throw new AppError("VALIDATION_ERROR", describeRepoPathProblem(path, problem), {
          details: { issues: [{ path: "body.change", message: describeRepoPathProblem(path, problem) }] },
        });
      }
    }
    if (new Set(paths).size !== paths.length) {
      throw new AppError("VALIDATION_ERROR", "a file appears twice in change.files", {
        details: { issues: [{ path: "body.change.files", message: "duplicate path" }] },
      });
    }
    const target = input.followUpOf ? await this.followUpTarget(repo, input.followUpOf) : null;
    const now = this.#now();
    const record = await this.deps.store.insert({
      id: newId("prop", now),
      repoId: repo.id,
      sessionId: input.sessionId,
      title: input.title,
      kind: input.kind,
      change: input.change,
      evidence: input.evidence,
      followUpOf: target?.id ?? null,
      createdBy: by?.tokenId ?? null,
      createdAt: now,
    });
    await this.deps.events.append({
      kind: "proposal.created",
      sessionId: record.sessionId,
      payload: {
        proposalId: record.id,
        repoId: repo.id,
        repo: repo.name,
        kind: record.kind,
        title: record.title,
        ...(target ? { followUpOf: target.id, pr: target.number } : {}),
      },
    });
    if (target && followUpOpensItself(repo, target)) {
      // The operator approved this PR once and the repo trusts its follow-ups (`followUps: auto`).
      await this.openPr(record.id, null, "follow_up_auto");
      return this.get(record.id);
    }
    return record;
  }

  /**
   * The pull request a follow-up is committed to (SPEC C3 `followUpOf`): one of this repo's,
   * open, on a branch of the repo itself (Shepherd cannot push to a fork).
   */
  async followUpTarget(repo: RepoRecord, prId: string): Promise<PullRequestRecord> {
    const target = await this.deps.pullRequests.get(prId);
    const field = { field: "followUpOf" };
    if (!target) throw new AppError("NOT_FOUND", `no pull request ${prId}`, { details: field });
    if (target.repoId !== repo.id) {
      throw followUpInvalid(`pull request ${prId} belongs to another repo, not ${repo.name}`);
    }
    if (target.state !== "open") {
      throw new AppError(
        "INVALID_STATE_TRANSITION",
        `pull request ${repo.name}#${target.number} is ${target.state}; a follow-up needs an open pull request (propose the change on its own instead)`,
        { details: { ...field, state: target.state } },
      );
    }
    const fullName = `${repo.owner}/${repo.repo}`;
    if (target.headRepo !== fullName) {
      throw followUpInvalid(
        `pull request ${repo.name}#${target.number} comes from ${target.headRepo ?? "a deleted fork"}; Shepherd can only push to branches of ${fullName}`,
      );
    }
    return target;
  }

  async get(id: string): Promise<ProposalRecord> {
    const record = await this.deps.store.get(id);
    if (!record) throw new AppError("PROPOSAL_NOT_FOUND", `no proposal ${id}`);
    return record;
  }

  list(filter: ProposalFilter & { before?: string | undefined; limit: number }): Promise<ProposalRecord[]> {
    return this.deps.store.list(filter);
  }

  count(filter: ProposalFilter): Promise<number> {
    return this.deps.store.count(filter);
  }

  /**
   * The operator's approval: queue the PR worker. Preflight in the order of SPEC C3; a request
   * while a job is in flight gets that job, a request after a failure always gets a fresh one.
   */
  async openPr(
    id: string,
    by: Principal | null,
    cause: "open_pr_requested" | "follow_up_auto" = "open_pr_requested",
  ): Promise<OpenPrResult> {
    const proposal = await this.get(id);
    if (proposal.status !== "pending") throw this.#notFrom(proposal, "open a PR for", ["pending"]);
    const repo = await this.deps.repos.get(proposal.repoId);
    if (!repo) {
      throw new AppError("REPO_NOT_CONFIGURED", `the repo of proposal ${id} is no longer registered`, {
        details: { repoId: proposal.repoId },
      });
    }
    const tokenProblem = await this.deps.secrets.problem(repo.tokenRef);
    if (tokenProblem) {
      throw new AppError(
        "GITHUB_NOT_CONFIGURED",
        `the token of repo ${repo.name} cannot be read: ${tokenProblem}`,
        {
          retryAfterSeconds: 30,
          details: { repo: repo.name, tokenRef: repo.tokenRef },
        },
      );
    }
    let job: { id: string; deduplicated: boolean };
    try {
      const enqueue = (dedupKey: string) =>
        this.deps.queue.enqueue(PR_OPEN_QUEUE, { proposalId: id } satisfies PrOpenJob, {
          dedupKey,
          maxAttempts: 3,
          backoffMs: this.deps.retryBackoffMs ?? 5000,
        });
      // A double click while an attempt is under way joins it.
      job = await enqueue(`pr-open:${id}`);
      if (job.deduplicated && failedForGood(proposal)) {
        // What it joined is the attempt that failed for good, still being wound up in the queue:
        // a retry is a fresh job, never silently joined to it (concurrent retries share one).
        job = await enqueue(`pr-open:${id}:${proposal.version}`);
      }
    } catch (error) {
      throw new AppError(
        "QUEUE_UNAVAILABLE",
        "the job queue did not accept the request; nothing was queued",
        {
          retryAfterSeconds: 5,
          cause: error,
        },
      );
    }
    await this.deps.store.recordOpenRequested(id, job.id, !job.deduplicated, this.#now());
    if (!job.deduplicated) {
      await this.deps.events.append({
        kind: "proposal.status_changed",
        sessionId: proposal.sessionId,
        payload: {
          proposalId: id,
          from: "pending",
          to: "pending",
          cause,
          jobId: job.id,
          by: by?.tokenId ?? null,
        },
      });
    }
    return { proposalId: id, status: "pending", jobId: job.id, deduplicated: job.deduplicated };
  }

  async reject(id: string, reason: string, by: Principal | null): Promise<ProposalRecord> {
    const result = await this.deps.store.reject(id, reason, this.#now());
    if (!result.ok) {
      if (result.current === null) throw new AppError("PROPOSAL_NOT_FOUND", `no proposal ${id}`);
      throw this.#notFrom({ id, status: result.current as ProposalStatus }, "reject", ["pending"]);
    }
    await this.deps.events.append({
      kind: "proposal.status_changed",
      sessionId: result.row.sessionId,
      payload: {
        proposalId: id,
        from: "pending",
        to: "rejected",
        cause: "rejected",
        reason,
        by: by?.tokenId ?? null,
      },
    });
    return result.row;
  }

  /** A closed PR's proposal goes back to pending, to be opened again. */
  async reopen(id: string, by: Principal | null): Promise<ProposalRecord> {
    const result = await this.deps.store.reopen(id, this.#now());
    if (!result.ok) {
      if (result.current === null) throw new AppError("PROPOSAL_NOT_FOUND", `no proposal ${id}`);
      throw this.#notFrom({ id, status: result.current as ProposalStatus }, "reopen", ["closed"]);
    }
    await this.deps.events.append({
      kind: "proposal.status_changed",
      sessionId: result.row.sessionId,
      payload: { proposalId: id, from: "closed", to: "pending", cause: "reopened", by: by?.tokenId ?? null },
    });
    return result.row;
  }

  #notFrom(
    proposal: { id: string; status: ProposalStatus },
    action: string,
    allowed: ProposalStatus[],
  ): AppError {
    return new AppError(
      "INVALID_STATE_TRANSITION",
      `cannot ${action} proposal ${proposal.id}: it is ${proposal.status}, not ${allowed.join(" or ")}`,
      { details: { status: proposal.status, allowed } },
    );
  }
}
