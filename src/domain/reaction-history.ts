import type { ReactionKey } from "./reaction-config.js";

/**
 * What a reaction has already done, persisted per PR (or per session) so that nothing is
 * delivered twice — also across restarts — and so that a condition that clears and comes back
 * starts a new episode (re-arms).
 */
export interface Episode {
  /** Serial number of the episode for this reaction; part of every effect's dedup key. */
  n: number;
  /** Whether the condition holds (the episode is running). */
  active: boolean;
  /** When the episode began (epoch ms). */
  since: number;
  /** Signatures (or feedback item ids) already acted upon in this episode. */
  delivered: string[];
  /** Nudges or notifications sent in this episode. */
  attempts: number;
  escalated: boolean;
}

export type ReactionHistory = Partial<Record<ReactionKey, Episode>>;

const DELIVERED_CAP = 200;

export function parseReactionHistory(json: string | null): ReactionHistory {
  if (!json) return {};
  try {
    const parsed = JSON.parse(json) as unknown;
    return parsed !== null && typeof parsed === "object" ? parsed : {};
  } catch {
    return {};
  }
}

/** A working copy of one reaction's history inside a decision. */
export class EpisodeCursor {
  #episode: Episode | undefined;

  constructor(
    readonly key: ReactionKey,
    initial: Episode | undefined,
  ) {
    this.#episode = initial ? { ...initial, delivered: [...initial.delivered] } : undefined;
  }

  get episode(): Episode | undefined {
    return this.#episode;
  }

  /** The running episode, starting a new one (next serial) when none runs. */
  begin(now: number): Episode {
    if (this.#episode?.active) return this.#episode;
    this.#episode = {
      n: (this.#episode?.n ?? 0) + 1,
      active: true,
      since: now,
      delivered: [],
      attempts: 0,
      escalated: false,
    };
    return this.#episode;
  }

  /** The condition cleared: the next time it holds is a new episode. */
  end(): void {
    if (this.#episode?.active) this.#episode = { ...this.#episode, active: false };
  }

  /**
   * Records `signatures` as acted upon. The cap only ever drops the oldest signatures that no
   * longer hold: dropping one in `holding` would make it look new on the next decision.
   */
  markDelivered(signatures: readonly string[], holding: readonly string[] = []): void {
    const episode = this.#episode;
    if (!episode) return;
    const all = [...new Set([...episode.delivered, ...signatures])];
    const keep = new Set([...holding, ...signatures]);
    const overflow = Math.max(0, all.length - DELIVERED_CAP);
    const dropped = new Set(all.filter((signature) => !keep.has(signature)).slice(0, overflow));
    episode.delivered = all.filter((signature) => !dropped.has(signature));
  }
}

/** FNV-1a (64-bit) of a text, as 16 hex digits: short, stable signatures for dedup keys. */
export function stableHash(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, "0");
}
