import type { Kysely } from "kysely";
import {
  DEFAULT_STATUS_POLICY,
  deriveStatus,
  type SessionPrFacts,
  type StatusPolicy,
} from "../../domain/derive-status.js";
import type { CiState, Mergeable, PrState, ReviewDecision } from "../../domain/pull-request.js";
import type { SessionStatus } from "../../domain/session-status.js";
import type { Schema } from "../../store/schema.js";
import type { SessionStore } from "../../store/session-store.js";
import { type SessionFactsPatch, type SessionRecord } from "../../store/session-store.js";
import { StaleVersionError } from "../../store/transitions.js";
import type { AppendEvent, EventLog } from "../event-log.js";

export interface StatusChange {
  from: SessionStatus | null;
  to: SessionStatus;
}

type Emit = (event: AppendEvent) => void;

/** The PR facts a session's status reads, inside the caller's transaction. */
export async function sessionPrFacts(trx: Kysely<Schema>, sessionId: string): Promise<SessionPrFacts[]> {
  const rows = await trx
    .selectFrom("pull_requests")
    .select([
      "state",
      "draft",
      "ci_state",
      "mergeable",
      "merge_state_status",
      "review_decision",
      "unresolved_threads",
    ])
    .where("session_id", "=", sessionId)
    .execute();
  return rows.map((row) => ({
    state: row.state as PrState,
    draft: Boolean(row.draft),
    ci: row.ci_state as CiState,
    mergeable: row.mergeable as Mergeable,
    mergeStateStatus: row.merge_state_status,
    reviewDecision: row.review_decision as ReviewDecision | null,
    unresolvedFeedback: row.unresolved_threads,
  }));
}

/**
 * The one place that writes a session's facts (SPEC C6): every write re-derives the displayed
 * status in the same transaction and, when it differs from the last one announced, appends
 * `session.status_changed {from, to, cause}` with it. Things the status reads that change
 * elsewhere — a PR observation, time passing (`stuck`) — call `announceWithin`/`announce`, so no
 * status change goes without its event and none is announced twice.
 */
export class SessionFacts {
  readonly #policy: StatusPolicy;

  constructor(
    private readonly deps: {
      sessions: SessionStore;
      events: EventLog;
      clock: () => number;
      statusPolicy?: StatusPolicy;
      /** After a write that gave the session its outcome committed (lessons; must not throw). */
      onTerminal?: (sessionId: string) => Promise<void>;
    },
  ) {
    this.#policy = deps.statusPolicy ?? DEFAULT_STATUS_POLICY;
  }

  /** The status a session shows now. */
  async status(session: SessionRecord, trx?: Kysely<Schema>): Promise<SessionStatus> {
    const prs = await sessionPrFacts(trx ?? this.deps.sessions.database, session.id);
    return deriveStatus({ ...session, prs }, this.deps.clock(), this.#policy);
  }

  /**
   * Writes `patch` if the session is still at `expectedVersion` (else StaleVersionError: re-read
   * and retry, or yield), with the status change it causes, in one transaction. `also` runs in
   * that transaction too (rows that must commit with the facts, and their events).
   */
  async write(
    sessionId: string,
    expectedVersion: number,
    patch: SessionFactsPatch,
    cause: string,
    also?: (trx: Kysely<Schema>, emit: Emit, session: SessionRecord) => Promise<void>,
  ): Promise<{ session: SessionRecord; change: StatusChange | null }> {
    const now = this.deps.clock();
    const { result } = await this.deps.events.transaction(async (trx, emit) => {
      const session = await this.deps.sessions.updateFacts(sessionId, expectedVersion, patch, now, trx);
      if (also) await also(trx, emit, session);
      const change = await this.announceWithin(trx, emit, session, cause, now);
      return { session, change };
    });
    if (patch.outcome && this.deps.onTerminal) await this.deps.onTerminal(sessionId);
    return result;
  }

  /** Re-derives the status inside the caller's transaction and announces a change. */
  async announceWithin(
    trx: Kysely<Schema>,
    emit: Emit,
    sessionOrId: SessionRecord | string,
    cause: string,
    now: number,
  ): Promise<StatusChange | null> {
    const session =
      typeof sessionOrId === "string" ? await this.deps.sessions.get(sessionOrId, trx) : sessionOrId;
    if (!session) return null;
    const prs = await sessionPrFacts(trx, session.id);
    const to = deriveStatus({ ...session, prs }, now, this.#policy);
    const from = session.announcedStatus as SessionStatus | null;
    if (from === to) return null;
    if (!(await this.deps.sessions.markAnnounced(trx, session.id, from, to))) return null;
    emit({ kind: "session.status_changed", sessionId: session.id, payload: { from, to, cause } });
    return { from, to };
  }

  /**
   * A PR of the session was observed (inside the observation's transaction): a session whose PRs
   * are all closed, at least one merged, ends `merged`; in any case the status is re-derived.
   * True when it ended the session: the caller calls `ended` once its transaction committed.
   */
  async prObserved(trx: Kysely<Schema>, emit: Emit, sessionId: string, now: number): Promise<boolean> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const session = await this.deps.sessions.get(sessionId, trx);
      if (!session) return false;
      const prs = await sessionPrFacts(trx, sessionId);
      const ended =
        session.outcome === null &&
        prs.some((pr) => pr.state === "merged") &&
        prs.every((pr) => pr.state !== "open");
      if (!ended) {
        await this.announceWithin(trx, emit, session, "pr_observed", now);
        return false;
      }
      try {
        const merged = await this.deps.sessions.updateFacts(
          sessionId,
          session.version,
          { outcome: { kind: "merged" }, endedAt: now },
          now,
          trx,
        );
        await this.announceWithin(trx, emit, merged, "pr_merged", now);
        return true;
      } catch (error) {
        // Another writer moved the session on: read it again and decide from what it is now.
        if (!(error instanceof StaleVersionError)) throw error;
      }
    }
    return false;
  }

  /** After a transaction that ended a session committed: what every ending does (its lesson). */
  async ended(sessionId: string): Promise<void> {
    if (this.deps.onTerminal) await this.deps.onTerminal(sessionId);
  }

  /** Re-derives in a transaction of its own (time-driven changes such as `stuck`). */
  async announce(sessionId: string, cause: string): Promise<StatusChange | null> {
    const now = this.deps.clock();
    const { result } = await this.deps.events.transaction((trx, emit) =>
      this.announceWithin(trx, emit, sessionId, cause, now),
    );
    return result;
  }
}
