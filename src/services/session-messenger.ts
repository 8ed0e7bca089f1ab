import { nudgeRefusal } from "../domain/session.js";
import { SessionMessageStore } from "../store/session-message-store.js";
import { SessionStore } from "../store/session-store.js";
import type { EventLog } from "./event-log.js";
import type { Messenger, Nudge, NudgeDelivery } from "./messenger.js";

/**
 * Delivers a nudge as a message in the session's conversation, with a `nudge.sent` event, in one
 * transaction that first re-reads the session (SPEC C5: never into a blocked, exited or finished
 * session). Built-in agents read these messages as new input; CLI harnesses will type them.
 */
export class SessionMessenger implements Messenger {
  constructor(
    private readonly events: EventLog,
    private readonly now: () => number = Date.now,
    /** Wakes the session's agent once a nudge is in its conversation (built-in agents). */
    private readonly wake?: (sessionId: string) => Promise<void>,
  ) {}

  async deliver(nudge: Nudge): Promise<NudgeDelivery> {
    const { result } = await this.events.transaction(async (trx, emit): Promise<NudgeDelivery> => {
      const refusal = nudgeRefusal(await new SessionStore(trx).get(nudge.sessionId));
      if (refusal) return { status: "refused", reason: refusal };
      const { record, created } = await new SessionMessageStore(trx).insertOnce(
        trx,
        {
          sessionId: nudge.sessionId,
          kind: "nudge",
          source: nudge.source,
          text: nudge.text,
          fullText: nudge.fullText,
          prId: nudge.prId,
          dedupKey: nudge.dedupKey,
        },
        this.now(),
      );
      if (!created) return { status: "duplicate", messageId: record.id };
      emit({
        kind: "nudge.sent",
        sessionId: nudge.sessionId,
        payload: {
          messageId: record.id,
          prId: nudge.prId,
          source: nudge.source,
          text: nudge.text,
          truncated: nudge.fullText !== null,
        },
      });
      return { status: "delivered", messageId: record.id };
    });
    if (result.status === "delivered" && this.wake) await this.wake(nudge.sessionId);
    return result;
  }
}
