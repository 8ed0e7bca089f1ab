import { githubTime } from "./ids.js";
import { KeyedLock } from "./keyed-lock.js";
import type { PullEditChanges } from "./sim-changes.js";
import type {
  PullRecord,
  ReviewState,
  SimIssueComment,
  SimRepo,
  SimReview,
  SimReviewComment,
  SimReviewThread,
  SimState,
} from "./sim-state.js";
import { currentBaseSha } from "./pull-facts.js";

/**
 * Every change to pull requests and to the branches they point at, shared by the REST API and
 * the admin API so both keep the same invariants: a PR's head sha follows its branch while open,
 * a PR whose branch disappears is closed, a PR whose head lands in its base is merged, and every
 * change is announced on `SimState`.
 */

/** One entry of GitHub's "Validation Failed" `errors` array. */
export interface ValidationItem {
  resource: string;
  code: string;
  field?: string;
  message?: string;
}

export type MergeMethod = "merge" | "squash" | "rebase";

export type MergeOutcome =
  { ok: true; sha: string } | { ok: false; status: 405 | 409 | 422; message: string };

export interface OpenPullInput {
  title?: string;
  body?: string | null;
  head?: string;
  base?: string;
  draft?: boolean;
  maintainerCanModify?: boolean;
  user: string;
}

export interface EditPullInput {
  title?: string;
  body?: string | null;
  state?: "open" | "closed";
  base?: string;
  maintainerCanModify?: boolean;
}

function noreplyEmail(login: string): string {
  return `${login}@users.noreply.example.com`;
}

export class PullOperations {
  private readonly lock = new KeyedLock();

  constructor(private readonly state: SimState) {}

  /** Serializes writes to one repository's branches and pull requests. */
  exclusive<T>(repo: SimRepo, work: () => Promise<T>): Promise<T> {
    return this.lock.run(String(repo.id), work);
  }

  /** Runs a write to the repository's git data, then re-reads its branches, under the lock. */
  writeAndSync<T>(repo: SimRepo, actor: string, work: () => Promise<T>): Promise<T> {
    return this.exclusive(repo, async () => {
      try {
        return await work();
      } finally {
        await this.syncHeadsLocked(repo, actor);
      }
    });
  }

  /** Re-reads the branches after something wrote to the repository (a push, an admin commit). */
  syncHeads(repo: SimRepo, actor: string): Promise<void> {
    return this.exclusive(repo, () => this.syncHeadsLocked(repo, actor));
  }

  private async syncHeadsLocked(repo: SimRepo, actor: string): Promise<void> {
    const before = repo.heads;
    const after = await repo.git.heads();
    repo.heads = after;
    const now = githubTime();
    const changed = new Set<string>();
    for (const branch of new Set([...before.keys(), ...after.keys()])) {
      if (before.get(branch) === after.get(branch)) continue;
      changed.add(branch);
      repo.pushedAt = now;
      this.state.emit({
        kind: "push",
        repo,
        ref: `refs/heads/${branch}`,
        before: before.get(branch) ?? null,
        after: after.get(branch) ?? null,
        actor,
      });
    }
    if (changed.size === 0) return;
    for (const pull of repo.pulls.values()) {
      if (pull.state !== "open" || !(changed.has(pull.headRef) || changed.has(pull.baseRef))) continue;
      const head = after.get(pull.headRef);
      const base = after.get(pull.baseRef);
      if (head === undefined || base === undefined) {
        // GitHub closes a pull request whose head or base branch is deleted.
        this.markClosed(pull, now);
        this.state.emit({ kind: "pull_request", action: "closed", repo, pull, actor });
        continue;
      }
      if (head !== pull.headSha) {
        const before = pull.headSha;
        pull.headSha = head;
        pull.updatedAt = now;
        this.state.emit({ kind: "pull_request", action: "synchronize", repo, pull, actor, before });
      }
      pull.baseSha = base;
      // Head commits pushed into the base by hand: GitHub marks the pull request merged.
      if (await repo.git.isAncestor(head, base)) {
        this.markClosed(pull, now);
        pull.merged = true;
        pull.mergedAt = now;
        pull.mergedBy = actor;
        pull.mergeCommitSha = base;
        this.state.emit({ kind: "pull_request", action: "closed", repo, pull, actor });
      }
    }
  }

  private markClosed(pull: PullRecord, now: string): void {
    pull.state = "closed";
    pull.closedAt = now;
    pull.updatedAt = now;
  }

  /** Parses `head` as GitHub accepts it: `branch` or `owner:branch` (same repository only). */
  private headBranch(repo: SimRepo, head: string): string | null {
    const colon = head.indexOf(":");
    if (colon === -1) return head;
    if (head.slice(0, colon).toLowerCase() !== repo.owner.toLowerCase()) return null;
    return head.slice(colon + 1);
  }

  private openDuplicate(
    repo: SimRepo,
    headRef: string,
    baseRef: string,
    except?: PullRecord,
  ): PullRecord | undefined {
    return [...repo.pulls.values()].find(
      (pull) =>
        pull !== except && pull.state === "open" && pull.headRef === headRef && pull.baseRef === baseRef,
    );
  }

  async open(
    repo: SimRepo,
    input: OpenPullInput,
  ): Promise<{ pull: PullRecord } | { errors: ValidationItem[] }> {
    return this.exclusive(repo, async () => {
      const missing: ValidationItem[] = [];
      for (const field of ["title", "head", "base"] as const) {
        if (input[field] === undefined || input[field] === "") {
          missing.push({ resource: "PullRequest", field, code: "missing_field" });
        }
      }
      if (missing.length > 0) return { errors: missing };
      const headRef = this.headBranch(repo, input.head ?? "");
      const headSha = headRef === null ? undefined : repo.heads.get(headRef);
      if (headRef === null || headSha === undefined) {
        return { errors: [{ resource: "PullRequest", field: "head", code: "invalid" }] };
      }
      const baseRef = input.base ?? "";
      const baseSha = repo.heads.get(baseRef);
      if (baseSha === undefined)
        return { errors: [{ resource: "PullRequest", field: "base", code: "invalid" }] };
      if (this.openDuplicate(repo, headRef, baseRef)) {
        return {
          errors: [
            {
              resource: "PullRequest",
              code: "custom",
              message: `A pull request already exists for ${repo.owner}:${headRef}.`,
            },
          ],
        };
      }
      if (headRef === baseRef || (await repo.git.commitsBetween(baseSha, headSha)).length === 0) {
        return {
          errors: [
            {
              resource: "PullRequest",
              code: "custom",
              message: `No commits between ${baseRef} and ${headRef}`,
            },
          ],
        };
      }
      const now = githubTime();
      const { id, nodeId } = this.state.newIds("pullRequest");
      const pull: PullRecord = {
        id,
        nodeId,
        number: repo.nextNumber++,
        title: input.title ?? "",
        body: input.body ?? null,
        state: "open",
        merged: false,
        draft: input.draft ?? false,
        headRef,
        headSha,
        baseRef,
        baseSha,
        user: this.state.user(input.user).login,
        createdAt: now,
        updatedAt: now,
        closedAt: null,
        mergedAt: null,
        mergeCommitSha: null,
        mergedBy: null,
        maintainerCanModify: input.maintainerCanModify ?? false,
        comments: [],
        reviews: [],
        reviewThreads: [],
        mergeCheck: null,
      };
      repo.pulls.set(pull.number, pull);
      this.state.emit({ kind: "pull_request", action: "opened", repo, pull, actor: pull.user });
      return { pull };
    });
  }

  async edit(
    repo: SimRepo,
    pull: PullRecord,
    input: EditPullInput,
    actor: string,
  ): Promise<{ pull: PullRecord } | { errors: ValidationItem[] }> {
    if (input.base !== undefined && input.base !== pull.baseRef) {
      if (!repo.heads.has(input.base)) {
        return { errors: [{ resource: "PullRequest", field: "base", code: "invalid" }] };
      }
      if (pull.state === "open" && this.openDuplicate(repo, pull.headRef, input.base, pull)) {
        return {
          errors: [
            {
              resource: "PullRequest",
              code: "custom",
              message: `A pull request already exists for ${repo.owner}:${pull.headRef}.`,
            },
          ],
        };
      }
    }
    const changes: PullEditChanges = {};
    if (input.title !== undefined && input.title !== pull.title) {
      changes.title = { from: pull.title };
      pull.title = input.title;
    }
    if (input.body !== undefined && input.body !== pull.body) {
      changes.body = { from: pull.body ?? "" };
      pull.body = input.body;
    }
    if (input.base !== undefined && input.base !== pull.baseRef) {
      changes.base = { ref: { from: pull.baseRef }, sha: { from: currentBaseSha(repo, pull) } };
      pull.baseRef = input.base;
      pull.baseSha = repo.heads.get(input.base) ?? pull.baseSha;
    }
    if (input.maintainerCanModify !== undefined) pull.maintainerCanModify = input.maintainerCanModify;
    if (Object.keys(changes).length > 0) {
      pull.updatedAt = githubTime();
      this.state.emit({ kind: "pull_request", action: "edited", repo, pull, actor, changes });
    }
    if (input.state === "closed" && pull.state === "open") this.close(repo, pull, actor);
    if (input.state === "open" && pull.state === "closed") {
      const reopened = this.reopen(repo, pull, actor);
      if ("errors" in reopened) return reopened;
    }
    return { pull };
  }

  close(repo: SimRepo, pull: PullRecord, actor: string): void {
    if (pull.state === "closed") return;
    pull.baseSha = currentBaseSha(repo, pull);
    this.markClosed(pull, githubTime());
    this.state.emit({ kind: "pull_request", action: "closed", repo, pull, actor });
  }

  reopen(
    repo: SimRepo,
    pull: PullRecord,
    actor: string,
  ): { pull: PullRecord } | { errors: ValidationItem[] } {
    if (pull.state === "open") return { pull };
    const refuse = (message: string): { errors: ValidationItem[] } => ({
      errors: [{ resource: "PullRequest", code: "custom", message }],
    });
    if (pull.merged) return refuse("state cannot be changed. The pull request has been merged.");
    const head = repo.heads.get(pull.headRef);
    const base = repo.heads.get(pull.baseRef);
    if (head === undefined || base === undefined) {
      return refuse("state cannot be changed. The head or base branch was deleted.");
    }
    if (this.openDuplicate(repo, pull.headRef, pull.baseRef, pull)) {
      return refuse(`A pull request already exists for ${repo.owner}:${pull.headRef}.`);
    }
    pull.state = "open";
    pull.closedAt = null;
    pull.headSha = head;
    pull.baseSha = base;
    pull.updatedAt = githubTime();
    this.state.emit({ kind: "pull_request", action: "reopened", repo, pull, actor });
    return { pull };
  }

  /** Merges as GitHub's merge button does: a real commit on the base branch of the bare repository. */
  merge(
    repo: SimRepo,
    pull: PullRecord,
    options: { method?: string; sha?: string; commitTitle?: string; commitMessage?: string; actor: string },
  ): Promise<MergeOutcome> {
    return this.exclusive(repo, async (): Promise<MergeOutcome> => {
      const method = options.method ?? "merge";
      if (method !== "merge" && method !== "squash" && method !== "rebase") {
        return { ok: false, status: 422, message: `Invalid merge_method: ${method}` };
      }
      if (pull.state !== "open") return { ok: false, status: 405, message: "Pull Request is not mergeable" };
      if (pull.draft) return { ok: false, status: 405, message: "Pull Request is still a draft" };
      if (options.sha !== undefined && options.sha !== pull.headSha) {
        return {
          ok: false,
          status: 409,
          message: "Head branch was modified. Review and try the merge again.",
        };
      }
      const baseTip = repo.heads.get(pull.baseRef);
      if (baseTip === undefined) return { ok: false, status: 405, message: "Pull Request is not mergeable" };
      const sha = await this.mergeCommit(repo, pull, method, baseTip, options);
      if (sha === null) return { ok: false, status: 405, message: "Pull Request is not mergeable" };
      if (!(await repo.git.updateBranch(pull.baseRef, sha, baseTip))) {
        return {
          ok: false,
          status: 405,
          message: "Base branch was modified. Review and try the merge again.",
        };
      }
      const now = githubTime();
      pull.baseSha = baseTip;
      this.markClosed(pull, now);
      pull.merged = true;
      pull.mergedAt = now;
      pull.mergedBy = this.state.user(options.actor).login;
      pull.mergeCommitSha = sha;
      this.state.emit({ kind: "pull_request", action: "closed", repo, pull, actor: options.actor });
      await this.syncHeadsLocked(repo, options.actor);
      return { ok: true, sha };
    });
  }

  private async mergeCommit(
    repo: SimRepo,
    pull: PullRecord,
    method: MergeMethod,
    baseTip: string,
    options: { commitTitle?: string; commitMessage?: string },
  ): Promise<string | null> {
    if (method === "rebase") {
      const commits = await repo.git.commitsBetween(baseTip, pull.headSha, { noMerges: true });
      return repo.git.replay(baseTip, commits);
    }
    const merged = await repo.git.mergeTree(baseTip, pull.headSha);
    if (!merged.clean || merged.tree === null) return null;
    if (method === "merge") {
      const title =
        options.commitTitle ?? `Merge pull request #${pull.number} from ${repo.owner}/${pull.headRef}`;
      const message = `${title}\n\n${options.commitMessage ?? pull.title}\n`;
      return repo.git.commitTree(merged.tree, [baseTip, pull.headSha], message);
    }
    const commits = await repo.git.commitsBetween(baseTip, pull.headSha);
    let details = options.commitMessage;
    if (details === undefined) {
      const messages = await Promise.all(commits.map((commit) => repo.git.commitMessage(commit)));
      details = messages.map((text) => `* ${text.trim()}`).join("\n\n");
    }
    const title = options.commitTitle ?? `${pull.title} (#${pull.number})`;
    return repo.git.commitTree(merged.tree, [baseTip], `${title}\n\n${details}\n`, {
      name: pull.user,
      email: noreplyEmail(pull.user),
    });
  }

  addComment(repo: SimRepo, pull: PullRecord, user: string, body: string): SimIssueComment {
    const now = githubTime();
    const { id, nodeId } = this.state.newIds("issueComment");
    const comment: SimIssueComment = {
      id,
      nodeId,
      body,
      user: this.state.user(user).login,
      createdAt: now,
      updatedAt: now,
    };
    pull.comments.push(comment);
    pull.updatedAt = now;
    this.state.emit({ kind: "issue_comment", action: "created", repo, pull, comment, actor: comment.user });
    return comment;
  }

  addReview(
    repo: SimRepo,
    pull: PullRecord,
    input: {
      user: string;
      state: ReviewState;
      body?: string;
      comments?: { path: string; line: number; body: string }[];
    },
  ): { review: SimReview; threads: SimReviewThread[] } {
    const now = githubTime();
    const user = this.state.user(input.user).login;
    const review = this.newReview(pull, user, input.state, input.body ?? "", now);
    const created: { thread: SimReviewThread; comment: SimReviewComment }[] = [];
    for (const line of input.comments ?? []) {
      const ids = this.state.newIds("reviewThread");
      const comment = this.newComment(pull, review, user, line, now);
      const thread: SimReviewThread = {
        id: ids.id,
        nodeId: ids.nodeId,
        path: line.path,
        line: line.line,
        isResolved: false,
        resolvedBy: null,
        comments: [comment],
      };
      pull.reviewThreads.push(thread);
      created.push({ thread, comment });
    }
    pull.updatedAt = now;
    this.state.emit({ kind: "pull_request_review", action: "submitted", repo, pull, review, actor: user });
    for (const { thread, comment } of created) {
      this.state.emit({
        kind: "pull_request_review_comment",
        action: "created",
        repo,
        pull,
        thread,
        comment,
        actor: user,
      });
    }
    return { review, threads: created.map(({ thread }) => thread) };
  }

  /**
   * A reply in a review thread. As on GitHub, a reply outside a pending review is a review of its
   * own (COMMENTED, empty body) holding that one comment.
   */
  replyToThread(
    repo: SimRepo,
    pull: PullRecord,
    thread: SimReviewThread,
    input: { user: string; body: string },
  ): SimReviewComment {
    const now = githubTime();
    const user = this.state.user(input.user).login;
    const review = this.newReview(pull, user, "COMMENTED", "", now);
    const comment = this.newComment(
      pull,
      review,
      user,
      { path: thread.path, line: thread.line, body: input.body },
      now,
    );
    comment.inReplyToId = thread.comments[0]?.id;
    thread.comments.push(comment);
    pull.updatedAt = now;
    this.state.emit({ kind: "pull_request_review", action: "submitted", repo, pull, review, actor: user });
    this.state.emit({
      kind: "pull_request_review_comment",
      action: "created",
      repo,
      pull,
      thread,
      comment,
      actor: user,
    });
    return comment;
  }

  /** Resolves (or unresolves) a review thread; no change, no event. */
  setThreadResolved(
    repo: SimRepo,
    pull: PullRecord,
    thread: SimReviewThread,
    resolved: boolean,
    actor: string,
  ): void {
    if (thread.isResolved === resolved) return;
    thread.isResolved = resolved;
    thread.resolvedBy = resolved ? this.state.user(actor).login : null;
    this.state.emit({
      kind: "pull_request_review_thread",
      action: resolved ? "resolved" : "unresolved",
      repo,
      pull,
      thread,
      actor,
    });
  }

  /** Marks an open pull request ready for review, or converts it back to a draft. */
  setDraft(repo: SimRepo, pull: PullRecord, draft: boolean, actor: string): void {
    if (pull.state !== "open") throw new Error(`#${pull.number} is not open`);
    if (pull.draft === draft) return;
    pull.draft = draft;
    pull.updatedAt = githubTime();
    this.state.emit({
      kind: "pull_request",
      action: draft ? "converted_to_draft" : "ready_for_review",
      repo,
      pull,
      actor,
    });
  }

  private newReview(
    pull: PullRecord,
    user: string,
    state: ReviewState,
    body: string,
    now: string,
  ): SimReview {
    const { id, nodeId } = this.state.newIds("review");
    const review: SimReview = { id, nodeId, user, state, body, commitId: pull.headSha, submittedAt: now };
    pull.reviews.push(review);
    return review;
  }

  private newComment(
    pull: PullRecord,
    review: SimReview,
    user: string,
    line: { path: string; line: number; body: string },
    now: string,
  ): SimReviewComment {
    const { id, nodeId } = this.state.newIds("reviewComment");
    return {
      id,
      nodeId,
      reviewId: review.id,
      user,
      body: line.body,
      path: line.path,
      line: line.line,
      commitId: pull.headSha,
      createdAt: now,
    };
  }
}
