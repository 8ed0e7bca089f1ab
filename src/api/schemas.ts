import { z } from "zod";

/** Text a human typed: trimmed, bounded, no control characters. */
export { plainText } from "../domain/proposal-schema.js";

/** Ids of sessions and other records: letters, digits, `_` and `-` only (never a path). */
export const recordIdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, "must contain only letters, digits, _ and -");

export const isoTimestamp = z.string().describe("ISO-8601 timestamp (UTC)");

export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
