import { connection } from "./graphql-connection.js";
import {
  actor,
  canSeeRepo,
  commitSource,
  intArg,
  pullSource,
  repoSource,
  requirePullAccess,
  resourcePath,
  stringArg,
  stringListArg,
  visibleRepo,
  type ActorSource,
  type GqlContext,
  type NodeSource,
  type RefSource,
  type RepoSource,
  type Resolvers,
} from "./graphql-context.js";
import { notFound } from "./graphql-errors.js";
import { githubTime } from "./ids.js";
import type { PullRecord, SimRepo } from "./sim-state.js";

/** The root fields, repositories, refs, actors and the rate limit. */

/** Every object of the simulator a node id can name, looked up only in repositories the token sees. */
function findNode(context: GqlContext, id: string): NodeSource | null {
  const { state } = context.sim;
  for (const repo of state.repos.values()) {
    if (!canSeeRepo(context, repo)) continue;
    if (repo.nodeId === id) return repoSource(repo);
    for (const pull of repo.pulls.values()) {
      const found = findInPull(repo, pull, id);
      if (found) {
        requirePullAccess(context);
        return found;
      }
    }
    const run = repo.checkRuns.find((candidate) => candidate.nodeId === id);
    if (run) return { __typename: "CheckRun", repo, run };
    const status = repo.statuses.find((candidate) => candidate.nodeId === id);
    if (status) return { __typename: "StatusContext", repo, status };
  }
  for (const user of state.users.values()) if (user.nodeId === id) return actor(context, user.login);
  return null;
}

function findInPull(repo: SimRepo, pull: PullRecord, id: string): NodeSource | null {
  if (pull.nodeId === id) return pullSource(repo, pull);
  const review = pull.reviews.find((candidate) => candidate.nodeId === id);
  if (review) return { __typename: "PullRequestReview", repo, pull, review };
  const comment = pull.comments.find((candidate) => candidate.nodeId === id);
  if (comment) return { __typename: "IssueComment", repo, pull, comment };
  for (const thread of pull.reviewThreads) {
    if (thread.nodeId === id) return { __typename: "PullRequestReviewThread", repo, pull, thread };
    const line = thread.comments.find((candidate) => candidate.nodeId === id);
    if (line) return { __typename: "PullRequestReviewComment", repo, pull, thread, comment: line };
  }
  return null;
}

function nodeById(context: GqlContext, id: string): NodeSource {
  const found = findNode(context, id);
  if (!found) throw notFound(`Could not resolve to a node with the global id of '${id}'`);
  return found;
}

export const queryResolvers: Resolvers<unknown> = {
  viewer: (_root, _args, context) => ({ __typename: "User", user: context.viewer }) satisfies ActorSource,
  rateLimit: () => ({ __typename: "RateLimit" }),
  repository: (_root, args, context) =>
    repoSource(visibleRepo(context, stringArg(args, "owner") ?? "", stringArg(args, "name") ?? "")),
  node: (_root, args, context) => nodeById(context, stringArg(args, "id") ?? ""),
  // One error per unknown id, each at its own index, as GitHub reports them.
  nodes: (_root, args, context) =>
    (stringListArg(args, "ids") ?? []).map((id) => {
      try {
        return nodeById(context, id);
      } catch (error) {
        return error as Error;
      }
    }),
};

export const rateLimitResolvers: Resolvers<unknown> = {
  cost: (_source, _args, context) => context.cost,
  limit: (_source, _args, context) => context.rate.limit,
  remaining: (_source, _args, context) => context.rate.remaining,
  used: (_source, _args, context) => context.rate.used,
  resetAt: (_source, _args, context) => githubTime(context.rate.reset * 1000),
  nodeCount: (_source, _args, context) => context.nodeCount,
};

const ORDER_FIELDS: Record<string, (pull: PullRecord) => string | number> = {
  CREATED_AT: (pull) => pull.createdAt,
  UPDATED_AT: (pull) => pull.updatedAt,
  COMMENTS: (pull) => pull.comments.length,
};

function listPulls(repo: SimRepo, args: Record<string, unknown>): PullRecord[] {
  const states = stringListArg(args, "states");
  const head = stringArg(args, "headRefName");
  const base = stringArg(args, "baseRefName");
  const labels = stringListArg(args, "labels");
  const stateOf = (pull: PullRecord): string => (pull.merged ? "MERGED" : pull.state.toUpperCase());
  // The simulator has no labels: a label filter matches nothing.
  if (labels !== null && labels.length > 0) return [];
  const pulls = [...repo.pulls.values()].filter(
    (pull) =>
      (states === null || states.includes(stateOf(pull))) &&
      (head === null || pull.headRef === head) &&
      (base === null || pull.baseRef === base),
  );
  const order = args.orderBy as { field?: string; direction?: string } | null | undefined;
  const key = ORDER_FIELDS[order?.field ?? "CREATED_AT"] ?? ORDER_FIELDS.CREATED_AT;
  const sign = order?.direction === "DESC" ? -1 : 1;
  return pulls.sort((a, b) => {
    const [x, y] = [key?.(a) ?? 0, key?.(b) ?? 0];
    return sign * (x < y ? -1 : x > y ? 1 : a.number - b.number);
  });
}

export const repositoryResolvers: Resolvers<RepoSource> = {
  id: ({ repo }) => repo.nodeId,
  databaseId: ({ repo }) => repo.id,
  name: ({ repo }) => repo.name,
  nameWithOwner: ({ repo }) => repo.fullName,
  url: ({ repo }, _args, context) => `${context.sim.urls.web}/${repo.fullName}`,
  resourcePath: ({ repo }) => `/${repo.fullName}`,
  isPrivate: ({ repo }) => repo.private,
  visibility: ({ repo }) => (repo.private ? "PRIVATE" : "PUBLIC"),
  isArchived: () => false,
  isFork: () => false,
  isTemplate: () => false,
  isDisabled: () => false,
  isLocked: () => false,
  description: () => null,
  createdAt: ({ repo }) => repo.createdAt,
  updatedAt: ({ repo }) => repo.updatedAt,
  pushedAt: ({ repo }) => repo.pushedAt,
  owner: ({ repo }, _args, context) => actor(context, repo.owner),
  defaultBranchRef: ({ repo }): RefSource | null => {
    const sha = repo.heads.get(repo.defaultBranch);
    return sha === undefined ? null : { __typename: "Ref", repo, name: repo.defaultBranch, sha };
  },
  pullRequest: ({ repo }, args, context) => {
    requirePullAccess(context);
    const number = intArg(args, "number") ?? 0;
    const pull = repo.pulls.get(number);
    if (!pull) throw notFound(`Could not resolve to a PullRequest with the number of ${number}.`);
    return pullSource(repo, pull);
  },
  pullRequests: ({ repo }, args, context) => {
    requirePullAccess(context);
    return connection(
      listPulls(repo, args).map((pull) => pullSource(repo, pull)),
      args,
    );
  },
};

export const refResolvers: Resolvers<RefSource> = {
  name: ({ name }) => name,
  prefix: () => "refs/heads/",
  target: ({ repo, sha }) => commitSource(repo, sha),
  repository: ({ repo }) => repoSource(repo),
};

function actorUrl(context: GqlContext, source: ActorSource): string {
  const login = source.user.login;
  const web = context.sim.urls.web;
  return source.__typename === "Bot" ? `${web}/apps/${login.replace(/\[bot\]$/, "")}` : `${web}/${login}`;
}

/** User, Bot and Organization. GraphQL names a bot without REST's `[bot]` suffix, as GitHub does. */
export const actorResolvers: Resolvers<ActorSource> = {
  id: ({ user }) => user.nodeId,
  databaseId: ({ user }) => user.id,
  login: ({ user, __typename }) => (__typename === "Bot" ? user.login.replace(/\[bot\]$/, "") : user.login),
  name: () => null,
  url: (source, _args, context) => actorUrl(context, source),
  resourcePath: (source, _args, context) => resourcePath(actorUrl(context, source)),
  avatarUrl: ({ user }, args, context) => {
    const size = intArg(args, "size");
    return `${context.sim.urls.web}/avatars/u/${user.id}${size === null ? "" : `?s=${size}`}`;
  },
  createdAt: ({ user }) => githubTime(Date.parse(user.createdAt)),
};
