import type { BareRepo, DiffStats } from "./bare-repo.js";
import type { SimChange } from "./sim-changes.js";
import { nodeIdOf, type NodeKind } from "./ids.js";

/**
 * The simulator's whole in-memory state. Git data (branches, commits, files) lives in the bare
 * repositories and is only cached here (`SimRepo.heads`); everything GitHub keeps outside git
 * (pull requests, comments, reviews, check runs, statuses, hooks, tokens) lives only here.
 *
 * REST handlers, the admin API and later additions (GraphQL resolvers, webhook delivery) read this
 * state and change it only through `PullOperations` and `SimAdmin`, which keep it consistent with
 * git and announce every change as a `SimChange` (see `onChange`).
 */

export type PermissionLevel = "read" | "write";

/** Fine-grained permissions as GitHub names them; `statuses` is an addition (commit statuses). */
export interface TokenPermissions {
  contents?: PermissionLevel;
  pull_requests?: PermissionLevel;
  issues?: PermissionLevel;
  checks?: "read";
  actions?: "read";
  webhooks?: PermissionLevel;
  metadata?: "read";
  statuses?: PermissionLevel;
}

export type PermissionName = keyof TokenPermissions;

export type TokenKind = "fine-grained" | "classic";

export interface SimToken {
  value: string;
  kind: TokenKind;
  /** Lower-cased "owner/name" entries, or every repository. */
  repos: readonly string[] | "*";
  permissions: TokenPermissions;
  login: string;
  revoked: boolean;
  createdAt: string;
}

export interface SimUser {
  id: number;
  nodeId: string;
  login: string;
  type: "User" | "Organization" | "Bot";
  createdAt: string;
}

export interface SimIssueComment {
  id: number;
  nodeId: string;
  body: string;
  /** Login. */
  user: string;
  createdAt: string;
  updatedAt: string;
}

export type ReviewState = "APPROVED" | "CHANGES_REQUESTED" | "COMMENTED";

export interface SimReview {
  id: number;
  nodeId: string;
  user: string;
  state: ReviewState;
  body: string;
  /** The PR head the review was made on. */
  commitId: string;
  submittedAt: string;
}

export interface SimReviewComment {
  id: number;
  nodeId: string;
  reviewId: number;
  user: string;
  body: string;
  path: string;
  line: number;
  commitId: string;
  createdAt: string;
  /** The thread's first comment, for a reply. */
  inReplyToId?: number;
}

/** A review thread: one line comment and its replies; GitHub's unit of "resolved". */
export interface SimReviewThread {
  id: number;
  nodeId: string;
  path: string;
  line: number;
  isResolved: boolean;
  /** Who resolved it (login), while resolved. */
  resolvedBy?: string | null;
  comments: SimReviewComment[];
}

/** What the admin API reports about a pull request (a copy; see `PullRecord` for the stored one). */
export interface SimPull {
  id: number;
  number: number;
  nodeId: string;
  title: string;
  body: string | null;
  state: "open" | "closed";
  merged: boolean;
  draft: boolean;
  headRef: string;
  /** Follows the head branch while the PR is open; frozen once it closes. */
  headSha: string;
  baseRef: string;
  /** Author's login. */
  user: string;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  mergedAt: string | null;
  mergeCommitSha: string | null;
  mergedBy: string | null;
}

/**
 * Mergeability and diff figures for one (head, base) pair. Like GitHub's background job, a fresh
 * pair is reported as unknown (`mergeable: null`) on its first read and known afterwards.
 */
export interface MergeCheck {
  headSha: string;
  baseSha: string;
  mergeable: boolean;
  rebaseable: boolean;
  commits: number;
  stats: DiffStats;
  /** True once a reader has been told "unknown" for this pair. */
  revealed: boolean;
}

export interface PullRecord extends SimPull {
  /** The base tip last seen while the PR was open (kept after close for `base.sha`). */
  baseSha: string;
  maintainerCanModify: boolean;
  comments: SimIssueComment[];
  reviews: SimReview[];
  reviewThreads: SimReviewThread[];
  mergeCheck: MergeCheck | null;
}

export type CheckStatus = "queued" | "in_progress" | "completed";
export type CheckConclusion =
  "success" | "failure" | "neutral" | "cancelled" | "timed_out" | "action_required" | "skipped";

/** A GitHub Actions-style check run: one job of one workflow run, with a downloadable log. */
export interface SimCheckRun {
  id: number;
  nodeId: string;
  jobId: number;
  runId: number;
  checkSuiteId: number;
  headSha: string;
  name: string;
  status: CheckStatus;
  conclusion: CheckConclusion | null;
  startedAt: string;
  completedAt: string | null;
  detailsUrl: string;
  log: string;
  /** Unguessable part of the log's download URL (GitHub redirects to a signed URL). */
  logKey: string;
}

export type CommitState = "pending" | "success" | "failure" | "error";

export interface SimCommitStatus {
  id: number;
  nodeId: string;
  sha: string;
  context: string;
  state: CommitState;
  targetUrl: string | null;
  description: string | null;
  creator: string;
  createdAt: string;
  updatedAt: string;
}

export interface SimHook {
  id: number;
  name: "web";
  active: boolean;
  events: string[];
  config: { url: string; contentType: "json" | "form"; secret: string | null; insecureSsl: "0" | "1" };
  createdAt: string;
  updatedAt: string;
}

export interface SimRepo {
  id: number;
  nodeId: string;
  owner: string;
  name: string;
  fullName: string;
  defaultBranch: string;
  private: boolean;
  /**
   * Whether an approving review is required (GitHub's review decision exists only then); absent
   * means required. Merging is not blocked either way: the simulator has no branch protection.
   */
  reviewsRequired?: boolean;
  git: BareRepo;
  createdAt: string;
  updatedAt: string;
  pushedAt: string;
  /** Branch → tip, refreshed after every write to the repository (see `PullOperations.syncHeads`). */
  heads: Map<string, string>;
  /** Issue and PR numbers share one sequence, as on GitHub. */
  nextNumber: number;
  pushRejection: string | null;
  pulls: Map<number, PullRecord>;
  checkRuns: SimCheckRun[];
  statuses: SimCommitStatus[];
  hooks: SimHook[];
}

export function repoKey(owner: string, name: string): string {
  return `${owner}/${name}`.toLowerCase();
}

export class SimState {
  readonly users = new Map<string, SimUser>();
  readonly repos = new Map<string, SimRepo>();
  readonly tokens = new Map<string, SimToken>();
  private lastId = 1_000_000;
  private readonly listeners = new Set<(change: SimChange) => void>();

  /** One increasing sequence for every numeric id (ids only need to be unique per kind). */
  nextId(): number {
    this.lastId += 1;
    return this.lastId;
  }

  newIds(kind: NodeKind): { id: number; nodeId: string } {
    const id = this.nextId();
    return { id, nodeId: nodeIdOf(kind, id) };
  }

  /** The user with this login, created on first mention (a `…[bot]` login is a Bot, as on GitHub). */
  user(login: string, type: SimUser["type"] = login.endsWith("[bot]") ? "Bot" : "User"): SimUser {
    const key = login.toLowerCase();
    const existing = this.users.get(key);
    if (existing) return existing;
    const { id, nodeId } = this.newIds(
      type === "Organization" ? "organization" : type === "Bot" ? "bot" : "user",
    );
    const user: SimUser = { id, nodeId, login, type, createdAt: new Date().toISOString() };
    this.users.set(key, user);
    return user;
  }

  findRepo(owner: string, name: string): SimRepo | undefined {
    return this.repos.get(repoKey(owner, name));
  }

  requireRepo(owner: string, name: string): SimRepo {
    const repo = this.findRepo(owner, name);
    if (!repo) throw new Error(`no repository ${owner}/${name}`);
    return repo;
  }

  requirePull(repo: SimRepo, number: number): PullRecord {
    const pull = repo.pulls.get(number);
    if (!pull) throw new Error(`no pull request #${number} in ${repo.fullName}`);
    return pull;
  }

  findCheckRunByJob(jobId: number): { repo: SimRepo; run: SimCheckRun } | undefined {
    for (const repo of this.repos.values()) {
      const run = repo.checkRuns.find((candidate) => candidate.jobId === jobId);
      if (run) return { repo, run };
    }
    return undefined;
  }

  /** Subscribes to every change; returns the unsubscribe function. */
  onChange(listener: (change: SimChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(change: SimChange): void {
    for (const listener of this.listeners) listener(change);
  }
}

/** The admin view of a stored pull request: a plain copy without the nested collections. */
export function toSimPull(pull: PullRecord): SimPull {
  return {
    id: pull.id,
    number: pull.number,
    nodeId: pull.nodeId,
    title: pull.title,
    body: pull.body,
    state: pull.state,
    merged: pull.merged,
    draft: pull.draft,
    headRef: pull.headRef,
    headSha: pull.headSha,
    baseRef: pull.baseRef,
    user: pull.user,
    createdAt: pull.createdAt,
    updatedAt: pull.updatedAt,
    closedAt: pull.closedAt,
    mergedAt: pull.mergedAt,
    mergeCommitSha: pull.mergeCommitSha,
    mergedBy: pull.mergedBy,
  };
}
