import { describe, expect, it } from "vitest";
import { AppError, ERROR_CODES, isAppError, type ErrorCode } from "./errors.js";

/** SPEC §E, transcribed row by row. */
const SPEC_TABLE: readonly { code: string; status: number; retryable: boolean }[] = [
  { code: "VALIDATION_ERROR", status: 422, retryable: false },
  { code: "UNAUTHENTICATED", status: 401, retryable: false },
  { code: "FORBIDDEN", status: 403, retryable: false },
  { code: "NOT_FOUND", status: 404, retryable: false },
  { code: "REPO_NOT_FOUND", status: 404, retryable: false },
  { code: "PROPOSAL_NOT_FOUND", status: 404, retryable: false },
  { code: "SESSION_NOT_FOUND", status: 404, retryable: false },
  { code: "APPROVAL_NOT_FOUND", status: 404, retryable: false },
  { code: "UNSUPPORTED_PROVIDER", status: 400, retryable: false },
  { code: "TOKEN_REF_NOT_FOUND", status: 400, retryable: false },
  { code: "REPO_NAME_TAKEN", status: 409, retryable: false },
  { code: "INVALID_STATE_TRANSITION", status: 409, retryable: false },
  { code: "APPROVAL_ALREADY_DECIDED", status: 409, retryable: false },
  { code: "REPO_NOT_CONFIGURED", status: 422, retryable: false },
  { code: "SESSION_BUSY", status: 429, retryable: true },
  { code: "RATE_LIMITED", status: 429, retryable: true },
  { code: "GITHUB_NOT_CONFIGURED", status: 503, retryable: true },
  { code: "QUEUE_UNAVAILABLE", status: 503, retryable: true },
  { code: "INVALID_SIGNATURE", status: 401, retryable: false },
  { code: "INTERNAL", status: 500, retryable: true },
];

const ALL_CODES = Object.keys(ERROR_CODES) as ErrorCode[];

describe("ERROR_CODES", () => {
  it.each(SPEC_TABLE)("SPEC §E: $code → $status, retryable $retryable", ({ code, status, retryable }) => {
    expect(Object.hasOwn(ERROR_CODES, code)).toBe(true);
    expect(ERROR_CODES[code as ErrorCode]).toEqual({ status, retryable });
  });

  it.each(ALL_CODES)("%s maps to a 4xx or 5xx status and a boolean retryable flag", (code) => {
    const entry = ERROR_CODES[code];
    expect(Number.isInteger(entry.status)).toBe(true);
    expect(entry.status).toBeGreaterThanOrEqual(400);
    expect(entry.status).toBeLessThanOrEqual(599);
    expect(typeof entry.retryable).toBe("boolean");
  });

  it.each(ALL_CODES)("%s is UPPER_SNAKE", (code) => {
    expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
  });

  // Retrying the same request can only succeed when the server was busy or failed.
  it("exactly the 429 and 5xx codes are retryable", () => {
    for (const code of ALL_CODES) {
      const { status, retryable } = ERROR_CODES[code];
      expect({ code, retryable }).toEqual({ code, retryable: status === 429 || status >= 500 });
    }
  });
});

describe("AppError", () => {
  it.each(SPEC_TABLE)(
    "exposes status $status and retryable $retryable for $code",
    ({ code, status, retryable }) => {
      const error = new AppError(code as ErrorCode, "something happened");
      expect(error.code).toBe(code);
      expect(error.status).toBe(status);
      expect(error.retryable).toBe(retryable);
    },
  );

  it("is an Error with its name, message, details and retryAfterSeconds", () => {
    const details = { repoId: "rep_123", field: "name" };
    const error = new AppError("RATE_LIMITED", "slow down", { details, retryAfterSeconds: 30 });
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(AppError);
    expect(error.name).toBe("AppError");
    expect(error.message).toBe("slow down");
    expect(error.code).toBe("RATE_LIMITED");
    expect(error.status).toBe(429);
    expect(error.retryable).toBe(true);
    expect(error.details).toEqual({ repoId: "rep_123", field: "name" });
    expect(error.retryAfterSeconds).toBe(30);
    expect(error.stack).toContain("slow down");
  });

  it("leaves details, retryAfterSeconds and cause undefined when not given", () => {
    const error = new AppError("NOT_FOUND", "no such thing");
    expect(error.details).toBeUndefined();
    expect(error.retryAfterSeconds).toBeUndefined();
    expect(error.cause).toBeUndefined();
    expect("cause" in error).toBe(false);
  });

  it("keeps the cause", () => {
    const cause = new Error("socket hang up");
    const error = new AppError("INTERNAL", "internal error", { cause });
    expect(error.cause).toBe(cause);
  });

  it("keeps a falsy cause (only undefined means none)", () => {
    expect(new AppError("INTERNAL", "x", { cause: null }).cause).toBeNull();
    expect(new AppError("INTERNAL", "x", { cause: 0 }).cause).toBe(0);
  });

  it("status and retryable follow the table for every code", () => {
    for (const code of ALL_CODES) {
      const error = new AppError(code, "m");
      expect({ code, status: error.status, retryable: error.retryable }).toEqual({
        code,
        ...ERROR_CODES[code],
      });
    }
  });
});

describe("isAppError", () => {
  it.each([
    { value: new AppError("FORBIDDEN", "no"), expected: true },
    { value: new Error("plain"), expected: false },
    { value: { code: "FORBIDDEN", status: 403, message: "look-alike" }, expected: false },
    { value: "FORBIDDEN", expected: false },
    { value: null, expected: false },
    { value: undefined, expected: false },
  ])("$value → $expected", ({ value, expected }) => {
    expect(isAppError(value)).toBe(expected);
  });
});
