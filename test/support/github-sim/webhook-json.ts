import type { CommitFiles, CommitInfo } from "./bare-repo.js";
import { actionsAppJson, checkRunJson } from "./checks-json.js";
import { commitNodeId, githubTime, nodeIdOf } from "./ids.js";
import { issueCommentJson } from "./issue-comment-json.js";
import type { PullFacts } from "./pull-facts.js";
import { authorAssociation, pullRequestJson, pullRequestSimpleJson } from "./pull-request-json.js";
import { repositoryJson } from "./repository-json.js";
import type { SimUrls } from "./sim-urls.js";
import type {
  PullRecord,
  SimCheckRun,
  SimCommitStatus,
  SimIssueComment,
  SimRepo,
  SimReview,
  SimReviewComment,
  SimReviewThread,
  SimState,
  SimUser,
} from "./sim-state.js";
import { simpleUserJson } from "./user-json.js";

/**
 * The objects inside webhook payloads, as `@octokit/webhooks-schemas` describes them. They are
 * the REST objects with the webhook differences: users without `user_view_type`, repositories
 * with `custom_properties`, check runs with a full `check_suite`, reviews with lower-case states.
 */

type Json = Record<string, unknown>;

export interface ShapeContext {
  urls: SimUrls;
  state: SimState;
}

export function webhookUser(user: SimUser, { urls }: ShapeContext): Json {
  const { user_view_type: _viewType, ...rest } = simpleUserJson(user, urls);
  return rest;
}

export function webhookUserByLogin(login: string, context: ShapeContext): Json {
  return webhookUser(context.state.user(login), context);
}

function ownerOf(repo: SimRepo, context: ShapeContext): SimUser {
  return context.state.user(repo.owner, "Organization");
}

export function webhookRepository(repo: SimRepo, context: ShapeContext): Json {
  return {
    ...repositoryJson(repo, context.urls, context.state),
    owner: webhookUser(ownerOf(repo, context), context),
    custom_properties: {},
  };
}

/** The payload's `organization`, present when an organization owns the repository. */
export function webhookOrganization(repo: SimRepo, context: ShapeContext): Json | null {
  const owner = ownerOf(repo, context);
  if (owner.type !== "Organization") return null;
  const api = `${context.urls.api}/orgs/${owner.login}`;
  return {
    login: owner.login,
    id: owner.id,
    node_id: owner.nodeId,
    url: api,
    repos_url: `${api}/repos`,
    events_url: `${api}/events`,
    hooks_url: `${api}/hooks`,
    issues_url: `${api}/issues`,
    members_url: `${api}/members{/member}`,
    public_members_url: `${api}/public_members{/member}`,
    avatar_url: `${context.urls.web}/avatars/u/${owner.id}`,
    description: null,
  };
}

/** Replaces the REST users and repositories inside a pull request object. */
function withWebhookPeople(json: Json, repo: SimRepo, pull: PullRecord, context: ShapeContext): Json {
  const owner = webhookUser(ownerOf(repo, context), context);
  const repository = webhookRepository(repo, context);
  const out: Json = {
    ...json,
    user: webhookUserByLogin(pull.user, context),
    head: { ...(json.head as Json), user: owner, repo: repository },
    base: { ...(json.base as Json), user: owner, repo: repository },
  };
  if ("merged_by" in json)
    out.merged_by = pull.mergedBy === null ? null : webhookUserByLogin(pull.mergedBy, context);
  return out;
}

/** A `pull_request` payload's full pull request (`facts` as known when the change happened). */
export function webhookPullRequest(
  repo: SimRepo,
  pull: PullRecord,
  facts: PullFacts,
  context: ShapeContext,
): Json {
  return withWebhookPeople(
    pullRequestJson(repo, pull, facts, context.urls, context.state),
    repo,
    pull,
    context,
  );
}

/** The shorter pull request of review, review comment and thread payloads. */
export function webhookSimplePullRequest(
  repo: SimRepo,
  pull: PullRecord,
  baseSha: string,
  context: ShapeContext,
): Json {
  return withWebhookPeople(
    pullRequestSimpleJson(repo, pull, context.urls, context.state, baseSha),
    repo,
    pull,
    context,
  );
}

function pullUrls(repo: SimRepo, pull: PullRecord, { urls }: ShapeContext): { api: string; html: string } {
  return {
    api: `${urls.api}/repos/${repo.fullName}/pulls/${pull.number}`,
    html: `${urls.web}/${repo.fullName}/pull/${pull.number}`,
  };
}

export function webhookReview(
  repo: SimRepo,
  pull: PullRecord,
  review: SimReview,
  context: ShapeContext,
): Json {
  const { api, html } = pullUrls(repo, pull, context);
  const reviewHtml = `${html}#pullrequestreview-${review.id}`;
  return {
    id: review.id,
    node_id: review.nodeId,
    user: webhookUserByLogin(review.user, context),
    body: review.body === "" ? null : review.body,
    commit_id: review.commitId,
    submitted_at: review.submittedAt,
    state: review.state.toLowerCase(),
    html_url: reviewHtml,
    pull_request_url: api,
    author_association: authorAssociation(repo, review.user),
    _links: { html: { href: reviewHtml }, pull_request: { href: api } },
  };
}

function reactionsJson(url: string): Json {
  const counts = ["+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes"];
  return { url, total_count: 0, ...Object.fromEntries(counts.map((name) => [name, 0])) };
}

/**
 * A review comment. `diff_hunk` is only the hunk header of the commented line and `position`
 * the line itself: the simulator keeps no diff positions.
 */
export function webhookReviewComment(
  repo: SimRepo,
  pull: PullRecord,
  comment: SimReviewComment,
  context: ShapeContext,
): Json {
  const { api, html } = pullUrls(repo, pull, context);
  const url = `${context.urls.api}/repos/${repo.fullName}/pulls/comments/${comment.id}`;
  const commentHtml = `${html}#discussion_r${comment.id}`;
  return {
    url,
    pull_request_review_id: comment.reviewId,
    id: comment.id,
    node_id: comment.nodeId,
    diff_hunk: `@@ -${comment.line},0 +${comment.line},1 @@`,
    path: comment.path,
    position: comment.line,
    original_position: comment.line,
    commit_id: pull.headSha,
    original_commit_id: comment.commitId,
    user: webhookUserByLogin(comment.user, context),
    body: comment.body,
    created_at: comment.createdAt,
    updated_at: comment.createdAt,
    html_url: commentHtml,
    pull_request_url: api,
    author_association: authorAssociation(repo, comment.user),
    _links: { self: { href: url }, html: { href: commentHtml }, pull_request: { href: api } },
    reactions: reactionsJson(`${url}/reactions`),
    start_line: null,
    original_start_line: null,
    start_side: null,
    line: comment.line,
    original_line: comment.line,
    side: "RIGHT",
    ...(comment.inReplyToId === undefined ? {} : { in_reply_to_id: comment.inReplyToId }),
    subject_type: "line",
  };
}

export function webhookThread(
  repo: SimRepo,
  pull: PullRecord,
  thread: SimReviewThread,
  context: ShapeContext,
): Json {
  return {
    node_id: thread.nodeId,
    comments: thread.comments.map((comment) => webhookReviewComment(repo, pull, comment, context)),
  };
}

/** The pull request as an issue (`issue_comment` payloads): every issue number is a PR here. */
export function webhookIssue(repo: SimRepo, pull: PullRecord, context: ShapeContext): Json {
  const api = `${context.urls.api}/repos/${repo.fullName}`;
  const issue = `${api}/issues/${pull.number}`;
  const { api: pullApi, html } = pullUrls(repo, pull, context);
  return {
    url: issue,
    repository_url: api,
    labels_url: `${issue}/labels{/name}`,
    comments_url: `${issue}/comments`,
    events_url: `${issue}/events`,
    html_url: html,
    id: pull.id,
    node_id: nodeIdOf("issue", pull.id),
    number: pull.number,
    title: pull.title,
    user: webhookUserByLogin(pull.user, context),
    labels: [],
    state: pull.state,
    locked: false,
    assignee: null,
    assignees: [],
    milestone: null,
    comments: pull.comments.length,
    created_at: pull.createdAt,
    updated_at: pull.updatedAt,
    closed_at: pull.closedAt,
    author_association: authorAssociation(repo, pull.user),
    active_lock_reason: null,
    draft: pull.draft,
    pull_request: {
      url: pullApi,
      html_url: html,
      diff_url: `${html}.diff`,
      patch_url: `${html}.patch`,
      merged_at: pull.mergedAt,
    },
    body: pull.body,
    reactions: reactionsJson(`${issue}/reactions`),
    timeline_url: `${issue}/timeline`,
    performed_via_github_app: null,
    state_reason: null,
  };
}

export function webhookIssueComment(
  repo: SimRepo,
  pull: PullRecord,
  comment: SimIssueComment,
  context: ShapeContext,
): Json {
  return {
    ...issueCommentJson(repo, pull, comment, context.urls, context.state),
    user: webhookUserByLogin(comment.user, context),
  };
}

function webhookApp(context: ShapeContext): Json {
  const app = actionsAppJson(context.urls, context.state);
  return { ...app, owner: webhookUser(context.state.user("github", "Organization"), context) };
}

/** The branch a commit is the tip of (an open PR's head first), as GitHub fills `head_branch`. */
function branchOf(repo: SimRepo, sha: string): string | null {
  for (const pull of repo.pulls.values())
    if (pull.state === "open" && pull.headSha === sha) return pull.headRef;
  for (const [branch, tip] of repo.heads) if (tip === sha) return branch;
  return null;
}

/** Every simulated check run is alone in its check suite (one Actions job per workflow run). */
function suiteSummary(repo: SimRepo, run: SimCheckRun, context: ShapeContext): Json {
  const api = `${context.urls.api}/repos/${repo.fullName}`;
  const rest = checkRunJson(repo, run, context.urls, context.state);
  return {
    id: run.checkSuiteId,
    node_id: nodeIdOf("checkSuite", run.checkSuiteId),
    head_branch: branchOf(repo, run.headSha),
    head_sha: run.headSha,
    status: run.status,
    // A suite's conclusion has no `skipped`: GitHub reports such a suite as neutral.
    conclusion: run.conclusion === "skipped" ? "neutral" : run.conclusion,
    url: `${api}/check-suites/${run.checkSuiteId}`,
    before: null,
    after: run.headSha,
    pull_requests: rest.pull_requests,
    app: webhookApp(context),
    created_at: run.startedAt,
    updated_at: run.completedAt ?? run.startedAt,
  };
}

export function webhookCheckRun(repo: SimRepo, run: SimCheckRun, context: ShapeContext): Json {
  return {
    ...checkRunJson(repo, run, context.urls, context.state),
    check_suite: suiteSummary(repo, run, context),
    app: webhookApp(context),
  };
}

function gitPerson(person: CommitInfo["author"]): { name: string; email: string } {
  return { name: person.name, email: person.email };
}

export function webhookCheckSuite(repo: SimRepo, run: SimCheckRun, context: ShapeContext): Json {
  const api = `${context.urls.api}/repos/${repo.fullName}`;
  return {
    ...suiteSummary(repo, run, context),
    latest_check_runs_count: 1,
    check_runs_url: `${api}/check-suites/${run.checkSuiteId}/check-runs`,
    rerequestable: true,
    runs_rerequestable: true,
  };
}

/** `head_commit` of a check suite (filled in once git has answered). */
export function simpleCommitJson(sha: string, info: CommitInfo): Json {
  return {
    id: sha,
    tree_id: info.tree,
    message: info.message,
    timestamp: githubTime(Date.parse(info.committer.date)),
    author: gitPerson(info.author),
    committer: gitPerson(info.committer),
  };
}

/** The `status` payload's `commit`: git authors are not matched to accounts (null users). */
export function statusCommitJson(repo: SimRepo, sha: string, info: CommitInfo, { urls }: ShapeContext): Json {
  const api = `${urls.api}/repos/${repo.fullName}`;
  return {
    sha,
    node_id: commitNodeId(sha),
    commit: {
      author: { ...gitPerson(info.author), date: githubTime(Date.parse(info.author.date)) },
      committer: { ...gitPerson(info.committer), date: githubTime(Date.parse(info.committer.date)) },
      message: info.message,
      tree: { sha: info.tree, url: `${api}/git/trees/${info.tree}` },
      url: `${api}/git/commits/${sha}`,
      comment_count: 0,
      verification: { verified: false, reason: "unsigned", signature: null, payload: null },
    },
    url: `${api}/commits/${sha}`,
    html_url: `${urls.web}/${repo.fullName}/commit/${sha}`,
    comments_url: `${api}/commits/${sha}/comments`,
    author: null,
    committer: null,
    parents: info.parents.map((parent) => ({
      sha: parent,
      url: `${api}/commits/${parent}`,
      html_url: `${urls.web}/${repo.fullName}/commit/${parent}`,
    })),
  };
}

/** The status payload without its commit (read from git afterwards). */
export function webhookStatus(repo: SimRepo, status: SimCommitStatus, context: ShapeContext): Json {
  const api = `${context.urls.api}/repos/${repo.fullName}`;
  const creator = context.state.user(status.creator);
  const branches = [...repo.heads]
    .filter(([, tip]) => tip === status.sha)
    .slice(0, 10)
    .map(([name]) => ({
      name,
      commit: { sha: status.sha, url: `${api}/commits/${status.sha}` },
      protected: false,
    }));
  return {
    id: status.id,
    sha: status.sha,
    name: repo.fullName,
    target_url: status.targetUrl,
    avatar_url: `${context.urls.web}/avatars/u/${creator.id}`,
    context: status.context,
    description: status.description,
    state: status.state,
    branches,
    created_at: status.createdAt,
    updated_at: status.updatedAt,
  };
}

/** One commit of a push payload. */
export function pushCommitJson(
  repo: SimRepo,
  sha: string,
  info: CommitInfo,
  files: CommitFiles,
  { urls }: ShapeContext,
): Json {
  return {
    id: sha,
    tree_id: info.tree,
    distinct: true,
    message: info.message,
    timestamp: githubTime(Date.parse(info.committer.date)),
    url: `${urls.web}/${repo.fullName}/commit/${sha}`,
    author: gitPerson(info.author),
    committer: gitPerson(info.committer),
    added: files.added,
    removed: files.removed,
    modified: files.modified,
  };
}
