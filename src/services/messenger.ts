import type { NudgeRefusal } from "../domain/session.js";

/** A message for the agent of a session (SPEC C5 "nudge"). */
export interface Nudge {
  sessionId: string;
  /** The PR the nudge is about, if any. */
  prId: string | null;
  /** Who sends it, e.g. `reaction:ci_failed`. */
  source: string;
  /** Sanitized text; cut to the nudge length cap with a pointer to the full text. */
  text: string;
  /** The whole sanitized text when `text` was cut, else null. */
  fullText: string | null;
  /** Delivery happens at most once per key, across retries and restarts. */
  dedupKey: string;
}

export type NudgeDelivery =
  | { status: "delivered"; messageId: string }
  /** Delivered earlier (same dedup key): nothing was done now. */
  | { status: "duplicate"; messageId: string }
  /** Not delivered: the session cannot take a message now (or ever, unless `blocked`). */
  | { status: "refused"; reason: NudgeRefusal };

/**
 * The port through which reactions reach agents. Implementations re-check the session just
 * before delivering (SPEC C5: never into a blocked, exited or finished session). Built-in agents
 * and CLI harnesses each plug in here.
 */
export interface Messenger {
  deliver(nudge: Nudge): Promise<NudgeDelivery>;
}
