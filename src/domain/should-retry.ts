/**
 * Whether a failed session turn is retried (SPEC C6 "Retry"). The decision is pure so that
 * `GET …/retry-preview` can show exactly what `POST …/retry` would do.
 */
export const RETRY_REASONS = [
  "auto_retry",
  "max_retries_exceeded",
  "permanent_error",
  "low_confidence_no_retry",
  "transient_disabled",
] as const;
export type RetryReason = (typeof RETRY_REASONS)[number];

export type ErrorClass = "transient" | "permanent";

export interface RetryPolicy {
  /** Retries allowed after the first attempt; 0 never retries. */
  maxRetries: number;
  retryOnTransient: boolean;
  /** An agent's confidence strictly below this is not worth another attempt. */
  lowConfidenceThreshold: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxRetries: 2,
  retryOnTransient: true,
  lowConfidenceThreshold: 0.4,
});

export interface RetryDecision {
  retry: boolean;
  reason: RetryReason;
}

/** Error codes Shepherd knows to be transient: LLM timeouts, rate limits, provider 5xx and connection errors. */
export const TRANSIENT_ERROR_CODES = [
  "LLM_TIMEOUT",
  "LLM_RATE_LIMITED",
  "LLM_UNAVAILABLE",
  "MCP_UNAVAILABLE",
  "SERVICE_UNAVAILABLE",
  "RATE_LIMITED",
] as const;
export type TransientErrorCode = (typeof TRANSIENT_ERROR_CODES)[number];

const TRANSIENT: ReadonlySet<string> = new Set(TRANSIENT_ERROR_CODES);

/**
 * Transient when the code is one of `TRANSIENT_ERROR_CODES`, compared exactly; anything else,
 * including no code at all, is permanent. Failing closed: retrying an error nobody classified
 * repeats its side effects and spends budget for nothing, while a missed transient only costs a
 * human a click on retry.
 */
export function classifyError(code: string | null): ErrorClass {
  return code !== null && TRANSIENT.has(code) ? "transient" : "permanent";
}

/**
 * Whether to retry (SPEC C6). First match wins: the retry budget is spent; the error is permanent
 * (or unknown); the agent's confidence is below the threshold, so another attempt would likely
 * fail the same way; transient retries are turned off; else retry. The budget comes first so that
 * nothing can retry forever. Untrustworthy inputs fail safe: a retry count that is negative or
 * NaN, or a maxRetries that is NaN, counts as spent (no count, no proof that budget is left);
 * a NaN confidence counts as unknown, like null, and a confidence exactly at the threshold is not low.
 */
export function shouldRetry(
  retryCount: number,
  errorCode: string | null,
  confidence: number | null,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): RetryDecision {
  // Written so that every comparison with NaN lands on "spent".
  if (!(retryCount >= 0 && retryCount < policy.maxRetries)) {
    return { retry: false, reason: "max_retries_exceeded" };
  }
  if (classifyError(errorCode) === "permanent") return { retry: false, reason: "permanent_error" };
  // NaN is below nothing, so a NaN confidence is unknown, like null.
  if (confidence !== null && confidence < policy.lowConfidenceThreshold) {
    return { retry: false, reason: "low_confidence_no_retry" };
  }
  if (!policy.retryOnTransient) return { retry: false, reason: "transient_disabled" };
  return { retry: true, reason: "auto_retry" };
}
