import { describe, expect, it } from "vitest";
import { decideReactions, type PrReactionContext, type ReactionEffect } from "./decide-reactions.js";
import type {
  ChangeRequest,
  CheckResult,
  CiState,
  PrObservation,
  ReviewComment,
  ReviewFeedback,
  ReviewThread,
} from "./pull-request.js";
import {
  DEFAULT_REACTIONS,
  PR_REACTION_KEYS,
  resolveReactions,
  type PrReactionKey,
  type ReactionOverrides,
} from "./reaction-config.js";
import type { Episode, ReactionHistory } from "./reaction-history.js";

// ---------------------------------------------------------------------------------------------
// Factories
// ---------------------------------------------------------------------------------------------

const T0 = Date.parse("2025-03-01T12:00:00Z");
const MIN = 60_000;
/** Decisions in the single-decision table happen five minutes after the episodes they find began. */
const NOW = T0 + 5 * MIN;
const VIEWER = "shepherd-bot";
const PR_URL = "https://github.com/acme/app/pull/7";

const SHA_A = "aaaaaaa0000000000000000000000000000000a1";
const SHA_B = "bbbbbbb0000000000000000000000000000000b2";
const SHA_C = "ccccccc0000000000000000000000000000000c3";
const SHA_D = "ddddddd0000000000000000000000000000000d4";
const SHA_E = "eeeeeee0000000000000000000000000000000e5";

function check(id: string, state: CheckResult["state"], extra: Partial<CheckResult> = {}): CheckResult {
  return {
    id,
    name: `job ${id}`,
    kind: "check_run",
    state,
    conclusion: state === "pending" ? null : state,
    url: `https://github.com/acme/app/actions/runs/1/job/${id.replace(/\D/g, "")}`,
    jobId: null,
    logTail: null,
    ...extra,
  };
}

function comment(id: string, author = "alice", extra: Partial<ReviewComment> = {}): ReviewComment {
  return {
    id,
    author,
    isBot: false,
    body: `please fix ${id}`,
    url: `${PR_URL}#discussion_${id}`,
    createdAt: "2025-03-01T12:00:00Z",
    ...extra,
  };
}
const botComment = (id: string): ReviewComment => comment(id, "lint-bot", { isBot: true });
/** A comment by Shepherd's own token: the agent's reply. */
const ownComment = (id: string): ReviewComment => comment(id, VIEWER);

function thread(id: string, comments: ReviewComment[], extra: Partial<ReviewThread> = {}): ReviewThread {
  return { id, path: "src/search.ts", line: 12, outdated: false, comments, ...extra };
}

function changeRequest(id: string, author = "bob", extra: Partial<ChangeRequest> = {}): ChangeRequest {
  return {
    id,
    author,
    isBot: false,
    body: `changes needed (${id})`,
    url: `${PR_URL}#pullrequestreview-${id}`,
    submittedAt: "2025-03-01T12:00:00Z",
    ...extra,
  };
}

function feedback(threads: ReviewThread[] = [], changeRequests: ChangeRequest[] = []): ReviewFeedback {
  return { threads, changeRequests, partial: false, viewer: VIEWER };
}

/** An open, quiet PR: CI green, mergeable, waiting for review, no feedback. Nothing to react to. */
function pr(over: Partial<PrObservation> = {}): PrObservation {
  return {
    nodeId: "PR_kwDOnode7",
    number: 7,
    url: PR_URL,
    title: "Tune title boost",
    author: VIEWER,
    state: "open",
    draft: false,
    headRef: "shepherd/session-s-1",
    headRepo: "acme/app",
    headSha: SHA_A,
    baseRef: "main",
    updatedAt: "2025-03-01T12:00:00Z",
    mergedAt: null,
    closedAt: null,
    mergeable: "MERGEABLE",
    mergeStateStatus: "CLEAN",
    reviewDecision: "REVIEW_REQUIRED",
    commentsCount: 0,
    ci: { state: "success", checks: [check("check:1", "success")], partial: false },
    review: feedback(),
    ...over,
  };
}

/** CI failing at `sha` with the given failing check ids (plus a passing check that must not matter). */
function failing(sha: string, ...ids: string[]): Partial<PrObservation> {
  return {
    headSha: sha,
    ci: {
      state: "failure",
      checks: [check("check:900", "success"), ...ids.map((id) => check(id, "failure"))],
      partial: false,
    },
  };
}

function ciState(state: CiState, sha = SHA_A): Partial<PrObservation> {
  const checks =
    state === "none" ? [] : [check("check:1", state === "failure" ? "failure" : state, { jobId: 1 })];
  return { headSha: sha, ci: { state, checks, partial: false } };
}

function review(threads: ReviewThread[], requests: ChangeRequest[] = []): Partial<PrObservation> {
  return { review: feedback(threads, requests) };
}

/** Approved, green, mergeable at `sha`. */
function ready(sha = SHA_A): Partial<PrObservation> {
  return {
    headSha: sha,
    reviewDecision: "APPROVED",
    mergeable: "MERGEABLE",
    ci: { state: "success", checks: [check("check:1", "success")], partial: false },
  };
}

const CLOSED_AT = "2025-03-01T13:00:00Z";
const closed = (closedAt: string | null = CLOSED_AT): Partial<PrObservation> => ({
  state: "closed",
  closedAt,
});
const merged: Partial<PrObservation> = {
  state: "merged",
  mergedAt: "2025-03-01T13:00:00Z",
  closedAt: "2025-03-01T13:00:00Z",
};

function ep(over: Partial<Episode> = {}): Episode {
  return { n: 1, active: true, since: T0, delivered: [], attempts: 1, escalated: false, ...over };
}

const CONTEXT: PrReactionContext = {
  prId: "pr-1",
  repoName: "app",
  sessionId: "s-1",
  autoMergeAllowed: false,
  mergeMethod: "squash",
};

function decide(
  observation: PrObservation,
  options: {
    history?: ReactionHistory;
    config?: ReactionOverrides;
    context?: Partial<PrReactionContext>;
    now?: number;
  } = {},
) {
  return decideReactions({
    observation,
    history: options.history ?? {},
    config: resolveReactions(options.config),
    context: { ...CONTEXT, ...options.context },
    now: options.now ?? NOW,
  });
}

/** The CI signature the implementation gives a failure (its properties are tested below). */
function ciSig(observation: PrObservation): string {
  const signature = decide(observation).history.ci_failed?.delivered[0];
  if (signature === undefined) throw new Error("no CI signature for this observation");
  return signature;
}

const SIG_A = ciSig(pr(failing(SHA_A, "check:2")));
const SIG_B = ciSig(pr(failing(SHA_B, "check:3")));
const SIG_C = ciSig(pr(failing(SHA_C, "check:4")));
const SIG_D = ciSig(pr(failing(SHA_D, "check:5")));

/** What the tables compare of an effect: everything but its texts. */
type Brief = Record<string, unknown>;
function brief(effect: ReactionEffect): Brief {
  switch (effect.type) {
    case "nudge":
      return { type: "nudge", key: effect.key, dedupKey: effect.dedupKey, sessionId: effect.sessionId };
    case "notify":
      return { type: "notify", key: effect.key, dedupKey: effect.dedupKey, priority: effect.priority };
    case "escalate":
      return { type: "escalate", key: effect.key, dedupKey: effect.dedupKey, priority: effect.priority };
    case "merge":
      return {
        type: "merge",
        key: effect.key,
        dedupKey: effect.dedupKey,
        method: effect.method,
        headSha: effect.headSha,
      };
  }
}

const nudge = (key: PrReactionKey, dedupKey: string): Brief => ({
  type: "nudge",
  key,
  dedupKey,
  sessionId: "s-1",
});
const notify = (key: PrReactionKey, dedupKey: string, priority = "action"): Brief => ({
  type: "notify",
  key,
  dedupKey,
  priority,
});
const escalate = (key: PrReactionKey, n = 1): Brief => ({
  type: "escalate",
  key,
  dedupKey: `pr-1:${key}:${n}:escalated`,
  priority: "urgent",
});
const merge = (method: string, headSha = SHA_A): Brief => ({
  type: "merge",
  key: "approved_and_green",
  dedupKey: `pr-1:approved_and_green:1:merge:${headSha}`,
  method,
  headSha,
});

// ---------------------------------------------------------------------------------------------
// One decision: observation + history + config + context + now → effects + history facts
// ---------------------------------------------------------------------------------------------

interface Row {
  name: string;
  obs: PrObservation;
  history?: ReactionHistory;
  config?: ReactionOverrides;
  context?: Partial<PrReactionContext>;
  now?: number;
  effects: Brief[];
  /** The resulting history is deeply equal to the starting one. */
  unchanged?: boolean;
  /** Facts of the resulting history per key; `null`: the key has no episode. */
  after?: Partial<Record<PrReactionKey, Partial<Episode> | null>>;
}

function runRows(rows: Row[]): void {
  it.each(rows)("$name", (row) => {
    const history = row.history ?? {};
    const decision = decide(row.obs, {
      history,
      config: row.config,
      context: row.context,
      now: row.now,
    });
    expect(decision.effects.map(brief)).toEqual(row.effects);
    if (row.unchanged) expect(decision.history).toEqual(history);
    for (const [key, facts] of Object.entries(row.after ?? {})) {
      const episode = decision.history[key as PrReactionKey];
      if (facts === null) expect(episode, key).toBeUndefined();
      else expect(episode, key).toMatchObject(facts);
    }
  });
}

describe("decideReactions: nothing to react to", () => {
  runRows([
    {
      name: "a quiet open PR with no history: no effects, no episodes",
      obs: pr(),
      effects: [],
      after: {
        ci_failed: null,
        changes_requested: null,
        merge_conflict: null,
        approved_and_green: null,
        pr_closed: null,
        pr_merged: null,
      },
    },
    {
      name: "a quiet open PR whose review was not read: no effects, no episodes",
      obs: pr({ review: null }),
      effects: [],
      unchanged: true,
    },
  ]);
});

describe("decideReactions: ci_failed (defaults: send_to_agent, retries 2, escalate_after 2)", () => {
  runRows([
    {
      name: "failure, no history → nudge in episode 1",
      obs: pr(failing(SHA_A, "check:2")),
      effects: [nudge("ci_failed", `pr-1:ci_failed:1:${SIG_A}`)],
      after: {
        ci_failed: { n: 1, active: true, since: NOW, attempts: 1, escalated: false, delivered: [SIG_A] },
      },
    },
    {
      name: "the same failure already delivered → nothing",
      obs: pr(failing(SHA_A, "check:2")),
      history: { ci_failed: ep({ delivered: [SIG_A] }) },
      effects: [],
      unchanged: true,
    },
    {
      name: "CI pending → unknown: the episode is kept as it is",
      obs: pr(ciState("pending", SHA_B)),
      history: { ci_failed: ep({ delivered: [SIG_A] }) },
      effects: [],
      unchanged: true,
    },
    {
      name: "CI none (no checks yet) → unknown: the episode is kept as it is",
      obs: pr(ciState("none", SHA_B)),
      history: { ci_failed: ep({ delivered: [SIG_A] }) },
      effects: [],
      unchanged: true,
    },
    {
      name: "CI pending with no history → no episode starts",
      obs: pr(ciState("pending")),
      effects: [],
      after: { ci_failed: null },
    },
    {
      name: "CI success → the episode ends",
      obs: pr(ciState("success", SHA_B)),
      history: { ci_failed: ep({ delivered: [SIG_A] }) },
      effects: [],
      after: { ci_failed: { n: 1, active: false, attempts: 1, delivered: [SIG_A] } },
    },
    {
      name: "a failing PR that was closed → the CI episode ends (only pr_closed reacts)",
      obs: pr({ ...failing(SHA_A, "check:2"), ...closed() }),
      history: { ci_failed: ep({ delivered: [SIG_A] }) },
      effects: [notify("pr_closed", `pr-1:pr_closed:1:closed:${CLOSED_AT}`)],
      after: { ci_failed: { n: 1, active: false } },
    },
    {
      name: "a second distinct failure in the episode → second nudge",
      obs: pr(failing(SHA_B, "check:3")),
      history: { ci_failed: ep({ delivered: [SIG_A], attempts: 1 }) },
      effects: [nudge("ci_failed", `pr-1:ci_failed:1:${SIG_B}`)],
      after: { ci_failed: { n: 1, active: true, since: T0, attempts: 2, delivered: [SIG_A, SIG_B] } },
    },
    {
      name: "a third distinct failure → one urgent escalation instead of a nudge",
      obs: pr(failing(SHA_C, "check:4")),
      history: { ci_failed: ep({ delivered: [SIG_A, SIG_B], attempts: 2 }) },
      effects: [escalate("ci_failed")],
      after: { ci_failed: { n: 1, attempts: 2, escalated: true, delivered: [SIG_A, SIG_B, SIG_C] } },
    },
    {
      name: "after the escalation a new failure → no nudge, no second escalation",
      obs: pr(failing(SHA_D, "check:5")),
      history: { ci_failed: ep({ delivered: [SIG_A, SIG_B, SIG_C], attempts: 2, escalated: true }) },
      effects: [],
      after: {
        ci_failed: { n: 1, attempts: 2, escalated: true, delivered: [SIG_A, SIG_B, SIG_C, SIG_D] },
      },
    },
    {
      name: "a failure after the episode ended → episode 2 nudges again (even the same failure)",
      obs: pr(failing(SHA_A, "check:2")),
      history: {
        ci_failed: ep({ active: false, delivered: [SIG_A, SIG_B, SIG_C], attempts: 2, escalated: true }),
      },
      effects: [nudge("ci_failed", `pr-1:ci_failed:2:${SIG_A}`)],
      after: {
        ci_failed: { n: 2, active: true, since: NOW, attempts: 1, escalated: false, delivered: [SIG_A] },
      },
    },
    {
      name: "no session → notify (priority of the rule) instead of a nudge",
      obs: pr(failing(SHA_A, "check:2")),
      context: { sessionId: null },
      effects: [notify("ci_failed", `pr-1:ci_failed:1:${SIG_A}`)],
      after: { ci_failed: { attempts: 1, delivered: [SIG_A] } },
    },
    {
      name: "no session, third failure → still escalates",
      obs: pr(failing(SHA_C, "check:4")),
      context: { sessionId: null },
      history: { ci_failed: ep({ delivered: [SIG_A, SIG_B], attempts: 2 }) },
      effects: [escalate("ci_failed")],
    },
    {
      name: "action none → nothing, history untouched (a new failure)",
      obs: pr(failing(SHA_B, "check:3")),
      config: { ci_failed: { action: "none" } },
      history: { ci_failed: ep({ delivered: [SIG_A] }) },
      effects: [],
      unchanged: true,
    },
    {
      name: "action none → nothing, history untouched (CI green would have ended the episode)",
      obs: pr(ciState("success")),
      config: { ci_failed: { action: "none" } },
      history: { ci_failed: ep({ delivered: [SIG_A] }) },
      effects: [],
      unchanged: true,
    },
    {
      name: "action notify → a notification, never an attempts-based escalation",
      obs: pr(failing(SHA_D, "check:5")),
      config: { ci_failed: { action: "notify" } },
      history: { ci_failed: ep({ delivered: [SIG_A, SIG_B, SIG_C], attempts: 3 }) },
      effects: [notify("ci_failed", `pr-1:ci_failed:1:${SIG_D}`)],
      after: { ci_failed: { attempts: 4 } },
    },
    {
      name: "retries 0 (and no escalate_after) → the first failure escalates",
      obs: pr(failing(SHA_A, "check:2")),
      config: { ci_failed: { retries: 0, escalateAfter: null } },
      effects: [escalate("ci_failed")],
      after: { ci_failed: { n: 1, attempts: 0, escalated: true, delivered: [SIG_A] } },
    },
    {
      name: "escalate_after 3 attempts (retries off) → a third nudge is still sent",
      obs: pr(failing(SHA_C, "check:4")),
      config: { ci_failed: { retries: null, escalateAfter: { attempts: 3 } } },
      history: { ci_failed: ep({ delivered: [SIG_A, SIG_B], attempts: 2 }) },
      effects: [nudge("ci_failed", `pr-1:ci_failed:1:${SIG_C}`)],
      after: { ci_failed: { attempts: 3, escalated: false } },
    },
    {
      name: "escalate_after 3 attempts (retries off) → the fourth escalates",
      obs: pr(failing(SHA_D, "check:5")),
      config: { ci_failed: { retries: null, escalateAfter: { attempts: 3 } } },
      history: { ci_failed: ep({ delivered: [SIG_A, SIG_B, SIG_C], attempts: 3 }) },
      effects: [escalate("ci_failed")],
    },
    {
      name: "escalate_after 10m → escalates once the episode has lasted 10 min, without a new failure",
      obs: pr(failing(SHA_A, "check:2")),
      config: { ci_failed: { retries: null, escalateAfter: { ms: 10 * MIN } } },
      history: { ci_failed: ep({ delivered: [SIG_A] }) },
      now: T0 + 10 * MIN,
      effects: [escalate("ci_failed")],
      after: { ci_failed: { escalated: true, attempts: 1 } },
    },
    {
      name: "escalations are urgent whatever the rule's priority",
      obs: pr(failing(SHA_C, "check:4")),
      config: { ci_failed: { priority: "info" } },
      history: { ci_failed: ep({ delivered: [SIG_A, SIG_B], attempts: 2 }) },
      effects: [escalate("ci_failed")],
    },
  ]);
});

describe("decideReactions: changes_requested (defaults: send_to_agent, max_nudges 3, escalate_after 30m)", () => {
  runRows([
    {
      name: "a human review comment → nudge keyed by the comment id",
      obs: pr(review([thread("t1", [comment("c1")])])),
      effects: [nudge("changes_requested", "pr-1:changes_requested:1:comment:c1")],
      after: {
        changes_requested: { n: 1, active: true, since: NOW, attempts: 1, delivered: ["comment:c1"] },
      },
    },
    {
      name: "a CHANGES_REQUESTED review → nudge keyed by the review id",
      obs: pr({ reviewDecision: "CHANGES_REQUESTED", ...review([], [changeRequest("r1")]) }),
      effects: [nudge("changes_requested", "pr-1:changes_requested:1:review:r1")],
      after: { changes_requested: { attempts: 1, delivered: ["review:r1"] } },
    },
    {
      name: "review threads not read (null) → unknown: the episode is kept",
      obs: pr({ review: null }),
      history: { changes_requested: ep({ delivered: ["comment:c1"] }) },
      effects: [],
      unchanged: true,
    },
    {
      name: "no unresolved feedback → the episode ends",
      obs: pr(review([])),
      history: { changes_requested: ep({ delivered: ["comment:c1"] }) },
      effects: [],
      after: { changes_requested: { n: 1, active: false } },
    },
    {
      name: "only bot comments and bot reviews → nothing, by default",
      obs: pr(review([thread("t1", [botComment("b1")])], [changeRequest("r9", "ci-bot", { isBot: true })])),
      effects: [],
      after: { changes_requested: null },
    },
    {
      name: "bot comments with includeBots → nudge",
      obs: pr(review([thread("t1", [botComment("b1")])])),
      config: { changes_requested: { includeBots: true } },
      effects: [nudge("changes_requested", "pr-1:changes_requested:1:comment:b1")],
    },
    {
      name: "a bot review with includeBots → nudge",
      obs: pr(review([], [changeRequest("r9", "ci-bot", { isBot: true })])),
      config: { changes_requested: { includeBots: true } },
      effects: [nudge("changes_requested", "pr-1:changes_requested:1:review:r9")],
    },
    {
      name: "a thread of only the viewer's own comments → nothing",
      obs: pr(review([thread("t1", [ownComment("v1")])])),
      effects: [],
      after: { changes_requested: null },
    },
    {
      name: "the viewer's own comments never count, even with includeBots",
      obs: pr(review([thread("t1", [ownComment("v1")])])),
      config: { changes_requested: { includeBots: true } },
      effects: [],
      after: { changes_requested: null },
    },
    {
      name: "the agent's reply in an already delivered thread is not new",
      obs: pr(review([thread("t1", [comment("c1"), ownComment("v1")])])),
      history: { changes_requested: ep({ delivered: ["comment:c1"] }) },
      effects: [],
      unchanged: true,
    },
    {
      name: "a reviewer's answer to the agent's reply is new → second nudge",
      obs: pr(review([thread("t1", [comment("c1"), ownComment("v1"), comment("c2")])])),
      history: { changes_requested: ep({ delivered: ["comment:c1"] }) },
      effects: [nudge("changes_requested", "pr-1:changes_requested:1:comment:c2")],
      after: { changes_requested: { attempts: 2, delivered: ["comment:c1", "comment:c2"] } },
    },
    {
      name: "a third batch → third nudge (max_nudges 3 not exceeded)",
      obs: pr(review([thread("t1", [comment("c1"), comment("c2"), comment("c3")])])),
      history: { changes_requested: ep({ delivered: ["comment:c1", "comment:c2"], attempts: 2 }) },
      effects: [nudge("changes_requested", "pr-1:changes_requested:1:comment:c3")],
      after: { changes_requested: { attempts: 3 } },
    },
    {
      name: "more feedback after max_nudges (3) → escalation instead of a fourth nudge",
      obs: pr(review([thread("t1", [comment("c1"), comment("c2"), comment("c3"), comment("c4")])])),
      history: {
        changes_requested: ep({ delivered: ["comment:c1", "comment:c2", "comment:c3"], attempts: 3 }),
      },
      effects: [escalate("changes_requested")],
      after: { changes_requested: { attempts: 3, escalated: true } },
    },
    {
      name: "unresolved for 30 min, nothing new → escalation (duration)",
      obs: pr(review([thread("t1", [comment("c1")])])),
      history: { changes_requested: ep({ delivered: ["comment:c1"] }) },
      now: T0 + 30 * MIN,
      effects: [escalate("changes_requested")],
      after: { changes_requested: { escalated: true, attempts: 1 } },
    },
    {
      name: "unresolved for 29 min 59 s → nothing yet",
      obs: pr(review([thread("t1", [comment("c1")])])),
      history: { changes_requested: ep({ delivered: ["comment:c1"] }) },
      now: T0 + 30 * MIN - 1000,
      effects: [],
      unchanged: true,
    },
    {
      name: "already escalated, an hour later → no second escalation",
      obs: pr(review([thread("t1", [comment("c1")])])),
      history: { changes_requested: ep({ delivered: ["comment:c1"], escalated: true }) },
      now: T0 + 90 * MIN,
      effects: [],
      unchanged: true,
    },
    {
      name: "already escalated, a new comment → not nudged (humans own the episode)",
      obs: pr(review([thread("t1", [comment("c1"), comment("c2")])])),
      history: { changes_requested: ep({ delivered: ["comment:c1"], escalated: true }) },
      effects: [],
      after: { changes_requested: { escalated: true, attempts: 1, delivered: ["comment:c1", "comment:c2"] } },
    },
    {
      name: "30 min and a new comment in the same decision → only the escalation",
      obs: pr(review([thread("t1", [comment("c1"), comment("c2")])])),
      history: { changes_requested: ep({ delivered: ["comment:c1"] }) },
      now: T0 + 31 * MIN,
      effects: [escalate("changes_requested")],
    },
    {
      name: "feedback after the episode ended → episode 2",
      obs: pr(review([thread("t2", [comment("c7")])])),
      history: { changes_requested: ep({ active: false, delivered: ["comment:c1"], escalated: true }) },
      effects: [nudge("changes_requested", "pr-1:changes_requested:2:comment:c7")],
      after: { changes_requested: { n: 2, active: true, attempts: 1, escalated: false } },
    },
    {
      name: "a closed PR's leftover threads → the episode ends",
      obs: pr({ ...review([thread("t1", [comment("c1"), comment("c2")])]), ...closed() }),
      history: { changes_requested: ep({ delivered: ["comment:c1"] }) },
      effects: [notify("pr_closed", `pr-1:pr_closed:1:closed:${CLOSED_AT}`)],
      after: { changes_requested: { active: false } },
    },
  ]);
});

describe("decideReactions: merge_conflict (defaults: send_to_agent, escalate_after 15m)", () => {
  runRows([
    {
      name: "CONFLICTING → nudge once",
      obs: pr({ mergeable: "CONFLICTING" }),
      effects: [nudge("merge_conflict", "pr-1:merge_conflict:1:conflict")],
      after: { merge_conflict: { n: 1, active: true, since: NOW, attempts: 1, delivered: ["conflict"] } },
    },
    {
      name: "still CONFLICTING → nothing",
      obs: pr({ mergeable: "CONFLICTING" }),
      history: { merge_conflict: ep({ delivered: ["conflict"] }) },
      effects: [],
      unchanged: true,
    },
    {
      name: "UNKNOWN with no history → never a conflict: no episode starts",
      obs: pr({ mergeable: "UNKNOWN" }),
      effects: [],
      after: { merge_conflict: null },
    },
    {
      name: "UNKNOWN during a conflict → the episode does not end",
      obs: pr({ mergeable: "UNKNOWN" }),
      history: { merge_conflict: ep({ delivered: ["conflict"] }) },
      effects: [],
      unchanged: true,
    },
    {
      name: "UNKNOWN after the conflict cleared → no new episode starts",
      obs: pr({ mergeable: "UNKNOWN" }),
      history: { merge_conflict: ep({ active: false, delivered: ["conflict"] }) },
      effects: [],
      unchanged: true,
    },
    {
      name: "MERGEABLE → the episode ends",
      obs: pr({ mergeable: "MERGEABLE" }),
      history: { merge_conflict: ep({ delivered: ["conflict"] }) },
      effects: [],
      after: { merge_conflict: { n: 1, active: false } },
    },
    {
      name: "the conflict returns after clearing → episode 2 nudges again",
      obs: pr({ mergeable: "CONFLICTING" }),
      history: { merge_conflict: ep({ active: false, delivered: ["conflict"] }) },
      effects: [nudge("merge_conflict", "pr-1:merge_conflict:2:conflict")],
      after: { merge_conflict: { n: 2, active: true, since: NOW, attempts: 1, delivered: ["conflict"] } },
    },
    {
      name: "conflicting for 15 min → escalation",
      obs: pr({ mergeable: "CONFLICTING" }),
      history: { merge_conflict: ep({ delivered: ["conflict"] }) },
      now: T0 + 15 * MIN,
      effects: [escalate("merge_conflict")],
      after: { merge_conflict: { escalated: true } },
    },
    {
      name: "conflicting for 14 min → nothing yet",
      obs: pr({ mergeable: "CONFLICTING" }),
      history: { merge_conflict: ep({ delivered: ["conflict"] }) },
      now: T0 + 14 * MIN,
      effects: [],
      unchanged: true,
    },
    {
      name: "no session → notify",
      obs: pr({ mergeable: "CONFLICTING" }),
      context: { sessionId: null },
      effects: [notify("merge_conflict", "pr-1:merge_conflict:1:conflict")],
    },
    {
      name: "a closed PR that conflicts → no conflict reaction",
      obs: pr({ mergeable: "CONFLICTING", ...closed() }),
      history: { merge_conflict: ep({ delivered: ["conflict"] }) },
      effects: [notify("pr_closed", `pr-1:pr_closed:1:closed:${CLOSED_AT}`)],
      after: { merge_conflict: { active: false } },
    },
  ]);
});

describe("decideReactions: approved_and_green (default: notify)", () => {
  runRows([
    {
      name: "approved, green, mergeable → notify once for the head sha",
      obs: pr(ready(SHA_A)),
      effects: [notify("approved_and_green", `pr-1:approved_and_green:1:ready:${SHA_A}`)],
      after: { approved_and_green: { n: 1, active: true, attempts: 1, delivered: [`ready:${SHA_A}`] } },
    },
    {
      name: "still ready at the same sha → nothing",
      obs: pr(ready(SHA_A)),
      history: { approved_and_green: ep({ delivered: [`ready:${SHA_A}`] }) },
      effects: [],
      unchanged: true,
    },
    {
      name: "ready at a new head sha → notify again",
      obs: pr(ready(SHA_B)),
      history: { approved_and_green: ep({ delivered: [`ready:${SHA_A}`] }) },
      effects: [notify("approved_and_green", `pr-1:approved_and_green:1:ready:${SHA_B}`)],
      after: { approved_and_green: { attempts: 2 } },
    },
    {
      name: "CI none (no checks at all) counts as green",
      obs: pr({ ...ready(SHA_A), ...ciState("none") }),
      effects: [notify("approved_and_green", `pr-1:approved_and_green:1:ready:${SHA_A}`)],
    },
    {
      name: "a draft → nothing",
      obs: pr({ ...ready(SHA_A), draft: true }),
      effects: [],
      after: { approved_and_green: null },
    },
    {
      name: "CI pending → nothing",
      obs: pr({ ...ready(SHA_A), ...ciState("pending") }),
      effects: [],
      after: { approved_and_green: null },
    },
    {
      name: "CI failing → only the CI nudge",
      obs: pr({ ...ready(SHA_A), ...failing(SHA_A, "check:2") }),
      effects: [nudge("ci_failed", `pr-1:ci_failed:1:${SIG_A}`)],
      after: { approved_and_green: null },
    },
    {
      name: "mergeable UNKNOWN → nothing",
      obs: pr({ ...ready(SHA_A), mergeable: "UNKNOWN" }),
      effects: [],
      after: { approved_and_green: null },
    },
    {
      name: "CONFLICTING → only the conflict nudge",
      obs: pr({ ...ready(SHA_A), mergeable: "CONFLICTING" }),
      effects: [nudge("merge_conflict", "pr-1:merge_conflict:1:conflict")],
      after: { approved_and_green: null },
    },
    ...(["REVIEW_REQUIRED", "CHANGES_REQUESTED", null] as const).map((decision): Row => ({
      name: `review decision ${String(decision)} → nothing`,
      obs: pr({ ...ready(SHA_A), reviewDecision: decision }),
      effects: [],
      after: { approved_and_green: null },
    })),
    {
      name: "auto_merge allowed only after the notification → the same head is merged now",
      obs: pr(ready(SHA_A)),
      config: { approved_and_green: { action: "auto_merge" } },
      context: { autoMergeAllowed: true, mergeMethod: "squash" },
      history: { approved_and_green: ep({ delivered: [`ready:${SHA_A}`] }) },
      effects: [merge("squash")],
    },
    {
      name: "BLOCKED (branch protection wants more) → nothing",
      obs: pr({ ...ready(SHA_A), mergeStateStatus: "BLOCKED" }),
      effects: [],
      after: { approved_and_green: null },
    },
    {
      name: "no longer ready → the episode is left alone (readiness is per head sha)",
      obs: pr({ ...ready(SHA_A), ...ciState("pending") }),
      history: { approved_and_green: ep({ delivered: [`ready:${SHA_A}`] }) },
      effects: [],
      unchanged: true,
    },
    {
      name: "auto_merge, allowed → merge with the repo's method",
      obs: pr(ready(SHA_A)),
      config: { approved_and_green: { action: "auto_merge" } },
      context: { autoMergeAllowed: true, mergeMethod: "squash" },
      effects: [merge("squash")],
      after: { approved_and_green: { attempts: 1, delivered: [`merge:${SHA_A}`] } },
    },
    {
      name: "auto_merge, allowed, repo method merge → merge",
      obs: pr(ready(SHA_A)),
      config: { approved_and_green: { action: "auto_merge" } },
      context: { autoMergeAllowed: true, mergeMethod: "merge" },
      effects: [merge("merge")],
    },
    {
      name: "auto_merge with method rebase → rebase, whatever the repo's",
      obs: pr(ready(SHA_A)),
      config: { approved_and_green: { action: "auto_merge", method: "rebase" } },
      context: { autoMergeAllowed: true, mergeMethod: "squash" },
      effects: [merge("rebase")],
    },
    {
      name: "auto_merge, already merged-for at this sha → nothing",
      obs: pr(ready(SHA_A)),
      config: { approved_and_green: { action: "auto_merge" } },
      context: { autoMergeAllowed: true },
      history: { approved_and_green: ep({ delivered: [`merge:${SHA_A}`] }) },
      effects: [],
      unchanged: true,
    },
    {
      name: "auto_merge, not allowed for the repo → notify instead",
      obs: pr(ready(SHA_A)),
      config: { approved_and_green: { action: "auto_merge" } },
      context: { autoMergeAllowed: false },
      effects: [notify("approved_and_green", `pr-1:approved_and_green:1:ready:${SHA_A}`)],
    },
    {
      name: "auto_merge, a draft → nothing",
      obs: pr({ ...ready(SHA_A), draft: true }),
      config: { approved_and_green: { action: "auto_merge" } },
      context: { autoMergeAllowed: true },
      effects: [],
    },
    {
      name: "auto_merge, CI pending → nothing",
      obs: pr({ ...ready(SHA_A), ...ciState("pending") }),
      config: { approved_and_green: { action: "auto_merge" } },
      context: { autoMergeAllowed: true },
      effects: [],
    },
    {
      name: "auto_merge, mergeable UNKNOWN → nothing",
      obs: pr({ ...ready(SHA_A), mergeable: "UNKNOWN" }),
      config: { approved_and_green: { action: "auto_merge" } },
      context: { autoMergeAllowed: true },
      effects: [],
    },
    {
      name: "approved and green but closed → only pr_closed",
      obs: pr({ ...ready(SHA_A), ...closed() }),
      effects: [notify("pr_closed", `pr-1:pr_closed:1:closed:${CLOSED_AT}`)],
    },
  ]);
});

describe("decideReactions: pr_closed and pr_merged", () => {
  runRows([
    {
      name: "closed → notify once (signature by closedAt)",
      obs: pr(closed()),
      effects: [notify("pr_closed", `pr-1:pr_closed:1:closed:${CLOSED_AT}`)],
      after: { pr_closed: { n: 1, active: true, attempts: 1, delivered: [`closed:${CLOSED_AT}`] } },
    },
    {
      name: "still closed → nothing",
      obs: pr(closed()),
      history: { pr_closed: ep({ delivered: [`closed:${CLOSED_AT}`] }) },
      effects: [],
      unchanged: true,
    },
    {
      name: "reopened → the episode ends (re-armed)",
      obs: pr(),
      history: { pr_closed: ep({ delivered: [`closed:${CLOSED_AT}`] }) },
      effects: [],
      after: { pr_closed: { n: 1, active: false } },
    },
    {
      name: "closed again after a reopen → notify again in episode 2",
      obs: pr(closed("2025-03-02T09:00:00Z")),
      history: { pr_closed: ep({ active: false, delivered: [`closed:${CLOSED_AT}`] }) },
      effects: [notify("pr_closed", "pr-1:pr_closed:2:closed:2025-03-02T09:00:00Z")],
      after: { pr_closed: { n: 2, active: true } },
    },
    {
      name: "closed without a closedAt → still notifies",
      obs: pr(closed(null)),
      effects: [notify("pr_closed", "pr-1:pr_closed:1:closed:")],
    },
    {
      name: "pr_closed with priority urgent → an urgent notification",
      obs: pr(closed()),
      config: { pr_closed: { priority: "urgent" } },
      effects: [notify("pr_closed", `pr-1:pr_closed:1:closed:${CLOSED_AT}`, "urgent")],
    },
    {
      name: "merged → one info notification, no pr_closed",
      obs: pr(merged),
      effects: [notify("pr_merged", "pr-1:pr_merged:1:merged", "info")],
      after: { pr_merged: { n: 1, attempts: 1 }, pr_closed: null },
    },
    {
      name: "still merged → nothing",
      obs: pr(merged),
      history: { pr_merged: ep({ delivered: ["merged"] }) },
      effects: [],
      unchanged: true,
    },
    {
      name: "merged after a close and reopen → pr_merged only, the pr_closed episode is left alone",
      obs: pr(merged),
      history: { pr_closed: ep({ active: false, delivered: [`closed:${CLOSED_AT}`] }) },
      effects: [notify("pr_merged", "pr-1:pr_merged:1:merged", "info")],
      after: { pr_closed: { n: 1, active: false } },
    },
    {
      name: "merged with every episode running → they all end, only pr_merged notifies",
      obs: pr({ ...merged, ...failing(SHA_A, "check:2"), mergeable: "CONFLICTING" }),
      history: {
        ci_failed: ep({ delivered: [SIG_A] }),
        merge_conflict: ep({ delivered: ["conflict"] }),
        changes_requested: ep({ delivered: ["comment:c1"] }),
      },
      effects: [notify("pr_merged", "pr-1:pr_merged:1:merged", "info")],
      after: {
        ci_failed: { active: false },
        merge_conflict: { active: false },
        changes_requested: { active: false },
      },
    },
    {
      name: "pr_merged action none → nothing",
      obs: pr(merged),
      config: { pr_merged: { action: "none" } },
      effects: [],
      after: { pr_merged: null },
    },
    {
      name: "pr_closed action none → nothing, the history untouched even on reopen",
      obs: pr(),
      config: { pr_closed: { action: "none" } },
      history: { pr_closed: ep({ delivered: [`closed:${CLOSED_AT}`] }) },
      effects: [],
      unchanged: true,
    },
  ]);
});

describe("decideReactions: action none turns every PR reaction off", () => {
  const allNone: ReactionOverrides = Object.fromEntries(
    PR_REACTION_KEYS.map((key) => [key, { action: "none" as const }]),
  );
  const history: ReactionHistory = {
    ci_failed: ep({ delivered: [SIG_A] }),
    changes_requested: ep({ delivered: ["comment:c1"] }),
    merge_conflict: ep({ delivered: ["conflict"] }),
  };
  it.each([
    ["CI failing", pr(failing(SHA_B, "check:3"))],
    ["new review feedback", pr(review([thread("t1", [comment("c1"), comment("c2")])]))],
    ["conflict, 1 h later", pr({ mergeable: "CONFLICTING" })],
    ["ready", pr(ready(SHA_B))],
    ["closed", pr(closed())],
    ["merged", pr(merged)],
    ["everything cleared", pr()],
  ])("%s → no effects, history unchanged", (_name, obs) => {
    const decision = decide(obs, { history, config: allNone, now: T0 + 60 * MIN });
    expect(decision.effects).toEqual([]);
    expect(decision.history).toEqual(history);
  });
});

// ---------------------------------------------------------------------------------------------
// The texts of the effects
// ---------------------------------------------------------------------------------------------

describe("decideReactions: what the effects say", () => {
  it("the CI nudge carries each failing check's name, URL and log tail, not the passing ones", () => {
    const obs = pr({
      headSha: SHA_A,
      ci: {
        state: "failure",
        partial: false,
        checks: [
          check("check:1", "success", { name: "lint" }),
          check("check:2", "failure", {
            name: "unit tests",
            url: "https://github.com/acme/app/actions/runs/9/job/2",
            logTail: "FAIL src/search.test.ts\nexpected 3, got 4",
          }),
          check("status:deploy-preview", "failure", {
            kind: "status",
            name: "deploy-preview",
            url: "https://ci.example.com/builds/77",
            logTail: null,
          }),
        ],
      },
    });
    const [effect] = decide(obs).effects;
    if (effect?.type !== "nudge") throw new Error(`expected a nudge, got ${effect?.type}`);
    expect(effect.text).toContain("unit tests");
    expect(effect.text).toContain("https://github.com/acme/app/actions/runs/9/job/2");
    expect(effect.text).toContain("FAIL src/search.test.ts\nexpected 3, got 4");
    expect(effect.text).toContain("deploy-preview");
    expect(effect.text).toContain("https://ci.example.com/builds/77");
    expect(effect.text).toContain(SHA_A.slice(0, 7));
    expect(effect.text).not.toContain("lint");
  });

  it("without a session, the notification's body carries the same text the nudge would, with the PR URL", () => {
    const obs = pr(failing(SHA_A, "check:2"));
    const [withSession] = decide(obs).effects;
    const [withoutSession] = decide(obs, { context: { sessionId: null } }).effects;
    if (withSession?.type !== "nudge" || withoutSession?.type !== "notify")
      throw new Error("unexpected effects");
    expect(withoutSession.body).toBe(`${PR_URL}\n\n${withSession.text}`);
    expect(withoutSession.title).toBe("CI failing: app#7 Tune title boost");
    expect(withoutSession.dedupKey).toBe(withSession.dedupKey);
  });

  it("the review nudge carries the human comments with file and line, not bots' or the agent's own", () => {
    const obs = pr(
      review(
        [
          thread("t1", [comment("c1", "alice", { body: "Rename this boost" }), ownComment("v1")], {
            path: "config/boosts.yaml",
            line: 42,
          }),
          thread("t2", [botComment("b1")], { path: "src/other.ts", line: 3 }),
        ],
        [changeRequest("r1", "bob", { body: "Needs a test" })],
      ),
    );
    const [effect] = decide(obs).effects;
    if (effect?.type !== "nudge") throw new Error(`expected a nudge, got ${effect?.type}`);
    expect(effect.text).toContain("config/boosts.yaml:42");
    expect(effect.text).toContain("@alice: Rename this boost");
    expect(effect.text).toContain(`${PR_URL}#discussion_c1`);
    expect(effect.text).toContain("@bob requested changes");
    expect(effect.text).toContain("Needs a test");
    expect(effect.text).not.toContain("please fix v1");
    expect(effect.text).not.toContain("src/other.ts");
    expect(effect.text).not.toContain("lint-bot");
  });

  it("the conflict nudge is a rebase instruction onto the base branch", () => {
    const [effect] = decide(pr({ mergeable: "CONFLICTING", baseRef: "release" })).effects;
    if (effect?.type !== "nudge") throw new Error(`expected a nudge, got ${effect?.type}`);
    expect(effect.text).toMatch(/rebase/i);
    expect(effect.text).toContain("origin/release");
  });

  it("a rule's message leads the nudge text", () => {
    const [effect] = decide(pr({ mergeable: "CONFLICTING" }), {
      config: { merge_conflict: { message: "Heads up from the team:" } },
    }).effects;
    if (effect?.type !== "nudge") throw new Error(`expected a nudge, got ${effect?.type}`);
    expect(effect.text.startsWith("Heads up from the team:\n\n")).toBe(true);
  });

  it.each([
    [
      "ci_failed (attempts)",
      pr(failing(SHA_C, "check:4")),
      { ci_failed: ep({ delivered: [SIG_A, SIG_B], attempts: 2 }) },
      NOW,
      "still failing after 2 nudges",
    ],
    [
      "changes_requested (max_nudges)",
      pr(review([thread("t1", [comment("c1"), comment("c2"), comment("c3"), comment("c4")])])),
      { changes_requested: ep({ delivered: ["comment:c1", "comment:c2", "comment:c3"], attempts: 3 }) },
      NOW,
      "more feedback after 3 nudges",
    ],
    [
      "changes_requested (duration)",
      pr(review([thread("t1", [comment("c1")])])),
      { changes_requested: ep({ delivered: ["comment:c1"] }) },
      T0 + 30 * MIN,
      "unresolved for more than 30 min",
    ],
    [
      "merge_conflict (duration)",
      pr({ mergeable: "CONFLICTING" }),
      { merge_conflict: ep({ delivered: ["conflict"] }) },
      T0 + 15 * MIN,
      "unresolved for more than 15 min",
    ],
  ] as const)(
    "the %s escalation says why, for humans, with the PR URL",
    (_name, obs, history, now, reason) => {
      const [effect] = decide(obs, { history, now }).effects;
      if (effect?.type !== "escalate") throw new Error(`expected an escalation, got ${effect?.type}`);
      expect(effect.reason).toBe(reason);
      expect(effect.body).toBe(`${reason}. ${PR_URL}`);
      expect(effect.title.startsWith("Escalated — ")).toBe(true);
      expect(effect.title).toContain("app#7");
    },
  );

  it("the auto-merge refusal says why", () => {
    const [effect] = decide(pr(ready(SHA_A)), {
      config: { approved_and_green: { action: "auto_merge" } },
      context: { autoMergeAllowed: false },
    }).effects;
    if (effect?.type !== "notify") throw new Error(`expected a notification, got ${effect?.type}`);
    expect(effect.body).toContain(PR_URL);
    expect(effect.body).toMatch(/not allowed/);
    expect(effect.title).toBe("Ready to merge: app#7 Tune title boost");
  });

  it("titles carry the PR title sanitized", () => {
    const [effect] = decide(pr({ ...closed(), title: "Evil\u001b[2J\u202e title\u0007" })).effects;
    if (effect?.type !== "notify") throw new Error(`expected a notification, got ${effect?.type}`);
    expect(effect.title).toBe("Closed without merging: app#7 Evil title");
  });
});

// ---------------------------------------------------------------------------------------------
// Properties across decisions
// ---------------------------------------------------------------------------------------------

describe("decideReactions: several new review items at once", () => {
  const obs = pr(review([thread("t1", [comment("c1"), comment("c2")])], [changeRequest("r1")]));

  it("one nudge, every item delivered, a hashed signature in the dedup key", () => {
    const decision = decide(obs);
    expect(decision.effects.map((effect) => effect.type)).toEqual(["nudge"]);
    expect(decision.effects[0]?.dedupKey).toMatch(/^pr-1:changes_requested:1:[0-9a-f]{16}$/);
    expect(decision.history.changes_requested).toMatchObject({
      attempts: 1,
      delivered: ["review:r1", "comment:c1", "comment:c2"],
    });
  });

  it("the key differs for another set of items and is the same on a re-run", () => {
    const other = pr(review([thread("t1", [comment("c1"), comment("c3")])], [changeRequest("r1")]));
    expect(decide(obs).effects[0]?.dedupKey).toBe(decide(obs, { now: NOW + MIN }).effects[0]?.dedupKey);
    expect(decide(obs).effects[0]?.dedupKey).not.toBe(decide(other).effects[0]?.dedupKey);
  });
});

describe("decideReactions: the CI signature", () => {
  const failureOf = (...checks: CheckResult[]): PrObservation =>
    pr({ headSha: SHA_A, ci: { state: "failure", partial: false, checks } });

  it.each([
    { name: "another head sha", obs: pr(failing(SHA_B, "check:2")), same: false },
    { name: "another failing check at the same sha", obs: pr(failing(SHA_A, "check:3")), same: false },
    {
      name: "one more failing check at the same sha",
      obs: pr(failing(SHA_A, "check:2", "check:3")),
      same: false,
    },
    {
      name: "the same failure with other passing checks",
      obs: failureOf(check("check:2", "failure"), check("check:77", "success"), check("check:78", "neutral")),
      same: true,
    },
    {
      name: "the same check failing again under a new run id (a re-run)",
      obs: failureOf(check("check:20", "failure", { name: "job check:2" })),
      same: true,
    },
    {
      name: "the same failure with other details (URL, log tail)",
      obs: failureOf(check("check:2", "failure", { logTail: "boom", url: null })),
      same: true,
    },
    {
      name: "a failing check of another name at the same sha",
      obs: failureOf(check("check:2", "failure", { name: "renamed" })),
      same: false,
    },
  ])("vs the failure of check:2 at sha A: $name → same signature: $same", ({ obs, same }) => {
    expect(SIG_A).toMatch(/^[0-9a-f]{16}$/);
    expect(ciSig(obs) === SIG_A).toBe(same);
  });

  it("does not depend on the order of the failing checks", () => {
    const ab = ciSig(pr(failing(SHA_A, "check:2", "check:3")));
    const ba = ciSig(pr(failing(SHA_A, "check:3", "check:2")));
    expect(ab).toBe(ba);
  });
});

/** Observations that make each reaction hold (and one with nothing to do). */
const EACH_CONDITION: [string, PrObservation][] = [
  ["nothing", pr()],
  ["CI failing", pr(failing(SHA_A, "check:2"))],
  ["review feedback", pr(review([thread("t1", [comment("c1")])], [changeRequest("r1")]))],
  ["conflict", pr({ mergeable: "CONFLICTING" })],
  ["ready", pr(ready(SHA_A))],
  ["closed", pr(closed())],
  ["merged", pr(merged)],
  [
    "everything at once",
    pr({
      ...failing(SHA_A, "check:2"),
      ...review([thread("t1", [comment("c1")])]),
      mergeable: "CONFLICTING",
    }),
  ],
];

describe("decideReactions: level-triggered, idempotent", () => {
  it.each(EACH_CONDITION)(
    "%s: deciding again from the returned history with nothing new → zero effects",
    (_name, obs) => {
      const first = decide(obs, { now: T0 });
      let history = first.history;
      for (const now of [T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN]) {
        const again = decide(obs, { history, now });
        expect(again.effects).toEqual([]);
        expect(again.history).toEqual(history);
        history = again.history;
      }
    },
  );

  it.each(EACH_CONDITION)(
    "%s: a re-run from the same persisted history (crash before acknowledging) repeats the same effects",
    (_name, obs) => {
      // A history from earlier observations of other conditions, as the store would read it back.
      const persisted = roundTrip({
        ci_failed: ep({ active: false, delivered: [SIG_B] }),
        merge_conflict: ep({ n: 2, active: false, delivered: ["conflict"] }),
        pr_closed: ep({ active: false, delivered: ["closed:2025-02-01T00:00:00Z"] }),
      });
      const first = decide(obs, { history: persisted, now: T0 + MIN });
      const rerun = decide(obs, { history: roundTrip(persisted), now: T0 + 2 * MIN });
      expect(rerun.effects.map((effect) => effect.dedupKey)).toEqual(
        first.effects.map((effect) => effect.dedupKey),
      );
      expect(rerun.effects.map(brief)).toEqual(first.effects.map(brief));
    },
  );

  it("a re-run mid-episode (after two nudges and an ended conflict) repeats the same dedup keys", () => {
    const persisted: ReactionHistory = {
      ci_failed: ep({ delivered: [SIG_A], attempts: 1 }),
      merge_conflict: ep({ n: 3, active: false, delivered: ["conflict"] }),
    };
    const obs = pr({ ...failing(SHA_B, "check:3"), mergeable: "CONFLICTING" });
    const a = decide(obs, { history: persisted, now: NOW });
    const b = decide(obs, { history: persisted, now: NOW + 20 * 1000 });
    expect(a.effects.map(brief)).toEqual([
      nudge("ci_failed", `pr-1:ci_failed:1:${SIG_B}`),
      nudge("merge_conflict", "pr-1:merge_conflict:4:conflict"),
    ]);
    expect(b.effects.map(brief)).toEqual(a.effects.map(brief));
  });

  it("never mutates the history it is given", () => {
    const history = deepFreeze<ReactionHistory>({
      ci_failed: ep({ delivered: [SIG_A, SIG_B], attempts: 2 }),
      changes_requested: ep({ delivered: ["comment:c1"] }),
      merge_conflict: ep({ delivered: ["conflict"] }),
      pr_closed: ep({ active: false, delivered: [`closed:${CLOSED_AT}`] }),
    });
    const snapshot = JSON.stringify(history);
    const obs = pr({
      ...failing(SHA_C, "check:4"),
      ...review([thread("t1", [comment("c1"), comment("c2")])]),
      mergeable: "MERGEABLE",
    });
    const decision = decide(obs, { history, now: T0 + 60 * MIN });
    expect(decision.effects.length).toBeGreaterThan(0);
    expect(JSON.stringify(history)).toBe(snapshot);
  });

  it("a PR with more unresolved items than the history keeps is not nudged again when nothing is new", () => {
    // 50 threads × 5 comments (what one observation reads by default) + 20 reviews: 270 items.
    const threads = Array.from({ length: 50 }, (_, t) =>
      thread(
        `t${t}`,
        Array.from({ length: 5 }, (_unused, c) => comment(`c${t}-${c}`)),
      ),
    );
    const requests = Array.from({ length: 20 }, (_, r) => changeRequest(`r${r}`, `reviewer${r}`));
    const obs = pr(review(threads, requests));
    const first = decide(obs, { now: T0 });
    expect(first.effects.map((effect) => effect.type)).toEqual(["nudge"]);
    let history = first.history;
    const later: string[] = [];
    for (const now of [T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN, T0 + 4 * MIN]) {
      const again = decide(obs, { history, now });
      later.push(...again.effects.map((effect) => `${effect.type} ${effect.dedupKey}`));
      history = again.history;
    }
    expect(later).toEqual([]);
  });
});

function roundTrip(history: ReactionHistory): ReactionHistory {
  return JSON.parse(JSON.stringify(history)) as ReactionHistory;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Scenarios: a sequence of observations, the history fed back each time
// ---------------------------------------------------------------------------------------------

/** `nudge ci_failed #1`: type, reaction and episode of each effect. */
function short(effect: ReactionEffect): string {
  const n = effect.dedupKey.split(":")[2];
  return `${effect.type} ${effect.key} #${n}`;
}

function play(
  steps: [at: number, obs: PrObservation][],
  options: { config?: ReactionOverrides; context?: Partial<PrReactionContext> } = {},
): { effects: string[][]; keys: string[]; history: ReactionHistory; all: ReactionEffect[] } {
  let history: ReactionHistory = {};
  const effects: string[][] = [];
  const all: ReactionEffect[] = [];
  for (const [at, obs] of steps) {
    const decision = decide(obs, { history, now: at, config: options.config, context: options.context });
    effects.push(decision.effects.map(short));
    all.push(...decision.effects);
    // What the store would persist and read back.
    history = roundTrip(decision.history);
  }
  return { effects, keys: all.map((effect) => effect.dedupKey), history, all };
}

describe("decideReactions: scenarios", () => {
  it("ci_failed: two nudges for two failures, escalation on the third, silence until CI passes, then episode 2", () => {
    const run = play([
      [T0, pr(failing(SHA_A, "check:2"))],
      [T0 + 1 * MIN, pr(failing(SHA_A, "check:2"))],
      [T0 + 2 * MIN, pr(ciState("pending", SHA_B))],
      [T0 + 3 * MIN, pr(failing(SHA_B, "check:3"))],
      [T0 + 4 * MIN, pr(failing(SHA_B, "check:3"))],
      [T0 + 5 * MIN, pr(ciState("pending", SHA_C))],
      [T0 + 6 * MIN, pr(failing(SHA_C, "check:4"))],
      [T0 + 7 * MIN, pr(failing(SHA_D, "check:5"))],
      [T0 + 8 * MIN, pr(ciState("none", SHA_E))],
      [T0 + 9 * MIN, pr(failing(SHA_E, "check:6"))],
      [T0 + 10 * MIN, pr(ciState("success", SHA_E))],
      [T0 + 11 * MIN, pr(ciState("success", SHA_E))],
      [T0 + 12 * MIN, pr(failing(SHA_A, "check:2"))],
      [T0 + 13 * MIN, pr(failing(SHA_B, "check:3"))],
    ]);
    expect(run.effects).toEqual([
      ["nudge ci_failed #1"],
      [],
      [],
      ["nudge ci_failed #1"],
      [],
      [],
      ["escalate ci_failed #1"],
      [],
      [],
      [],
      [],
      [],
      ["nudge ci_failed #2"],
      ["nudge ci_failed #2"],
    ]);
    expect(new Set(run.keys).size).toBe(run.keys.length);
    expect(run.history.ci_failed).toMatchObject({ n: 2, active: true, attempts: 2, escalated: false });
  });

  it("ci_failed: a check re-run that fails again at the same sha is not news; another check failing there is", () => {
    const rerun = (id: string, name: string): Partial<PrObservation> => ({
      headSha: SHA_A,
      ci: { state: "failure", partial: false, checks: [check(id, "failure", { name })] },
    });
    const run = play([
      [T0, pr(rerun("check:2", "job check:2"))],
      [T0 + MIN, pr(ciState("pending", SHA_A))],
      // GitHub gives a re-run a new check-run id under the same name.
      [T0 + 2 * MIN, pr(rerun("check:20", "job check:2"))],
      [T0 + 3 * MIN, pr(rerun("check:21", "lint"))],
    ]);
    expect(run.effects).toEqual([["nudge ci_failed #1"], [], [], ["nudge ci_failed #1"]]);
    expect(new Set(run.keys).size).toBe(2);
  });

  it("changes_requested: nudges only for new comment ids, stops at max_nudges and escalates, re-arms when resolved", () => {
    const c = (...ids: string[]) => ids.map((id) => comment(id));
    const run = play([
      [T0, pr(review([thread("t1", c("c1"))]))],
      [T0 + 1 * MIN, pr(review([thread("t1", [...c("c1"), ownComment("v1")])]))],
      [T0 + 2 * MIN, pr(review([thread("t1", [...c("c1"), ownComment("v1"), ...c("c2")])]))],
      [T0 + 3 * MIN, pr(review([thread("t1", [...c("c1"), ownComment("v1"), ...c("c2")])]))],
      [T0 + 4 * MIN, pr(review([thread("t1", c("c1", "c2")), thread("t2", [botComment("b1")])]))],
      [T0 + 5 * MIN, pr({ review: null })],
      [T0 + 6 * MIN, pr(review([thread("t1", c("c1", "c2")), thread("t3", c("c3"))]))],
      [T0 + 7 * MIN, pr(review([thread("t1", c("c1", "c2")), thread("t3", c("c3", "c4"))]))],
      [T0 + 8 * MIN, pr(review([thread("t1", c("c1", "c2")), thread("t3", c("c3", "c4", "c5"))]))],
      [T0 + 9 * MIN, pr(review([]))],
      [T0 + 10 * MIN, pr(review([thread("t9", c("c9"))]))],
    ]);
    expect(run.effects).toEqual([
      ["nudge changes_requested #1"],
      [],
      ["nudge changes_requested #1"],
      [],
      [],
      [],
      ["nudge changes_requested #1"],
      ["escalate changes_requested #1"],
      [],
      [],
      ["nudge changes_requested #2"],
    ]);
    expect(run.keys).toEqual([
      "pr-1:changes_requested:1:comment:c1",
      "pr-1:changes_requested:1:comment:c2",
      "pr-1:changes_requested:1:comment:c3",
      "pr-1:changes_requested:1:escalated",
      "pr-1:changes_requested:2:comment:c9",
    ]);
  });

  it("changes_requested: escalates once after 30 min, exactly once", () => {
    const obs = pr(review([thread("t1", [comment("c1")])]));
    const run = play([
      [T0, obs],
      [T0 + 10 * MIN, obs],
      [T0 + 29 * MIN, obs],
      [T0 + 30 * MIN, obs],
      [T0 + 31 * MIN, obs],
      [T0 + 45 * MIN, pr(review([thread("t1", [comment("c1"), comment("c2")])]))],
      [T0 + 120 * MIN, pr(review([thread("t1", [comment("c1"), comment("c2")])]))],
    ]);
    expect(run.effects).toEqual([
      ["nudge changes_requested #1"],
      [],
      [],
      ["escalate changes_requested #1"],
      [],
      [],
      [],
    ]);
  });

  it("changes_requested: bot feedback is ignored by default and passed on with includeBots", () => {
    const steps: [number, PrObservation][] = [
      [T0, pr(review([thread("t1", [botComment("b1")])]))],
      [T0 + MIN, pr(review([thread("t1", [botComment("b1"), botComment("b2")])]))],
    ];
    expect(play(steps).effects).toEqual([[], []]);
    expect(play(steps, { config: { changes_requested: { includeBots: true } } }).effects).toEqual([
      ["nudge changes_requested #1"],
      ["nudge changes_requested #1"],
    ]);
  });

  it("merge_conflict: nudge once, UNKNOWN neither starts nor ends it, cleared → returns → episode 2, escalates after 15 min", () => {
    const conflicting = pr({ mergeable: "CONFLICTING" });
    const unknown = pr({ mergeable: "UNKNOWN" });
    const run = play([
      [T0, unknown],
      [T0 + 1 * MIN, conflicting],
      [T0 + 2 * MIN, unknown],
      [T0 + 3 * MIN, conflicting],
      [T0 + 4 * MIN, pr({ mergeable: "MERGEABLE" })],
      [T0 + 5 * MIN, unknown],
      [T0 + 6 * MIN, conflicting],
      [T0 + 20 * MIN, unknown],
      [T0 + 21 * MIN, conflicting],
      [T0 + 22 * MIN, conflicting],
      [T0 + 60 * MIN, conflicting],
    ]);
    expect(run.effects).toEqual([
      [],
      ["nudge merge_conflict #1"],
      [],
      [],
      [],
      [],
      ["nudge merge_conflict #2"],
      [],
      ["escalate merge_conflict #2"],
      [],
      [],
    ]);
  });

  it("approved_and_green: notify once per head sha", () => {
    const run = play([
      [T0, pr(ready(SHA_A))],
      [T0 + MIN, pr(ready(SHA_A))],
      [T0 + 2 * MIN, pr({ ...ready(SHA_B), ...ciState("pending", SHA_B) })],
      [T0 + 3 * MIN, pr({ ...ready(SHA_B), mergeable: "UNKNOWN" })],
      [T0 + 4 * MIN, pr(ready(SHA_B))],
      [T0 + 5 * MIN, pr(ready(SHA_B))],
      [T0 + 6 * MIN, pr({ ...ready(SHA_B), reviewDecision: "REVIEW_REQUIRED" })],
      [T0 + 7 * MIN, pr(ready(SHA_B))],
    ]);
    expect(run.effects).toEqual([
      ["notify approved_and_green #1"],
      [],
      [],
      [],
      ["notify approved_and_green #1"],
      [],
      [],
      [],
    ]);
    expect(run.keys).toEqual([
      `pr-1:approved_and_green:1:ready:${SHA_A}`,
      `pr-1:approved_and_green:1:ready:${SHA_B}`,
    ]);
  });

  it("approved_and_green with auto_merge: one merge per head sha, with the configured method", () => {
    const run = play(
      [
        [T0, pr({ ...ready(SHA_A), draft: true })],
        [T0 + MIN, pr(ready(SHA_A))],
        [T0 + 2 * MIN, pr(ready(SHA_A))],
      ],
      {
        config: { approved_and_green: { action: "auto_merge", method: "merge" } },
        context: { autoMergeAllowed: true },
      },
    );
    expect(run.effects).toEqual([[], ["merge approved_and_green #1"], []]);
    expect(run.all.map(brief)).toEqual([merge("merge")]);
  });

  it("pr_closed: notifies once; reopened and closed again notifies again; merged notifies once", () => {
    const run = play([
      [T0, pr()],
      [T0 + MIN, pr(closed("2025-03-01T12:01:00Z"))],
      [T0 + 2 * MIN, pr(closed("2025-03-01T12:01:00Z"))],
      [T0 + 3 * MIN, pr()],
      [T0 + 4 * MIN, pr(closed("2025-03-01T12:04:00Z"))],
      [T0 + 5 * MIN, pr(closed("2025-03-01T12:04:00Z"))],
      [T0 + 6 * MIN, pr()],
      [T0 + 7 * MIN, pr(merged)],
      [T0 + 8 * MIN, pr(merged)],
    ]);
    expect(run.effects).toEqual([
      [],
      ["notify pr_closed #1"],
      [],
      [],
      ["notify pr_closed #2"],
      [],
      [],
      ["notify pr_merged #1"],
      [],
    ]);
  });

  it("send_to_agent without a session: the same cadence, as notifications", () => {
    const run = play(
      [
        [T0, pr(failing(SHA_A, "check:2"))],
        [T0 + MIN, pr(failing(SHA_B, "check:3"))],
        [T0 + 2 * MIN, pr(failing(SHA_C, "check:4"))],
        [T0 + 3 * MIN, pr(failing(SHA_D, "check:5"))],
      ],
      { context: { sessionId: null } },
    );
    expect(run.effects).toEqual([
      ["notify ci_failed #1"],
      ["notify ci_failed #1"],
      ["escalate ci_failed #1"],
      [],
    ]);
  });
});

describe("decideReactions: defaults", () => {
  it("uses SPEC C5's defaults when nothing is overridden", () => {
    expect(resolveReactions()).toEqual(DEFAULT_REACTIONS);
  });
});
