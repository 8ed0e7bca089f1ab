import { describe, expect, it } from "vitest";
import { formatDottedKey, isIndexSegment, MAX_KEY_SEGMENTS, parseDottedKey } from "./dotted-key.js";

describe("parseDottedKey: valid keys", () => {
  it.each([
    { key: "replicas", path: ["replicas"] },
    { key: "search.boost.title", path: ["search", "boost", "title"] },
    { key: "items.0.name", path: ["items", "0", "name"] },
    { key: "a\\.b.c", path: ["a.b", "c"] },
    { key: "a.b\\.c", path: ["a", "b.c"] },
    { key: "a\\.", path: ["a."] },
    { key: "\\.a", path: [".a"] },
    { key: "a\\.\\.b", path: ["a..b"] },
    { key: "a\\\\b", path: ["a\\b"] },
    { key: "a\\\\.b", path: ["a\\", "b"] },
    { key: "with space.x", path: ["with space", "x"] },
    { key: "ümlaut.日本語.🙂", path: ["ümlaut", "日本語", "🙂"] },
    { key: "0", path: ["0"] },
    { key: "a-b_c:d/e", path: ["a-b_c:d/e"] },
    { key: Array.from({ length: MAX_KEY_SEGMENTS }, (_, i) => `k${i}`).join("."), length: MAX_KEY_SEGMENTS },
  ])("$key", ({ key, path, length }) => {
    const result = parseDottedKey(key);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    if (path) expect(result.path).toEqual(path);
    if (length) expect(result.path).toHaveLength(length);
  });
});

describe("parseDottedKey: rejected keys", () => {
  it.each([
    { key: "", message: /empty/ },
    { key: ".a", message: /starts with a dot/ },
    { key: "a.", message: /ends with a dot/ },
    { key: ".", message: /starts with a dot/ },
    { key: "a..b", message: /empty segment/ },
    { key: "a...b", message: /empty segment/ },
    { key: "a\nb", message: /control character/ },
    { key: "a\tb", message: /control character/ },
    { key: "a\u0000b", message: /control character/ },
    { key: "a\u007fb", message: /control character/ },
    { key: "a\u0085b", message: /control character/ },
    { key: "a\\", message: /lone backslash/ },
    { key: "a\\b", message: /unknown escape "\\b"/ },
    { key: "a\\n", message: /unknown escape/ },
    {
      key: Array.from({ length: MAX_KEY_SEGMENTS + 1 }, (_, i) => `k${i}`).join("."),
      message: /more than 32 segments/,
    },
  ])("$key", ({ key, message }) => {
    const result = parseDottedKey(key);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });
});

describe("formatDottedKey", () => {
  it.each([
    { path: ["a", "b"], key: "a.b" },
    { path: ["a.b", "c"], key: "a\\.b.c" },
    { path: ["a\\b"], key: "a\\\\b" },
    { path: ["x", "0", "y"], key: "x.0.y" },
  ])("$key", ({ path, key }) => {
    expect(formatDottedKey(path)).toBe(key);
    const parsed = parseDottedKey(key);
    expect(parsed.ok && parsed.path).toEqual(path);
  });
});

describe("isIndexSegment", () => {
  it.each([
    { segment: "0", index: true },
    { segment: "7", index: true },
    { segment: "10", index: true },
    { segment: "123456789012345", index: true },
    { segment: "1234567890123456", index: false },
    { segment: "01", index: false },
    { segment: "-1", index: false },
    { segment: "1.0", index: false },
    { segment: "1e3", index: false },
    { segment: " 1", index: false },
    { segment: "", index: false },
    { segment: "a", index: false },
  ])("$segment → $index", ({ segment, index }) => {
    expect(isIndexSegment(segment)).toBe(index);
  });
});
