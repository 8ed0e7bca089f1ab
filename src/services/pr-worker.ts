import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { svgToPng } from "../charts/render-png.js";
import { gitRemoteUrl, type GitHubUrls } from "../config/github-urls.js";
import { importanceChartSvg } from "../domain/importance-chart.js";
import {
  chartMarker,
  chartPath,
  followUpMarker,
  renderChartComment,
  renderCommitMessage,
  renderFollowUpComment,
  renderPrBody,
  renderPrTitle,
} from "../domain/pr-content.js";
import {
  carriesProposalTrailer,
  proposalBranch,
  type FilesChange,
  type ParamsChange,
} from "../domain/proposal.js";
import type { SecretRedactor } from "../domain/redact.js";
import { GitError, type GitRunner } from "../git/git-runner.js";
import { RepoClone } from "../git/repo-clone.js";
import { GitHubError, GitHubUnavailable, ValidationFailed } from "../github/github-errors.js";
import type { GitHubClient, GitHubClients, PullRef } from "../github/github-client.js";
import type { Logger } from "../observability/logger.js";
import { DeferJobError, PermanentJobError, type JobContext } from "../queue/job-queue.js";
import { ProposalStore, type ProposalRecord } from "../store/proposal-store.js";
import { PullRequestStore } from "../store/pull-request-store.js";
import type { RepoLocks } from "../store/repo-locks.js";
import type { RepoRecord, RepoStore } from "../store/repo-store.js";
import { applyFilesChange, applyParamsChange, resolveInsideClone } from "./apply-proposal-change.js";
import type { EventLog } from "./event-log.js";
import type { SessionFacts } from "./sessions/session-facts.js";
import type { PrOpenJob } from "./proposal-service.js";
import type { SecretReader } from "./secrets.js";
import { gitFailure, githubFailure, toWorkerFailure, WorkerFailure } from "./worker-failure.js";

export interface PrWorkerDeps {
  proposals: ProposalStore;
  repos: RepoStore;
  pullRequests: PullRequestStore;
  events: EventLog;
  secrets: SecretReader;
  github: GitHubClients;
  git: GitRunner;
  locks: RepoLocks;
  urls: GitHubUrls;
  clonesDir: string;
  publicUrl: string | null;
  redactor: SecretRedactor;
  logger: Logger;
  /** How long a proposal may wait for its repo before LOCK_TIMEOUT. */
  lockTimeoutMs: number;
  /** How long to put a job back when its repo is busy. */
  lockRetryMs: number;
  now?: () => number;
  /** The session side of a new PR: its status (e.g. `idle` → `pr_open`), announced in the same transaction. */
  sessionFacts?: Pick<SessionFacts, "announceWithin">;
}

type ChartOutcome = "committed" | "table" | "none";

type ParamChangeRow = { key: string; from: unknown; to: unknown };

/** The keys a params proposal changes, as it asked (for a branch an earlier attempt pushed). */
function recordedParamChanges(proposal: ProposalRecord): ParamChangeRow[] | null {
  if (proposal.kind !== "params") return null;
  return Object.entries((proposal.change as ParamsChange).set).map(([key, value]) => ({
    key,
    from: value.from,
    to: value.to,
  }));
}

/** How many of a PR branch's newest commits are searched for a follow-up's own earlier push. */
const FOLLOW_UP_SEARCH_DEPTH = 100;

class Released extends Error {
  override name = "Released";
}

/**
 * The PR worker (SPEC C3 "The worker"): turns an approved proposal into exactly one pull request.
 * Idempotent across crashes and retries: a branch carrying this proposal's trailer is adopted, an
 * open PR for it is linked (a closed one reopened), the chart comment is found by its marker
 * before it is posted. No database transaction is open across git or GitHub calls.
 */
export class PrWorker {
  constructor(private readonly deps: PrWorkerDeps) {}

  #now(): number {
    return (this.deps.now ?? Date.now)();
  }

  async handle(job: JobContext<PrOpenJob>): Promise<void> {
    const { proposalId } = job.payload;
    const log = this.deps.logger.child({ proposalId, jobId: job.id, attempt: job.attempt });
    // Step 1: stop quietly if there is nothing to do.
    const proposal = await this.deps.proposals.get(proposalId);
    if (!proposal || proposal.status !== "pending") {
      log.info({ status: proposal?.status ?? null }, "proposal no longer pending; nothing to open");
      return;
    }
    try {
      // Step 2: the repo and its token, read fresh (a rotated token applies at once).
      const repo = await this.deps.repos.get(proposal.repoId);
      if (!repo)
        throw new WorkerFailure("REPO_NOT_CONFIGURED", `repo ${proposal.repoId} is no longer registered`);
      let token: string;
      try {
        token = await this.deps.secrets.read(repo.tokenRef);
      } catch (error) {
        throw new WorkerFailure(
          "GITHUB_NOT_CONFIGURED",
          `the token ${repo.tokenRef} cannot be read: ${(error as Error).message}`,
        );
      }
      // Step 3: one PR operation per repo; a busy repo puts the job back instead of waiting.
      const lock = await this.deps.locks.tryAcquire(repo.id);
      if (!lock) {
        const since = job.deferredSince ?? this.#now();
        const waited = this.#now() - since;
        if (waited >= this.deps.lockTimeoutMs) {
          throw new WorkerFailure(
            "LOCK_TIMEOUT",
            `repo ${repo.name} stayed busy with other PR work for ${Math.round(waited / 1000)} s; open the PR again when it is idle`,
          );
        }
        log.debug({ repoId: repo.id, waitedMs: waited }, "repo busy; job put back");
        throw new DeferJobError(this.deps.lockRetryMs, `repo ${repo.name} is busy`);
      }
      try {
        await this.#openLocked(job, proposal.id, repo, token, log);
      } finally {
        await lock.release();
      }
    } catch (error) {
      if (error instanceof DeferJobError) throw error;
      if (error instanceof Released || job.signal.aborted) throw error;
      const failure = toWorkerFailure(error);
      const retrying = failure.transient && job.attempt < job.maxAttempts;
      await this.#recordFailure(proposal, failure, job, retrying, log);
      if (failure.retryAfterMs !== undefined && retrying) {
        throw new DeferJobError(failure.retryAfterMs, failure.message);
      }
      if (retrying) throw failure;
      throw new PermanentJobError(`${failure.code}: ${this.deps.redactor.redact(failure.message)}`);
    }
  }

  #checkpoint(job: JobContext<PrOpenJob>): void {
    if (job.signal.aborted) throw new Released("the job was released (shutdown or lost lease)");
  }

  async #openLocked(
    job: JobContext<PrOpenJob>,
    proposalId: string,
    repo: RepoRecord,
    token: string,
    log: Logger,
  ): Promise<void> {
    const { deps } = this;
    // Rejected while we waited for the lock?
    const proposal = await deps.proposals.get(proposalId);
    if (!proposal || proposal.status !== "pending") {
      log.info({ status: proposal?.status ?? null }, "proposal no longer pending; nothing to open");
      return;
    }
    if (proposal.followUpOf !== null) {
      await this.#followUpLocked(job, proposal, proposal.followUpOf, repo, token, log);
      return;
    }
    const started = this.#now();
    const branch = proposalBranch(proposal);
    const clone = new RepoClone(
      deps.git,
      path.join(deps.clonesDir, repo.id),
      gitRemoteUrl(deps.urls, repo.owner, repo.repo),
      { remoteBase: deps.urls.webUrl, token },
    );

    // Steps 4–5: the persistent clone, reset to a clean base.
    await this.#git(() => clone.ensure(), "clone");
    this.#checkpoint(job);
    await this.#git(() => clone.resetToBase(repo.baseBranch, branch), "fetch");
    this.#checkpoint(job);

    // Step 6: an existing branch is ours (adopt it) or someone else's (refuse; never force-push).
    const remoteHead = await this.#git(() => clone.remoteBranchHead(branch), "fetch");
    let adopted = false;
    if (remoteHead) {
      await this.#git(() => clone.fetchBranch(branch), "fetch");
      const message = await this.#git(() => clone.remoteCommitMessage(branch), "fetch");
      if (!carriesProposalTrailer(message, proposal.id)) {
        throw new WorkerFailure(
          "BRANCH_EXISTS",
          `branch ${branch} already exists on ${repo.owner}/${repo.repo} and is not this proposal's work; Shepherd never force-pushes: delete or rename that branch, then open the PR again`,
        );
      }
      adopted = true;
      log.info({ branch }, "adopting this proposal's branch from an earlier attempt");
    }

    let paramChanges: ParamChangeRow[] | null;
    let chart: ChartOutcome;
    if (adopted) {
      paramChanges = recordedParamChanges(proposal);
      chart =
        proposal.evidence?.importance && Object.keys(proposal.evidence.importance).length > 0
          ? "committed"
          : "none";
    } else {
      // Steps 7–8: apply the change inside the clone.
      paramChanges = await this.#applyChange(
        clone,
        proposal,
        "the change leaves the repository exactly as it is on the base branch",
      );
      // Step 9: the chart (failure only costs the picture: a table goes into the body instead).
      chart = await this.#renderChart(clone.dir, proposal, log);
      this.#checkpoint(job);
      // Steps 10–11: commit (message from a file) and push (never forced).
      await this.#commitAndPush(job, clone, proposal, branch);
    }
    this.#checkpoint(job);

    // Step 12: the pull request — found, reopened or created, never duplicated.
    const client = deps.github.forToken(token);
    const title = deps.redactor.redact(renderPrTitle(proposal.title));
    const body = deps.redactor.redact(
      renderPrBody({
        proposalId: proposal.id,
        sessionId: proposal.sessionId,
        title: proposal.title,
        paramChanges,
        fileChanges: proposal.kind === "files" ? (proposal.change as FilesChange).files : null,
        evidence: proposal.evidence,
        chart,
        publicUrl: deps.publicUrl,
      }),
    );
    const pull = await this.#ensurePull(client, repo, branch, title, body, adopted);

    // Step 13: the chart as a conversation comment (non-fatal).
    if (chart === "committed") await this.#ensureChartComment(client, repo, pull, proposal.id, branch, log);

    // Step 14: pending → pr_opened, unless someone rejected the proposal meanwhile. The PR is
    // tracked for the observer in the same transaction, with the events.
    const now = this.#now();
    const prPayload = {
      proposalId: proposal.id,
      repoId: repo.id,
      repo: repo.name,
      number: pull.number,
      url: pull.url,
      branch,
      adopted,
      chart,
    };
    const { result: marked } = await deps.events.transaction(async (trx, emit) => {
      const marked = await new ProposalStore(trx).markOpened(
        proposal.id,
        { number: pull.number, url: pull.url, nodeId: pull.nodeId, branch },
        now,
      );
      if (!marked.ok) {
        emit({
          kind: "pr.opened",
          sessionId: proposal.sessionId,
          payload: {
            ...prPayload,
            orphaned: true,
            proposalStatus: marked.current,
            note: "the proposal was rejected while its PR was being opened; the PR is left for a human to close",
          },
        });
        return marked;
      }
      await new PullRequestStore(trx).track(
        {
          nodeId: pull.nodeId,
          repoId: repo.id,
          number: pull.number,
          url: pull.url,
          title: pull.title,
          author: null,
          headRef: pull.headRef,
          headRepo: pull.headRepo,
          headSha: pull.headSha,
          baseRef: pull.baseRef,
          state: "open",
          draft: pull.draft,
          ghUpdatedAt: null,
          sessionId: proposal.sessionId,
          proposalId: proposal.id,
        },
        now,
      );
      emit({
        kind: "proposal.status_changed",
        sessionId: proposal.sessionId,
        payload: { proposalId: proposal.id, from: "pending", to: "pr_opened", cause: "pr_opened" },
      });
      emit({ kind: "pr.opened", sessionId: proposal.sessionId, payload: prPayload });
      if (proposal.sessionId && deps.sessionFacts) {
        await deps.sessionFacts.announceWithin(trx, emit, proposal.sessionId, "pr_opened", now);
      }
      return marked;
    });
    if (marked.ok) {
      log.info({ repoId: repo.id, branch, pr: pull.number, ms: now - started }, "pull request opened");
    } else {
      log.warn(
        { pr: pull.number, status: marked.current },
        "proposal changed while its PR was opened; PR left open",
      );
    }
  }

  /**
   * A follow-up (SPEC C3 `followUpOf`): the change is committed on the open PR's own branch and
   * pushed (never forced) — no new PR. Idempotent like the rest: a commit carrying this
   * proposal's trailer among the branch's newest commits is our earlier push, adopted as is.
   */
  async #followUpLocked(
    job: JobContext<PrOpenJob>,
    proposal: ProposalRecord,
    prId: string,
    repo: RepoRecord,
    token: string,
    log: Logger,
  ): Promise<void> {
    const { deps } = this;
    const tracked = await deps.pullRequests.get(prId);
    if (!tracked || tracked.repoId !== repo.id) {
      throw new WorkerFailure("PR_NOT_OPEN", `pull request ${prId} is not one of ${repo.name}'s`);
    }
    const client = deps.github.forToken(token);
    const fullName = `${repo.owner}/${repo.repo}`;
    let pull: PullRef;
    try {
      pull = await client.getPull(repo.owner, repo.repo, tracked.number);
    } catch (error) {
      if (error instanceof GitHubError) throw githubFailure(error, `reading ${fullName}#${tracked.number}`);
      throw error;
    }
    if (pull.state !== "open") {
      throw new WorkerFailure(
        "PR_NOT_OPEN",
        `${fullName}#${pull.number} is ${pull.merged ? "merged" : "closed"}; a follow-up needs an open pull request: propose the change on its own`,
      );
    }
    if (pull.headRepo !== fullName) {
      throw new WorkerFailure(
        "PR_IN_FORK",
        `${fullName}#${pull.number} comes from ${pull.headRepo ?? "a deleted fork"}; Shepherd pushes only to branches of ${fullName}`,
      );
    }
    const branch = pull.headRef;
    const clone = new RepoClone(
      deps.git,
      path.join(deps.clonesDir, repo.id),
      gitRemoteUrl(deps.urls, repo.owner, repo.repo),
      { remoteBase: deps.urls.webUrl, token },
    );
    await this.#git(() => clone.ensure(), "clone");
    this.#checkpoint(job);
    // The PR's branch as it is on GitHub now, clean.
    await this.#git(() => clone.resetToBase(branch, branch), "fetch");
    this.#checkpoint(job);
    const recent = await this.#git(() => clone.remoteCommitMessages(branch, FOLLOW_UP_SEARCH_DEPTH), "fetch");
    const adopted = recent.some((message) => carriesProposalTrailer(message, proposal.id));
    let paramChanges: ParamChangeRow[] | null;
    let commit: string | null = null;
    if (adopted) {
      log.info({ branch }, "this follow-up is already on the branch (an earlier attempt pushed it)");
      paramChanges = recordedParamChanges(proposal);
    } else {
      paramChanges = await this.#applyChange(
        clone,
        proposal,
        `the change leaves ${fullName}#${pull.number}'s branch exactly as it is`,
      );
      commit = await this.#commitAndPush(job, clone, proposal, branch);
    }
    this.#checkpoint(job);

    // What changed and why, on the PR's conversation (non-fatal; found by its marker first).
    const comment = deps.redactor.redact(
      renderFollowUpComment({
        proposalId: proposal.id,
        sessionId: proposal.sessionId,
        title: proposal.title,
        paramChanges,
        fileChanges: proposal.kind === "files" ? (proposal.change as FilesChange).files : null,
        evidence: proposal.evidence,
        chart: "none",
        publicUrl: deps.publicUrl,
        commit,
      }),
    );
    await this.#ensureComment(client, repo, pull, followUpMarker(proposal.id), comment, log);

    const now = this.#now();
    const payload = {
      proposalId: proposal.id,
      repoId: repo.id,
      repo: repo.name,
      prId: tracked.id,
      number: pull.number,
      url: pull.url,
      branch,
      adopted,
      ...(commit ? { commit } : {}),
    };
    const { result: marked } = await deps.events.transaction(async (trx, emit) => {
      const marked = await new ProposalStore(trx).markOpened(
        proposal.id,
        { number: pull.number, url: pull.url, nodeId: pull.nodeId, branch },
        now,
      );
      if (!marked.ok) {
        emit({
          kind: "pr.follow_up_pushed",
          sessionId: proposal.sessionId,
          payload: { ...payload, orphaned: true, proposalStatus: marked.current },
        });
        return marked;
      }
      // The observer reads the PR at its next pass instead of waiting for the list to show a change.
      await new PullRequestStore(trx).markDirty(trx, { repoId: repo.id, nodeIds: [pull.nodeId] }, now);
      emit({
        kind: "proposal.status_changed",
        sessionId: proposal.sessionId,
        payload: { proposalId: proposal.id, from: "pending", to: "pr_opened", cause: "follow_up_pushed" },
      });
      emit({ kind: "pr.follow_up_pushed", sessionId: proposal.sessionId, payload });
      if (proposal.sessionId && deps.sessionFacts) {
        await deps.sessionFacts.announceWithin(trx, emit, proposal.sessionId, "follow_up_pushed", now);
      }
      return marked;
    });
    if (marked.ok) log.info({ branch, pr: pull.number, adopted }, "follow-up pushed to the pull request");
    else
      log.warn(
        { pr: pull.number, status: marked.current },
        "proposal changed while its follow-up was pushed",
      );
  }

  /** Applies the change in the clone (SPEC C3 steps 7–8); `NO_CHANGES` when nothing differs. */
  async #applyChange(
    clone: RepoClone,
    proposal: ProposalRecord,
    unchanged: string,
  ): Promise<ParamChangeRow[] | null> {
    let paramChanges: ParamChangeRow[] | null = null;
    if (proposal.kind === "params")
      paramChanges = await applyParamsChange(clone.dir, proposal.change as ParamsChange);
    else await applyFilesChange(clone.dir, proposal.change as FilesChange);
    if ((await this.#git(() => clone.changedPaths(), "fetch")).length === 0) {
      throw new WorkerFailure("NO_CHANGES", unchanged);
    }
    return paramChanges;
  }

  /** Commits with the message from a file and pushes, never forced (steps 10–11); the new sha. */
  async #commitAndPush(
    job: JobContext<PrOpenJob>,
    clone: RepoClone,
    proposal: ProposalRecord,
    branch: string,
  ): Promise<string> {
    const message = this.deps.redactor.redact(
      renderCommitMessage({
        proposalId: proposal.id,
        sessionId: proposal.sessionId,
        title: proposal.title,
        summary: proposal.evidence?.summary,
      }),
    );
    const sha = await this.#git(() => clone.commitAll(message), "fetch");
    this.#checkpoint(job);
    await this.#git(() => clone.push(branch), "push");
    return sha;
  }

  /** Runs a git step, mapping its failure to the worker code of `stage`. */
  async #git<T>(step: () => Promise<T>, stage: "clone" | "fetch" | "push"): Promise<T> {
    try {
      return await step();
    } catch (error) {
      if (error instanceof GitError) throw gitFailure(error, stage);
      throw error;
    }
  }

  async #ensurePull(
    client: GitHubClient,
    repo: RepoRecord,
    branch: string,
    title: string,
    body: string,
    adopted: boolean,
  ): Promise<PullRef> {
    const fullName = `${repo.owner}/${repo.repo}`;
    const ours = (pull: PullRef): boolean => pull.headRepo === fullName && pull.headRef === branch;
    const find = async (state: "open" | "all"): Promise<PullRef[]> =>
      (await client.findPulls(repo.owner, repo.repo, { owner: repo.owner, branch }, state)).filter(ours);
    try {
      if (adopted) {
        const existing = await find("all");
        const open = existing.find((pull) => pull.state === "open");
        if (open) return open;
        const closed = existing.find((pull) => !pull.merged);
        if (closed) {
          try {
            return await client.reopenPull(repo.owner, repo.repo, closed.number);
          } catch (error) {
            // A PR GitHub will not reopen (its branch moved on): open a new one below.
            if (!(error instanceof ValidationFailed)) throw error;
          }
        }
      }
      try {
        return await client.createPull({
          owner: repo.owner,
          repo: repo.repo,
          title,
          body,
          head: branch,
          base: repo.baseBranch,
        });
      } catch (error) {
        // Our earlier request may have created it before its answer was lost.
        if (error instanceof ValidationFailed && /already exists/i.test(error.message)) {
          const open = (await find("open"))[0];
          if (open) return open;
        }
        throw error;
      }
    } catch (error) {
      if (error instanceof GitHubError) throw githubFailure(error, `opening the pull request on ${fullName}`);
      throw error;
    }
  }

  async #renderChart(cloneDir: string, proposal: ProposalRecord, log: Logger): Promise<ChartOutcome> {
    const importance = proposal.evidence?.importance;
    if (!importance || Object.keys(importance).length === 0) return "none";
    try {
      const svg = importanceChartSvg(importance);
      if (!svg) return "table";
      const target = await resolveInsideClone(cloneDir, chartPath(proposal.id));
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, svgToPng(svg));
      return "committed";
    } catch (error) {
      log.warn({ err: error }, "chart rendering failed; the importance goes into the PR body as a table");
      return "table";
    }
  }

  async #ensureChartComment(
    client: GitHubClient,
    repo: RepoRecord,
    pull: PullRef,
    proposalId: string,
    branch: string,
    log: Logger,
  ): Promise<void> {
    const body = this.deps.redactor.redact(
      renderChartComment({
        webUrl: this.deps.urls.webUrl,
        owner: repo.owner,
        repo: repo.repo,
        branch,
        proposalId,
      }),
    );
    await this.#ensureComment(client, repo, pull, chartMarker(proposalId), body, log);
  }

  /** Posts a conversation comment once: a comment carrying `marker` means it is already there. */
  async #ensureComment(
    client: GitHubClient,
    repo: RepoRecord,
    pull: PullRef,
    marker: string,
    body: string,
    log: Logger,
  ): Promise<void> {
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const comments = await client.listIssueComments(repo.owner, repo.repo, pull.number);
        if (comments.some((comment) => comment.body.includes(marker))) return;
        try {
          await client.createIssueComment(repo.owner, repo.repo, pull.number, body);
          return;
        } catch (error) {
          // Lost answer or a GitHub hiccup: look again before posting again.
          if (!(error instanceof GitHubUnavailable) || attempt === 2) throw error;
        }
      }
    } catch (error) {
      log.warn({ err: error, pr: pull.number }, "comment could not be posted on the pull request");
    }
  }

  async #recordFailure(
    proposal: ProposalRecord,
    failure: WorkerFailure,
    job: JobContext<PrOpenJob>,
    retrying: boolean,
    log: Logger,
  ): Promise<void> {
    const message = this.deps.redactor.redact(failure.message);
    const text = `${failure.code}: ${message}${retrying ? " (retrying)" : ""}`;
    await this.deps.proposals.setOpenError(proposal.id, text, this.#now());
    await this.deps.events.append({
      kind: "error",
      sessionId: proposal.sessionId,
      payload: {
        code: failure.code,
        proposalId: proposal.id,
        message,
        attempt: job.attempt,
        willRetry: retrying,
      },
    });
    log.warn({ code: failure.code, willRetry: retrying }, "pull request not opened");
  }
}
