import { combinedState, latestStatusPerContext } from "./commit-checks.js";
import { minimalRepositoryJson } from "./repository-json.js";
import type { SimUrls } from "./sim-urls.js";
import type { SimCheckRun, SimCommitStatus, SimRepo, SimState } from "./sim-state.js";
import { simpleUserJson } from "./user-json.js";

/** The app every simulated check run belongs to: GitHub Actions, as on a real instance. */
export function actionsAppJson(urls: SimUrls, state: SimState): Record<string, unknown> {
  return {
    id: 15368,
    slug: "github-actions",
    node_id: "MDM6QXBwMTUzNjg=",
    owner: simpleUserJson(state.user("github", "Organization"), urls),
    name: "GitHub Actions",
    description: "Automate your workflow from idea to production",
    external_url: "https://help.github.com/en/actions",
    html_url: `${urls.web}/apps/github-actions`,
    created_at: "2018-07-30T09:30:17Z",
    updated_at: "2019-12-10T19:04:12Z",
    permissions: {
      actions: "write",
      checks: "write",
      contents: "write",
      metadata: "read",
      statuses: "write",
    },
    events: ["check_run", "check_suite", "pull_request", "push", "status"],
  };
}

/** GitHub's `check-run`; `pull_requests` lists the open PRs whose head is this commit. */
export function checkRunJson(
  repo: SimRepo,
  run: SimCheckRun,
  urls: SimUrls,
  state: SimState,
): Record<string, unknown> {
  const api = `${urls.api}/repos/${repo.fullName}`;
  const repoRef = { id: repo.id, url: api, name: repo.name };
  const pullRequests = [...repo.pulls.values()]
    .filter((pull) => pull.state === "open" && pull.headSha === run.headSha)
    .map((pull) => ({
      id: pull.id,
      number: pull.number,
      url: `${api}/pulls/${pull.number}`,
      head: { ref: pull.headRef, sha: pull.headSha, repo: repoRef },
      base: { ref: pull.baseRef, sha: repo.heads.get(pull.baseRef) ?? pull.baseSha, repo: repoRef },
    }));
  return {
    id: run.id,
    name: run.name,
    node_id: run.nodeId,
    head_sha: run.headSha,
    external_id: String(run.jobId),
    url: `${api}/check-runs/${run.id}`,
    html_url: run.detailsUrl,
    details_url: run.detailsUrl,
    status: run.status,
    conclusion: run.conclusion,
    started_at: run.startedAt,
    completed_at: run.completedAt,
    output: {
      title: null,
      summary: null,
      text: null,
      annotations_count: 0,
      annotations_url: `${api}/check-runs/${run.id}/annotations`,
    },
    check_suite: { id: run.checkSuiteId },
    app: actionsAppJson(urls, state),
    pull_requests: pullRequests,
  };
}

/** An element of `GET …/commits/{ref}/statuses` (`status`). */
export function statusJson(
  repo: SimRepo,
  status: SimCommitStatus,
  urls: SimUrls,
  state: SimState,
): Record<string, unknown> {
  const creator = state.user(status.creator);
  return {
    url: `${urls.api}/repos/${repo.fullName}/statuses/${status.sha}`,
    avatar_url: `${urls.web}/avatars/u/${creator.id}`,
    id: status.id,
    node_id: status.nodeId,
    state: status.state,
    description: status.description,
    target_url: status.targetUrl,
    context: status.context,
    created_at: status.createdAt,
    updated_at: status.updatedAt,
    creator: simpleUserJson(creator, urls),
  };
}

/** `GET …/commits/{ref}/status` (`combined-commit-status`). */
export function combinedStatusJson(
  repo: SimRepo,
  sha: string,
  urls: SimUrls,
  state: SimState,
): Record<string, unknown> {
  const latest = latestStatusPerContext(repo, sha);
  const api = `${urls.api}/repos/${repo.fullName}`;
  return {
    state: combinedState(latest),
    statuses: latest.map((status) => {
      const { creator: _creator, ...simple } = statusJson(repo, status, urls, state);
      return simple;
    }),
    sha,
    total_count: latest.length,
    repository: minimalRepositoryJson(repo, urls, state),
    commit_url: `${api}/commits/${sha}`,
    url: `${api}/commits/${sha}/status`,
  };
}
