import { authorAssociation } from "./pull-request-json.js";
import type { SimUrls } from "./sim-urls.js";
import type { PullRecord, SimIssueComment, SimRepo, SimState } from "./sim-state.js";
import { simpleUserJson } from "./user-json.js";

/** GitHub's `issue-comment` (a PR conversation comment). */
export function issueCommentJson(
  repo: SimRepo,
  pull: PullRecord,
  comment: SimIssueComment,
  urls: SimUrls,
  state: SimState,
): Record<string, unknown> {
  const api = `${urls.api}/repos/${repo.fullName}`;
  const url = `${api}/issues/comments/${comment.id}`;
  return {
    id: comment.id,
    node_id: comment.nodeId,
    url,
    html_url: `${urls.web}/${repo.fullName}/pull/${pull.number}#issuecomment-${comment.id}`,
    body: comment.body,
    user: simpleUserJson(state.user(comment.user), urls),
    created_at: comment.createdAt,
    updated_at: comment.updatedAt,
    issue_url: `${api}/issues/${pull.number}`,
    author_association: authorAssociation(repo, comment.user),
    performed_via_github_app: null,
    reactions: {
      url: `${url}/reactions`,
      total_count: 0,
      "+1": 0,
      "-1": 0,
      laugh: 0,
      hooray: 0,
      confused: 0,
      heart: 0,
      rocket: 0,
      eyes: 0,
    },
  };
}
