import { forbidden, notFound } from "./graphql-errors.js";
import type { RateSnapshot } from "./rate-limits.js";
import type { SimContext } from "./rest-context.js";
import type {
  PullRecord,
  SimCheckRun,
  SimCommitStatus,
  SimIssueComment,
  SimRepo,
  SimReview,
  SimReviewComment,
  SimReviewThread,
  SimToken,
  SimUser,
} from "./sim-state.js";
import { canAccessRepo, hasPermission } from "./tokens.js";

/**
 * What GraphQL resolvers receive: the objects they resolve fields of (each tagged with its
 * GraphQL type name, which also resolves interfaces and unions), and the per-query context.
 */

export interface RepoSource {
  __typename: "Repository";
  repo: SimRepo;
}

export interface PullSource {
  __typename: "PullRequest";
  repo: SimRepo;
  pull: PullRecord;
}

export interface PullCommitSource {
  __typename: "PullRequestCommit";
  repo: SimRepo;
  pull: PullRecord;
  sha: string;
}

export interface CommitSource {
  __typename: "Commit";
  repo: SimRepo;
  sha: string;
}

export interface RefSource {
  __typename: "Ref";
  repo: SimRepo;
  name: string;
  sha: string;
}

export interface CheckRunSource {
  __typename: "CheckRun";
  repo: SimRepo;
  run: SimCheckRun;
}

export interface StatusContextSource {
  __typename: "StatusContext";
  repo: SimRepo;
  status: SimCommitStatus;
}

export interface RollupSource {
  __typename: "StatusCheckRollup";
  repo: SimRepo;
  sha: string;
  contexts: (CheckRunSource | StatusContextSource)[];
}

export interface StatusSource {
  __typename: "Status";
  repo: SimRepo;
  sha: string;
  contexts: StatusContextSource[];
}

export interface ReviewSource {
  __typename: "PullRequestReview";
  repo: SimRepo;
  pull: PullRecord;
  review: SimReview;
}

export interface ThreadSource {
  __typename: "PullRequestReviewThread";
  repo: SimRepo;
  pull: PullRecord;
  thread: SimReviewThread;
}

export interface ReviewCommentSource {
  __typename: "PullRequestReviewComment";
  repo: SimRepo;
  pull: PullRecord;
  thread: SimReviewThread;
  comment: SimReviewComment;
}

export interface IssueCommentSource {
  __typename: "IssueComment";
  repo: SimRepo;
  pull: PullRecord;
  comment: SimIssueComment;
}

export interface ActorSource {
  __typename: "User" | "Bot" | "Organization";
  user: SimUser;
}

export interface RateLimitSource {
  __typename: "RateLimit";
}

export type NodeSource =
  | RepoSource
  | PullSource
  | ReviewSource
  | ThreadSource
  | ReviewCommentSource
  | IssueCommentSource
  | CheckRunSource
  | StatusContextSource
  | ActorSource;

export interface GqlContext {
  sim: SimContext;
  token: SimToken;
  viewer: SimUser;
  /** The token's GraphQL budget after this query was charged. */
  rate: RateSnapshot;
  cost: number;
  nodeCount: number;
  /** Per-query memo, so every field of one query sees the same git-derived facts. */
  memo: Map<string, Promise<unknown>>;
}

export type FieldResolver<S> = (source: S, args: Record<string, unknown>, context: GqlContext) => unknown;
export type Resolvers<S> = Readonly<Record<string, FieldResolver<S>>>;

export function memo<T>(context: GqlContext, key: string, work: () => Promise<T>): Promise<T> {
  let found = context.memo.get(key) as Promise<T> | undefined;
  if (!found) {
    found = work();
    context.memo.set(key, found);
  }
  return found;
}

export function stringArg(args: Record<string, unknown>, name: string): string | null {
  const value = args[name];
  return typeof value === "string" ? value : null;
}

export function intArg(args: Record<string, unknown>, name: string): number | null {
  const value = args[name];
  return typeof value === "number" ? value : null;
}

export function stringListArg(args: Record<string, unknown>, name: string): string[] | null {
  const value = args[name];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : null;
}

export function canSeeRepo(context: GqlContext, repo: SimRepo): boolean {
  return canAccessRepo(context.token, repo) && hasPermission(context.token, "metadata", "read");
}

/** The repository, as GitHub resolves `repository(owner, name)`: invisible ones do not exist. */
export function visibleRepo(context: GqlContext, owner: string, name: string): SimRepo {
  const repo = context.sim.state.findRepo(owner, name);
  if (!repo || !canSeeRepo(context, repo)) {
    throw notFound(`Could not resolve to a Repository with the name '${owner}/${name}'.`);
  }
  return repo;
}

/** Pull requests need the pull_requests permission, like their REST endpoints. */
export function requirePullAccess(context: GqlContext): void {
  if (!hasPermission(context.token, "pull_requests", "read")) throw forbidden();
}

function typenameOf(user: SimUser): ActorSource["__typename"] {
  if (user.type === "Organization") return "Organization";
  return user.type === "Bot" || user.login.endsWith("[bot]") ? "Bot" : "User";
}

export function actor(context: GqlContext, login: string): ActorSource {
  const user = context.sim.state.user(login);
  return { __typename: typenameOf(user), user };
}

export function repoSource(repo: SimRepo): RepoSource {
  return { __typename: "Repository", repo };
}

export function pullSource(repo: SimRepo, pull: PullRecord): PullSource {
  return { __typename: "PullRequest", repo, pull };
}

export function commitSource(repo: SimRepo, sha: string): CommitSource {
  return { __typename: "Commit", repo, sha };
}

export function pullUrl(context: GqlContext, repo: SimRepo, pull: PullRecord): string {
  return `${context.sim.urls.web}/${repo.fullName}/pull/${pull.number}`;
}

/** GitHub's `resourcePath`: the URL without its origin. */
export function resourcePath(url: string): string {
  return new URL(url).pathname + new URL(url).hash;
}
