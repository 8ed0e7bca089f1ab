import { isSha } from "./bare-repo.js";
import { checkRunJson, combinedStatusJson, statusJson } from "./checks-json.js";
import { checkRunsFor, statusesFor } from "./commit-checks.js";
import { basicError } from "./error-json.js";
import { paginate } from "./pagination.js";
import {
  notFound,
  numberParam,
  RestError,
  type RepoRequest,
  type RestResult,
  type RestRoute,
} from "./rest-context.js";

/** CI results of a commit (check runs, commit statuses) and the logs of Actions jobs. */

const DOCS = {
  checkRuns: "rest/checks/runs#list-check-runs-for-a-git-reference",
  combined: "rest/commits/statuses#get-the-combined-status-for-a-specific-reference",
  statuses: "rest/commits/statuses#list-commit-statuses-for-a-reference",
  jobLogs: "rest/actions/workflow-jobs#download-job-logs-for-a-workflow-run",
} as const;

/** `{ref}` as GitHub takes it: a sha, a branch name, or `heads/…` / `refs/heads/…`. */
async function resolveRef(request: RepoRequest, docs: string): Promise<string> {
  const ref = request.params.ref ?? "";
  const branch = ref.replace(/^refs\//, "").replace(/^heads\//, "");
  const sha = isSha(ref)
    ? await request.repo.git.resolveCommit(ref)
    : (request.repo.heads.get(branch) ?? null);
  if (sha === null) {
    throw new RestError({ status: 422, body: basicError(422, `No commit found for SHA: ${ref}`, docs) });
  }
  return sha;
}

async function listCheckRuns(request: RepoRequest): Promise<RestResult> {
  const { repo, sim, query } = request;
  const sha = await resolveRef(request, DOCS.checkRuns);
  const name = query.get("check_name");
  const status = query.get("status");
  let runs = checkRunsFor(repo, sha)
    .filter((run) => name === null || run.name === name)
    .filter((run) => status === null || run.status === status);
  if (query.get("filter") !== "all") {
    // `latest` (the default): the most recent run of each name.
    const latest = new Map(runs.map((run) => [run.name, run]));
    runs = [...latest.values()];
  }
  runs = runs.reverse();
  const page = paginate(
    runs,
    query,
    `${sim.urls.api}/repos/${repo.fullName}/commits/${request.params.ref}/check-runs`,
  );
  return {
    status: 200,
    body: {
      total_count: runs.length,
      check_runs: page.items.map((run) => checkRunJson(repo, run, sim.urls, sim.state)),
    },
    headers: page.link === null ? {} : { link: page.link },
  };
}

async function combinedStatus(request: RepoRequest): Promise<RestResult> {
  const sha = await resolveRef(request, DOCS.combined);
  return { status: 200, body: combinedStatusJson(request.repo, sha, request.sim.urls, request.sim.state) };
}

async function listStatuses(request: RepoRequest): Promise<RestResult> {
  const { repo, sim, query } = request;
  const sha = await resolveRef(request, DOCS.statuses);
  const page = paginate(
    statusesFor(repo, sha),
    query,
    `${sim.urls.api}/repos/${repo.fullName}/commits/${request.params.ref}/statuses`,
  );
  return {
    status: 200,
    body: page.items.map((status) => statusJson(repo, status, sim.urls, sim.state)),
    headers: page.link === null ? {} : { link: page.link },
  };
}

/** GitHub answers with a redirect to a short-lived, unauthenticated download URL. */
function jobLogs(request: RepoRequest): RestResult {
  const jobId = numberParam(request.params.job_id, DOCS.jobLogs);
  const run = request.repo.checkRuns.find((candidate) => candidate.jobId === jobId);
  if (!run) throw notFound(DOCS.jobLogs);
  return { status: 302, headers: { location: `${request.sim.urls.web}/_logs/${run.jobId}/${run.logKey}` } };
}

export const checkRoutes: readonly RestRoute[] = [
  {
    method: "GET",
    pattern: "/repos/:owner/:repo/commits/:ref/check-runs",
    scope: "repo",
    needs: [["checks", "read"]],
    docs: DOCS.checkRuns,
    handle: listCheckRuns,
  },
  {
    method: "GET",
    pattern: "/repos/:owner/:repo/commits/:ref/status",
    scope: "repo",
    needs: [["statuses", "read"]],
    docs: DOCS.combined,
    handle: combinedStatus,
  },
  {
    method: "GET",
    pattern: "/repos/:owner/:repo/commits/:ref/statuses",
    scope: "repo",
    needs: [["statuses", "read"]],
    docs: DOCS.statuses,
    handle: listStatuses,
  },
  {
    method: "GET",
    pattern: "/repos/:owner/:repo/actions/jobs/:job_id/logs",
    scope: "repo",
    needs: [["actions", "read"]],
    docs: DOCS.jobLogs,
    handle: jobLogs,
  },
];
