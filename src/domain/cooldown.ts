/**
 * How long the observer leaves a token alone after GitHub rate-limited it (SPEC C4 step 4):
 * what GitHub said (`Retry-After` or the reset time), else a minute with jitter so that several
 * tokens do not come back at once; never less than 30 s nor more than 10 min.
 */
export const COOLDOWN_MIN_MS = 30_000;
export const COOLDOWN_MAX_MS = 10 * 60_000;
const FALLBACK_MS = 60_000;
const JITTER_MS = 7_500;

export function cooldownMs(retryAfterSeconds: number | null, random: number = Math.random()): number {
  const told = retryAfterSeconds !== null && retryAfterSeconds > 0 ? retryAfterSeconds * 1000 : null;
  const wanted = told ?? FALLBACK_MS + (random * 2 - 1) * JITTER_MS;
  return Math.round(Math.min(COOLDOWN_MAX_MS, Math.max(COOLDOWN_MIN_MS, wanted)));
}
