/**
 * The GraphQL documents the PR observer sends (SPEC C4 step 2), and the shapes GitHub answers
 * them with. One query reads up to 25 pull requests through aliases, grouped by repository:
 *
 *   r0: repository(owner: $o0, name: $n0) { p0: pullRequest(number: 12) { ...PullFacts } … }
 *
 * Owners and names travel as variables, never inside the text; PR numbers are checked integers
 * and inlined. Cost (GitHub's formula: connections to fill, divided by 100, rounded, at least 1):
 * without threads a PR needs 2 requests (`commits`, `contexts`), so 25 PRs cost 1 point; with
 * threads it needs 4 + the thread page size more (each thread's `comments` is one request).
 */

export const MAX_PULLS_PER_QUERY = 25;

/** Checks and statuses read per head commit; more sets `hasNextPage` (the CI list is partial). */
export const CONTEXTS_PAGE_SIZE = 50;
/** Newest review threads read per PR (resolved ones included: GitHub cannot filter them). */
export const DEFAULT_THREADS_PAGE_SIZE = 50;
/** Newest comments read per thread: the request count does not depend on it, only the nodes. */
export const THREAD_COMMENTS_PAGE_SIZE = 5;
/** Each reviewer's latest approving or change-requesting review. */
export const OPINIONATED_REVIEWS_PAGE_SIZE = 20;

const MAX_PAGE_SIZE = 100;

export interface PullQueryTarget {
  owner: string;
  repo: string;
  number: number;
  /** Also read review threads and change requests. */
  threads: boolean;
}

export interface PullQueryOptions {
  /** Review threads per PR, 1–100 (default DEFAULT_THREADS_PAGE_SIZE). */
  threadsPageSize?: number;
}

/** Where the answer for one requested PR is: `data[repo][pull]`. */
export interface PullAlias {
  repo: string;
  pull: string;
}

export interface PullsQuery {
  query: string;
  /** `o<i>`/`n<i>`: owner and name of repository alias `r<i>`. */
  variables: Record<string, string>;
  /** One per requested PR, in request order. */
  aliases: PullAlias[];
}

const PULL_FACTS = `fragment PullFacts on PullRequest {
  id number url title state isDraft merged mergedAt closedAt updatedAt
  headRefName headRefOid headRepository { nameWithOwner } baseRefName
  author { login __typename }
  mergeable mergeStateStatus reviewDecision totalCommentsCount
  commits(last: 1) {
    nodes {
      commit {
        oid
        statusCheckRollup {
          state
          contexts(first: ${CONTEXTS_PAGE_SIZE}) {
            pageInfo { hasNextPage }
            nodes {
              __typename
              ... on CheckRun { databaseId name status conclusion detailsUrl }
              ... on StatusContext { context state targetUrl }
            }
          }
        }
      }
    }
  }
}`;

function pullReview(threadsPageSize: number): string {
  return `fragment PullReview on PullRequest {
  reviewThreads(last: ${threadsPageSize}) {
    totalCount
    nodes {
      id isResolved isOutdated path line
      comments(last: ${THREAD_COMMENTS_PAGE_SIZE}) { nodes { id author { login __typename } body url createdAt } }
    }
  }
  latestOpinionatedReviews(last: ${OPINIONATED_REVIEWS_PAGE_SIZE}) {
    nodes { id state body url submittedAt author { login __typename } }
  }
}`;
}

function checkTargets(pulls: readonly PullQueryTarget[]): void {
  if (pulls.length === 0) throw new RangeError("a pulls query needs at least one pull request");
  if (pulls.length > MAX_PULLS_PER_QUERY) {
    throw new RangeError(
      `a pulls query reads at most ${MAX_PULLS_PER_QUERY} pull requests, not ${pulls.length}`,
    );
  }
  for (const pull of pulls) {
    // Inlined into the text: only a positive safe integer may get there.
    if (!Number.isSafeInteger(pull.number) || pull.number < 1) {
      throw new RangeError(`not a pull request number: ${String(pull.number)}`);
    }
    if (
      typeof pull.owner !== "string" ||
      pull.owner === "" ||
      typeof pull.repo !== "string" ||
      pull.repo === ""
    ) {
      throw new RangeError("a pull request needs an owner and a repository name");
    }
  }
}

/** The query for `pulls` (1–25), grouped by repository (case-insensitively, as GitHub names them). */
export function buildPullsQuery(
  pulls: readonly PullQueryTarget[],
  options: PullQueryOptions = {},
): PullsQuery {
  checkTargets(pulls);
  const threadsPageSize = options.threadsPageSize ?? DEFAULT_THREADS_PAGE_SIZE;
  if (!Number.isSafeInteger(threadsPageSize) || threadsPageSize < 1 || threadsPageSize > MAX_PAGE_SIZE) {
    throw new RangeError(`threadsPageSize must be 1–${MAX_PAGE_SIZE}, not ${String(threadsPageSize)}`);
  }
  const repos = new Map<string, { alias: string; owner: string; repo: string; fields: string[] }>();
  const aliases: PullAlias[] = [];
  pulls.forEach((pull, index) => {
    const key = `${pull.owner}/${pull.repo}`.toLowerCase();
    let group = repos.get(key);
    if (!group) {
      group = { alias: `r${repos.size}`, owner: pull.owner, repo: pull.repo, fields: [] };
      repos.set(key, group);
    }
    const alias = `p${index}`;
    const spreads = pull.threads ? "...PullFacts ...PullReview" : "...PullFacts";
    group.fields.push(`    ${alias}: pullRequest(number: ${pull.number}) { ${spreads} }`);
    aliases.push({ repo: group.alias, pull: alias });
  });

  const variables: Record<string, string> = {};
  const declarations: string[] = [];
  const selections: string[] = [];
  [...repos.values()].forEach((group, index) => {
    variables[`o${index}`] = group.owner;
    variables[`n${index}`] = group.repo;
    declarations.push(`$o${index}: String!`, `$n${index}: String!`);
    selections.push(
      `  ${group.alias}: repository(owner: $o${index}, name: $n${index}) {\n${group.fields.join("\n")}\n  }`,
    );
  });
  // graphql-js (and GitHub) reject a fragment no selection uses.
  const fragments = pulls.some((pull) => pull.threads)
    ? [PULL_FACTS, pullReview(threadsPageSize)]
    : [PULL_FACTS];
  const query = [
    `query ShepherdObservePulls(${declarations.join(", ")}) {`,
    "  rateLimit { cost remaining resetAt }",
    "  viewer { login }",
    ...selections,
    "}",
    ...fragments,
  ].join("\n");
  return { query, variables, aliases };
}

/** The answer's shapes, as the fragments above ask for them. */
export interface ActorJson {
  login: string;
  __typename: string;
}

export interface CheckRunJson {
  __typename: "CheckRun";
  databaseId: number | null;
  name: string;
  status: string;
  conclusion: string | null;
  detailsUrl: string | null;
}

export interface StatusContextJson {
  __typename: "StatusContext";
  context: string;
  state: string;
  targetUrl: string | null;
}

export interface RollupJson {
  state: string;
  contexts: {
    pageInfo: { hasNextPage: boolean };
    nodes: (CheckRunJson | StatusContextJson | null)[] | null;
  };
}

export interface ReviewThreadJson {
  id: string;
  isResolved: boolean;
  isOutdated: boolean;
  path: string | null;
  line: number | null;
  comments: {
    nodes:
      | ({ id: string; author: ActorJson | null; body: string; url: string; createdAt: string } | null)[]
      | null;
  };
}

export interface OpinionatedReviewJson {
  id: string;
  state: string;
  body: string;
  url: string;
  submittedAt: string | null;
  author: ActorJson | null;
}

export interface PullJson {
  id: string;
  number: number;
  url: string;
  title: string;
  state: "OPEN" | "CLOSED" | "MERGED";
  isDraft: boolean;
  merged: boolean;
  mergedAt: string | null;
  closedAt: string | null;
  updatedAt: string;
  headRefName: string;
  headRefOid: string;
  headRepository: { nameWithOwner: string } | null;
  baseRefName: string;
  author: ActorJson | null;
  mergeable: "MERGEABLE" | "CONFLICTING" | "UNKNOWN" | null;
  mergeStateStatus: string | null;
  reviewDecision: string | null;
  totalCommentsCount: number | null;
  commits: { nodes: ({ commit: { oid: string; statusCheckRollup: RollupJson | null } } | null)[] | null };
  /** Only with threads. */
  reviewThreads?: { totalCount: number; nodes: (ReviewThreadJson | null)[] | null };
  latestOpinionatedReviews?: { nodes: (OpinionatedReviewJson | null)[] | null };
}

export interface PullsQueryData {
  rateLimit: { cost: number; remaining: number; resetAt: string } | null;
  viewer: { login: string } | null;
  [repoAlias: string]: unknown;
}
