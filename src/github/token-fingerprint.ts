import { createHash } from "node:crypto";

/**
 * A stable, non-secret name for a token (metrics labels, logs, throttling groups): the first 12
 * hex characters of its SHA-256. No character of the token itself.
 */
export function tokenFingerprint(token: string): string {
  return `tok-${createHash("sha256").update(token).digest("hex").slice(0, 12)}`;
}
