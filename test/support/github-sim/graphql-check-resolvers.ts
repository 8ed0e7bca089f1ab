import type { CommitInfo } from "./bare-repo.js";
import { checkRunsFor, latestStatusPerContext } from "./commit-checks.js";
import { connection } from "./graphql-connection.js";
import {
  actor,
  commitSource,
  memo,
  repoSource,
  resourcePath,
  type CheckRunSource,
  type CommitSource,
  type GqlContext,
  type Resolvers,
  type RollupSource,
  type StatusContextSource,
  type StatusSource,
} from "./graphql-context.js";
import { notFound } from "./graphql-errors.js";
import { githubTime } from "./ids.js";
import type { SimCheckRun, SimRepo } from "./sim-state.js";

/** Commits and their CI: the status check rollup, check runs and commit statuses. */

type RollupState = "SUCCESS" | "PENDING" | "FAILURE" | "ERROR";

const FAILING = new Set(["failure", "timed_out", "cancelled", "action_required", "startup_failure", "stale"]);

function runState(run: SimCheckRun): RollupState {
  if (run.status !== "completed") return "PENDING";
  return run.conclusion !== null && FAILING.has(run.conclusion) ? "FAILURE" : "SUCCESS";
}

/** GitHub's rollup: any failure → FAILURE, else any error → ERROR, else any pending → PENDING. */
function rollupState(states: readonly RollupState[]): RollupState {
  for (const state of ["FAILURE", "ERROR", "PENDING"] as const) if (states.includes(state)) return state;
  return "SUCCESS";
}

/** The latest check run per name (as GitHub shows a re-run), in the order they first appeared. */
function latestRuns(repo: SimRepo, sha: string): SimCheckRun[] {
  const latest = new Map<string, SimCheckRun>();
  for (const run of checkRunsFor(repo, sha)) latest.set(run.name, run);
  return [...latest.values()];
}

function statusContexts(repo: SimRepo, sha: string): StatusContextSource[] {
  return latestStatusPerContext(repo, sha)
    .reverse()
    .map((status) => ({ __typename: "StatusContext", repo, status }));
}

/** The commit's rollup, or null when it has no check run and no status (as on GitHub). */
export function rollupOf(repo: SimRepo, sha: string): RollupSource | null {
  const runs: CheckRunSource[] = latestRuns(repo, sha).map((run) => ({ __typename: "CheckRun", repo, run }));
  const contexts = [...runs, ...statusContexts(repo, sha)];
  if (contexts.length === 0) return null;
  return { __typename: "StatusCheckRollup", repo, sha, contexts };
}

function contextState(source: CheckRunSource | StatusContextSource): RollupState {
  return source.__typename === "CheckRun"
    ? runState(source.run)
    : (source.status.state.toUpperCase() as RollupState);
}

async function commitInfo(context: GqlContext, repo: SimRepo, sha: string): Promise<CommitInfo> {
  const info = await memo(context, `commit:${repo.id}:${sha}`, () => repo.git.commitInfo(sha));
  if (!info) throw notFound(`Could not resolve to a Commit with the oid of ${sha}.`);
  return info;
}

function commitUrl(context: GqlContext, source: CommitSource): string {
  return `${context.sim.urls.web}/${source.repo.fullName}/commit/${source.sha}`;
}

export const commitResolvers: Resolvers<CommitSource> = {
  oid: ({ sha }) => sha,
  abbreviatedOid: ({ sha }) => sha.slice(0, 7),
  url: (source, _args, context) => commitUrl(context, source),
  commitUrl: (source, _args, context) => commitUrl(context, source),
  resourcePath: (source, _args, context) => resourcePath(commitUrl(context, source)),
  message: async ({ repo, sha }, _args, context) => (await commitInfo(context, repo, sha)).message,
  messageHeadline: async ({ repo, sha }, _args, context) =>
    (await commitInfo(context, repo, sha)).message.split("\n")[0] ?? "",
  messageBody: async ({ repo, sha }, _args, context) => {
    const message = (await commitInfo(context, repo, sha)).message;
    const split = message.indexOf("\n");
    return split === -1 ? "" : message.slice(split + 1).trim();
  },
  authoredDate: async ({ repo, sha }, _args, context) =>
    githubTime(Date.parse((await commitInfo(context, repo, sha)).author.date)),
  committedDate: async ({ repo, sha }, _args, context) =>
    githubTime(Date.parse((await commitInfo(context, repo, sha)).committer.date)),
  statusCheckRollup: ({ repo, sha }) => rollupOf(repo, sha),
  status: ({ repo, sha }): StatusSource | null => {
    const contexts = statusContexts(repo, sha);
    return contexts.length === 0 ? null : { __typename: "Status", repo, sha, contexts };
  },
  repository: ({ repo }) => repoSource(repo),
};

export const rollupResolvers: Resolvers<RollupSource> = {
  state: ({ contexts }) => rollupState(contexts.map(contextState)),
  commit: ({ repo, sha }) => commitSource(repo, sha),
  contexts: ({ contexts }, args) =>
    connection(contexts, args, {
      checkRunCount: contexts.filter((item) => item.__typename === "CheckRun").length,
      statusContextCount: contexts.filter((item) => item.__typename === "StatusContext").length,
    }),
};

export const statusResolvers: Resolvers<StatusSource> = {
  state: ({ contexts }) => rollupState(contexts.map(contextState)),
  contexts: ({ contexts }) => contexts,
  context: ({ contexts }, args) => contexts.find((item) => item.status.context === args.name) ?? null,
  commit: ({ repo, sha }) => commitSource(repo, sha),
};

function runUrl(context: GqlContext, { repo, run }: CheckRunSource): string {
  return `${context.sim.urls.web}/${repo.fullName}/runs/${run.id}`;
}

export const checkRunResolvers: Resolvers<CheckRunSource> = {
  id: ({ run }) => run.nodeId,
  databaseId: ({ run }) => run.id,
  name: ({ run }) => run.name,
  status: ({ run }) => run.status.toUpperCase(),
  conclusion: ({ run }) => run.conclusion?.toUpperCase() ?? null,
  detailsUrl: ({ run }) => run.detailsUrl,
  externalId: ({ run }) => String(run.jobId),
  startedAt: ({ run }) => run.startedAt,
  completedAt: ({ run }) => run.completedAt,
  url: (source, _args, context) => runUrl(context, source),
  permalink: (source, _args, context) => runUrl(context, source),
  resourcePath: (source, _args, context) => resourcePath(runUrl(context, source)),
  // The REST check run's `output` is empty too.
  title: () => null,
  summary: () => null,
  text: () => null,
  // No branch protection in the simulator: nothing is required.
  isRequired: () => false,
  repository: ({ repo }) => repoSource(repo),
};

export const statusContextResolvers: Resolvers<StatusContextSource> = {
  id: ({ status }) => status.nodeId,
  context: ({ status }) => status.context,
  state: ({ status }) => status.state.toUpperCase(),
  targetUrl: ({ status }) => status.targetUrl,
  description: ({ status }) => status.description,
  createdAt: ({ status }) => status.createdAt,
  creator: ({ status }, _args, context) => actor(context, status.creator),
  avatarUrl: ({ status }, _args, context) =>
    `${context.sim.urls.web}/avatars/u/${context.sim.state.user(status.creator).id}`,
  commit: ({ repo, status }) => commitSource(repo, status.sha),
  isRequired: () => false,
};
