import { repoPermissions } from "./tokens.js";
import type { SimUrls } from "./sim-urls.js";
import type { SimRepo, SimState, SimToken } from "./sim-state.js";
import { simpleUserJson } from "./user-json.js";

/** The URL fields every repository shape carries (GitHub's hypermedia templates). */
function repositoryUrls(repo: SimRepo, urls: SimUrls): Record<string, string | null> {
  const api = `${urls.api}/repos/${repo.fullName}`;
  return {
    html_url: `${urls.web}/${repo.fullName}`,
    url: api,
    archive_url: `${api}/{archive_format}{/ref}`,
    assignees_url: `${api}/assignees{/user}`,
    blobs_url: `${api}/git/blobs{/sha}`,
    branches_url: `${api}/branches{/branch}`,
    collaborators_url: `${api}/collaborators{/collaborator}`,
    comments_url: `${api}/comments{/number}`,
    commits_url: `${api}/commits{/sha}`,
    compare_url: `${api}/compare/{base}...{head}`,
    contents_url: `${api}/contents/{+path}`,
    contributors_url: `${api}/contributors`,
    deployments_url: `${api}/deployments`,
    downloads_url: `${api}/downloads`,
    events_url: `${api}/events`,
    forks_url: `${api}/forks`,
    git_commits_url: `${api}/git/commits{/sha}`,
    git_refs_url: `${api}/git/refs{/sha}`,
    git_tags_url: `${api}/git/tags{/sha}`,
    git_url: `git://${urls.host}/${repo.fullName}.git`,
    issue_comment_url: `${api}/issues/comments{/number}`,
    issue_events_url: `${api}/issues/events{/number}`,
    issues_url: `${api}/issues{/number}`,
    keys_url: `${api}/keys{/key_id}`,
    labels_url: `${api}/labels{/name}`,
    languages_url: `${api}/languages`,
    merges_url: `${api}/merges`,
    milestones_url: `${api}/milestones{/number}`,
    notifications_url: `${api}/notifications{?since,all,participating}`,
    pulls_url: `${api}/pulls{/number}`,
    releases_url: `${api}/releases{/id}`,
    ssh_url: `git@${urls.host}:${repo.fullName}.git`,
    stargazers_url: `${api}/stargazers`,
    statuses_url: `${api}/statuses/{sha}`,
    subscribers_url: `${api}/subscribers`,
    subscription_url: `${api}/subscription`,
    tags_url: `${api}/tags`,
    teams_url: `${api}/teams`,
    trees_url: `${api}/git/trees{/sha}`,
    clone_url: `${urls.web}/${repo.fullName}.git`,
    mirror_url: null,
    hooks_url: `${api}/hooks`,
    svn_url: `${urls.web}/${repo.fullName}`,
  };
}

function openIssues(repo: SimRepo): number {
  return [...repo.pulls.values()].filter((pull) => pull.state === "open").length;
}

/** GitHub's `repository` (as nested in pull requests' `head.repo` / `base.repo`). */
export function repositoryJson(repo: SimRepo, urls: SimUrls, state: SimState): Record<string, unknown> {
  const open = openIssues(repo);
  return {
    id: repo.id,
    node_id: repo.nodeId,
    name: repo.name,
    full_name: repo.fullName,
    private: repo.private,
    owner: simpleUserJson(state.user(repo.owner, "Organization"), urls),
    description: null,
    fork: false,
    ...repositoryUrls(repo, urls),
    homepage: null,
    language: null,
    forks_count: 0,
    stargazers_count: 0,
    watchers_count: 0,
    size: 0,
    default_branch: repo.defaultBranch,
    open_issues_count: open,
    is_template: false,
    topics: [],
    has_issues: true,
    has_projects: true,
    has_wiki: true,
    has_pages: false,
    has_downloads: true,
    has_discussions: false,
    archived: false,
    disabled: false,
    visibility: repo.private ? "private" : "public",
    pushed_at: repo.pushedAt,
    created_at: repo.createdAt,
    updated_at: repo.updatedAt,
    allow_forking: true,
    web_commit_signoff_required: false,
    license: null,
    forks: 0,
    open_issues: open,
    watchers: 0,
  };
}

/** `GET /repos/{owner}/{repo}` (`full-repository`), with the caller's `permissions`. */
export function fullRepositoryJson(
  repo: SimRepo,
  urls: SimUrls,
  state: SimState,
  token: SimToken,
): Record<string, unknown> {
  return {
    ...repositoryJson(repo, urls, state),
    permissions: repoPermissions(token),
    allow_rebase_merge: true,
    allow_squash_merge: true,
    allow_merge_commit: true,
    allow_auto_merge: false,
    delete_branch_on_merge: false,
    allow_update_branch: false,
    use_squash_pr_title_as_default: false,
    squash_merge_commit_title: "COMMIT_OR_PR_TITLE",
    squash_merge_commit_message: "COMMIT_MESSAGES",
    merge_commit_title: "MERGE_MESSAGE",
    merge_commit_message: "PR_TITLE",
    subscribers_count: 0,
    network_count: 0,
    organization: simpleUserJson(state.user(repo.owner, "Organization"), urls),
  };
}

/** `minimal-repository` (the combined commit status's `repository`). */
export function minimalRepositoryJson(
  repo: SimRepo,
  urls: SimUrls,
  state: SimState,
): Record<string, unknown> {
  const full = repositoryJson(repo, urls, state);
  const keep = [
    "id",
    "node_id",
    "name",
    "full_name",
    "owner",
    "private",
    "html_url",
    "description",
    "fork",
    "url",
  ];
  const minimal: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(full)) {
    if (keep.includes(key) || key.endsWith("_url")) minimal[key] = value;
  }
  return minimal;
}
