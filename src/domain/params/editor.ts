/**
 * What the params editor needs from a file format. Each format locates a value by path and offers
 * candidate texts for a new value, best first; the caller keeps the first candidate that passes
 * `verify`, so a format may offer an ambitious rendering and rely on the round-trip check to fall
 * back to a plainer one.
 */
import { formatDottedKey } from "./dotted-key.js";
import type { JsonValue } from "./json-value.js";

export type LocateFailureCode = "PARAM_NOT_IN_FILE" | "FILE_UNPARSABLE";

export type Located =
  | {
      ok: true;
      /** The value at the path, as the format's parser reads it. */
      current: unknown;
      /** Whole new file texts with the value replaced by `to`, preferred rendering first. */
      candidates(to: JsonValue): string[];
    }
  | { ok: false; code: LocateFailureCode; message: string };

export interface LoadedParamsFile {
  locate(path: readonly string[]): Located;
}

export type LoadResult = { ok: true; file: LoadedParamsFile } | { ok: false; message: string };

export interface ParamEditOperation {
  path: readonly string[];
  to: JsonValue;
}

export interface FormatEditor {
  load(text: string): LoadResult;
  /**
   * The round-trip rule: `after` parses, and equals `before` with exactly `edits` applied in order
   * (same values, same key order, nothing else moved).
   */
  verify(before: string, after: string, edits: readonly ParamEditOperation[]): boolean;
}

/** Names the first `depth` segments of a path in messages: `the top level` or `"a.b"`. */
export function describePrefix(path: readonly string[], depth: number): string {
  return depth === 0 ? "the top level" : `"${formatDottedKey(path.slice(0, depth))}"`;
}
