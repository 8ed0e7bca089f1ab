/** Change proposals and their lifecycle (SPEC C3). */
export const PROPOSAL_STATUSES = ["pending", "pr_opened", "merged", "closed", "rejected"] as const;
export type ProposalStatus = (typeof PROPOSAL_STATUSES)[number];

/** `branch` (a session's worktree branch, SPEC C7) arrives with CLI harness sessions. */
export const PROPOSAL_KINDS = ["params", "files"] as const;
export type ProposalKind = (typeof PROPOSAL_KINDS)[number];

export const PARAMS_FORMATS = ["json", "yaml"] as const;
export type ParamsFormat = (typeof PARAMS_FORMATS)[number];

export interface ParamsChange {
  path: string;
  format?: ParamsFormat | undefined;
  set: Record<string, { from?: unknown; to: unknown }>;
}

export type FileChange = { path: string; content: string } | { path: string; delete: true };

export interface FilesChange {
  files: FileChange[];
}

export type ProposalChange = ParamsChange | FilesChange;

export interface Evidence {
  summary?: string | undefined;
  metrics?: { name: string; baseline: number; achieved: number }[] | undefined;
  importance?: Record<string, number> | undefined;
  followups?: string[] | undefined;
  links?: { title: string; url: string }[] | undefined;
}

/** The codes a PR-opening attempt can end with, as the prefix of `pr_open_error` (SPEC C3 step 15). */
export const WORKER_ERROR_CODES = [
  "CLONE_FAILED",
  "BRANCH_EXISTS",
  "PARAM_NOT_IN_FILE",
  "PARAM_DRIFT",
  "PARAMS_FILE_NOT_FOUND",
  "FILE_UNPARSABLE",
  "PATH_OUTSIDE_REPO",
  "NO_CHANGES",
  "PUSH_FAILED",
  "GITHUB_API_FAILED",
  "GITHUB_AUTH_FAILED",
  "LOCK_TIMEOUT",
  // The repository or its token stopped being usable after the PR was requested.
  "REPO_NOT_CONFIGURED",
  "GITHUB_NOT_CONFIGURED",
  // A follow-up's pull request is merged or closed, or its branch lives in a fork.
  "PR_NOT_OPEN",
  "PR_IN_FORK",
] as const;
export type WorkerErrorCode = (typeof WORKER_ERROR_CODES)[number];

/** Where an open-PR request may go from each status; `reopen` only from `closed`. */
export const PROPOSAL_TRANSITIONS = {
  openPr: { from: ["pending"], to: "pending" },
  markOpened: { from: ["pending"], to: "pr_opened" },
  reject: { from: ["pending"], to: "rejected" },
  reopen: { from: ["closed"], to: "pending" },
} as const satisfies Record<string, { from: readonly ProposalStatus[]; to: ProposalStatus }>;

/** `shepherd/session-<id>` for a session's work, else `shepherd/proposal-<id>` (SPEC C3 step 5). */
export function proposalBranch(proposal: { id: string; sessionId: string | null }): string {
  return proposal.sessionId ? `shepherd/session-${proposal.sessionId}` : `shepherd/proposal-${proposal.id}`;
}

export const PROPOSAL_TRAILER = "Shepherd-Proposal";

/** The trailer lines of a commit message (the last paragraph, when every line is `Key: value`). */
export function commitTrailers(message: string): Map<string, string[]> {
  const paragraphs = message.trim().split(/\n\s*\n/);
  const last = paragraphs.at(-1) ?? "";
  const trailers = new Map<string, string[]>();
  if (paragraphs.length < 2) return trailers;
  for (const line of last.split("\n")) {
    const match = /^([A-Za-z][A-Za-z0-9-]*):\s*(.+)$/.exec(line.trim());
    if (!match) return new Map();
    const key = (match[1] ?? "").toLowerCase();
    trailers.set(key, [...(trailers.get(key) ?? []), (match[2] ?? "").trim()]);
  }
  return trailers;
}

/** True when the commit is our own earlier attempt at this proposal (SPEC C3 step 6). */
export function carriesProposalTrailer(message: string, proposalId: string): boolean {
  return (commitTrailers(message).get(PROPOSAL_TRAILER.toLowerCase()) ?? []).includes(proposalId);
}

export function isManual(evidence: Evidence | null): boolean {
  return evidence === null;
}
