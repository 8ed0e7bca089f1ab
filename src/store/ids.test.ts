import { describe, expect, it } from "vitest";
import { newId } from "./ids.js";

const CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz";
const ID_BODY = /^[0-9a-hjkmnp-tv-z]{26}$/;

function bodyOf(id: string, prefix: string): string {
  expect(id.startsWith(`${prefix}_`)).toBe(true);
  return id.slice(prefix.length + 1);
}

/** Decodes the 10-character time part (48 bits of milliseconds, Crockford base32). */
function decodeTime(body: string): number {
  let value = 0;
  for (const char of body.slice(0, 10)) {
    const digit = CROCKFORD.indexOf(char);
    expect(digit).toBeGreaterThanOrEqual(0);
    value = value * 32 + digit;
  }
  return value;
}

describe("newId: format", () => {
  it.each(["ses", "rep", "prop", "tok", "evt", "a"])(
    "%s_ + 26 lower-case Crockford base32 chars",
    (prefix) => {
      const id = newId(prefix);
      expect(id).toHaveLength(prefix.length + 1 + 26);
      expect(bodyOf(id, prefix)).toMatch(ID_BODY);
    },
  );

  it("never uses the letters Crockford leaves out (i, l, o, u) or upper case", () => {
    const bodies = Array.from({ length: 500 }, () => bodyOf(newId("x"), "x")).join("");
    expect(bodies).not.toMatch(/[ilouA-Z]/);
    expect(bodies).toMatch(/^[0-9a-hjkmnp-tv-z]+$/);
  });

  it.each([
    { now: 0, time: "0000000000" },
    { now: 1, time: "0000000001" },
    { now: 31, time: "000000000z" },
    { now: 32, time: "0000000010" },
    { now: 1_700_000_000_000, time: "01hf7yat00" },
    { now: 2 ** 48 - 1, time: "7zzzzzzzzz" },
  ])("encodes now=$now as the 10-character time part $time", ({ now, time }) => {
    const body = bodyOf(newId("ses", now), "ses");
    expect(body.slice(0, 10)).toBe(time);
    expect(decodeTime(body)).toBe(now);
  });

  it("uses the current time when now is not given", () => {
    const before = Date.now();
    const body = bodyOf(newId("ses"), "ses");
    const after = Date.now();
    const time = decodeTime(body);
    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(after);
  });

  it("two ids at the same instant share the time part but differ in the random part", () => {
    const a = bodyOf(newId("ses", 1_700_000_000_000), "ses");
    const b = bodyOf(newId("ses", 1_700_000_000_000), "ses");
    expect(a.slice(0, 10)).toBe(b.slice(0, 10));
    expect(a.slice(10)).not.toBe(b.slice(10));
  });
});

describe("newId: ordering", () => {
  it.each([
    { name: "consecutive milliseconds", times: [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_002] },
    { name: "across a base32 digit carry", times: [30, 31, 32, 33, 1023, 1024, 1025] },
    { name: "from zero to the 48-bit maximum", times: [0, 1, 2 ** 20, 2 ** 32, 2 ** 40, 2 ** 48 - 1] },
    {
      name: "over years",
      times: [
        Date.UTC(2001, 0, 1),
        Date.UTC(2024, 5, 30),
        Date.UTC(2025, 0, 1),
        Date.UTC(2099, 11, 31),
        Date.UTC(9999, 11, 31),
      ],
    },
  ])("ids created at increasing now sort lexically in creation order: $name", ({ times }) => {
    for (let round = 0; round < 50; round++) {
      const ids = times.map((now) => newId("ses", now));
      expect([...ids].sort()).toEqual(ids);
    }
  });

  it("1,000 ids at increasing now, shuffled, sort back to creation order", () => {
    const start = 1_700_000_000_000;
    const ids = Array.from({ length: 1000 }, (_, i) => newId("evt", start + i * 3));
    const shuffled = [...ids].reverse();
    for (let i = 0; i < shuffled.length; i += 2) {
      const j = (i * 7919) % shuffled.length;
      [shuffled[i], shuffled[j]] = [shuffled[j] as string, shuffled[i] as string];
    }
    expect(shuffled.sort()).toEqual(ids);
  });
});

describe("newId: uniqueness", () => {
  it("10,000 ids are unique", () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newId("ses")));
    expect(ids.size).toBe(10_000);
  });

  it("10,000 ids created at the same instant are unique", () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newId("ses", 1_700_000_000_000)));
    expect(ids.size).toBe(10_000);
  });
});
