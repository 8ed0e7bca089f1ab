import { randomInt } from "node:crypto";
import type { CommitInfo } from "./bare-repo.js";
import { hookJson } from "./hook-json.js";
import { currentBaseSha, mergeabilitySoFar, pairFigures, type PullFacts } from "./pull-facts.js";
import type { SimChange } from "./sim-changes.js";
import type { SimRepo } from "./sim-state.js";
import {
  pushCommitJson,
  simpleCommitJson,
  statusCommitJson,
  webhookCheckRun,
  webhookCheckSuite,
  webhookIssue,
  webhookIssueComment,
  webhookOrganization,
  webhookPullRequest,
  webhookRepository,
  webhookReview,
  webhookReviewComment,
  webhookSimplePullRequest,
  webhookStatus,
  webhookThread,
  webhookUserByLogin,
  type ShapeContext,
} from "./webhook-json.js";

/**
 * Which webhook events a state change makes, with their payloads. Everything read from the state
 * is read synchronously, while the change is being announced (the pull request may move on right
 * after); `payload()` only adds what git knows (diff figures, commit details), and is called only
 * when some hook wants the event.
 */

type Json = Record<string, unknown>;

export interface WebhookEvent {
  /** `X-GitHub-Event`. */
  event: string;
  action: string | null;
  /** Sent to this hook only (the ping of a new hook), whatever its events. */
  hookId?: number;
  payload: () => Promise<Json>;
}

const ZERO_SHA = "0".repeat(40);
const MAX_PUSH_COMMITS = 20;
/** A few of GitHub's zen sayings, for the ping. */
const ZEN = [
  "Keep it logically awesome.",
  "Design for failure.",
  "Responsive is better than fast.",
  "Anything added dilutes everything else.",
  "Favor focus over features.",
];

/** A payload complete at once. */
function ready(payload: Json): () => Promise<Json> {
  return () => Promise.resolve(payload);
}

function envelope(repo: SimRepo, actor: string, context: ShapeContext): Json {
  const organization = webhookOrganization(repo, context);
  return {
    repository: webhookRepository(repo, context),
    ...(organization === null ? {} : { organization }),
    sender: webhookUserByLogin(actor, context),
  };
}

async function commitInfo(repo: SimRepo, sha: string): Promise<CommitInfo> {
  const info = await repo.git.commitInfo(sha);
  if (!info) throw new Error(`no commit ${sha} in ${repo.fullName}`);
  return info;
}

function pushEvent(change: Extract<SimChange, { kind: "push" }>, context: ShapeContext): WebhookEvent {
  const { repo, ref, before, after, actor } = change;
  const branch = ref.replace(/^refs\/heads\//, "");
  const defaultTip = repo.heads.get(repo.defaultBranch) ?? null;
  const web = `${context.urls.web}/${repo.fullName}`;
  const head: Json = {
    ref,
    before: before ?? ZERO_SHA,
    after: after ?? ZERO_SHA,
    ...envelope(repo, actor, context),
    pusher: { name: actor, email: `${actor}@users.noreply.example.com` },
  };
  const payload = async (): Promise<Json> => {
    let shas: string[] = [];
    let forced = false;
    if (after !== null && before !== null) {
      forced = !(await repo.git.isAncestor(before, after));
      shas = await repo.git.commitsBetween(before, after);
    } else if (after !== null) {
      shas =
        defaultTip !== null && branch !== repo.defaultBranch
          ? await repo.git.commitsBetween(defaultTip, after)
          : [after];
    }
    const commits = await Promise.all(
      shas.slice(-MAX_PUSH_COMMITS).map(async (sha) => {
        const info = await commitInfo(repo, sha);
        return pushCommitJson(
          repo,
          sha,
          info,
          await repo.git.commitFiles(sha, info.parents[0] ?? null),
          context,
        );
      }),
    );
    let headCommit: Json | null = commits.at(-1) ?? null;
    if (after !== null && headCommit?.id !== after) {
      const info = await commitInfo(repo, after);
      headCommit = pushCommitJson(
        repo,
        after,
        info,
        await repo.git.commitFiles(after, info.parents[0] ?? null),
        context,
      );
    }
    const { sender, ...rest } = head;
    return {
      ...rest,
      sender,
      created: before === null,
      deleted: after === null,
      forced,
      base_ref: null,
      compare:
        before === null
          ? `${web}/compare/${branch}`
          : `${web}/compare/${before.slice(0, 12)}...${(after ?? ZERO_SHA).slice(0, 12)}`,
      commits,
      head_commit: headCommit,
    };
  };
  return { event: "push", action: null, payload };
}

function pullRequestEvent(
  change: Extract<SimChange, { kind: "pull_request" }>,
  context: ShapeContext,
): WebhookEvent {
  const { repo, pull, action, actor } = change;
  const headSha = pull.headSha;
  const baseSha = currentBaseSha(repo, pull);
  const facts: PullFacts = {
    headSha,
    baseSha,
    ...mergeabilitySoFar(repo, pull),
    commits: 0,
    additions: 0,
    deletions: 0,
    changedFiles: 0,
  };
  const pullJson = webhookPullRequest(repo, pull, facts, context);
  const extra: Json = {};
  if (action === "edited") extra.changes = change.changes ?? {};
  if (action === "synchronize") Object.assign(extra, { before: change.before ?? headSha, after: headSha });
  const rest = envelope(repo, actor, context);
  const payload = async (): Promise<Json> => {
    const figures = await pairFigures(repo, headSha, baseSha);
    Object.assign(pullJson, {
      commits: figures.commits,
      additions: figures.additions,
      deletions: figures.deletions,
      changed_files: figures.changedFiles,
    });
    return { action, number: pull.number, ...extra, pull_request: pullJson, ...rest };
  };
  return { event: "pull_request", action, payload };
}

function checkEvents(
  change: Extract<SimChange, { kind: "check_run" }>,
  context: ShapeContext,
): WebhookEvent[] {
  const { repo, checkRun, action, actor } = change;
  // GitHub has no webhook for a run moving between queued and in progress.
  if (action === "updated") return [];
  const rest = envelope(repo, actor, context);
  const events: WebhookEvent[] = [
    {
      event: "check_run",
      action,
      payload: ready({ action, check_run: webhookCheckRun(repo, checkRun, context), ...rest }),
    },
  ];
  if (action === "completed") {
    const suite = webhookCheckSuite(repo, checkRun, context);
    const sha = checkRun.headSha;
    events.push({
      event: "check_suite",
      action: "completed",
      payload: async (): Promise<Json> => ({
        action: "completed",
        check_suite: { ...suite, head_commit: simpleCommitJson(sha, await commitInfo(repo, sha)) },
        ...rest,
      }),
    });
  }
  return events;
}

function statusEvent(change: Extract<SimChange, { kind: "status" }>, context: ShapeContext): WebhookEvent {
  const { repo, status, actor } = change;
  const {
    branches,
    created_at: createdAt,
    updated_at: updatedAt,
    ...head
  } = webhookStatus(repo, status, context);
  const rest = envelope(repo, actor, context);
  const payload = async (): Promise<Json> => ({
    ...head,
    commit: statusCommitJson(repo, status.sha, await commitInfo(repo, status.sha), context),
    branches,
    created_at: createdAt,
    updated_at: updatedAt,
    ...rest,
  });
  return { event: "status", action: null, payload };
}

export function eventsFor(change: SimChange, context: ShapeContext): WebhookEvent[] {
  const now = (event: string, action: string | null, payload: Json): WebhookEvent[] => [
    { event, action, payload: ready(payload) },
  ];
  switch (change.kind) {
    case "push":
      return [pushEvent(change, context)];
    case "pull_request":
      return [pullRequestEvent(change, context)];
    case "issue_comment":
      return now("issue_comment", change.action, {
        action: change.action,
        issue: webhookIssue(change.repo, change.pull, context),
        comment: webhookIssueComment(change.repo, change.pull, change.comment, context),
        ...envelope(change.repo, change.actor, context),
      });
    case "pull_request_review":
      return now("pull_request_review", change.action, {
        action: change.action,
        review: webhookReview(change.repo, change.pull, change.review, context),
        pull_request: webhookSimplePullRequest(
          change.repo,
          change.pull,
          currentBaseSha(change.repo, change.pull),
          context,
        ),
        ...envelope(change.repo, change.actor, context),
      });
    case "pull_request_review_comment":
      return now("pull_request_review_comment", change.action, {
        action: change.action,
        comment: webhookReviewComment(change.repo, change.pull, change.comment, context),
        pull_request: webhookSimplePullRequest(
          change.repo,
          change.pull,
          currentBaseSha(change.repo, change.pull),
          context,
        ),
        ...envelope(change.repo, change.actor, context),
      });
    case "pull_request_review_thread":
      return now("pull_request_review_thread", change.action, {
        action: change.action,
        thread: webhookThread(change.repo, change.pull, change.thread, context),
        pull_request: webhookSimplePullRequest(
          change.repo,
          change.pull,
          currentBaseSha(change.repo, change.pull),
          context,
        ),
        ...envelope(change.repo, change.actor, context),
      });
    case "check_run":
      return checkEvents(change, context);
    case "status":
      return [statusEvent(change, context)];
    case "ping":
      return [
        {
          event: "ping",
          action: null,
          hookId: change.hook.id,
          payload: ready({
            zen: ZEN[randomInt(ZEN.length)],
            hook_id: change.hook.id,
            hook: hookJson(change.repo, change.hook, context.urls),
            ...envelope(change.repo, change.actor, context),
          }),
        },
      ];
  }
}
