import { randomBytes } from "node:crypto";
import path from "node:path";
import { BareRepo, checkBranchName, isSha } from "./bare-repo.js";
import type { Fault, FaultRegistry } from "./faults.js";
import { githubTime, randomAlphanumeric } from "./ids.js";
import type { MergeMethod, PullOperations } from "./pull-operations.js";
import type { RateLimits, RateResource, RateSnapshot } from "./rate-limits.js";
import type { RequestLog, SimRequestRecord } from "./request-log.js";
import type { SimUrls } from "./sim-urls.js";
import {
  repoKey,
  toSimPull,
  type CheckConclusion,
  type CheckStatus,
  type CommitState,
  type PullRecord,
  type ReviewState,
  type SimPull,
  type SimRepo,
  type SimReviewThread,
  type SimState,
  type TokenKind,
  type TokenPermissions,
} from "./sim-state.js";
import { DEFAULT_PERMISSIONS, generateTokenValue } from "./tokens.js";
import type { WebhookDeliveryRecord, WebhookDispatcher } from "./webhook-delivery.js";

/**
 * The test's (and the demo's) hands on the simulated GitHub: create repositories and tokens,
 * move branches, act as a human reviewer or as CI, inject faults, and read back what happened.
 * Every method is also served over HTTP as `POST /_sim/<method>` (see `admin-http.ts`).
 */

export interface CreateRepoInput {
  owner: string;
  name: string;
  defaultBranch?: string;
  files: Record<string, string>;
  private?: boolean;
  /** Whether an approving review is required (default true; false: no GraphQL review decision). */
  reviewsRequired?: boolean;
}

export interface CreatedRepo {
  id: number;
  nodeId: string;
  fullName: string;
  owner: string;
  name: string;
  defaultBranch: string;
  /** `<base>/<owner>/<name>.git` */
  gitUrl: string;
  /** `<base>/<owner>/<name>` */
  webUrl: string;
}

export interface CreateTokenInput {
  /** "owner/name" entries, or every repository (present and future). */
  repos: string[] | "*";
  kind?: TokenKind;
  permissions?: TokenPermissions;
  login?: string;
  /** A chosen value (a canary); otherwise one with GitHub's shape is generated. */
  value?: string;
}

export interface RateLimitView extends RateSnapshot {
  graphql: RateSnapshot;
}

export interface PushFilesInput {
  owner: string;
  repo: string;
  branch: string;
  files: Record<string, string>;
  deletes?: string[];
  message?: string;
  /** The parent commit; default: the branch tip, or the default branch tip for a new branch. */
  parent?: string;
}

export interface PullRef {
  owner: string;
  repo: string;
  number: number;
}

export interface SimIssueCommentView {
  id: number;
  body: string;
  user: string;
  createdAt: string;
}

export interface AddReviewInput extends PullRef {
  user: string;
  state: ReviewState;
  body?: string;
  comments?: { path: string; line: number; body: string }[];
}

export interface AddedReview {
  id: number;
  nodeId: string;
  /** One review thread per line comment, in order. */
  threads: { id: number; nodeId: string; commentId: number }[];
}

/** A review thread: its numeric id or its node id (what GraphQL shows). */
export interface ThreadRef extends PullRef {
  threadId: number | string;
}

export interface SetCheckRunInput {
  owner: string;
  repo: string;
  /** A commit sha (a branch name is resolved to its tip). */
  sha: string;
  name: string;
  status: CheckStatus;
  conclusion?: CheckConclusion;
  detailsUrl?: string;
  log?: string;
}

export interface SetCommitStatusInput {
  owner: string;
  repo: string;
  sha: string;
  context: string;
  state: CommitState;
  targetUrl?: string;
  description?: string;
}

const NAME = /^[A-Za-z0-9_.-]+$/;
const ACTOR = "sim";

export interface SimAdminDeps {
  state: SimState;
  pulls: PullOperations;
  limits: RateLimits;
  faults: FaultRegistry;
  log: RequestLog;
  urls: SimUrls;
  webhooks: WebhookDispatcher;
  /** Where bare repositories live: `<reposRoot>/<owner>/<name>.git`. */
  reposRoot: string;
  gitHome: string;
}

export class SimAdmin {
  constructor(private readonly deps: SimAdminDeps) {}

  private repo(owner: string, name: string): SimRepo {
    return this.deps.state.requireRepo(owner, name);
  }

  private pullRecord(ref: PullRef): { repo: SimRepo; pull: PullRecord } {
    const repo = this.repo(ref.owner, ref.repo);
    return { repo, pull: this.deps.state.requirePull(repo, ref.number) };
  }

  private async commitOf(repo: SimRepo, shaOrBranch: string): Promise<string> {
    const sha = await repo.git.resolveCommit(shaOrBranch);
    if (sha === null) throw new Error(`no commit ${shaOrBranch} in ${repo.fullName}`);
    return sha;
  }

  /** Synchronous on purpose (CI results are set in bulk): a sha is taken as given. */
  private shaOrBranchTip(repo: SimRepo, shaOrBranch: string): string {
    if (isSha(shaOrBranch)) return shaOrBranch;
    const tip = repo.heads.get(shaOrBranch);
    if (tip === undefined)
      throw new Error(`no branch ${shaOrBranch} in ${repo.fullName} (give a sha or a branch)`);
    return tip;
  }

  async createRepo(input: CreateRepoInput): Promise<CreatedRepo> {
    const { state, urls } = this.deps;
    if (!NAME.test(input.owner) || !NAME.test(input.name))
      throw new Error("owner and name must match [A-Za-z0-9_.-]+");
    if (state.findRepo(input.owner, input.name))
      throw new Error(`repository ${input.owner}/${input.name} exists`);
    const defaultBranch = checkBranchName(input.defaultBranch ?? "main");
    const dir = path.join(this.deps.reposRoot, input.owner, `${input.name}.git`);
    const git = await BareRepo.create(dir, this.deps.gitHome, defaultBranch);
    await git.commit({
      branch: defaultBranch,
      parent: null,
      files: input.files ?? {},
      message: "Initial commit\n",
    });
    state.user(input.owner, "Organization");
    const { id, nodeId } = state.newIds("repository");
    const now = githubTime();
    const repo: SimRepo = {
      id,
      nodeId,
      owner: input.owner,
      name: input.name,
      fullName: `${input.owner}/${input.name}`,
      defaultBranch,
      private: input.private ?? true,
      reviewsRequired: input.reviewsRequired ?? true,
      git,
      createdAt: now,
      updatedAt: now,
      pushedAt: now,
      heads: new Map(),
      nextNumber: 1,
      pushRejection: null,
      pulls: new Map(),
      checkRuns: [],
      statuses: [],
      hooks: [],
    };
    state.repos.set(repoKey(input.owner, input.name), repo);
    await this.deps.pulls.syncHeads(repo, ACTOR);
    return {
      id,
      nodeId,
      fullName: repo.fullName,
      owner: repo.owner,
      name: repo.name,
      defaultBranch,
      gitUrl: `${urls.web}/${repo.fullName}.git`,
      webUrl: `${urls.web}/${repo.fullName}`,
    };
  }

  createToken(input: CreateTokenInput): string {
    const { state } = this.deps;
    const kind = input.kind ?? "fine-grained";
    if (kind !== "fine-grained" && kind !== "classic") throw new Error(`unknown token kind ${String(kind)}`);
    const value = input.value ?? generateTokenValue(kind);
    if (value === "" || /\s/.test(value)) throw new Error("a token value must be non-empty without spaces");
    if (state.tokens.has(value)) throw new Error("that token value is already in use");
    if (input.repos !== "*" && !Array.isArray(input.repos)) throw new Error(`repos must be "*" or a list`);
    const login = input.login ?? "shepherd-bot";
    state.user(login);
    const permissions: TokenPermissions = { ...DEFAULT_PERMISSIONS, ...input.permissions };
    // null (what JSON can say) or undefined withholds a permission the defaults would grant.
    for (const [name, level] of Object.entries(permissions) as [keyof TokenPermissions, unknown][]) {
      if (level === null || level === undefined) delete permissions[name];
      else if (level !== "read" && level !== "write")
        throw new Error(`permission ${name} must be read or write`);
    }
    state.tokens.set(value, {
      value,
      kind,
      repos: input.repos === "*" ? "*" : input.repos.map((name) => name.toLowerCase()),
      permissions,
      login,
      revoked: false,
      createdAt: githubTime(),
    });
    return value;
  }

  revokeToken(token: string): void {
    const found = this.deps.state.tokens.get(token);
    if (!found) throw new Error("unknown token");
    found.revoked = true;
  }

  rateLimit(token: string): RateLimitView {
    return {
      ...this.deps.limits.snapshot(token, "core"),
      graphql: this.deps.limits.snapshot(token, "graphql"),
    };
  }

  setRemaining(token: string, resource: RateResource, remaining: number): void {
    if (resource !== "core" && resource !== "graphql")
      throw new Error(`unknown resource ${String(resource)}`);
    this.deps.limits.setRemaining(token, resource, remaining);
  }

  async pushFiles(input: PushFilesInput): Promise<string> {
    const repo = this.repo(input.owner, input.repo);
    checkBranchName(input.branch);
    return this.deps.pulls.writeAndSync(repo, ACTOR, async () => {
      let parent: string | null;
      if (input.parent !== undefined) parent = await this.commitOf(repo, input.parent);
      else
        parent =
          (await repo.git.resolveCommit(input.branch)) ?? (await repo.git.resolveCommit(repo.defaultBranch));
      return repo.git.commit({
        branch: input.branch,
        parent,
        files: input.files,
        deletes: input.deletes,
        message: input.message ?? `Update ${input.branch}\n`,
      });
    });
  }

  async readFile(input: { owner: string; repo: string; ref: string; path: string }): Promise<string | null> {
    const repo = this.repo(input.owner, input.repo);
    const sha = await repo.git.resolveCommit(input.ref);
    if (sha === null) return null;
    const bytes = await repo.git.readBlob(sha, input.path);
    return bytes === null ? null : bytes.toString("utf8");
  }

  async branchHead(owner: string, repo: string, branch: string): Promise<string | null> {
    return this.repo(owner, repo).git.resolveCommit(branch);
  }

  async commitMessage(owner: string, repo: string, sha: string): Promise<string> {
    if (!isSha(sha)) throw new Error("sha must be 40 hex digits");
    return this.repo(owner, repo).git.commitMessage(sha);
  }

  async setPushRejection(input: { owner: string; repo: string; reason: string | null }): Promise<void> {
    const repo = this.repo(input.owner, input.repo);
    await repo.git.setPushRejection(input.reason);
    repo.pushRejection = input.reason;
  }

  pulls(owner: string, repo: string): SimPull[] {
    return [...this.repo(owner, repo).pulls.values()].sort((a, b) => a.number - b.number).map(toSimPull);
  }

  pull(owner: string, repo: string, number: number): SimPull | null {
    const found = this.repo(owner, repo).pulls.get(number);
    return found ? toSimPull(found) : null;
  }

  issueComments(owner: string, repo: string, number: number): SimIssueCommentView[] {
    const { pull } = this.pullRecord({ owner, repo, number });
    return pull.comments.map((comment) => ({
      id: comment.id,
      body: comment.body,
      user: comment.user,
      createdAt: comment.createdAt,
    }));
  }

  /** Merges as a maintainer pressing the button would; fails when GitHub would refuse. */
  async mergePull(input: PullRef & { method?: MergeMethod; user?: string }): Promise<{ sha: string }> {
    const { repo, pull } = this.pullRecord(input);
    const outcome = await this.deps.pulls.merge(repo, pull, {
      method: input.method,
      actor: input.user ?? "sim-maintainer",
    });
    if (!outcome.ok) throw new Error(`cannot merge #${pull.number}: ${outcome.message}`);
    return { sha: outcome.sha };
  }

  closePull(input: PullRef & { user?: string }): void {
    const { repo, pull } = this.pullRecord(input);
    this.deps.pulls.close(repo, pull, input.user ?? "sim-maintainer");
  }

  reopenPull(input: PullRef & { user?: string }): void {
    const { repo, pull } = this.pullRecord(input);
    const result = this.deps.pulls.reopen(repo, pull, input.user ?? "sim-maintainer");
    if ("errors" in result)
      throw new Error(result.errors.map((error) => error.message ?? error.code).join("; "));
  }

  addReview(input: AddReviewInput): AddedReview {
    const { repo, pull } = this.pullRecord(input);
    if (!["APPROVED", "CHANGES_REQUESTED", "COMMENTED"].includes(input.state)) {
      throw new Error(`unknown review state ${String(input.state)}`);
    }
    const { review, threads } = this.deps.pulls.addReview(repo, pull, input);
    return {
      id: review.id,
      nodeId: review.nodeId,
      threads: threads.map((thread) => ({
        id: thread.id,
        nodeId: thread.nodeId,
        commentId: thread.comments[0]?.id ?? 0,
      })),
    };
  }

  private threadRecord(ref: ThreadRef): { repo: SimRepo; pull: PullRecord; thread: SimReviewThread } {
    const { repo, pull } = this.pullRecord(ref);
    const thread = pull.reviewThreads.find(
      (candidate) => candidate.id === ref.threadId || candidate.nodeId === ref.threadId,
    );
    if (!thread) throw new Error(`no review thread ${String(ref.threadId)} on #${pull.number}`);
    return { repo, pull, thread };
  }

  /** A reply in a review thread (a one-comment COMMENTED review, as on GitHub). */
  replyToThread(input: ThreadRef & { user: string; body: string }): { id: number; nodeId: string } {
    const { repo, pull, thread } = this.threadRecord(input);
    const comment = this.deps.pulls.replyToThread(repo, pull, thread, input);
    return { id: comment.id, nodeId: comment.nodeId };
  }

  /** Resolves a review thread (or, with `resolved: false`, unresolves it) as `user` would. */
  resolveThread(input: ThreadRef & { resolved?: boolean; user?: string }): void {
    const { repo, pull, thread } = this.threadRecord(input);
    this.deps.pulls.setThreadResolved(
      repo,
      pull,
      thread,
      input.resolved ?? true,
      input.user ?? "sim-maintainer",
    );
  }

  /** Marks a pull request ready for review (`draft: false`) or converts it to a draft. */
  setDraft(input: PullRef & { draft: boolean; user?: string }): void {
    const { repo, pull } = this.pullRecord(input);
    this.deps.pulls.setDraft(repo, pull, input.draft, input.user ?? "sim-maintainer");
  }

  setCheckRun(input: SetCheckRunInput): { checkRunId: number; jobId: number } {
    const { state, urls } = this.deps;
    const repo = this.repo(input.owner, input.repo);
    const sha = this.shaOrBranchTip(repo, input.sha);
    if (input.status === "completed" && input.conclusion === undefined) {
      throw new Error("a completed check run needs a conclusion");
    }
    const now = githubTime();
    const conclusion = input.status === "completed" ? (input.conclusion ?? null) : null;
    const existing = [...repo.checkRuns]
      .reverse()
      .find((run) => run.headSha === sha && run.name === input.name);
    if (existing) {
      const wasCompleted = existing.status === "completed";
      existing.status = input.status;
      existing.conclusion = conclusion;
      existing.completedAt = input.status === "completed" ? now : null;
      if (input.detailsUrl !== undefined) existing.detailsUrl = input.detailsUrl;
      if (input.log !== undefined) existing.log = input.log;
      const action = input.status === "completed" && !wasCompleted ? "completed" : "updated";
      state.emit({ kind: "check_run", action, repo, checkRun: existing, actor: ACTOR });
      return { checkRunId: existing.id, jobId: existing.jobId };
    }
    const { id, nodeId } = state.newIds("checkRun");
    const jobId = state.nextId();
    const runId = state.nextId();
    const run = {
      id,
      nodeId,
      jobId,
      runId,
      checkSuiteId: state.nextId(),
      headSha: sha,
      name: input.name,
      status: input.status,
      conclusion,
      startedAt: now,
      completedAt: input.status === "completed" ? now : null,
      detailsUrl: input.detailsUrl ?? `${urls.web}/${repo.fullName}/actions/runs/${runId}/job/${jobId}`,
      log: input.log ?? "",
      logKey: randomAlphanumeric(32),
    };
    repo.checkRuns.push(run);
    state.emit({ kind: "check_run", action: "created", repo, checkRun: run, actor: ACTOR });
    if (run.status === "completed")
      state.emit({ kind: "check_run", action: "completed", repo, checkRun: run, actor: ACTOR });
    return { checkRunId: id, jobId };
  }

  setCommitStatus(input: SetCommitStatusInput): { id: number } {
    const { state } = this.deps;
    const repo = this.repo(input.owner, input.repo);
    if (!["pending", "success", "failure", "error"].includes(input.state)) {
      throw new Error(`unknown status state ${String(input.state)}`);
    }
    const sha = this.shaOrBranchTip(repo, input.sha);
    const now = githubTime();
    const { id, nodeId } = state.newIds("status");
    const status = {
      id,
      nodeId,
      sha,
      context: input.context,
      state: input.state,
      targetUrl: input.targetUrl ?? null,
      description: input.description ?? null,
      creator: state.user("sim-ci").login,
      createdAt: now,
      updatedAt: now,
    };
    repo.statuses.push(status);
    state.emit({ kind: "status", repo, status, actor: status.creator });
    return { id };
  }

  addFault(fault: Fault): string {
    return this.deps.faults.add(fault);
  }

  clearFaults(): void {
    this.deps.faults.clear();
  }

  releaseHeld(): number {
    return this.deps.faults.releaseHeld();
  }

  requests(): SimRequestRecord[] {
    return this.deps.log.list();
  }

  /** Every webhook delivery to the repository's hooks, oldest first, with the exact body sent. */
  deliveries(input: { owner: string; repo: string }): WebhookDeliveryRecord[] {
    return this.deps.webhooks.deliveries(input.owner, input.repo);
  }

  /** Sends a delivery again with the same body and the same `X-GitHub-Delivery`; returns the new record. */
  redeliver(deliveryId: number): WebhookDeliveryRecord {
    return this.deps.webhooks.redeliver(deliveryId);
  }

  /** Holds webhook deliveries in their queues (true) or lets them go (false). */
  setDeliveryPaused(paused: boolean): void {
    if (typeof paused !== "boolean") throw new Error("paused must be true or false");
    this.deps.webhooks.setPaused(paused);
  }

  /** Waits until no webhook delivery is being sent or waiting (paused ones excepted). */
  flushDeliveries(): Promise<void> {
    return this.deps.webhooks.flush();
  }

  clearRequests(): void {
    this.deps.log.clear();
  }
}

/** The admin API's own secret; only the process that started the simulator knows it. */
export function generateAdminToken(): string {
  return `simadmin_${randomBytes(20).toString("hex")}`;
}

/** The methods served over HTTP (everything public on `SimAdmin`). */
export const ADMIN_METHODS = [
  "createRepo",
  "createToken",
  "revokeToken",
  "rateLimit",
  "setRemaining",
  "pushFiles",
  "readFile",
  "branchHead",
  "commitMessage",
  "setPushRejection",
  "pulls",
  "pull",
  "issueComments",
  "mergePull",
  "closePull",
  "reopenPull",
  "addReview",
  "replyToThread",
  "resolveThread",
  "setDraft",
  "setCheckRun",
  "setCommitStatus",
  "addFault",
  "clearFaults",
  "releaseHeld",
  "requests",
  "clearRequests",
  "deliveries",
  "redeliver",
  "setDeliveryPaused",
  "flushDeliveries",
] as const satisfies readonly (keyof SimAdmin)[];

export type AdminMethod = (typeof ADMIN_METHODS)[number];
