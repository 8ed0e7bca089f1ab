import {
  APICallError,
  EmptyResponseBodyError,
  InvalidResponseDataError,
  JSONParseError,
  NoContentGeneratedError,
  RetryError,
  TypeValidationError,
} from "ai";
import type { SecretRedactor } from "../../domain/redact.js";
import {
  LlmBadResponse,
  LlmRateLimited,
  LlmRejected,
  LlmUnavailable,
  type LlmError,
  type LlmErrorOrigin,
} from "./llm-errors.js";

/**
 * AI SDK errors → the port's typed errors. Only the status and the provider's own (redacted,
 * shortened) error text reach the message: SDK errors also hold the request body and headers.
 */

const MAX_DETAIL = 300;

/** The provider's error text, made safe to show: no known secret, no bearer token, one short line. */
export function safeDetail(text: string, redactor: SecretRedactor): string {
  const clean = redactor
    .redact(text)
    .replace(/\bBearer\s+[^\s"',;]+/gi, "Bearer [REDACTED]")
    .replace(/\s+/g, " ")
    .trim();
  return clean.length > MAX_DETAIL ? `${clean.slice(0, MAX_DETAIL)}…` : clean;
}

/** `retry-after` (seconds or an HTTP date), else `retry-after-ms`; null when neither is usable. */
export function retryAfterSeconds(
  headers: Record<string, string> | undefined,
  nowMs: number = Date.now(),
): number | null {
  const retryAfter = headers?.["retry-after"]?.trim();
  if (retryAfter) {
    if (/^\d+(\.\d+)?$/.test(retryAfter)) return Math.ceil(Number(retryAfter));
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, Math.ceil((date - nowMs) / 1000));
  }
  const retryAfterMs = headers?.["retry-after-ms"]?.trim();
  if (retryAfterMs && /^\d+(\.\d+)?$/.test(retryAfterMs)) return Math.ceil(Number(retryAfterMs) / 1000);
  return null;
}

function attemptsText(attempts: number): string {
  return attempts > 1 ? ` after ${attempts} attempts` : "";
}

function fromApiCallError(
  error: APICallError,
  origin: LlmErrorOrigin,
  attempts: number,
  redactor: SecretRedactor,
): LlmError {
  const who = `${origin.provider}/${origin.model}`;
  const detail = safeDetail(error.message, redactor);
  const suffix = detail === "" ? "" : `: ${detail}`;
  const status = error.statusCode;
  if (status === undefined) {
    return new LlmUnavailable(
      origin,
      null,
      `${who}: cannot reach the provider${attemptsText(attempts)}${suffix}`,
    );
  }
  if (status === 429) {
    const wait = retryAfterSeconds(error.responseHeaders);
    const hint = wait === null ? "" : ` (retry after ${wait} s)`;
    return new LlmRateLimited(
      origin,
      wait,
      `${who}: rate limited, HTTP 429${attemptsText(attempts)}${hint}${suffix}`,
    );
  }
  if (status >= 500) {
    return new LlmUnavailable(
      origin,
      status,
      `${who}: provider error, HTTP ${status}${attemptsText(attempts)}${suffix}`,
    );
  }
  if (status >= 400) {
    return new LlmRejected(origin, status, `${who}: request rejected, HTTP ${status}${suffix}`);
  }
  return new LlmBadResponse(origin, `${who}: unusable answer (HTTP ${status})${suffix}`);
}

/** Maps what `generateText` threw; errors that are not about the exchange are returned unchanged. */
export function mapSdkError(error: unknown, origin: LlmErrorOrigin, redactor: SecretRedactor): unknown {
  let attempts = 1;
  let cause = error;
  if (RetryError.isInstance(error)) {
    attempts = error.errors.length;
    cause = error.lastError;
  }
  if (APICallError.isInstance(cause)) return fromApiCallError(cause, origin, attempts, redactor);
  if (
    JSONParseError.isInstance(cause) ||
    TypeValidationError.isInstance(cause) ||
    InvalidResponseDataError.isInstance(cause) ||
    NoContentGeneratedError.isInstance(cause) ||
    EmptyResponseBodyError.isInstance(cause)
  ) {
    // These messages quote the response, which may be long: keep the gist.
    const detail = safeDetail(cause.message, redactor);
    return new LlmBadResponse(origin, `${origin.provider}/${origin.model}: unusable answer: ${detail}`);
  }
  return error;
}
