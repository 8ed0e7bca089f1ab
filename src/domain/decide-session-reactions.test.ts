import { describe, expect, it } from "vitest";
import { decideSessionReactions, type SessionReactionFacts } from "./decide-session-reactions.js";
import { resolveReactions, type ReactionOverrides, type SessionReactionKey } from "./reaction-config.js";
import type { Episode, ReactionHistory } from "./reaction-history.js";

const T0 = Date.parse("2025-03-01T12:00:00Z");
const MIN = 60_000;
const PAUSED_AT = T0 - 2 * MIN;

function session(over: Partial<SessionReactionFacts> = {}): SessionReactionFacts {
  return {
    id: "s-1",
    goal: "Tune the title boost",
    runState: "running",
    pauseKind: null,
    pausedAt: null,
    lastActivityAt: T0 - MIN,
    terminal: false,
    ...over,
  };
}

const waitingForInput = (over: Partial<SessionReactionFacts> = {}): SessionReactionFacts =>
  session({ runState: "paused", pauseKind: "input", pausedAt: PAUSED_AT, ...over });
/** Running, last activity `silentFor` before T0. */
const silent = (silentFor: number, over: Partial<SessionReactionFacts> = {}): SessionReactionFacts =>
  session({ lastActivityAt: T0 - silentFor, ...over });

function ep(over: Partial<Episode> = {}): Episode {
  return { n: 1, active: true, since: T0 - 5 * MIN, delivered: [], attempts: 1, escalated: false, ...over };
}

interface Row {
  name: string;
  facts: SessionReactionFacts;
  history?: ReactionHistory;
  config?: ReactionOverrides;
  now?: number;
  /** `type key dedupKey priority` of each effect. */
  effects: string[];
  unchanged?: boolean;
  after?: Partial<Record<SessionReactionKey, Partial<Episode> | null>>;
}

const STUCK_SIG = `stuck:${T0 - 10 * MIN}`;

describe("decideSessionReactions", () => {
  it.each<Row>([
    {
      name: "running and active → nothing",
      facts: session(),
      effects: [],
      after: { agent_needs_input: null, agent_stuck: null },
    },
    {
      name: "paused for input → one urgent notification",
      facts: waitingForInput(),
      effects: [`notify agent_needs_input s-1:agent_needs_input:1:input:${PAUSED_AT} urgent`],
      after: {
        agent_needs_input: { n: 1, active: true, since: T0, attempts: 1, delivered: [`input:${PAUSED_AT}`] },
      },
    },
    {
      name: "still paused for the same input → nothing",
      facts: waitingForInput(),
      history: { agent_needs_input: ep({ delivered: [`input:${PAUSED_AT}`] }) },
      effects: [],
      unchanged: true,
    },
    {
      name: "paused for an approval → not agent_needs_input",
      facts: session({ runState: "paused", pauseKind: "approval", pausedAt: PAUSED_AT }),
      effects: [],
      after: { agent_needs_input: null },
    },
    {
      name: "resumed → the input episode ends",
      facts: session(),
      history: { agent_needs_input: ep({ delivered: [`input:${PAUSED_AT}`] }) },
      effects: [],
      after: { agent_needs_input: { n: 1, active: false } },
    },
    {
      name: "paused for input again after resuming → episode 2",
      facts: waitingForInput({ pausedAt: T0 - 1000 }),
      history: { agent_needs_input: ep({ active: false, delivered: [`input:${PAUSED_AT}`] }) },
      effects: [`notify agent_needs_input s-1:agent_needs_input:2:input:${T0 - 1000} urgent`],
      after: { agent_needs_input: { n: 2, active: true, attempts: 1 } },
    },
    {
      name: "paused for input but terminal → nothing",
      facts: waitingForInput({ terminal: true }),
      effects: [],
      after: { agent_needs_input: null },
    },
    {
      name: "exited → nothing, and a running input episode ends",
      facts: session({ runState: "exited", pauseKind: "input", pausedAt: PAUSED_AT }),
      history: { agent_needs_input: ep({ delivered: [`input:${PAUSED_AT}`] }) },
      effects: [],
      after: { agent_needs_input: { active: false } },
    },
    {
      name: "running and silent for the threshold (10 min) → one urgent notification",
      facts: silent(10 * MIN),
      effects: [`notify agent_stuck s-1:agent_stuck:1:${STUCK_SIG} urgent`],
      after: { agent_stuck: { n: 1, active: true, attempts: 1, delivered: [STUCK_SIG] } },
    },
    {
      name: "silent for 9 min 59 s → nothing",
      facts: silent(10 * MIN - 1000),
      effects: [],
      after: { agent_stuck: null },
    },
    {
      name: "still the same silence → nothing",
      facts: silent(10 * MIN),
      history: { agent_stuck: ep({ delivered: [STUCK_SIG] }) },
      now: T0 + 30 * MIN,
      effects: [],
      unchanged: true,
    },
    {
      name: "activity again → the stuck episode ends",
      facts: silent(MIN),
      history: { agent_stuck: ep({ delivered: [STUCK_SIG] }) },
      effects: [],
      after: { agent_stuck: { n: 1, active: false } },
    },
    {
      name: "a new silence after the episode ended → episode 2",
      facts: silent(12 * MIN),
      history: { agent_stuck: ep({ active: false, delivered: [STUCK_SIG] }) },
      effects: [`notify agent_stuck s-1:agent_stuck:2:stuck:${T0 - 12 * MIN} urgent`],
      after: { agent_stuck: { n: 2, active: true } },
    },
    {
      name: "a later silence seen without observing the activity in between → notified too",
      facts: silent(5 * MIN),
      history: { agent_stuck: ep({ delivered: [STUCK_SIG] }) },
      now: T0 + 10 * MIN,
      effects: [`notify agent_stuck s-1:agent_stuck:1:stuck:${T0 - 5 * MIN} urgent`],
      after: { agent_stuck: { n: 1, attempts: 2 } },
    },
    {
      name: "no activity recorded (null) → not stuck: whoever starts the session must set lastActivityAt",
      facts: session({ lastActivityAt: null }),
      effects: [],
      after: { agent_stuck: null },
    },
    ...(
      [
        ["queued", session({ runState: "queued", lastActivityAt: T0 - 60 * MIN })],
        [
          "paused for an approval",
          session({ runState: "paused", pauseKind: "approval", lastActivityAt: T0 - 60 * MIN }),
        ],
        ["exited", session({ runState: "exited", lastActivityAt: T0 - 60 * MIN })],
        ["terminal", session({ terminal: true, lastActivityAt: T0 - 60 * MIN })],
      ] as const
    ).map(([state, facts]): Row => ({
      name: `${state} and silent for an hour → not stuck`,
      facts,
      effects: [],
      after: { agent_stuck: null },
    })),
    {
      name: "paused for input and silent for an hour → needs input, not stuck",
      facts: waitingForInput({ lastActivityAt: T0 - 60 * MIN }),
      effects: [`notify agent_needs_input s-1:agent_needs_input:1:input:${PAUSED_AT} urgent`],
      after: { agent_stuck: null },
    },
    {
      name: "terminal → a running stuck episode ends",
      facts: silent(60 * MIN, { terminal: true }),
      history: { agent_stuck: ep({ delivered: [STUCK_SIG] }) },
      effects: [],
      after: { agent_stuck: { active: false } },
    },
    {
      name: "threshold 5m → stuck after 5 min",
      facts: silent(5 * MIN),
      config: { agent_stuck: { thresholdMs: 5 * MIN } },
      effects: [`notify agent_stuck s-1:agent_stuck:1:stuck:${T0 - 5 * MIN} urgent`],
    },
    {
      name: "threshold 30m → not stuck after 10 min",
      facts: silent(10 * MIN),
      config: { agent_stuck: { thresholdMs: 30 * MIN } },
      effects: [],
    },
    {
      name: "no threshold configured → 10 min",
      facts: silent(10 * MIN),
      config: { agent_stuck: { thresholdMs: null } },
      effects: [`notify agent_stuck s-1:agent_stuck:1:${STUCK_SIG} urgent`],
    },
    {
      name: "priority from the rule",
      facts: waitingForInput(),
      config: { agent_needs_input: { priority: "action" } },
      effects: [`notify agent_needs_input s-1:agent_needs_input:1:input:${PAUSED_AT} action`],
    },
    {
      name: "send_to_agent configured → still only a notification (the agent is the one stuck)",
      facts: silent(10 * MIN),
      config: { agent_stuck: { action: "send_to_agent" } },
      effects: [`notify agent_stuck s-1:agent_stuck:1:${STUCK_SIG} urgent`],
    },
    {
      name: "agent_needs_input none → nothing, history untouched",
      facts: session(),
      config: { agent_needs_input: { action: "none" } },
      history: { agent_needs_input: ep({ delivered: [`input:${PAUSED_AT}`] }) },
      effects: [],
      unchanged: true,
    },
    {
      name: "agent_stuck none → nothing, history untouched",
      facts: silent(60 * MIN),
      config: { agent_stuck: { action: "none" } },
      history: { agent_stuck: ep({ active: false, delivered: [STUCK_SIG] }) },
      effects: [],
      unchanged: true,
    },
  ])("$name", (row) => {
    const history = row.history ?? {};
    const decision = decideSessionReactions({
      session: row.facts,
      history,
      config: resolveReactions(row.config),
      now: row.now ?? T0,
    });
    expect(
      decision.effects.map((effect) =>
        effect.type === "notify"
          ? `notify ${effect.key} ${effect.dedupKey} ${effect.priority}`
          : `${effect.type} ${effect.key} ${effect.dedupKey}`,
      ),
    ).toEqual(row.effects);
    if (row.unchanged) expect(decision.history).toEqual(history);
    for (const [key, facts] of Object.entries(row.after ?? {})) {
      const episode = decision.history[key as SessionReactionKey];
      if (facts === null) expect(episode, key).toBeUndefined();
      else expect(episode, key).toMatchObject(facts);
    }
  });

  it("says who is waiting and how to answer; how long the agent has been silent", () => {
    const input = decideSessionReactions({
      session: waitingForInput(),
      history: {},
      config: resolveReactions(),
      now: T0,
    }).effects[0];
    expect(input).toMatchObject({ title: "Needs input: session s-1" });
    expect(input?.type === "notify" && input.body).toContain('shepherd send s-1 "…"');
    const stuck = decideSessionReactions({
      session: silent(23 * MIN),
      history: {},
      config: resolveReactions(),
      now: T0,
    }).effects[0];
    expect(stuck).toMatchObject({ title: "Stuck: session s-1" });
    expect(stuck?.type === "notify" && stuck.body).toContain("no activity for 23 min");
  });

  it("the goal in the text is sanitized and cut to 120 characters", () => {
    const goal = `\u001b[2J\u202e${"g".repeat(200)}`;
    const effect = decideSessionReactions({
      session: waitingForInput({ goal }),
      history: {},
      config: resolveReactions(),
      now: T0,
    }).effects[0];
    if (effect?.type !== "notify") throw new Error("expected a notification");
    expect(effect.body).toContain(`("${"g".repeat(120)}")`);
    expect(effect.body).not.toContain("g".repeat(121));
    expect(effect.body).not.toContain("\u001b");
    expect(effect.body).not.toContain("\u202e");
  });

  it.each([
    ["paused for input", waitingForInput()],
    ["stuck", silent(15 * MIN)],
  ])("%s: deciding again from the returned history → zero effects", (_name, facts) => {
    const config = resolveReactions();
    const first = decideSessionReactions({ session: facts, history: {}, config, now: T0 });
    expect(first.effects).toHaveLength(1);
    let history = first.history;
    for (const now of [T0 + MIN, T0 + 5 * MIN, T0 + 60 * MIN]) {
      const again = decideSessionReactions({ session: facts, history, config, now });
      expect(again.effects).toEqual([]);
      expect(again.history).toEqual(history);
      history = again.history;
    }
  });

  it("a re-run from the same persisted history repeats the same dedup keys", () => {
    const config = resolveReactions();
    const history: ReactionHistory = { agent_stuck: ep({ n: 4, active: false, delivered: ["stuck:1"] }) };
    const a = decideSessionReactions({ session: silent(15 * MIN), history, config, now: T0 });
    const b = decideSessionReactions({ session: silent(15 * MIN), history, config, now: T0 + 30_000 });
    expect(a.effects.map((effect) => effect.dedupKey)).toEqual([`s-1:agent_stuck:5:stuck:${T0 - 15 * MIN}`]);
    expect(b.effects.map((effect) => effect.dedupKey)).toEqual(a.effects.map((effect) => effect.dedupKey));
    expect(history.agent_stuck).toMatchObject({ n: 4, active: false, delivered: ["stuck:1"] });
  });
});
