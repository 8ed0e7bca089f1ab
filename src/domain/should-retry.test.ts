import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "./errors.js";
import {
  classifyError,
  DEFAULT_RETRY_POLICY,
  RETRY_REASONS,
  shouldRetry,
  TRANSIENT_ERROR_CODES,
  type ErrorClass,
  type RetryDecision,
  type RetryPolicy,
} from "./should-retry.js";

const policy = (over: Partial<RetryPolicy> = {}): RetryPolicy => ({ ...DEFAULT_RETRY_POLICY, ...over });

describe("DEFAULT_RETRY_POLICY", () => {
  it("retries transient errors twice and not below 0.4 confidence", () => {
    expect(DEFAULT_RETRY_POLICY).toEqual({
      maxRetries: 2,
      retryOnTransient: true,
      lowConfidenceThreshold: 0.4,
    });
    expect(Object.isFrozen(DEFAULT_RETRY_POLICY)).toBe(true);
  });
});

describe("classifyError", () => {
  it.each(TRANSIENT_ERROR_CODES.map((code) => [code]))("%s is transient", (code) => {
    expect(classifyError(code)).toBe("transient");
  });

  it.each<[string, string | null, ErrorClass]>([
    ["no code", null, "permanent"],
    ["an empty code", "", "permanent"],
    ["an unknown code", "SOMETHING_ODD", "permanent"],
    ["a validation error", "VALIDATION_ERROR", "permanent"],
    ["an internal error (a bug, not the weather)", "INTERNAL", "permanent"],
    ["a code in the wrong case", "llm_timeout", "permanent"],
    ["a code with whitespace", " LLM_TIMEOUT", "permanent"],
    ["a prefix of a transient code", "LLM_", "permanent"],
    ["a prototype member name", "constructor", "permanent"],
  ])("%s → %s", (_name, code, expected) => {
    expect(classifyError(code)).toBe(expected);
  });

  it("knows the HTTP codes it calls transient as retryable ones", () => {
    for (const code of TRANSIENT_ERROR_CODES) {
      if (Object.hasOwn(ERROR_CODES, code)) {
        expect(ERROR_CODES[code as keyof typeof ERROR_CODES].retryable).toBe(true);
      }
    }
  });
});

describe("shouldRetry", () => {
  const no = (reason: RetryDecision["reason"]): RetryDecision => ({ retry: false, reason });
  const yes: RetryDecision = { retry: true, reason: "auto_retry" };

  it.each<[string, number, string | null, number | null, RetryPolicy, RetryDecision]>([
    // Each reason.
    ["transient, budget left → retry", 0, "LLM_TIMEOUT", 0.9, policy(), yes],
    ["transient, no confidence yet → retry", 1, "RATE_LIMITED", null, policy(), yes],
    ["budget spent → max_retries_exceeded", 2, "LLM_TIMEOUT", 0.9, policy(), no("max_retries_exceeded")],
    ["permanent → permanent_error", 0, "VALIDATION_ERROR", 0.9, policy(), no("permanent_error")],
    [
      "transient, low confidence → low_confidence_no_retry",
      0,
      "LLM_UNAVAILABLE",
      0.1,
      policy(),
      no("low_confidence_no_retry"),
    ],
    [
      "transient, retries off → transient_disabled",
      0,
      "MCP_UNAVAILABLE",
      0.9,
      policy({ retryOnTransient: false }),
      no("transient_disabled"),
    ],
    // Precedence.
    ["spent beats permanent", 5, "VALIDATION_ERROR", 0.9, policy(), no("max_retries_exceeded")],
    ["permanent beats low confidence", 0, "INTERNAL", 0.1, policy(), no("permanent_error")],
    [
      "permanent beats retries off",
      0,
      "INTERNAL",
      0.9,
      policy({ retryOnTransient: false }),
      no("permanent_error"),
    ],
    [
      "low confidence beats retries off",
      0,
      "LLM_TIMEOUT",
      0.1,
      policy({ retryOnTransient: false }),
      no("low_confidence_no_retry"),
    ],
    // Boundaries.
    ["one below the budget → retry", 1, "LLM_TIMEOUT", null, policy(), yes],
    ["exactly the budget → spent", 2, "LLM_TIMEOUT", null, policy(), no("max_retries_exceeded")],
    [
      "maxRetries 0 never retries",
      0,
      "LLM_TIMEOUT",
      null,
      policy({ maxRetries: 0 }),
      no("max_retries_exceeded"),
    ],
    ["confidence exactly at the threshold is not low", 0, "LLM_TIMEOUT", 0.4, policy(), yes],
    [
      "confidence just below the threshold is low",
      0,
      "LLM_TIMEOUT",
      0.39,
      policy(),
      no("low_confidence_no_retry"),
    ],
    ["confidence 0 is low", 0, "LLM_TIMEOUT", 0, policy(), no("low_confidence_no_retry")],
    [
      "the policy's threshold is used",
      0,
      "LLM_TIMEOUT",
      0.5,
      policy({ lowConfidenceThreshold: 0.6 }),
      no("low_confidence_no_retry"),
    ],
    // Fail closed on what nobody classified.
    ["no error code → permanent", 0, null, 0.9, policy(), no("permanent_error")],
    ["an unknown code → permanent", 0, "WHATEVER", 0.9, policy(), no("permanent_error")],
    // Untrustworthy numbers.
    ["a negative retry count counts as spent", -1, "LLM_TIMEOUT", 0.9, policy(), no("max_retries_exceeded")],
    [
      "a NaN retry count counts as spent",
      Number.NaN,
      "LLM_TIMEOUT",
      0.9,
      policy(),
      no("max_retries_exceeded"),
    ],
    [
      "an infinite retry count is spent",
      Number.POSITIVE_INFINITY,
      "LLM_TIMEOUT",
      0.9,
      policy(),
      no("max_retries_exceeded"),
    ],
    [
      "a NaN maxRetries counts as spent",
      0,
      "LLM_TIMEOUT",
      0.9,
      policy({ maxRetries: Number.NaN }),
      no("max_retries_exceeded"),
    ],
    ["a NaN confidence counts as unknown", 0, "LLM_TIMEOUT", Number.NaN, policy(), yes],
    [
      "a NaN confidence does not lift retries off",
      0,
      "LLM_TIMEOUT",
      Number.NaN,
      policy({ retryOnTransient: false }),
      no("transient_disabled"),
    ],
    ["a negative confidence is low", 0, "LLM_TIMEOUT", -0.5, policy(), no("low_confidence_no_retry")],
  ])("%s", (_name, retryCount, errorCode, confidence, retryPolicy, expected) => {
    expect(shouldRetry(retryCount, errorCode, confidence, retryPolicy)).toEqual(expected);
  });

  it("uses the default policy when none is given", () => {
    expect(shouldRetry(1, "LLM_TIMEOUT", null)).toEqual(yes);
    expect(shouldRetry(2, "LLM_TIMEOUT", null)).toEqual(no("max_retries_exceeded"));
    expect(shouldRetry(0, "LLM_TIMEOUT", 0.39)).toEqual(no("low_confidence_no_retry"));
  });

  it("retries only with auto_retry", () => {
    expect(RETRY_REASONS).toContain("auto_retry");
    for (const reason of RETRY_REASONS) {
      const decision = [
        shouldRetry(0, "LLM_TIMEOUT", 0.9),
        shouldRetry(9, "LLM_TIMEOUT", 0.9),
        shouldRetry(0, null, 0.9),
        shouldRetry(0, "LLM_TIMEOUT", 0),
        shouldRetry(0, "LLM_TIMEOUT", 0.9, policy({ retryOnTransient: false })),
      ].find((candidate) => candidate.reason === reason);
      expect(decision, reason).toBeDefined();
      expect(decision?.retry).toBe(reason === "auto_retry");
    }
  });
});
