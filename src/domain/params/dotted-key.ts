/**
 * Dotted keys name a value inside a structured config file (SPEC C3, `kind: "params"`):
 * `"search.boost.title"` → `["search", "boost", "title"]`. Segments are kept as strings: whether
 * `"0"` is an array index or a mapping key depends on the file, so the editor decides when it walks
 * the document (see `isIndexSegment`).
 *
 * `\.` is a literal dot inside a segment and `\\` a literal backslash; any other backslash is an
 * error rather than a guess, so that a key means exactly one path.
 */

export const MAX_KEY_SEGMENTS = 32;

export type DottedKeyResult = { ok: true; path: string[] } | { ok: false; message: string };

// C0 and C1 control characters, DEL included: never part of a key someone meant to type.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function parseDottedKey(key: string): DottedKeyResult {
  if (key.length === 0) return { ok: false, message: "the key is empty" };
  if (CONTROL.test(key)) return { ok: false, message: "the key contains a control character" };
  if (key.startsWith(".")) return { ok: false, message: "the key starts with a dot" };

  const path: string[] = [];
  let segment = "";
  for (let i = 0; i < key.length; i++) {
    const ch = key[i];
    if (ch === "\\") {
      const next = key[i + 1];
      if (next === "." || next === "\\") {
        segment += next;
        i++;
        continue;
      }
      return {
        ok: false,
        message:
          next === undefined
            ? "the key ends with a lone backslash"
            : `the key has an unknown escape "\\${next}" (only "\\." and "\\\\" are allowed)`,
      };
    }
    if (ch === ".") {
      if (segment.length === 0) return { ok: false, message: "the key has an empty segment" };
      path.push(segment);
      segment = "";
      continue;
    }
    segment += ch;
  }
  if (segment.length === 0) return { ok: false, message: "the key ends with a dot" };
  path.push(segment);

  if (path.length > MAX_KEY_SEGMENTS) {
    return { ok: false, message: `the key has more than ${MAX_KEY_SEGMENTS} segments` };
  }
  return { ok: true, path };
}

/** The inverse of `parseDottedKey`: escapes dots and backslashes inside segments. */
export function formatDottedKey(path: readonly string[]): string {
  return path.map((segment) => segment.replace(/[\\.]/g, (ch) => `\\${ch}`)).join(".");
}

/**
 * Whether a segment can address an array item: a canonical non-negative integer (`"0"`, `"12"`,
 * never `"01"`, `"-1"` or `"1.0"`), short enough to be a safe integer.
 */
export function isIndexSegment(segment: string): boolean {
  return /^(0|[1-9][0-9]{0,14})$/.test(segment);
}
