import { ciFailedText, conflictText, reviewText, sanitizeText, type PrSummary } from "./nudge-text.js";
import { unresolvedFeedback, type PrObservation } from "./pull-request.js";
import type {
  Priority,
  PrReactionKey,
  ReactionConfig,
  ReactionKey,
  ReactionRule,
} from "./reaction-config.js";
import { EpisodeCursor, stableHash, type ReactionHistory } from "./reaction-history.js";
import type { MergeMethod } from "./repo.js";

/**
 * `decideReactions` (SPEC C5): from a PR's latest observation, what its reactions have already
 * done, and the configuration, decide what to do now. Pure: the caller persists the new history
 * only after carrying the effects out, and every effect has a dedup key derived from persisted
 * history alone, so a re-run after a crash repeats the same keys and the store drops repeats.
 *
 * Level-triggered on purpose: the decision reads the state, not the difference between two
 * observations, so a missed observation or a restart can neither lose a reaction nor repeat it.
 */

export type ReactionEffect =
  | { type: "nudge"; key: ReactionKey; dedupKey: string; sessionId: string; text: string }
  | { type: "notify"; key: ReactionKey; dedupKey: string; priority: Priority; title: string; body: string }
  | {
      type: "escalate";
      key: ReactionKey;
      dedupKey: string;
      priority: Priority;
      title: string;
      body: string;
      reason: string;
    }
  | { type: "merge"; key: ReactionKey; dedupKey: string; method: MergeMethod; headSha: string };

export interface PrReactionContext {
  prId: string;
  /** The repo's name in Shepherd, for titles. */
  repoName: string;
  /** The session whose agent owns the PR; null when there is no agent to nudge. */
  sessionId: string | null;
  /** The repo allows `auto_merge` (SPEC C2 `autoMerge`). */
  autoMergeAllowed: boolean;
  mergeMethod: MergeMethod;
}

export interface ReactionDecision {
  effects: ReactionEffect[];
  history: ReactionHistory;
}

type Condition =
  /** The condition holds with this signature (and, for nudges, this content). */
  | { holds: true; signatures: string[]; render: () => string }
  /** Not known from this observation (CI still running, mergeability being computed): no change. */
  | { holds: "unknown" }
  | { holds: false };

const UNKNOWN: Condition = { holds: "unknown" };
const CLEARED: Condition = { holds: false };

function ciCondition(pr: PrObservation, summary: PrSummary, rule: ReactionRule): Condition {
  if (pr.state !== "open" || pr.ci.state === "success") return CLEARED;
  if (pr.ci.state !== "failure") return UNKNOWN;
  const failing = pr.ci.checks.filter((check) => check.state === "failure");
  // Per head commit and set of failing checks: a re-run of the same check failing again at the
  // same commit is not news; another check failing there is.
  const signature = stableHash(
    [pr.headSha, ...[...new Set(failing.map((check) => check.name))].sort()].join("|"),
  );
  return { holds: true, signatures: [signature], render: () => ciFailedText(summary, failing, rule.message) };
}

function reviewCondition(pr: PrObservation, summary: PrSummary, rule: ReactionRule): Condition {
  if (pr.state !== "open") return CLEARED;
  if (pr.review === null) return UNKNOWN;
  const { threads, changeRequests } = unresolvedFeedback(pr.review, rule.includeBots);
  const items = [
    ...changeRequests.map((request) => `review:${request.id}`),
    ...threads.flatMap((thread) => thread.comments.map((comment) => `comment:${comment.id}`)),
  ];
  if (items.length === 0) return CLEARED;
  return {
    holds: true,
    signatures: items,
    render: () => reviewText(summary, threads, changeRequests, rule.message),
  };
}

function conflictCondition(pr: PrObservation, summary: PrSummary, rule: ReactionRule): Condition {
  if (pr.state !== "open" || pr.mergeable === "MERGEABLE") return CLEARED;
  if (pr.mergeable === "UNKNOWN") return UNKNOWN;
  return { holds: true, signatures: ["conflict"], render: () => conflictText(summary, rule.message) };
}

function readyCondition(pr: PrObservation, rule: ReactionRule, context: PrReactionContext): Condition {
  const green = pr.ci.state === "success" || pr.ci.state === "none";
  // BLOCKED: branch protection wants more (e.g. resolved conversations); GitHub would refuse a merge.
  const blocked = pr.mergeStateStatus === "BLOCKED";
  if (
    pr.state === "open" &&
    !pr.draft &&
    pr.reviewDecision === "APPROVED" &&
    green &&
    pr.mergeable === "MERGEABLE" &&
    !blocked
  ) {
    // Merging and telling are separate signatures: enabling auto-merge later still merges this head.
    const merging = rule.action === "auto_merge" && context.autoMergeAllowed;
    return { holds: true, signatures: [`${merging ? "merge" : "ready"}:${pr.headSha}`], render: () => "" };
  }
  // Readiness is per head commit: a later push that becomes ready again is a new signature.
  return UNKNOWN;
}

function closedCondition(pr: PrObservation): Condition {
  if (pr.state === "closed")
    return { holds: true, signatures: [`closed:${pr.closedAt ?? ""}`], render: () => "" };
  return pr.state === "open" ? CLEARED : UNKNOWN;
}

function mergedCondition(pr: PrObservation): Condition {
  return pr.state === "merged" ? { holds: true, signatures: ["merged"], render: () => "" } : UNKNOWN;
}

const WHAT: Record<PrReactionKey, string> = {
  ci_failed: "CI failing",
  changes_requested: "Changes requested",
  merge_conflict: "Merge conflict",
  approved_and_green: "Ready to merge",
  pr_closed: "Closed without merging",
  pr_merged: "Merged",
};

function exceeded(rule: ReactionRule, attempts: number): string | null {
  if (rule.retries !== null && attempts > rule.retries) return `still failing after ${rule.retries} nudges`;
  if (rule.escalateAfter && "attempts" in rule.escalateAfter && attempts > rule.escalateAfter.attempts) {
    return `still failing after ${rule.escalateAfter.attempts} nudges`;
  }
  if (rule.maxNudges !== null && attempts > rule.maxNudges)
    return `more feedback after ${rule.maxNudges} nudges`;
  return null;
}

export function decideReactions(input: {
  observation: PrObservation;
  history: ReactionHistory;
  config: ReactionConfig;
  context: PrReactionContext;
  now: number;
}): ReactionDecision {
  const { observation: pr, config, context, now } = input;
  const summary: PrSummary = pr;
  const title = (key: PrReactionKey): string =>
    `${WHAT[key]}: ${context.repoName}#${pr.number} ${sanitizeText(pr.title)}`;
  const effects: ReactionEffect[] = [];
  const history: ReactionHistory = { ...input.history };

  const conditions: Record<PrReactionKey, Condition> = {
    ci_failed: ciCondition(pr, summary, config.ci_failed),
    changes_requested: reviewCondition(pr, summary, config.changes_requested),
    merge_conflict: conflictCondition(pr, summary, config.merge_conflict),
    approved_and_green: readyCondition(pr, config.approved_and_green, context),
    pr_closed: closedCondition(pr),
    pr_merged: mergedCondition(pr),
  };

  for (const key of Object.keys(conditions) as PrReactionKey[]) {
    const rule = config[key];
    const condition = conditions[key];
    if (rule.action === "none" || condition.holds === "unknown") continue;
    const cursor = new EpisodeCursor(key, history[key]);
    if (condition.holds === false) {
      cursor.end();
      if (cursor.episode) history[key] = cursor.episode;
      continue;
    }
    const episode = cursor.begin(now);
    const prefix = `${context.prId}:${key}:${episode.n}`;
    const fresh = condition.signatures.filter((signature) => !episode.delivered.includes(signature));
    const overdue =
      rule.escalateAfter !== null &&
      "ms" in rule.escalateAfter &&
      now - episode.since >= rule.escalateAfter.ms
        ? `unresolved for more than ${Math.round(rule.escalateAfter.ms / 60_000)} min`
        : null;

    const escalate = (reason: string): void => {
      if (episode.escalated) return;
      episode.escalated = true;
      effects.push({
        type: "escalate",
        key,
        dedupKey: `${prefix}:escalated`,
        priority: "urgent",
        title: `Escalated — ${title(key)}`,
        body: `${reason}. ${pr.url}`,
        reason,
      });
    };

    if (overdue) escalate(overdue);
    if (fresh.length === 0) {
      history[key] = episode;
      continue;
    }
    cursor.markDelivered(fresh, condition.signatures);
    const signature = fresh.length === 1 ? (fresh[0] as string) : stableHash(fresh.join("|"));
    const dedupKey = `${prefix}:${signature}`;
    if (episode.escalated) {
      // Humans own this episode now: the agent is not nudged again until the condition clears.
      history[key] = cursor.episode ?? episode;
      continue;
    }
    const attempts = episode.attempts + 1;
    const over = rule.action === "send_to_agent" ? exceeded(rule, attempts) : null;
    if (over) {
      escalate(over);
    } else {
      episode.attempts = attempts;
      effects.push(
        ...effectFor(key, rule, { pr, context, title: title(key), dedupKey, render: condition.render }),
      );
    }
    history[key] = cursor.episode ?? episode;
  }
  return { effects, history };
}

function effectFor(
  key: PrReactionKey,
  rule: ReactionRule,
  input: {
    pr: PrObservation;
    context: PrReactionContext;
    title: string;
    dedupKey: string;
    render: () => string;
  },
): ReactionEffect[] {
  const { pr, context, title, dedupKey } = input;
  if (rule.action === "auto_merge" && key === "approved_and_green") {
    if (context.autoMergeAllowed) {
      return [
        { type: "merge", key, dedupKey, method: rule.method ?? context.mergeMethod, headSha: pr.headSha },
      ];
    }
    return [
      {
        type: "notify",
        key,
        dedupKey,
        priority: rule.priority,
        title,
        body: `${pr.url} is approved, green and mergeable; auto-merge is configured but not allowed for ${context.repoName} (set autoMerge on the repo).`,
      },
    ];
  }
  if (rule.action === "send_to_agent" && context.sessionId !== null) {
    return [{ type: "nudge", key, dedupKey, sessionId: context.sessionId, text: input.render() }];
  }
  const detail = input.render();
  return [
    {
      type: "notify",
      key,
      dedupKey,
      priority: rule.priority,
      title,
      body: detail ? `${pr.url}\n\n${detail}` : pr.url,
    },
  ];
}
