import type {
  PullRecord,
  SimCheckRun,
  SimCommitStatus,
  SimIssueComment,
  SimRepo,
  SimReview,
} from "./sim-state.js";

/**
 * Every change to the simulated GitHub, announced by `SimState.emit` after the state is updated.
 * Named after the webhook event each one corresponds to, so that webhook delivery is a mapping
 * from these to payloads. `actor` is the login that caused it.
 */
export type SimChange =
  | { kind: "push"; repo: SimRepo; ref: string; before: string | null; after: string | null; actor: string }
  | {
      kind: "pull_request";
      action: "opened" | "edited" | "closed" | "reopened" | "synchronize";
      repo: SimRepo;
      pull: PullRecord;
      actor: string;
    }
  | {
      kind: "issue_comment";
      action: "created";
      repo: SimRepo;
      pull: PullRecord;
      comment: SimIssueComment;
      actor: string;
    }
  | {
      kind: "pull_request_review";
      action: "submitted";
      repo: SimRepo;
      pull: PullRecord;
      review: SimReview;
      actor: string;
    }
  | {
      kind: "check_run";
      action: "created" | "completed" | "updated";
      repo: SimRepo;
      checkRun: SimCheckRun;
      actor: string;
    }
  | { kind: "status"; repo: SimRepo; status: SimCommitStatus; actor: string };
