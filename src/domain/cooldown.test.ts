import { describe, expect, it } from "vitest";
import { COOLDOWN_MAX_MS, COOLDOWN_MIN_MS, cooldownMs } from "./cooldown.js";

describe("cooldownMs", () => {
  it("is clamped to 30 s – 10 min", () => {
    expect(COOLDOWN_MIN_MS).toBe(30_000);
    expect(COOLDOWN_MAX_MS).toBe(600_000);
  });

  it.each<[string, number | null, number, number]>([
    ["Retry-After 45 s → 45 s", 45, 0.9, 45_000],
    ["Retry-After 120 s → 120 s, no jitter", 120, 0, 120_000],
    ["Retry-After 1 s → at least 30 s", 1, 0.5, 30_000],
    ["Retry-After 30 s → 30 s", 30, 0.5, 30_000],
    ["Retry-After one hour → at most 10 min", 3600, 0.5, 600_000],
    ["Retry-After 600 s → 10 min", 600, 0.5, 600_000],
    ["a fractional Retry-After is rounded to the millisecond", 45.0004, 0.5, 45_000],
    ["nothing said, middle of the jitter → 60 s", null, 0.5, 60_000],
    ["nothing said, lowest jitter → 52.5 s", null, 0, 52_500],
    ["nothing said, highest jitter → 67.5 s", null, 1, 67_500],
    ["nothing said, a quarter → 56.25 s", null, 0.25, 56_250],
    ["Retry-After 0 counts as nothing said", 0, 0.5, 60_000],
    ["a negative Retry-After counts as nothing said", -5, 1, 67_500],
  ])("%s", (_name, retryAfter, random, expected) => {
    expect(cooldownMs(retryAfter, random)).toBe(expected);
  });
});
