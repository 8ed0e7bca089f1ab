import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./duration.js";

describe("parseDuration", () => {
  it.each<[string, number | null]>([
    ["45s", 45_000],
    ["90m", 5_400_000],
    ["30m", 1_800_000],
    ["12h", 43_200_000],
    ["30d", 2_592_000_000],
    ["0s", 0],
    [" 15m ", 900_000],
    ["10", null],
    ["m", null],
    ["", null],
    ["1.5h", null],
    ["-5m", null],
    ["5 m", null],
    ["5M", null],
    ["5ms", null],
    ["5w", null],
    ["1h30m", null],
  ])("%j → %s", (text, expected) => {
    expect(parseDuration(text)).toBe(expected);
  });
});

describe("formatDuration", () => {
  it.each<[number, string]>([
    [90_000, "90s"],
    [1_800_000, "30m"],
    [5_400_000, "90m"],
    [3_600_000, "1h"],
    [43_200_000, "12h"],
    [86_400_000, "1d"],
    [2_592_000_000, "30d"],
    [1000, "1s"],
    [1500, "1500ms"],
    [0, "0ms"],
  ])("%s → %s", (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });

  it.each(["45s", "90m", "12h", "30d", "1s", "25h"])("parse(format(parse(%s))) round-trips", (text) => {
    const ms = parseDuration(text);
    expect(ms).not.toBeNull();
    expect(parseDuration(formatDuration(ms ?? -1))).toBe(ms);
  });
});
