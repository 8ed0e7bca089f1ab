import { validationFailed } from "./error-json.js";
import { issueCommentJson } from "./issue-comment-json.js";
import { paginate } from "./pagination.js";
import {
  notFound,
  numberParam,
  stringField,
  type RepoRequest,
  type RestResult,
  type RestRoute,
} from "./rest-context.js";
import type { PullRecord } from "./sim-state.js";

/** Conversation comments. Every issue number here is a pull request: the simulator has no plain issues. */

const DOCS = {
  list: "rest/issues/comments#list-issue-comments",
  create: "rest/issues/comments#create-an-issue-comment",
} as const;

function findIssue(request: RepoRequest, docs: string): PullRecord {
  const pull = request.repo.pulls.get(numberParam(request.params.issue_number, docs));
  if (!pull) throw notFound(docs);
  return pull;
}

function listComments(request: RepoRequest): RestResult {
  const { repo, sim, query } = request;
  const pull = findIssue(request, DOCS.list);
  const since = query.get("since");
  const sinceMs = since === null ? Number.NaN : Date.parse(since);
  const comments = pull.comments.filter(
    (comment) => Number.isNaN(sinceMs) || Date.parse(comment.updatedAt) >= sinceMs,
  );
  const page = paginate(
    comments,
    query,
    `${sim.urls.api}/repos/${repo.fullName}/issues/${pull.number}/comments`,
  );
  return {
    status: 200,
    body: page.items.map((comment) => issueCommentJson(repo, pull, comment, sim.urls, sim.state)),
    headers: page.link === null ? {} : { link: page.link },
  };
}

function createComment(request: RepoRequest): RestResult {
  const { repo, sim } = request;
  const pull = findIssue(request, DOCS.create);
  const body = stringField(request.body, "body", DOCS.create);
  if (body === undefined || body === "") {
    return {
      status: 422,
      body: validationFailed(
        [{ resource: "IssueComment", field: "body", code: "missing_field" }],
        DOCS.create,
      ),
    };
  }
  const comment = sim.pulls.addComment(repo, pull, request.user.login, body);
  const url = `${sim.urls.api}/repos/${repo.fullName}/issues/comments/${comment.id}`;
  return {
    status: 201,
    body: issueCommentJson(repo, pull, comment, sim.urls, sim.state),
    headers: { location: url },
  };
}

export const issueCommentRoutes: readonly RestRoute[] = [
  {
    method: "GET",
    pattern: "/repos/:owner/:repo/issues/:issue_number/comments",
    scope: "repo",
    needs: [
      ["issues", "read"],
      ["pull_requests", "read"],
    ],
    docs: DOCS.list,
    handle: listComments,
  },
  {
    method: "POST",
    pattern: "/repos/:owner/:repo/issues/:issue_number/comments",
    scope: "repo",
    needs: [
      ["issues", "write"],
      ["pull_requests", "write"],
    ],
    docs: DOCS.create,
    handle: createComment,
  },
];
