import { describe, expect, it } from "vitest";
import { nudgeRefusal, RUN_STATES, type PauseKind, type RunState, type SessionOutcome } from "./session.js";

function facts(
  runState: RunState,
  pauseKind: PauseKind | null = null,
  outcome: SessionOutcome | null = null,
) {
  return { runState, pauseKind, outcome };
}

describe("RUN_STATES", () => {
  it("has idle: a built-in agent between turns", () => {
    expect(RUN_STATES).toEqual(["queued", "running", "idle", "paused", "exited"]);
  });
});

describe("nudgeRefusal", () => {
  it.each<[string, Parameters<typeof nudgeRefusal>[0], ReturnType<typeof nudgeRefusal>]>([
    ["no such session", null, "not_found"],
    ["running → deliverable", facts("running"), null],
    ["queued → deliverable (read when it starts)", facts("queued"), null],
    ["idle between turns → deliverable (a nudge is what it waits for)", facts("idle"), null],
    ["paused waiting for input → deliverable (that is the answer)", facts("paused", "input"), null],
    ["paused on a permission prompt → blocked", facts("paused", "approval"), "blocked"],
    ["exited → exited", facts("exited"), "exited"],
    ["a terminal outcome → terminal", facts("running", null, { kind: "resolved" }), "terminal"],
    [
      "exited with an outcome → terminal first",
      facts("exited", null, { kind: "failed", detail: "boom" }),
      "terminal",
    ],
    [
      "blocked with an outcome → terminal first",
      facts("paused", "approval", { kind: "stopped" }),
      "terminal",
    ],
    ["merged → terminal", facts("running", null, { kind: "merged" }), "terminal"],
  ])("%s", (_name, session, expected) => {
    expect(nudgeRefusal(session)).toBe(expected);
  });
});
