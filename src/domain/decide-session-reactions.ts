import { sanitizeText } from "./nudge-text.js";
import type { ReactionConfig, SessionReactionKey } from "./reaction-config.js";
import { EpisodeCursor, type ReactionHistory } from "./reaction-history.js";
import type { ReactionDecision, ReactionEffect } from "./decide-reactions.js";
import type { PauseKind, RunState } from "./session.js";

/** The facts of a session that its reactions read (SPEC C6 stored facts). */
export interface SessionReactionFacts {
  id: string;
  goal: string;
  runState: RunState;
  pauseKind: PauseKind | null;
  pausedAt: number | null;
  lastActivityAt: number | null;
  /** The session has a terminal outcome. */
  terminal: boolean;
}

/**
 * `agent_needs_input` and `agent_stuck` (SPEC C5): humans are told once per pause for input and
 * once per silence longer than the threshold. Both only ever notify: the agent is the one stuck.
 */
export function decideSessionReactions(input: {
  session: SessionReactionFacts;
  history: ReactionHistory;
  config: ReactionConfig;
  now: number;
}): ReactionDecision {
  const { session, config, now } = input;
  const history: ReactionHistory = { ...input.history };
  const effects: ReactionEffect[] = [];
  const goal = sanitizeText(session.goal).slice(0, 120);
  const live = !session.terminal && session.runState !== "exited";

  const stuckThreshold = config.agent_stuck.thresholdMs ?? 10 * 60_000;
  const silentSince = session.lastActivityAt;
  const conditions: Record<SessionReactionKey, { signature: string; title: string; body: string } | null> = {
    agent_needs_input:
      live && session.runState === "paused" && session.pauseKind === "input"
        ? {
            signature: `input:${session.pausedAt ?? 0}`,
            title: `Needs input: session ${session.id}`,
            body: `The agent of session ${session.id} ("${goal}") is waiting for an answer: shepherd send ${session.id} "…"`,
          }
        : null,
    agent_stuck:
      live && session.runState === "running" && silentSince !== null && now - silentSince >= stuckThreshold
        ? {
            signature: `stuck:${silentSince}`,
            title: `Stuck: session ${session.id}`,
            body: `The agent of session ${session.id} ("${goal}") has shown no activity for ${Math.round((now - silentSince) / 60_000)} min.`,
          }
        : null,
  };

  for (const key of Object.keys(conditions) as SessionReactionKey[]) {
    const rule = config[key];
    if (rule.action === "none") continue;
    const condition = conditions[key];
    const cursor = new EpisodeCursor(key, history[key]);
    if (condition === null) {
      cursor.end();
      if (cursor.episode) history[key] = cursor.episode;
      continue;
    }
    const episode = cursor.begin(now);
    if (!episode.delivered.includes(condition.signature)) {
      cursor.markDelivered([condition.signature]);
      episode.attempts += 1;
      effects.push({
        type: "notify",
        key,
        dedupKey: `${session.id}:${key}:${episode.n}:${condition.signature}`,
        priority: rule.priority,
        title: condition.title,
        body: condition.body,
      });
    }
    history[key] = cursor.episode ?? episode;
  }
  return { effects, history };
}
