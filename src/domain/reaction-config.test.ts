import { describe, expect, it } from "vitest";
import {
  DEFAULT_REACTIONS,
  PR_REACTION_KEYS,
  REACTION_KEYS,
  resolveReactions,
  SESSION_REACTION_KEYS,
  type ReactionRule,
} from "./reaction-config.js";

const MIN = 60_000;

describe("DEFAULT_REACTIONS (SPEC C5)", () => {
  it.each<[string, Partial<ReactionRule>]>([
    ["ci_failed", { action: "send_to_agent", retries: 2, escalateAfter: { attempts: 2 } }],
    [
      "changes_requested",
      { action: "send_to_agent", maxNudges: 3, escalateAfter: { ms: 30 * MIN }, includeBots: false },
    ],
    ["merge_conflict", { action: "send_to_agent", escalateAfter: { ms: 15 * MIN } }],
    ["approved_and_green", { action: "notify", method: null }],
    ["agent_stuck", { action: "notify", priority: "urgent", thresholdMs: 10 * MIN }],
    ["agent_needs_input", { action: "notify", priority: "urgent" }],
    ["pr_closed", { action: "notify", priority: "action" }],
    ["pr_merged", { action: "notify", priority: "info" }],
  ])("%s", (key, expected) => {
    expect(DEFAULT_REACTIONS[key as keyof typeof DEFAULT_REACTIONS]).toMatchObject(expected);
  });

  it("has a rule for every key; PR and session keys split them", () => {
    expect(Object.keys(DEFAULT_REACTIONS).sort()).toEqual([...REACTION_KEYS].sort());
    expect([...PR_REACTION_KEYS, ...SESSION_REACTION_KEYS].sort()).toEqual([...REACTION_KEYS].sort());
  });
});

describe("resolveReactions", () => {
  it("no layers → the defaults", () => {
    expect(resolveReactions()).toEqual(DEFAULT_REACTIONS);
    expect(resolveReactions(undefined, undefined)).toEqual(DEFAULT_REACTIONS);
  });

  it("layers field by field: global over defaults, repo over global", () => {
    const config = resolveReactions(
      { ci_failed: { retries: 5 }, approved_and_green: { action: "auto_merge", method: "squash" } },
      { ci_failed: { priority: "urgent" }, approved_and_green: { method: "rebase" } },
    );
    expect(config.ci_failed).toEqual({ ...DEFAULT_REACTIONS.ci_failed, retries: 5, priority: "urgent" });
    expect(config.approved_and_green).toEqual({
      ...DEFAULT_REACTIONS.approved_and_green,
      action: "auto_merge",
      method: "rebase",
    });
    expect(config.merge_conflict).toEqual(DEFAULT_REACTIONS.merge_conflict);
  });

  it("a later layer may switch a reaction off", () => {
    expect(
      resolveReactions({ pr_merged: { action: "notify" } }, { pr_merged: { action: "none" } }).pr_merged
        .action,
    ).toBe("none");
  });

  it("never changes the defaults", () => {
    const before = JSON.stringify(DEFAULT_REACTIONS);
    resolveReactions({ ci_failed: { retries: 9 } }, { merge_conflict: { action: "none" } });
    expect(JSON.stringify(DEFAULT_REACTIONS)).toBe(before);
  });
});
