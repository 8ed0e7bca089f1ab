import { rollupOf } from "./graphql-check-resolvers.js";
import { connection } from "./graphql-connection.js";
import {
  actor,
  commitSource,
  memo,
  pullSource,
  pullUrl,
  repoSource,
  resourcePath,
  type GqlContext,
  type PullCommitSource,
  type PullSource,
  type RefSource,
  type Resolvers,
} from "./graphql-context.js";
import { issueCommentsOf, reviewsOf, threadsOf } from "./graphql-review-resolvers.js";
import { currentBaseSha, pullFacts, type PullFacts } from "./pull-facts.js";
import { authorAssociation } from "./pull-request-json.js";
import type { PullRecord, SimRepo } from "./sim-state.js";

/**
 * `PullRequest` and its commits. Mergeability follows the REST rule exactly: the first reader of
 * a new (head, base) pair gets UNKNOWN, later ones the answer; `mergeable` and `mergeStateStatus`
 * of one pull request in one query share one reading.
 */

const MERGE_STATE: Record<PullFacts["mergeableState"], string> = {
  unknown: "UNKNOWN",
  dirty: "DIRTY",
  draft: "DRAFT",
  unstable: "UNSTABLE",
  clean: "CLEAN",
};

function revealedFacts(context: GqlContext, { repo, pull }: PullSource): Promise<PullFacts> {
  return memo(context, `facts:${pull.id}`, () => pullFacts(repo, pull, { reveal: true }));
}

/** Diff figures only: they do not consume the "unknown" reading. */
function figures(context: GqlContext, { repo, pull }: PullSource): Promise<PullFacts> {
  return memo(context, `figures:${pull.id}`, () => pullFacts(repo, pull, { reveal: false }));
}

/** The PR's commits, oldest first; a PR always shows at least its head commit. */
async function commitList(context: GqlContext, repo: SimRepo, pull: PullRecord): Promise<string[]> {
  const base = currentBaseSha(repo, pull);
  const head = pull.headSha;
  const list = await memo(context, `commits:${repo.id}:${base}:${head}`, () =>
    repo.git.commitsBetween(base, head),
  );
  return list.length > 0 ? list : [head];
}

/**
 * GitHub's review decision for a repository that requires an approving review: any reviewer whose
 * latest approving-or-requesting review requests changes → CHANGES_REQUESTED, else an approval →
 * APPROVED, else REVIEW_REQUIRED. A repository created with `reviewsRequired: false` has none (null).
 */
export function reviewDecision(repo: SimRepo, pull: PullRecord): string | null {
  if (repo.reviewsRequired === false) return null;
  const latest = new Map<string, string>();
  for (const review of pull.reviews) {
    if (review.state !== "COMMENTED") latest.set(review.user.toLowerCase(), review.state);
  }
  const states = [...latest.values()];
  if (states.includes("CHANGES_REQUESTED")) return "CHANGES_REQUESTED";
  return states.includes("APPROVED") ? "APPROVED" : "REVIEW_REQUIRED";
}

function branchRef(repo: SimRepo, pull: PullRecord, name: string): RefSource | null {
  const sha = repo.heads.get(name);
  return sha === undefined ? null : { __typename: "Ref", repo, name, sha };
}

export const pullRequestResolvers: Resolvers<PullSource> = {
  id: ({ pull }) => pull.nodeId,
  databaseId: ({ pull }) => pull.id,
  fullDatabaseId: ({ pull }) => String(pull.id),
  number: ({ pull }) => pull.number,
  title: ({ pull }) => pull.title,
  body: ({ pull }) => pull.body ?? "",
  bodyText: ({ pull }) => pull.body ?? "",
  url: ({ repo, pull }, _args, context) => pullUrl(context, repo, pull),
  permalink: ({ repo, pull }, _args, context) => pullUrl(context, repo, pull),
  resourcePath: ({ repo, pull }, _args, context) => resourcePath(pullUrl(context, repo, pull)),
  checksUrl: ({ repo, pull }, _args, context) => `${pullUrl(context, repo, pull)}/checks`,
  checksResourcePath: ({ repo, pull }, _args, context) =>
    resourcePath(`${pullUrl(context, repo, pull)}/checks`),
  state: ({ pull }) => (pull.merged ? "MERGED" : pull.state.toUpperCase()),
  isDraft: ({ pull }) => pull.draft,
  merged: ({ pull }) => pull.merged,
  mergedAt: ({ pull }) => pull.mergedAt,
  closed: ({ pull }) => pull.state === "closed",
  closedAt: ({ pull }) => pull.closedAt,
  createdAt: ({ pull }) => pull.createdAt,
  updatedAt: ({ pull }) => pull.updatedAt,
  locked: () => false,
  activeLockReason: () => null,
  isCrossRepository: () => false,
  maintainerCanModify: ({ pull }) => pull.maintainerCanModify,
  headRefName: ({ pull }) => pull.headRef,
  headRefOid: ({ pull }) => pull.headSha,
  headRef: ({ repo, pull }) => (pull.state === "open" ? branchRef(repo, pull, pull.headRef) : null),
  baseRefName: ({ pull }) => pull.baseRef,
  baseRefOid: ({ repo, pull }) => currentBaseSha(repo, pull),
  baseRef: ({ repo, pull }) => branchRef(repo, pull, pull.baseRef),
  repository: ({ repo }) => repoSource(repo),
  headRepository: ({ repo }) => repoSource(repo),
  baseRepository: ({ repo }) => repoSource(repo),
  headRepositoryOwner: ({ repo }, _args, context) => actor(context, repo.owner),
  author: ({ pull }, _args, context) => actor(context, pull.user),
  authorAssociation: ({ repo, pull }) => authorAssociation(repo, pull.user),
  mergedBy: ({ pull }, _args, context) => (pull.mergedBy === null ? null : actor(context, pull.mergedBy)),
  mergeCommit: ({ repo, pull }) =>
    pull.mergeCommitSha === null ? null : commitSource(repo, pull.mergeCommitSha),
  mergeable: async (source, _args, context) => {
    const { mergeable } = await revealedFacts(context, source);
    return mergeable === null ? "UNKNOWN" : mergeable ? "MERGEABLE" : "CONFLICTING";
  },
  mergeStateStatus: async (source, _args, context) =>
    MERGE_STATE[(await revealedFacts(context, source)).mergeableState],
  canBeRebased: async (source, _args, context) => (await revealedFacts(context, source)).rebaseable === true,
  reviewDecision: ({ repo, pull }) => reviewDecision(repo, pull),
  additions: async (source, _args, context) => (await figures(context, source)).additions,
  deletions: async (source, _args, context) => (await figures(context, source)).deletions,
  changedFiles: async (source, _args, context) => (await figures(context, source)).changedFiles,
  totalCommentsCount: ({ pull }) =>
    pull.comments.length + pull.reviewThreads.reduce((sum, thread) => sum + thread.comments.length, 0),
  statusCheckRollup: ({ repo, pull }) => rollupOf(repo, pull.headSha),
  commits: async ({ repo, pull }, args, context) => {
    const shas = await commitList(context, repo, pull);
    return connection(
      shas.map((sha): PullCommitSource => ({ __typename: "PullRequestCommit", repo, pull, sha })),
      args,
    );
  },
  reviews: (source, args) => reviewsOf(source, args, "all"),
  latestReviews: (source, args) => reviewsOf(source, args, "latest"),
  latestOpinionatedReviews: (source, args) => reviewsOf(source, args, "opinionated"),
  reviewThreads: (source, args) => threadsOf(source, args),
  comments: (source, args) => issueCommentsOf(source, args),
};

export const pullCommitResolvers: Resolvers<PullCommitSource> = {
  commit: ({ repo, sha }) => commitSource(repo, sha),
  url: ({ repo, pull, sha }, _args, context) => `${pullUrl(context, repo, pull)}/commits/${sha}`,
  resourcePath: ({ repo, pull, sha }, _args, context) =>
    resourcePath(`${pullUrl(context, repo, pull)}/commits/${sha}`),
  pullRequest: ({ repo, pull }) => pullSource(repo, pull),
};
