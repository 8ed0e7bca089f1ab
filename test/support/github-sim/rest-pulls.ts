import { basicError, validationFailed } from "./error-json.js";
import { paginate } from "./pagination.js";
import { currentBaseSha, pullFacts } from "./pull-facts.js";
import { pullRequestJson, pullRequestSimpleJson } from "./pull-request-json.js";
import {
  booleanField,
  notFound,
  nullableStringField,
  numberParam,
  RestError,
  stringField,
  type RepoRequest,
  type RestResult,
  type RestRoute,
} from "./rest-context.js";
import type { PullRecord } from "./sim-state.js";

const DOCS = {
  list: "rest/pulls/pulls#list-pull-requests",
  create: "rest/pulls/pulls#create-a-pull-request",
  get: "rest/pulls/pulls#get-a-pull-request",
  update: "rest/pulls/pulls#update-a-pull-request",
  merge: "rest/pulls/pulls#merge-a-pull-request",
} as const;

function findPull(request: RepoRequest, docs: string): PullRecord {
  const pull = request.repo.pulls.get(numberParam(request.params.pull_number, docs));
  if (!pull) throw notFound(docs);
  return pull;
}

async function fullPull(
  request: RepoRequest,
  pull: PullRecord,
  status: number,
  reveal: boolean,
): Promise<RestResult> {
  const facts = await pullFacts(request.repo, pull, { reveal });
  return { status, body: pullRequestJson(request.repo, pull, facts, request.sim.urls, request.sim.state) };
}

function listPulls(request: RepoRequest): RestResult {
  const { repo, query, sim } = request;
  const state = query.get("state") ?? "open";
  const head = query.get("head");
  const base = query.get("base");
  const sort = query.get("sort") ?? "created";
  const direction = query.get("direction") ?? (sort === "created" ? "desc" : "asc");
  let pulls = [...repo.pulls.values()].filter((pull) => state === "all" || pull.state === state);
  if (head !== null) {
    const colon = head.indexOf(":");
    const owner = colon === -1 ? head : head.slice(0, colon);
    const branch = colon === -1 ? null : head.slice(colon + 1);
    pulls = pulls.filter(
      (pull) =>
        owner.toLowerCase() === repo.owner.toLowerCase() && (branch === null || pull.headRef === branch),
    );
  }
  if (base !== null) pulls = pulls.filter((pull) => pull.baseRef === base);
  const key = (pull: PullRecord): string | number =>
    sort === "updated" ? pull.updatedAt : sort === "popularity" ? pull.comments.length : pull.createdAt;
  pulls.sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    const order = x < y ? -1 : x > y ? 1 : a.number - b.number;
    return direction === "asc" ? order : -order;
  });
  const page = paginate(pulls, query, `${sim.urls.api}/repos/${repo.fullName}/pulls`);
  return {
    status: 200,
    body: page.items.map((pull) =>
      pullRequestSimpleJson(repo, pull, sim.urls, sim.state, currentBaseSha(repo, pull)),
    ),
    headers: page.link === null ? {} : { link: page.link },
  };
}

async function createPull(request: RepoRequest): Promise<RestResult> {
  const { body, repo } = request;
  const opened = await request.sim.pulls.open(repo, {
    title: stringField(body, "title", DOCS.create),
    body: nullableStringField(body, "body", DOCS.create),
    head: stringField(body, "head", DOCS.create),
    base: stringField(body, "base", DOCS.create),
    draft: booleanField(body, "draft", DOCS.create),
    maintainerCanModify: booleanField(body, "maintainer_can_modify", DOCS.create),
    user: request.user.login,
  });
  if ("errors" in opened) return { status: 422, body: validationFailed(opened.errors, DOCS.create) };
  // Like GitHub's, the mergeability job has not run yet when the create call answers.
  return fullPull(request, opened.pull, 201, false);
}

async function updatePull(request: RepoRequest): Promise<RestResult> {
  const { body } = request;
  const pull = findPull(request, DOCS.update);
  const state = stringField(body, "state", DOCS.update);
  if (state !== undefined && state !== "open" && state !== "closed") {
    return {
      status: 422,
      body: validationFailed([{ resource: "PullRequest", field: "state", code: "invalid" }], DOCS.update),
    };
  }
  const edited = await request.sim.pulls.edit(
    request.repo,
    pull,
    {
      title: stringField(body, "title", DOCS.update),
      body: nullableStringField(body, "body", DOCS.update),
      state,
      base: stringField(body, "base", DOCS.update),
      maintainerCanModify: booleanField(body, "maintainer_can_modify", DOCS.update),
    },
    request.user.login,
  );
  if ("errors" in edited) return { status: 422, body: validationFailed(edited.errors, DOCS.update) };
  return fullPull(request, pull, 200, true);
}

async function mergePull(request: RepoRequest): Promise<RestResult> {
  const { body } = request;
  const pull = findPull(request, DOCS.merge);
  const outcome = await request.sim.pulls.merge(request.repo, pull, {
    method: stringField(body, "merge_method", DOCS.merge),
    sha: stringField(body, "sha", DOCS.merge),
    commitTitle: stringField(body, "commit_title", DOCS.merge),
    commitMessage: stringField(body, "commit_message", DOCS.merge),
    actor: request.user.login,
  });
  if (outcome.ok) {
    return {
      status: 200,
      body: { sha: outcome.sha, merged: true, message: "Pull Request successfully merged" },
    };
  }
  if (outcome.status === 422) {
    return {
      status: 422,
      body: validationFailed(
        [{ resource: "PullRequest", field: "merge_method", code: "invalid" }],
        DOCS.merge,
      ),
    };
  }
  throw new RestError({
    status: outcome.status,
    body: basicError(outcome.status, outcome.message, DOCS.merge),
  });
}

export const pullRoutes: readonly RestRoute[] = [
  {
    method: "GET",
    pattern: "/repos/:owner/:repo/pulls",
    scope: "repo",
    needs: [["pull_requests", "read"]],
    docs: DOCS.list,
    handle: listPulls,
  },
  {
    method: "POST",
    pattern: "/repos/:owner/:repo/pulls",
    scope: "repo",
    needs: [["pull_requests", "write"]],
    docs: DOCS.create,
    handle: createPull,
  },
  {
    method: "GET",
    pattern: "/repos/:owner/:repo/pulls/:pull_number",
    scope: "repo",
    needs: [["pull_requests", "read"]],
    docs: DOCS.get,
    handle: (request) => fullPull(request, findPull(request, DOCS.get), 200, true),
  },
  {
    method: "PATCH",
    pattern: "/repos/:owner/:repo/pulls/:pull_number",
    scope: "repo",
    needs: [["pull_requests", "write"]],
    docs: DOCS.update,
    handle: updatePull,
  },
  {
    method: "PUT",
    pattern: "/repos/:owner/:repo/pulls/:pull_number/merge",
    scope: "repo",
    needs: [["contents", "write"]],
    docs: DOCS.merge,
    handle: mergePull,
  },
];
