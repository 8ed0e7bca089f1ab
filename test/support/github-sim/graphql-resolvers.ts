import type { GraphQLFieldResolver, GraphQLTypeResolver } from "graphql";
import {
  checkRunResolvers,
  commitResolvers,
  rollupResolvers,
  statusContextResolvers,
  statusResolvers,
} from "./graphql-check-resolvers.js";
import type { ConnectionSource, PageInfoSource } from "./graphql-connection.js";
import type { GqlContext, Resolvers } from "./graphql-context.js";
import { notImplemented } from "./graphql-errors.js";
import { pullCommitResolvers, pullRequestResolvers } from "./graphql-pull-resolvers.js";
import {
  actorResolvers,
  queryResolvers,
  rateLimitResolvers,
  refResolvers,
  repositoryResolvers,
} from "./graphql-query-resolvers.js";
import {
  issueCommentResolvers,
  reviewCommentResolvers,
  reviewResolvers,
  threadResolvers,
} from "./graphql-review-resolvers.js";

/**
 * Which resolver answers `Type.field`. Every field the simulator serves is listed here (or is a
 * connection's `nodes`/`edges`/`pageInfo`/`totalCount`); any other field of GitHub's schema is
 * an error naming it, never a silent null.
 */

const RESOLVERS: Readonly<Record<string, Resolvers<never>>> = {
  Query: queryResolvers,
  RateLimit: rateLimitResolvers,
  Repository: repositoryResolvers,
  Ref: refResolvers,
  User: actorResolvers,
  Bot: actorResolvers,
  Organization: actorResolvers,
  PullRequest: pullRequestResolvers,
  PullRequestCommit: pullCommitResolvers,
  Commit: commitResolvers,
  StatusCheckRollup: rollupResolvers,
  Status: statusResolvers,
  CheckRun: checkRunResolvers,
  StatusContext: statusContextResolvers,
  PullRequestReview: reviewResolvers,
  PullRequestReviewThread: threadResolvers,
  PullRequestReviewComment: reviewCommentResolvers,
  IssueComment: issueCommentResolvers,
};

const connectionResolvers: Resolvers<ConnectionSource<unknown>> = {
  nodes: (source) => source.nodes,
  edges: (source) => source.edges,
  pageInfo: (source) => source.pageInfo,
  totalCount: (source) => source.totalCount,
};

const edgeResolvers: Resolvers<{ node: unknown; cursor: string }> = {
  node: (source) => source.node,
  cursor: (source) => source.cursor,
};

const pageInfoResolvers: Resolvers<PageInfoSource> = {
  hasNextPage: (source) => source.hasNextPage,
  hasPreviousPage: (source) => source.hasPreviousPage,
  startCursor: (source) => source.startCursor,
  endCursor: (source) => source.endCursor,
};

export const fieldResolver: GraphQLFieldResolver<unknown, GqlContext, Record<string, unknown>> = (
  source,
  args,
  context,
  info,
) => {
  const typeName = info.parentType.name;
  const field = info.fieldName;
  // Each table is typed by its own source; the schema guarantees `source` is of that type.
  let resolver: Resolvers<never>[string] | undefined = RESOLVERS[typeName]?.[field];
  if (!resolver && typeName.endsWith("Connection")) {
    const extra = (source as ConnectionSource<unknown>).extra;
    resolver = Object.hasOwn(extra, field) ? () => extra[field] : connectionResolvers[field];
  }
  if (!resolver && typeName.endsWith("Edge")) resolver = edgeResolvers[field];
  if (!resolver && typeName === "PageInfo") resolver = pageInfoResolvers[field];
  if (!resolver) throw notImplemented(typeName, field);
  return resolver(source as never, args, context);
};

/** Every source object carries its GraphQL type name (see `graphql-context.ts`). */
export const typeResolver: GraphQLTypeResolver<unknown, GqlContext> = (value) =>
  (value as { __typename?: string }).__typename;
