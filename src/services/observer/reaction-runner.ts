import { decideReactions } from "../../domain/decide-reactions.js";
import { decideSessionReactions } from "../../domain/decide-session-reactions.js";
import { resolveReactions, type ReactionConfig } from "../../domain/reaction-config.js";
import type { ReactionHistory } from "../../domain/reaction-history.js";
import type { ReactionsConfig } from "../../config/reactions-schema.js";
import type { Logger } from "../../observability/logger.js";
import type { PullRequestRecord, PullRequestStore } from "../../store/pull-request-store.js";
import type { RepoRecord } from "../../store/repo-store.js";
import type { SessionRecord, SessionStore } from "../../store/session-store.js";
import { StaleVersionError } from "../../store/transitions.js";
import type { ReactionExecutor } from "./reaction-executor.js";
import type { ObserverScm } from "./scm-port.js";
import type { RateLimited } from "../../github/github-errors.js";
import type { Kysely } from "kysely";
import type { Schema } from "../../store/schema.js";

function sameHistory(a: ReactionHistory, b: ReactionHistory): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof ReactionHistory>;
  for (const key of keys) if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return false;
  return true;
}

export interface ReactionOutcome {
  record: PullRequestRecord;
  effects: number;
  rateLimited: RateLimited | null;
}

/**
 * SPEC C4 loop step 3, second half: react to the stored observation, then acknowledge. The
 * acknowledgement (history + the hash reacted to) is written only after the effects ran, so a
 * crash in between re-runs the decision — whose effects are idempotent — instead of losing it.
 */
export class ReactionRunner {
  readonly #configs = new Map<string, ReactionConfig>();

  constructor(
    private readonly deps: {
      db: Kysely<Schema>;
      pullRequests: PullRequestStore;
      sessions: SessionStore;
      executor: ReactionExecutor;
      reactions: ReactionsConfig;
      logger: Logger;
    },
  ) {}

  configFor(repoName: string): ReactionConfig {
    let config = this.#configs.get(repoName);
    if (!config) {
      config = resolveReactions(
        this.deps.reactions.global,
        repoName ? this.deps.reactions.perRepo[repoName] : undefined,
      );
      this.#configs.set(repoName, config);
    }
    return config;
  }

  async reactToPr(
    record: PullRequestRecord,
    repo: RepoRecord,
    scm: ObserverScm | null,
    now: number,
  ): Promise<ReactionOutcome> {
    if (record.observation === null) return { record, effects: 0, rateLimited: null };
    const decision = decideReactions({
      observation: record.observation,
      history: record.reactions,
      config: this.configFor(repo.name),
      context: {
        prId: record.id,
        repoName: repo.name,
        sessionId: record.sessionId,
        autoMergeAllowed: repo.autoMerge,
        mergeMethod: repo.mergeMethod,
      },
      now,
    });
    let history = decision.history;
    let rateLimited: RateLimited | null = null;
    if (decision.effects.length > 0) {
      const result = await this.deps.executor.execute(
        decision.effects,
        {
          repoId: repo.id,
          repoName: repo.name,
          repo: { owner: repo.owner, repo: repo.repo },
          prId: record.id,
          number: record.number,
          url: record.url,
          sessionId: record.sessionId,
        },
        scm,
      );
      rateLimited = result.rateLimited;
      if (result.retry.size > 0) {
        history = { ...history };
        for (const key of result.retry) {
          if (record.reactions[key]) history[key] = record.reactions[key];
          else delete history[key];
        }
      }
    }
    if (sameHistory(history, record.reactions) && record.reactedHash === record.observedHash) {
      return { record, effects: decision.effects.length, rateLimited };
    }
    try {
      const saved = await this.deps.pullRequests.saveReactions(this.deps.db, record, {
        reactions: history,
        reactedHash: record.observedHash,
        now,
      });
      return { record: saved, effects: decision.effects.length, rateLimited };
    } catch (error) {
      if (!(error instanceof StaleVersionError)) throw error;
      // Observed again meanwhile: that observation's reactions will run from the newer row.
      this.deps.logger.debug({ prId: record.id }, "reactions acknowledged by a newer pass");
      return { record, effects: decision.effects.length, rateLimited };
    }
  }

  async reactToSession(session: SessionRecord, repoName: string | null, now: number): Promise<number> {
    const decision = decideSessionReactions({
      session: {
        id: session.id,
        goal: session.goal,
        runState: session.runState,
        pauseKind: session.pauseKind,
        pausedAt: session.pausedAt,
        lastActivityAt: session.lastActivityAt,
        terminal: session.outcome !== null,
      },
      history: session.reactions,
      config: this.configFor(repoName ?? ""),
      now,
    });
    if (decision.effects.length === 0 && sameHistory(decision.history, session.reactions)) return 0;
    const result = await this.deps.executor.execute(
      decision.effects,
      {
        repoId: session.repoId,
        repoName,
        repo: null,
        prId: null,
        number: null,
        url: null,
        sessionId: session.id,
      },
      null,
    );
    const history = { ...decision.history };
    for (const key of result.retry) {
      if (session.reactions[key]) history[key] = session.reactions[key];
      else delete history[key];
    }
    try {
      await this.deps.sessions.saveReactions(session.id, session.version, history, now);
    } catch (error) {
      if (!(error instanceof StaleVersionError)) throw error;
    }
    return decision.effects.length;
  }
}
