import type { CommitState, SimCheckRun, SimCommitStatus, SimRepo } from "./sim-state.js";

/** CI facts of one commit, derived from the stored check runs and commit statuses. */

export function checkRunsFor(repo: SimRepo, sha: string): SimCheckRun[] {
  return repo.checkRuns.filter((run) => run.headSha === sha);
}

/** Every status of a commit, newest first (the order of `GET …/statuses`). */
export function statusesFor(repo: SimRepo, sha: string): SimCommitStatus[] {
  return repo.statuses.filter((status) => status.sha === sha).reverse();
}

/** The newest status per context, as the combined status reports them. */
export function latestStatusPerContext(repo: SimRepo, sha: string): SimCommitStatus[] {
  const seen = new Set<string>();
  const latest: SimCommitStatus[] = [];
  for (const status of statusesFor(repo, sha)) {
    if (seen.has(status.context)) continue;
    seen.add(status.context);
    latest.push(status);
  }
  return latest;
}

/** GitHub's rule: any error or failure → failure; none yet, or any pending → pending; else success. */
export function combinedState(latest: readonly SimCommitStatus[]): Exclude<CommitState, "error"> {
  if (latest.some((status) => status.state === "failure" || status.state === "error")) return "failure";
  if (latest.length === 0 || latest.some((status) => status.state === "pending")) return "pending";
  return "success";
}

const FAILING_CONCLUSIONS = new Set(["failure", "timed_out", "cancelled", "action_required"]);

/** True when some check run or status of the commit failed (GitHub's `unstable` merge state). */
export function ciFailing(repo: SimRepo, sha: string): boolean {
  if (
    checkRunsFor(repo, sha).some((run) => run.conclusion !== null && FAILING_CONCLUSIONS.has(run.conclusion))
  ) {
    return true;
  }
  return latestStatusPerContext(repo, sha).some(
    (status) => status.state === "failure" || status.state === "error",
  );
}
