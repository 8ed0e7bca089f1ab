import type { PullFacts } from "./pull-facts.js";
import { repositoryJson } from "./repository-json.js";
import type { SimUrls } from "./sim-urls.js";
import type { PullRecord, SimRepo, SimState } from "./sim-state.js";
import { simpleUserJson } from "./user-json.js";

/** How GitHub relates the author to the repository; the repository's owner is OWNER. */
export function authorAssociation(repo: SimRepo, login: string): string {
  return login.toLowerCase() === repo.owner.toLowerCase() ? "OWNER" : "COLLABORATOR";
}

function reviewCommentCount(pull: PullRecord): number {
  return pull.reviewThreads.reduce((sum, thread) => sum + thread.comments.length, 0);
}

/** Fields shared by `pull-request-simple` (lists) and `pull-request` (single PR). */
function commonPullJson(
  repo: SimRepo,
  pull: PullRecord,
  urls: SimUrls,
  state: SimState,
  shas: { head: string; base: string },
): Record<string, unknown> {
  const api = `${urls.api}/repos/${repo.fullName}`;
  const self = `${api}/pulls/${pull.number}`;
  const html = `${urls.web}/${repo.fullName}/pull/${pull.number}`;
  const owner = simpleUserJson(state.user(repo.owner, "Organization"), urls);
  const repository = repositoryJson(repo, urls, state);
  const links = {
    self: { href: self },
    html: { href: html },
    issue: { href: `${api}/issues/${pull.number}` },
    comments: { href: `${api}/issues/${pull.number}/comments` },
    review_comments: { href: `${self}/comments` },
    review_comment: { href: `${api}/pulls/comments{/number}` },
    commits: { href: `${self}/commits` },
    statuses: { href: `${api}/statuses/${shas.head}` },
  };
  return {
    url: self,
    id: pull.id,
    node_id: pull.nodeId,
    html_url: html,
    diff_url: `${html}.diff`,
    patch_url: `${html}.patch`,
    issue_url: `${api}/issues/${pull.number}`,
    commits_url: `${self}/commits`,
    review_comments_url: `${self}/comments`,
    review_comment_url: `${api}/pulls/comments{/number}`,
    comments_url: `${api}/issues/${pull.number}/comments`,
    statuses_url: `${api}/statuses/${shas.head}`,
    number: pull.number,
    state: pull.state,
    locked: false,
    title: pull.title,
    user: simpleUserJson(state.user(pull.user), urls),
    body: pull.body,
    labels: [],
    milestone: null,
    active_lock_reason: null,
    created_at: pull.createdAt,
    updated_at: pull.updatedAt,
    closed_at: pull.closedAt,
    merged_at: pull.mergedAt,
    merge_commit_sha: pull.mergeCommitSha,
    assignee: null,
    assignees: [],
    requested_reviewers: [],
    requested_teams: [],
    head: {
      label: `${repo.owner}:${pull.headRef}`,
      ref: pull.headRef,
      sha: shas.head,
      user: owner,
      repo: repository,
    },
    base: {
      label: `${repo.owner}:${pull.baseRef}`,
      ref: pull.baseRef,
      sha: shas.base,
      user: owner,
      repo: repository,
    },
    _links: links,
    author_association: authorAssociation(repo, pull.user),
    auto_merge: null,
    draft: pull.draft,
  };
}

/** An element of `GET /repos/{o}/{r}/pulls` (`pull-request-simple`): no git figures, so no git work. */
export function pullRequestSimpleJson(
  repo: SimRepo,
  pull: PullRecord,
  urls: SimUrls,
  state: SimState,
  baseSha: string,
): Record<string, unknown> {
  return commonPullJson(repo, pull, urls, state, { head: pull.headSha, base: baseSha });
}

/** A single pull request (`pull-request`) with mergeability and diff figures from git. */
export function pullRequestJson(
  repo: SimRepo,
  pull: PullRecord,
  facts: PullFacts,
  urls: SimUrls,
  state: SimState,
): Record<string, unknown> {
  return {
    ...commonPullJson(repo, pull, urls, state, { head: facts.headSha, base: facts.baseSha }),
    merged: pull.merged,
    mergeable: facts.mergeable,
    rebaseable: facts.rebaseable,
    mergeable_state: facts.mergeableState,
    merged_by: pull.mergedBy === null ? null : simpleUserJson(state.user(pull.mergedBy), urls),
    comments: pull.comments.length,
    review_comments: reviewCommentCount(pull),
    maintainer_can_modify: pull.maintainerCanModify,
    commits: facts.commits,
    additions: facts.additions,
    deletions: facts.deletions,
    changed_files: facts.changedFiles,
  };
}
