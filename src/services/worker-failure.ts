import type { WorkerErrorCode } from "../domain/proposal.js";
import { GitError } from "../git/git-runner.js";
import { GitHubError, RateLimited } from "../github/github-errors.js";

/**
 * Why a PR opening failed, with the code that prefixes `pr_open_error` (SPEC C3 step 15).
 * Transient failures are retried by the queue; permanent ones wait for a person.
 */
export class WorkerFailure extends Error {
  override name = "WorkerFailure";
  constructor(
    readonly code: WorkerErrorCode,
    message: string,
    readonly transient: boolean = false,
    /** For rate limits: when trying again can work. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

const AUTH_OUTPUT =
  /authentication failed|invalid username or password|could not read username|terminal prompts disabled|returned error: 40[13]|http(?:\/[\d.]+)? 40[13]|bad credentials/i;
const REJECTED_OUTPUT = /pre-receive hook declined|\[remote rejected\]|\[rejected\]|protected branch|denied/i;

/** A failed git command as a worker failure; `stage` names what we were doing. */
export function gitFailure(error: GitError, stage: "clone" | "fetch" | "push"): WorkerFailure {
  const output = error.output || error.message;
  if (AUTH_OUTPUT.test(output)) {
    return new WorkerFailure(
      "GITHUB_AUTH_FAILED",
      `git ${error.command} was refused: the token is not accepted (${output})`,
    );
  }
  if (stage === "push") {
    // Someone pushed to the branch between our fetch and our push: the next attempt starts from theirs.
    if (/non-fast-forward|fetch first/i.test(output)) {
      return new WorkerFailure("PUSH_FAILED", `the branch moved while we pushed: ${output}`, true);
    }
    if (REJECTED_OUTPUT.test(output))
      return new WorkerFailure("PUSH_FAILED", `the push was rejected: ${output}`);
    return new WorkerFailure("PUSH_FAILED", error.message, true);
  }
  if (stage === "fetch" && /couldn't find remote ref/i.test(output)) {
    return new WorkerFailure("CLONE_FAILED", `the base branch does not exist on the remote: ${output}`);
  }
  return new WorkerFailure("CLONE_FAILED", error.message, true);
}

/** A failed GitHub API call as a worker failure. */
export function githubFailure(error: GitHubError, what: string): WorkerFailure {
  if (error instanceof RateLimited) {
    return new WorkerFailure(
      "GITHUB_API_FAILED",
      `${what}: rate limited (${error.message})`,
      true,
      error.retryAfterSeconds * 1000,
    );
  }
  switch (error.kind) {
    case "auth_failed":
      return new WorkerFailure("GITHUB_AUTH_FAILED", `${what}: GitHub rejected the token (401)`);
    case "forbidden":
      return new WorkerFailure(
        "GITHUB_AUTH_FAILED",
        `${what}: the token may not do this (403; it needs Pull requests: write): ${error.message}`,
      );
    case "unavailable":
      return new WorkerFailure("GITHUB_API_FAILED", `${what}: ${error.message}`, true);
    default:
      return new WorkerFailure("GITHUB_API_FAILED", `${what}: ${error.message}`);
  }
}

export function toWorkerFailure(error: unknown): WorkerFailure {
  if (error instanceof WorkerFailure) return error;
  if (error instanceof GitHubError) return githubFailure(error, "GitHub");
  if (error instanceof GitError) return gitFailure(error, "clone");
  return new WorkerFailure("GITHUB_API_FAILED", error instanceof Error ? error.message : String(error), true);
}
