import type { ReactionEffect } from "../../domain/decide-reactions.js";
import { capText, NUDGE_MAX_CHARS } from "../../domain/nudge-text.js";
import type { ReactionKey } from "../../domain/reaction-config.js";
import { GitHubError, RateLimited } from "../../github/github-errors.js";
import type { Logger } from "../../observability/logger.js";
import type { EventLog } from "../event-log.js";
import type { Messenger } from "../messenger.js";
import type { Notifier } from "../notifier.js";
import type { ObserverScm, RepoRef } from "./scm-port.js";

/** What the effects are about: a PR (with its repo), or only a session. */
export interface EffectTarget {
  repoId: string | null;
  repoName: string | null;
  repo: RepoRef | null;
  prId: string | null;
  number: number | null;
  url: string | null;
  sessionId: string | null;
}

function prLabel(target: EffectTarget): string {
  return target.repoName !== null && target.number !== null ? `${target.repoName}#${target.number}` : "";
}

export interface ExecutionResult {
  /** Reactions whose effect did not happen and must be decided again later (history not advanced). */
  retry: Set<ReactionKey>;
  /** A rate limit hit while merging: the observer cools the token down. */
  rateLimited: RateLimited | null;
}

/**
 * Carries out what `decideReactions` decided. Every effect is idempotent by its dedup key
 * (messages and notifications are stored once per key; a merge names the head it merges), so
 * running the same decision twice — after a crash between effect and acknowledgement — does
 * nothing the second time.
 */
export class ReactionExecutor {
  constructor(
    private readonly deps: {
      messenger: Messenger;
      notifier: Notifier;
      events: EventLog;
      logger: Logger;
      onNudge?: (key: ReactionKey, outcome: string) => void;
    },
  ) {}

  async execute(
    effects: readonly ReactionEffect[],
    target: EffectTarget,
    scm: ObserverScm | null,
  ): Promise<ExecutionResult> {
    const result: ExecutionResult = { retry: new Set(), rateLimited: null };
    for (const effect of effects) {
      try {
        await this.#one(effect, target, scm, result);
      } catch (error) {
        // One failed effect must not stop the others; it is decided again on the next pass.
        result.retry.add(effect.key);
        if (error instanceof RateLimited) result.rateLimited = error;
        this.deps.logger.warn(
          { err: error, prId: target.prId, reaction: effect.key },
          "reaction effect failed",
        );
      }
    }
    return result;
  }

  async #fired(
    effect: ReactionEffect,
    target: EffectTarget,
    detail: Record<string, unknown> = {},
  ): Promise<void> {
    await this.deps.events.append({
      kind: effect.type === "escalate" ? "reaction.escalated" : "reaction.fired",
      sessionId: target.sessionId,
      payload: {
        reaction: effect.key,
        action: effect.type,
        prId: target.prId,
        repo: target.repoName,
        number: target.number,
        ...(effect.type === "escalate" && { reason: effect.reason }),
        ...detail,
      },
    });
  }

  async #one(
    effect: ReactionEffect,
    target: EffectTarget,
    scm: ObserverScm | null,
    result: ExecutionResult,
  ): Promise<void> {
    const { notifier } = this.deps;
    const about = { repoId: target.repoId, prId: target.prId, sessionId: target.sessionId };
    switch (effect.type) {
      case "nudge": {
        const pointer = target.prId ? `The whole feedback: shepherd pr show ${target.prId}` : "";
        const text = capText(effect.text, NUDGE_MAX_CHARS, pointer);
        const delivery = await this.deps.messenger.deliver({
          sessionId: effect.sessionId,
          prId: target.prId,
          source: `reaction:${effect.key}`,
          text,
          fullText: text === effect.text ? null : effect.text,
          dedupKey: effect.dedupKey,
        });
        this.deps.onNudge?.(
          effect.key,
          delivery.status === "refused" ? `refused_${delivery.reason}` : delivery.status,
        );
        if (delivery.status === "delivered") {
          await this.#fired(effect, target, { messageId: delivery.messageId });
          return;
        }
        if (delivery.status === "duplicate") return;
        if (delivery.reason === "blocked") {
          // Never typed into a permission prompt: tried again once the session is unblocked.
          result.retry.add(effect.key);
          return;
        }
        // Nobody will read it in the session (finished, exited, unknown): humans get it instead.
        const created = await notifier.notify({
          ...about,
          dedupKey: `${effect.dedupKey}:undeliverable`,
          kind: effect.key,
          priority: "action",
          title: `Not delivered to session ${effect.sessionId} (${delivery.reason}): ${prLabel(target)}`,
          body: target.url ? `${target.url}\n\n${effect.text}` : effect.text,
        });
        if (created.created) await this.#fired(effect, target, { undeliverable: delivery.reason });
        return;
      }
      case "notify":
      case "escalate": {
        const created = await notifier.notify({
          ...about,
          dedupKey: effect.dedupKey,
          kind: effect.type === "escalate" ? "reaction.escalated" : effect.key,
          priority: effect.priority,
          title: effect.title,
          body: effect.body,
        });
        if (created.created) await this.#fired(effect, target, { notificationId: created.id });
        return;
      }
      case "merge": {
        if (scm === null || target.repo === null || target.number === null) {
          result.retry.add(effect.key);
          return;
        }
        let outcome: { merged: boolean; message: string; sha: string | null };
        try {
          outcome = await scm.mergePull(target.repo, target.number, effect.method, effect.headSha);
        } catch (error) {
          if (
            !(error instanceof GitHubError) ||
            error.kind === "rate_limited" ||
            error.kind === "unavailable"
          )
            throw error;
          outcome = { merged: false, message: error.message, sha: null };
        }
        if (outcome.merged) {
          await this.#fired(effect, target, { method: effect.method, sha: outcome.sha });
          return;
        }
        await notifier.notify({
          ...about,
          dedupKey: `${effect.dedupKey}:failed`,
          kind: effect.key,
          priority: "action",
          title: `Auto-merge failed: ${prLabel(target)}`,
          body: `${target.url ?? ""}\n\nGitHub refused the ${effect.method} merge: ${outcome.message}`,
        });
        await this.#fired(effect, target, { method: effect.method, failed: outcome.message });
      }
    }
  }
}
