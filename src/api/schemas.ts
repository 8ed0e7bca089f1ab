import { z } from "zod";

/** Text a human typed: trimmed, bounded, no control characters. */
export function plainText(max: number) {
  return (
    z
      .string()
      .trim()
      .min(1, "must not be empty")
      .max(max)
      // eslint-disable-next-line no-control-regex
      .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters")
  );
}

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
