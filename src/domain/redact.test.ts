import { describe, expect, it } from "vitest";
import { MIN_KNOWN_SECRET_LENGTH, REDACTED, SecretRedactor } from "./redact.js";

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A deterministic alphanumeric string of the given length. */
function chars(length: number, alphabet = ALNUM): string {
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[(i * 7 + 3) % alphabet.length];
  return out;
}

function redactorWith(...secrets: string[]): SecretRedactor {
  const redactor = new SecretRedactor();
  for (const secret of secrets) redactor.add(secret);
  return redactor;
}

describe("SecretRedactor.redact: token patterns, whether known or not", () => {
  const classic36 = chars(36);
  const fineGrained = `github_pat_${chars(22)}_${chars(59)}`;

  it.each([
    { name: "ghp_ (36 chars)", token: `ghp_${classic36}` },
    { name: "gho_", token: `gho_${classic36}` },
    { name: "ghs_", token: `ghs_${classic36}` },
    { name: "ghu_", token: `ghu_${classic36}` },
    { name: "ghr_", token: `ghr_${classic36}` },
    { name: "ghp_ longer than 36", token: `ghp_${chars(40)}` },
    { name: "github_pat_ fine-grained", token: fineGrained },
    { name: "github_pat_ with exactly 20 chars", token: `github_pat_${chars(20, `${ALNUM}_`)}` },
    { name: "shp_ (32 chars)", token: `shp_${chars(32)}` },
    { name: "shp_ longer", token: `shp_${chars(48)}` },
  ])("$name", ({ token }) => {
    const redactor = new SecretRedactor();
    expect(redactor.redact(token)).toBe(REDACTED);
    expect(redactor.redact(`git push https://x-access-token:${token}@github.com/o/r.git failed`)).toBe(
      `git push https://x-access-token:${REDACTED}@github.com/o/r.git failed`,
    );
    expect(redactor.redact(`Authorization: token ${token}\nnext line`)).toBe(
      `Authorization: token ${REDACTED}\nnext line`,
    );
  });

  it("redacts every occurrence, several tokens in one text", () => {
    const a = `ghp_${chars(36)}`;
    const b = `github_pat_${chars(30)}`;
    const c = `shp_${chars(32)}`;
    const text = `${a} and ${b}; again ${a} and ${c}.`;
    expect(new SecretRedactor().redact(text)).toBe(
      `${REDACTED} and ${REDACTED}; again ${REDACTED} and ${REDACTED}.`,
    );
  });

  it("is stable across calls (global regexes do not keep state)", () => {
    const redactor = new SecretRedactor();
    const text = `token ghp_${chars(36)} here`;
    for (let i = 0; i < 3; i++) expect(redactor.redact(text)).toBe(`token ${REDACTED} here`);
  });

  it.each([
    "ghp_abc",
    `ghp_${chars(35)}`,
    `gha_${chars(36)}`,
    `ghx_${chars(40)}`,
    `GHP_${chars(36)}`,
    `github_pat_${chars(19)}`,
    `shp_${chars(31)}`,
    "shp_short",
    "github_pat_",
    "the ghp_ prefix alone",
    "ordinary text with no secrets: 1234567890",
  ])("leaves look-alikes that are too short or of another shape alone: %s", (text) => {
    expect(new SecretRedactor().redact(text)).toBe(text);
  });
});

describe("SecretRedactor.add and known secrets", () => {
  it("redacts a known value in free text", () => {
    const redactor = redactorWith("hunter2-password");
    expect(redactor.redact("login with hunter2-password now")).toBe(`login with ${REDACTED} now`);
    expect(redactor.redact("hunter2-passwordhunter2-password")).toBe(`${REDACTED}${REDACTED}`);
  });

  it("trims the value it is given", () => {
    const redactor = redactorWith("  my-secret-value\n");
    expect(redactor.redact("x my-secret-value y")).toBe(`x ${REDACTED} y`);
    expect(redactor.redact("x   y")).toBe("x   y");
  });

  it.each([
    { secret: 'quo"te-secret', name: "a quote" },
    { secret: "back\\slash-secret", name: "a backslash" },
    { secret: 'both"and\\secret', name: "a quote and a backslash" },
    { secret: "new\nline-secret", name: "a newline" },
    { secret: "tab\tsecret-1", name: "a tab" },
  ])("redacts the JSON-escaped form of a secret with $name", ({ secret }) => {
    const redactor = redactorWith(secret);
    const json = JSON.stringify({ token: secret, other: "kept" });
    expect(json).not.toContain(secret);
    const redacted = redactor.redact(json);
    expect(redacted).toBe(JSON.stringify({ token: REDACTED, other: "kept" }));
    expect(redactor.redact(secret)).toBe(REDACTED);
  });

  it.each([
    { secret: "p@ss word/with?special&chars=1" },
    { secret: "secret+plus%percent" },
    { secret: 'q"uote#hash' },
    { secret: "ünïcode-sécret" },
  ])("redacts the URL-encoded form of $secret", ({ secret }) => {
    const redactor = redactorWith(secret);
    const url = `https://example.com/hook?token=${encodeURIComponent(secret)}&x=1`;
    expect(url).not.toContain(secret);
    expect(redactor.redact(url)).toBe(`https://example.com/hook?token=${REDACTED}&x=1`);
    expect(redactor.redact(`raw ${secret} raw`)).toBe(`raw ${REDACTED} raw`);
  });

  it("treats regex metacharacters in a secret literally", () => {
    const redactor = redactorWith("a.b*c+d?(e)[f]{g}|h^$");
    expect(redactor.redact("xa.b*c+d?(e)[f]{g}|h^$x")).toBe(`x${REDACTED}x`);
    expect(redactor.redact("aXbbbbcdde")).toBe("aXbbbbcdde");
    expect(redactor.redact("h")).toBe("h");
  });

  it.each([
    { secret: "", knownCount: 0 },
    { secret: "abc", knownCount: 0 },
    { secret: "x".repeat(MIN_KNOWN_SECRET_LENGTH - 1), knownCount: 0 },
    { secret: `  ${"y".repeat(MIN_KNOWN_SECRET_LENGTH - 1)}  `, knownCount: 0 },
    { secret: "z".repeat(MIN_KNOWN_SECRET_LENGTH), knownCount: 1 },
    { secret: 'ab"cdef', knownCount: 3 },
  ])("add($secret) → knownCount $knownCount", ({ secret, knownCount }) => {
    expect(redactorWith(secret).knownCount).toBe(knownCount);
  });

  it("ignores secrets shorter than MIN_KNOWN_SECRET_LENGTH (they would mangle ordinary text)", () => {
    expect(MIN_KNOWN_SECRET_LENGTH).toBeGreaterThan(1);
    const short = "abcdefghij".slice(0, MIN_KNOWN_SECRET_LENGTH - 1);
    const redactor = redactorWith(short);
    expect(redactor.knownCount).toBe(0);
    expect(redactor.redact(`text with ${short} inside`)).toBe(`text with ${short} inside`);
  });

  it("redacts a secret of exactly MIN_KNOWN_SECRET_LENGTH characters", () => {
    const exact = "qwertyuiop".slice(0, MIN_KNOWN_SECRET_LENGTH);
    expect(redactorWith(exact).redact(`<${exact}>`)).toBe(`<${REDACTED}>`);
  });

  it("adding the same secret twice changes nothing", () => {
    const redactor = redactorWith("repeated-secret", "repeated-secret", " repeated-secret ");
    expect(redactor.knownCount).toBe(1);
    expect(redactor.redact("repeated-secret")).toBe(REDACTED);
  });

  it.each([
    { order: "short first", secrets: ["abcdef", "xxabcdefyy"] },
    { order: "long first", secrets: ["xxabcdefyy", "abcdef"] },
  ])("a secret containing another is removed whole ($order)", ({ secrets }) => {
    const redactor = redactorWith(...secrets);
    expect(redactor.redact("[xxabcdefyy]")).toBe(`[${REDACTED}]`);
    expect(redactor.redact("[abcdef]")).toBe(`[${REDACTED}]`);
    expect(redactor.redact("xxabcdefyy abcdef")).toBe(`${REDACTED} ${REDACTED}`);
  });

  it("secrets added later are redacted from then on", () => {
    const redactor = new SecretRedactor();
    expect(redactor.redact("late-secret-1")).toBe("late-secret-1");
    redactor.add("late-secret-1");
    expect(redactor.redact("late-secret-1")).toBe(REDACTED);
    redactor.add("later-secret-2");
    expect(redactor.redact("late-secret-1 later-secret-2")).toBe(`${REDACTED} ${REDACTED}`);
  });

  it("known secrets and token patterns are both applied", () => {
    const token = `ghs_${chars(36)}`;
    const redactor = redactorWith("webhook-secret-value");
    expect(redactor.redact(`${token} webhook-secret-value`)).toBe(`${REDACTED} ${REDACTED}`);
  });
});

describe("SecretRedactor.redactDeep", () => {
  const token = `ghp_${chars(36)}`;
  const known = "known-secret-value";

  function redactor(): SecretRedactor {
    return redactorWith(known);
  }

  it.each([
    { value: 42 },
    { value: 0 },
    { value: -1.5 },
    { value: Number.NaN },
    { value: true },
    { value: false },
    { value: null },
    { value: undefined },
    { value: 10n },
  ])("leaves $value alone", ({ value }) => {
    expect(redactor().redactDeep(value)).toBe(value);
  });

  it("redacts a plain string", () => {
    expect(redactor().redactDeep(`a ${known} b ${token}`)).toBe(`a ${REDACTED} b ${REDACTED}`);
  });

  it("redacts nested objects and arrays, keeping everything else", () => {
    const input = {
      level: 30,
      ok: true,
      nothing: null,
      msg: `push failed for ${token}`,
      req: {
        headers: { authorization: `Bearer ${known}`, accept: "application/json" },
        attempts: [1, 2, 3],
      },
      list: ["plain", `x${known}x`, [token, 7, false, null], { deep: { deeper: [known] } }],
    };
    expect(redactor().redactDeep(input)).toEqual({
      level: 30,
      ok: true,
      nothing: null,
      msg: `push failed for ${REDACTED}`,
      req: {
        headers: { authorization: `Bearer ${REDACTED}`, accept: "application/json" },
        attempts: [1, 2, 3],
      },
      list: ["plain", `x${REDACTED}x`, [REDACTED, 7, false, null], { deep: { deeper: [REDACTED] } }],
    });
  });

  it("does not modify its input", () => {
    const input = { a: known, b: [token] };
    const output = redactor().redactDeep(input);
    expect(input).toEqual({ a: known, b: [token] });
    expect(output).not.toBe(input);
    expect(output.b).not.toBe(input.b);
  });

  it("redacts object keys", () => {
    const input = { [token]: "value", [`prefix-${known}`]: { [known]: 1 } };
    expect(redactor().redactDeep(input)).toEqual({
      [REDACTED]: "value",
      [`prefix-${REDACTED}`]: { [REDACTED]: 1 },
    });
  });

  it("redacts an Error's message and stack and keeps its name", () => {
    const error = new TypeError(`cannot authenticate with ${token} / ${known}`);
    const copy = redactor().redactDeep(error);
    expect(copy).toBeInstanceOf(Error);
    expect(copy).not.toBe(error);
    expect(copy.name).toBe("TypeError");
    expect(copy.message).toBe(`cannot authenticate with ${REDACTED} / ${REDACTED}`);
    expect(error.stack).toContain(token);
    expect(copy.stack).toBeDefined();
    expect(copy.stack).toContain(REDACTED);
    expect(copy.stack).not.toContain(token);
    expect(copy.stack).not.toContain(known);
  });

  it("redacts an Error nested inside an object", () => {
    const output = redactor().redactDeep({ err: new Error(`boom ${known}`), code: "E" });
    expect(output.err).toBeInstanceOf(Error);
    expect(output.err.message).toBe(`boom ${REDACTED}`);
    expect(output.err.stack).not.toContain(known);
    expect(output.code).toBe("E");
  });

  it("redacts an Error whose stack alone carries the secret", () => {
    const error = new Error("plain message");
    error.stack = `Error: plain message\n    at push (${token})`;
    const copy = redactor().redactDeep(error);
    expect(copy.message).toBe("plain message");
    expect(copy.stack).toBe(`Error: plain message\n    at push (${REDACTED})`);
  });

  it("terminates on a self-referencing object and keeps the cycle in the copy", () => {
    const input: Record<string, unknown> = { secret: known };
    input.self = input;
    const output = redactor().redactDeep(input);
    expect(output.secret).toBe(REDACTED);
    expect(output.self).toBe(output);
  });

  it("terminates on cycles through arrays and between objects", () => {
    const a: Record<string, unknown> = { name: `a ${token}` };
    const b: Record<string, unknown> = { name: "b", back: a };
    const list: unknown[] = [a, b];
    a.peer = b;
    a.list = list;
    list.push(list);
    const output = redactor().redactDeep({ root: a });
    const outA = output.root;
    const outB = outA.peer as Record<string, unknown>;
    const outList = outA.list as unknown[];
    expect(outA.name).toBe(`a ${REDACTED}`);
    expect(outB.back).toBe(outA);
    expect(outList[0]).toBe(outA);
    expect(outList[1]).toBe(outB);
    expect(outList[2]).toBe(outList);
  });

  it("a shared (non-cyclic) sub-object is redacted wherever it appears", () => {
    const shared = { token };
    const output = redactor().redactDeep({ first: shared, second: shared });
    expect(output.first).toEqual({ token: REDACTED });
    expect(output.second).toEqual({ token: REDACTED });
  });
});

describe("SecretRedactor edge cases", () => {
  it("keeps Dates and binary buffers as they are in redactDeep", () => {
    const at = new Date(0);
    const bytes = new Uint8Array([1, 2, 3]);
    const output = redactorWith().redactDeep({ at, bytes });
    expect(output.at).toBeInstanceOf(Date);
    expect(output.at.getTime()).toBe(0);
    expect(output.bytes).toBe(bytes);
  });

  it("accepts a secret with a lone surrogate (no URL form) and still redacts it raw", () => {
    const r = redactorWith();
    const secret = "abc\uD800defghij";
    expect(() => r.add(secret)).not.toThrow();
    expect(r.redact(`x ${secret} y`)).toBe(`x ${REDACTED} y`);
  });
});
