import type {
  PullRecord,
  SimCheckRun,
  SimCommitStatus,
  SimHook,
  SimIssueComment,
  SimRepo,
  SimReview,
  SimReviewComment,
  SimReviewThread,
} from "./sim-state.js";

/**
 * Every change to the simulated GitHub, announced by `SimState.emit` after the state is updated.
 * Named after the webhook event each one corresponds to, so that webhook delivery is a mapping
 * from these to payloads. `actor` is the login that caused it.
 *
 * Listeners run synchronously inside the change, before anything else moves: whatever they read
 * of the state is the state right after this change.
 */

/** What an `edited` pull request changed, as the webhook's `changes` reports it. */
export interface PullEditChanges {
  title?: { from: string };
  body?: { from: string };
  base?: { ref: { from: string }; sha: { from: string } };
}
export type SimChange =
  | { kind: "push"; repo: SimRepo; ref: string; before: string | null; after: string | null; actor: string }
  | {
      kind: "pull_request";
      action:
        | "opened"
        | "edited"
        | "closed"
        | "reopened"
        | "synchronize"
        | "ready_for_review"
        | "converted_to_draft";
      repo: SimRepo;
      pull: PullRecord;
      actor: string;
      /** `synchronize`: the head before the push. */
      before?: string;
      /** `edited`: the previous values. */
      changes?: PullEditChanges;
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
      kind: "pull_request_review_comment";
      action: "created";
      repo: SimRepo;
      pull: PullRecord;
      thread: SimReviewThread;
      comment: SimReviewComment;
      actor: string;
    }
  | {
      kind: "pull_request_review_thread";
      action: "resolved" | "unresolved";
      repo: SimRepo;
      pull: PullRecord;
      thread: SimReviewThread;
      actor: string;
    }
  | {
      kind: "check_run";
      action: "created" | "completed" | "updated";
      repo: SimRepo;
      checkRun: SimCheckRun;
      actor: string;
    }
  | { kind: "status"; repo: SimRepo; status: SimCommitStatus; actor: string }
  /** A webhook was created: GitHub pings it (and only it). */
  | { kind: "ping"; repo: SimRepo; hook: SimHook; actor: string };
