import { connection, type ConnectionSource } from "./graphql-connection.js";
import {
  actor,
  commitSource,
  intArg,
  memo,
  pullSource,
  pullUrl,
  repoSource,
  resourcePath,
  stringArg,
  stringListArg,
  type GqlContext,
  type IssueCommentSource,
  type PullSource,
  type ReviewCommentSource,
  type ReviewSource,
  type Resolvers,
  type ThreadSource,
} from "./graphql-context.js";
import { authorAssociation } from "./pull-request-json.js";
import type { PullRecord, SimRepo, SimReview, SimReviewThread } from "./sim-state.js";

/** Reviews, review threads with their line comments, and conversation comments. */

/**
 * `reviews` (all, oldest first), `latestReviews` (each reviewer's latest) and
 * `latestOpinionatedReviews` (each reviewer's latest approval or change request).
 */
export function reviewsOf(
  { repo, pull }: PullSource,
  args: Record<string, unknown>,
  which: "all" | "latest" | "opinionated",
): ConnectionSource<ReviewSource> {
  let reviews: SimReview[] = pull.reviews;
  if (which !== "all") {
    const latest = new Map<string, SimReview>();
    for (const review of reviews) {
      if (which === "opinionated" && review.state === "COMMENTED") continue;
      const key = review.user.toLowerCase();
      latest.delete(key);
      latest.set(key, review);
    }
    reviews = [...latest.values()];
  }
  const states = stringListArg(args, "states");
  const author = stringArg(args, "author");
  const picked = reviews.filter(
    (review) =>
      (states === null || states.includes(review.state)) &&
      (author === null || review.user.toLowerCase() === author.toLowerCase()),
  );
  return connection(
    picked.map((review): ReviewSource => ({ __typename: "PullRequestReview", repo, pull, review })),
    args,
  );
}

export function threadsOf(
  { repo, pull }: PullSource,
  args: Record<string, unknown>,
): ConnectionSource<ThreadSource> {
  return connection(
    pull.reviewThreads.map((thread): ThreadSource => ({
      __typename: "PullRequestReviewThread",
      repo,
      pull,
      thread,
    })),
    args,
  );
}

export function issueCommentsOf(
  { repo, pull }: PullSource,
  args: Record<string, unknown>,
): ConnectionSource<IssueCommentSource> {
  const order = args.orderBy as { direction?: string } | null | undefined;
  const comments = [...pull.comments].sort((a, b) =>
    a.updatedAt < b.updatedAt ? -1 : a.updatedAt > b.updatedAt ? 1 : 0,
  );
  if (order?.direction === "DESC") comments.reverse();
  return connection(
    comments.map((comment): IssueCommentSource => ({ __typename: "IssueComment", repo, pull, comment })),
    args,
  );
}

/**
 * A thread is outdated once the head moved and its file changed since the commented commit
 * (GitHub compares the diff hunk; the whole file is a coarser but faithful-in-spirit stand-in).
 */
function isOutdated(
  context: GqlContext,
  repo: SimRepo,
  pull: PullRecord,
  thread: SimReviewThread,
): Promise<boolean> {
  const original = thread.comments[0]?.commitId ?? pull.headSha;
  if (original === pull.headSha) return Promise.resolve(false);
  return memo(context, `outdated:${thread.id}:${pull.headSha}`, async () => {
    const [before, after] = await Promise.all([
      repo.git.readBlob(original, thread.path),
      repo.git.readBlob(pull.headSha, thread.path),
    ]);
    return before === null || after === null ? before !== after : !before.equals(after);
  });
}

export const reviewResolvers: Resolvers<ReviewSource> = {
  id: ({ review }) => review.nodeId,
  databaseId: ({ review }) => review.id,
  fullDatabaseId: ({ review }) => String(review.id),
  state: ({ review }) => review.state,
  author: ({ review }, _args, context) => actor(context, review.user),
  authorAssociation: ({ repo, review }) => authorAssociation(repo, review.user),
  body: ({ review }) => review.body,
  bodyText: ({ review }) => review.body,
  submittedAt: ({ review }) => review.submittedAt,
  createdAt: ({ review }) => review.submittedAt,
  updatedAt: ({ review }) => review.submittedAt,
  publishedAt: ({ review }) => review.submittedAt,
  url: ({ repo, pull, review }, _args, context) =>
    `${pullUrl(context, repo, pull)}#pullrequestreview-${review.id}`,
  resourcePath: ({ repo, pull, review }, _args, context) =>
    resourcePath(`${pullUrl(context, repo, pull)}#pullrequestreview-${review.id}`),
  commit: ({ repo, review }) => commitSource(repo, review.commitId),
  pullRequest: ({ repo, pull }) => pullSource(repo, pull),
  repository: ({ repo }) => repoSource(repo),
  comments: ({ repo, pull, review }, args) =>
    connection(
      pull.reviewThreads.flatMap((thread) =>
        thread.comments
          .filter((comment) => comment.reviewId === review.id)
          .map((comment): ReviewCommentSource => ({
            __typename: "PullRequestReviewComment",
            repo,
            pull,
            thread,
            comment,
          })),
      ),
      args,
    ),
};

export const threadResolvers: Resolvers<ThreadSource> = {
  id: ({ thread }) => thread.nodeId,
  isResolved: ({ thread }) => thread.isResolved,
  // GitHub folds resolved threads away.
  isCollapsed: ({ thread }) => thread.isResolved,
  isOutdated: ({ repo, pull, thread }, _args, context) => isOutdated(context, repo, pull, thread),
  path: ({ thread }) => thread.path,
  line: async ({ repo, pull, thread }, _args, context) =>
    (await isOutdated(context, repo, pull, thread)) ? null : thread.line,
  originalLine: ({ thread }) => thread.line,
  startLine: () => null,
  originalStartLine: () => null,
  diffSide: () => "RIGHT",
  startDiffSide: () => null,
  subjectType: () => "LINE",
  resolvedBy: ({ thread }, _args, context) =>
    thread.resolvedBy === null || thread.resolvedBy === undefined ? null : actor(context, thread.resolvedBy),
  pullRequest: ({ repo, pull }) => pullSource(repo, pull),
  repository: ({ repo }) => repoSource(repo),
  comments: ({ repo, pull, thread }, args) => {
    const skip = Math.max(0, intArg(args, "skip") ?? 0);
    return connection(
      thread.comments.slice(skip).map((comment): ReviewCommentSource => ({
        __typename: "PullRequestReviewComment",
        repo,
        pull,
        thread,
        comment,
      })),
      args,
    );
  },
};

function commentUrl(context: GqlContext, { repo, pull, comment }: ReviewCommentSource): string {
  return `${pullUrl(context, repo, pull)}#discussion_r${comment.id}`;
}

export const reviewCommentResolvers: Resolvers<ReviewCommentSource> = {
  id: ({ comment }) => comment.nodeId,
  databaseId: ({ comment }) => comment.id,
  fullDatabaseId: ({ comment }) => String(comment.id),
  author: ({ comment }, _args, context) => actor(context, comment.user),
  authorAssociation: ({ repo, comment }) => authorAssociation(repo, comment.user),
  body: ({ comment }) => comment.body,
  bodyText: ({ comment }) => comment.body,
  path: ({ comment }) => comment.path,
  line: async ({ repo, pull, thread, comment }, _args, context) =>
    (await isOutdated(context, repo, pull, thread)) ? null : comment.line,
  originalLine: ({ comment }) => comment.line,
  startLine: () => null,
  originalStartLine: () => null,
  outdated: ({ repo, pull, thread }, _args, context) => isOutdated(context, repo, pull, thread),
  createdAt: ({ comment }) => comment.createdAt,
  updatedAt: ({ comment }) => comment.createdAt,
  publishedAt: ({ comment }) => comment.createdAt,
  url: (source, _args, context) => commentUrl(context, source),
  resourcePath: (source, _args, context) => resourcePath(commentUrl(context, source)),
  commit: async ({ repo, pull, thread, comment }, _args, context) =>
    commitSource(repo, (await isOutdated(context, repo, pull, thread)) ? comment.commitId : pull.headSha),
  originalCommit: ({ repo, comment }) => commitSource(repo, comment.commitId),
  pullRequest: ({ repo, pull }) => pullSource(repo, pull),
  pullRequestReview: ({ repo, pull, comment }) => {
    const review = pull.reviews.find((candidate) => candidate.id === comment.reviewId);
    return review ? { __typename: "PullRequestReview", repo, pull, review } : null;
  },
  replyTo: ({ repo, pull, thread, comment }) => {
    const first = thread.comments[0];
    return first && first !== comment
      ? { __typename: "PullRequestReviewComment", repo, pull, thread, comment: first }
      : null;
  },
  repository: ({ repo }) => repoSource(repo),
};

function issueCommentUrl(context: GqlContext, { repo, pull, comment }: IssueCommentSource): string {
  return `${pullUrl(context, repo, pull)}#issuecomment-${comment.id}`;
}

export const issueCommentResolvers: Resolvers<IssueCommentSource> = {
  id: ({ comment }) => comment.nodeId,
  databaseId: ({ comment }) => comment.id,
  fullDatabaseId: ({ comment }) => String(comment.id),
  author: ({ comment }, _args, context) => actor(context, comment.user),
  authorAssociation: ({ repo, comment }) => authorAssociation(repo, comment.user),
  body: ({ comment }) => comment.body,
  bodyText: ({ comment }) => comment.body,
  createdAt: ({ comment }) => comment.createdAt,
  updatedAt: ({ comment }) => comment.updatedAt,
  publishedAt: ({ comment }) => comment.createdAt,
  url: (source, _args, context) => issueCommentUrl(context, source),
  resourcePath: (source, _args, context) => resourcePath(issueCommentUrl(context, source)),
  pullRequest: ({ repo, pull }) => pullSource(repo, pull),
  repository: ({ repo }) => repoSource(repo),
};
