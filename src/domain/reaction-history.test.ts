import { describe, expect, it } from "vitest";
import { EpisodeCursor, parseReactionHistory, stableHash, type Episode } from "./reaction-history.js";

const T0 = Date.parse("2025-03-01T12:00:00Z");

function ep(over: Partial<Episode> = {}): Episode {
  return { n: 1, active: true, since: T0, delivered: ["a"], attempts: 1, escalated: false, ...over };
}

describe("stableHash (FNV-1a, 64 bit)", () => {
  it.each([
    ["", "cbf29ce484222325"],
    ["a", "af63dc4c8601ec8c"],
    ["foobar", "85944171f73967e8"],
  ])("the reference vector %j → %s", (text, expected) => {
    expect(stableHash(text)).toBe(expected);
  });

  it("hashes UTF-8 bytes, always 16 hex digits, different texts differently", () => {
    const values = ["é", "e\u0301", "sha|check:1", "sha|check:2", "日本"].map(stableHash);
    for (const value of values) expect(value).toMatch(/^[0-9a-f]{16}$/);
    expect(new Set(values).size).toBe(values.length);
    expect(stableHash("sha|check:1")).toBe(stableHash("sha|check:1"));
  });
});

describe("EpisodeCursor", () => {
  it.each<[string, Episode | undefined, Partial<Episode>]>([
    [
      "no history → episode 1",
      undefined,
      { n: 1, active: true, since: T0 + 5, delivered: [], attempts: 0, escalated: false },
    ],
    [
      "an ended episode → the next serial, fresh counters",
      ep({ n: 3, active: false, attempts: 2, escalated: true }),
      { n: 4, active: true, since: T0 + 5, delivered: [], attempts: 0, escalated: false },
    ],
    [
      "a running episode → the same episode",
      ep({ n: 3, attempts: 2, escalated: true }),
      { n: 3, active: true, since: T0, delivered: ["a"], attempts: 2, escalated: true },
    ],
  ])("begin: %s", (_name, initial, expected) => {
    const cursor = new EpisodeCursor("ci_failed", initial);
    expect(cursor.begin(T0 + 5)).toEqual(expected);
    expect(cursor.episode).toEqual(expected);
  });

  it.each<[string, Episode | undefined, Episode | undefined]>([
    ["no history → still none", undefined, undefined],
    [
      "a running episode → ended, facts kept",
      ep({ n: 2, attempts: 2 }),
      ep({ n: 2, attempts: 2, active: false }),
    ],
    ["an ended episode → unchanged", ep({ active: false }), ep({ active: false })],
  ])("end: %s", (_name, initial, expected) => {
    const cursor = new EpisodeCursor("merge_conflict", initial);
    cursor.end();
    expect(cursor.episode).toEqual(expected);
  });

  it("markDelivered appends, and does nothing without an episode", () => {
    const none = new EpisodeCursor("ci_failed", undefined);
    none.markDelivered(["x"]);
    expect(none.episode).toBeUndefined();
    const cursor = new EpisodeCursor("ci_failed", ep());
    cursor.markDelivered(["b", "c"]);
    expect(cursor.episode?.delivered).toEqual(["a", "b", "c"]);
  });

  it("markDelivered keeps the last 200 signatures", () => {
    const cursor = new EpisodeCursor("changes_requested", ep({ delivered: [] }));
    cursor.markDelivered(Array.from({ length: 150 }, (_, i) => `s${i}`));
    cursor.markDelivered(Array.from({ length: 100 }, (_, i) => `s${150 + i}`));
    const delivered = cursor.episode?.delivered ?? [];
    expect(delivered).toHaveLength(200);
    expect(delivered[0]).toBe("s50");
    expect(delivered.at(-1)).toBe("s249");
  });

  it("works on a copy: the history it was given is never changed", () => {
    const initial = ep({ n: 2, delivered: ["a"] });
    const snapshot = structuredClone(initial);
    const cursor = new EpisodeCursor("ci_failed", initial);
    cursor.markDelivered(["b"]);
    const running = cursor.begin(T0 + 1);
    running.attempts = 9;
    running.escalated = true;
    cursor.end();
    expect(initial).toEqual(snapshot);
    expect(cursor.key).toBe("ci_failed");
  });
});

describe("parseReactionHistory", () => {
  it.each<[string, string | null, unknown]>([
    ["null", null, {}],
    ["empty text", "", {}],
    ["not JSON", "{oops", {}],
    ["JSON null", "null", {}],
    ["a number", "42", {}],
    ["a string", '"x"', {}],
    ["a history", JSON.stringify({ ci_failed: ep() }), { ci_failed: ep() }],
  ])("%s", (_name, json, expected) => {
    expect(parseReactionHistory(json)).toEqual(expected);
  });
});
