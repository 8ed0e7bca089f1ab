import { describe, expect, it } from "vitest";
import {
  DEFAULT_STATUS_POLICY,
  deriveStatus,
  statusChange,
  type SessionPrFacts,
  type SessionStatusFacts,
} from "./derive-status.js";
import { OUTCOME_KINDS } from "./session.js";
import {
  isTerminalStatus,
  SESSION_STATUSES,
  TERMINAL_STATUSES,
  type SessionStatus,
} from "./session-status.js";

const NOW = 1_750_000_000_000;
const MIN = 60_000;

function facts(over: Partial<SessionStatusFacts> = {}): SessionStatusFacts {
  return { runState: "running", pauseKind: null, outcome: null, lastActivityAt: NOW - MIN, prs: [], ...over };
}

/** An open PR with nothing to say yet: CI running, no review decision, mergeability computed. */
function pr(over: Partial<SessionPrFacts> = {}): SessionPrFacts {
  return {
    state: "open",
    draft: false,
    ci: "pending",
    mergeable: "MERGEABLE",
    mergeStateStatus: "UNSTABLE",
    reviewDecision: null,
    unresolvedFeedback: 0,
    ...over,
  };
}

const failing = pr({ ci: "failure" });
const changes = pr({ ci: "success", reviewDecision: "CHANGES_REQUESTED", mergeStateStatus: "BLOCKED" });
const conflict = pr({ ci: "success", mergeable: "CONFLICTING", mergeStateStatus: "DIRTY" });
const approved = pr({ reviewDecision: "APPROVED" }); // CI still pending
const ready = pr({ ci: "success", reviewDecision: "APPROVED", mergeStateStatus: "CLEAN" });
const open = pr();

describe("SESSION_STATUSES", () => {
  it("is in precedence order", () => {
    expect(SESSION_STATUSES).toEqual([
      "merged",
      "resolved",
      "escalated",
      "needs_review",
      "failed",
      "stopped",
      "awaiting_approval",
      "awaiting_input",
      "ci_failed",
      "changes_requested",
      "merge_conflict",
      "approved",
      "mergeable",
      "pr_open",
      "running",
      "queued",
      "idle",
      "stuck",
    ]);
  });

  it("has a terminal status for every outcome kind and no other", () => {
    expect([...TERMINAL_STATUSES].sort()).toEqual([...OUTCOME_KINDS].sort());
  });

  it.each(
    SESSION_STATUSES.map((status) => [status, (TERMINAL_STATUSES as readonly string[]).includes(status)]),
  )("isTerminalStatus(%s) is %s", (status, terminal) => {
    expect(isTerminalStatus(status)).toBe(terminal);
  });
});

describe("deriveStatus", () => {
  it.each<[string, SessionStatusFacts, SessionStatus]>([
    // 1. An outcome is final.
    ...OUTCOME_KINDS.map((kind): [string, SessionStatusFacts, SessionStatus] => [
      `outcome ${kind} → ${kind}`,
      facts({ outcome: { kind } }),
      kind,
    ]),
    [
      "outcome beats an exited run state",
      facts({ runState: "exited", outcome: { kind: "stopped" } }),
      "stopped",
    ],
    [
      "outcome beats a pause",
      facts({ runState: "paused", pauseKind: "approval", outcome: { kind: "failed", detail: "boom" } }),
      "failed",
    ],
    ["outcome beats a failing PR", facts({ outcome: { kind: "resolved" }, prs: [failing] }), "resolved"],
    [
      "outcome beats a silent running session",
      facts({ outcome: { kind: "escalated", detail: "db" }, lastActivityAt: NOW - 60 * MIN }),
      "escalated",
    ],

    // 2. A pause needs a human.
    [
      "paused for approval → awaiting_approval",
      facts({ runState: "paused", pauseKind: "approval" }),
      "awaiting_approval",
    ],
    [
      "paused for input → awaiting_input",
      facts({ runState: "paused", pauseKind: "input" }),
      "awaiting_input",
    ],
    ["paused without a pause kind → awaiting_input", facts({ runState: "paused" }), "awaiting_input"],
    [
      "a pause beats a failing PR",
      facts({ runState: "paused", pauseKind: "approval", prs: [failing] }),
      "awaiting_approval",
    ],
    [
      "a long pause is not stuck",
      facts({ runState: "paused", pauseKind: "input", lastActivityAt: NOW - 60 * MIN }),
      "awaiting_input",
    ],
    [
      "a pause kind without a pause is ignored",
      facts({ runState: "running", pauseKind: "approval" }),
      "running",
    ],

    // 3. One open PR.
    ["CI failing → ci_failed", facts({ prs: [failing] }), "ci_failed"],
    [
      "CI failing beats requested changes on the same PR",
      facts({ prs: [pr({ ci: "failure", reviewDecision: "CHANGES_REQUESTED", unresolvedFeedback: 3 })] }),
      "ci_failed",
    ],
    ["changes requested → changes_requested", facts({ prs: [changes] }), "changes_requested"],
    [
      "unresolved feedback without a decision → changes_requested",
      facts({ prs: [pr({ ci: "success", unresolvedFeedback: 1 })] }),
      "changes_requested",
    ],
    [
      "unresolved feedback on an approved, green PR → changes_requested",
      facts({
        prs: [
          pr({ ci: "success", reviewDecision: "APPROVED", mergeStateStatus: "CLEAN", unresolvedFeedback: 2 }),
        ],
      }),
      "changes_requested",
    ],
    [
      "requested changes beat a conflict on the same PR",
      facts({ prs: [pr({ reviewDecision: "CHANGES_REQUESTED", mergeable: "CONFLICTING" })] }),
      "changes_requested",
    ],
    ["a conflict → merge_conflict", facts({ prs: [conflict] }), "merge_conflict"],
    [
      "a conflict beats an approval on the same PR",
      facts({ prs: [pr({ ci: "success", reviewDecision: "APPROVED", mergeable: "CONFLICTING" })] }),
      "merge_conflict",
    ],
    [
      "mergeability UNKNOWN is never a conflict",
      facts({ prs: [pr({ ci: "success", mergeable: "UNKNOWN", mergeStateStatus: "UNKNOWN" })] }),
      "pr_open",
    ],
    ["approved, green, mergeable, CLEAN → mergeable", facts({ prs: [ready] }), "mergeable"],
    [
      "no review required, green → mergeable",
      facts({ prs: [pr({ ci: "success", mergeStateStatus: "CLEAN" })] }),
      "mergeable",
    ],
    [
      "approved, no checks at all → mergeable",
      facts({ prs: [pr({ ci: "none", reviewDecision: "APPROVED", mergeStateStatus: "CLEAN" })] }),
      "mergeable",
    ],
    ["approved, CI pending → approved", facts({ prs: [approved] }), "approved"],
    [
      "approved, mergeability unknown → approved",
      facts({ prs: [pr({ ci: "success", reviewDecision: "APPROVED", mergeable: "UNKNOWN" })] }),
      "approved",
    ],
    [
      "approved, green but BLOCKED by branch protection → approved",
      facts({ prs: [pr({ ci: "success", reviewDecision: "APPROVED", mergeStateStatus: "BLOCKED" })] }),
      "approved",
    ],
    [
      "approved draft → approved",
      facts({
        prs: [pr({ draft: true, ci: "success", reviewDecision: "APPROVED", mergeStateStatus: "CLEAN" })],
      }),
      "approved",
    ],
    [
      "green draft with no review required → pr_open",
      facts({ prs: [pr({ draft: true, ci: "success", mergeStateStatus: "CLEAN" })] }),
      "pr_open",
    ],
    [
      "green but review required → pr_open",
      facts({ prs: [pr({ ci: "success", reviewDecision: "REVIEW_REQUIRED", mergeStateStatus: "BLOCKED" })] }),
      "pr_open",
    ],
    [
      "green, no review required, BLOCKED → pr_open",
      facts({ prs: [pr({ ci: "success", mergeStateStatus: "BLOCKED" })] }),
      "pr_open",
    ],
    ["CI pending, nothing else → pr_open", facts({ prs: [open] }), "pr_open"],
    [
      "no mergeStateStatus does not block",
      facts({ prs: [pr({ ci: "success", reviewDecision: "APPROVED", mergeStateStatus: null })] }),
      "mergeable",
    ],
    [
      "an open PR beats a silent running session",
      facts({ lastActivityAt: NOW - 60 * MIN, prs: [open] }),
      "pr_open",
    ],
    ["an open PR beats queued", facts({ runState: "queued", prs: [open] }), "pr_open"],
    ["an open PR beats idle", facts({ runState: "idle", prs: [ready] }), "mergeable"],
    [
      "an open PR of an exited session still drives it",
      facts({ runState: "exited", prs: [failing] }),
      "ci_failed",
    ],

    // 3. Several PRs: the worst open one wins, in either order.
    ["ci_failed beats changes_requested", facts({ prs: [changes, failing] }), "ci_failed"],
    ["changes_requested beats merge_conflict", facts({ prs: [conflict, changes] }), "changes_requested"],
    ["merge_conflict beats approved", facts({ prs: [approved, conflict] }), "merge_conflict"],
    ["approved beats mergeable", facts({ prs: [ready, approved] }), "approved"],
    ["approved beats mergeable, other order", facts({ prs: [approved, ready] }), "approved"],
    ["mergeable beats pr_open", facts({ prs: [open, ready] }), "mergeable"],
    ["mergeable beats pr_open, other order", facts({ prs: [ready, open] }), "mergeable"],
    ["the worst of many", facts({ prs: [open, ready, approved, conflict, failing, changes] }), "ci_failed"],
    ["a closed PR does not drive it", facts({ prs: [{ ...failing, state: "closed" }, open] }), "pr_open"],
    ["a merged PR does not drive it", facts({ prs: [{ ...conflict, state: "merged" }, ready] }), "mergeable"],
    [
      "only closed and merged PRs → the run state",
      facts({
        prs: [
          { ...failing, state: "closed" },
          { ...ready, state: "merged" },
        ],
      }),
      "running",
    ],

    // 4. The run state.
    ["queued → queued", facts({ runState: "queued" }), "queued"],
    ["queued for long is not stuck", facts({ runState: "queued", lastActivityAt: NOW - 60 * MIN }), "queued"],
    ["running, recent activity → running", facts(), "running"],
    ["running, no activity yet → running", facts({ lastActivityAt: null }), "running"],
    [
      "running, silent 1 ms short of the threshold → running",
      facts({ lastActivityAt: NOW - DEFAULT_STATUS_POLICY.stuckAfterMs + 1 }),
      "running",
    ],
    [
      "running, silent exactly the threshold → stuck (as the agent_stuck reaction)",
      facts({ lastActivityAt: NOW - DEFAULT_STATUS_POLICY.stuckAfterMs }),
      "stuck",
    ],
    [
      "running, activity in the future (clock skew) → running",
      facts({ lastActivityAt: NOW + MIN }),
      "running",
    ],
    ["idle → idle", facts({ runState: "idle" }), "idle"],
    [
      "idle for long is waiting, not stuck",
      facts({ runState: "idle", lastActivityAt: NOW - 60 * MIN }),
      "idle",
    ],
    ["exited without an outcome → idle", facts({ runState: "exited" }), "idle"],
  ])("%s", (_name, input, expected) => {
    expect(deriveStatus(input, NOW)).toBe(expected);
  });

  it("defaults to a 10 min stuck threshold", () => {
    expect(DEFAULT_STATUS_POLICY.stuckAfterMs).toBe(10 * MIN);
  });

  it.each<[number, SessionStatus]>([
    [NOW - MIN + 1, "running"],
    [NOW - MIN, "stuck"],
  ])("uses the policy's threshold (last activity %d)", (lastActivityAt, expected) => {
    expect(deriveStatus(facts({ lastActivityAt }), NOW, { stuckAfterMs: MIN })).toBe(expected);
  });

  // Every combination of the facts that readiness reads: one PR is `mergeable` exactly when ready,
  // `approved` exactly when approved but not ready — never both, never neither for an approved PR.
  describe("approved and mergeable are disjoint", () => {
    const combos: SessionPrFacts[] = [];
    for (const draft of [false, true])
      for (const ci of ["success", "pending", "none"] as const)
        for (const mergeable of ["MERGEABLE", "UNKNOWN"] as const)
          for (const mergeStateStatus of ["CLEAN", "BLOCKED", "UNSTABLE", null])
            for (const reviewDecision of ["APPROVED", "REVIEW_REQUIRED", null] as const)
              combos.push(pr({ draft, ci, mergeable, mergeStateStatus, reviewDecision }));

    it.each(combos.map((combo) => [JSON.stringify(combo), combo] as const))("%s", (_name, combo) => {
      const isReady =
        !combo.draft &&
        combo.ci !== "pending" &&
        combo.mergeable === "MERGEABLE" &&
        combo.reviewDecision !== "REVIEW_REQUIRED" &&
        combo.mergeStateStatus !== "BLOCKED";
      const status = deriveStatus(facts({ prs: [combo] }), NOW);
      expect(status === "mergeable").toBe(isReady);
      expect(status === "approved").toBe(!isReady && combo.reviewDecision === "APPROVED");
      if (!isReady && combo.reviewDecision !== "APPROVED") expect(status).toBe("pr_open");
    });
  });
});

describe("statusChange", () => {
  it.each<[SessionStatus, SessionStatus, ReturnType<typeof statusChange>]>([
    ["running", "running", null],
    ["running", "stuck", { from: "running", to: "stuck" }],
    ["awaiting_approval", "running", { from: "awaiting_approval", to: "running" }],
    ["mergeable", "merged", { from: "mergeable", to: "merged" }],
  ])("%s → %s", (before, after, expected) => {
    expect(statusChange(before, after)).toEqual(expected);
  });
});
