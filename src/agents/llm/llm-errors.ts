/**
 * Provider-neutral errors of an LLM call (SPEC C6): what the agent loop and `shouldRetry` need
 * to know, without AI SDK types leaking out of src/agents/llm. Each has a stable `code` and says
 * whether trying again later can succeed (`transient`).
 *
 * Messages never carry the API key, request headers or the prompt; no SDK error is attached as
 * `cause`, because SDK errors hold the whole request body and the response headers.
 */
export const LLM_ERROR_CODES = [
  "LLM_TIMEOUT",
  "LLM_RATE_LIMITED",
  "LLM_UNAVAILABLE",
  "LLM_REJECTED",
  "LLM_BAD_RESPONSE",
] as const;
export type LlmErrorCode = (typeof LLM_ERROR_CODES)[number];

export interface LlmErrorOrigin {
  /** The provider's name in shepherd.yaml's `llm.providers`. */
  provider: string;
  /** The provider-side model id. */
  model: string;
}

export abstract class LlmError extends Error {
  abstract readonly code: LlmErrorCode;
  abstract readonly transient: boolean;
  readonly provider: string;
  readonly model: string;

  constructor(origin: LlmErrorOrigin, message: string) {
    super(message);
    this.provider = origin.provider;
    this.model = origin.model;
  }
}

export function isLlmError(value: unknown): value is LlmError {
  return value instanceof LlmError;
}

/** The call (all attempts and the waits between them) outlasted the provider's request timeout. */
export class LlmTimeout extends LlmError {
  override name = "LlmTimeout";
  readonly code = "LLM_TIMEOUT";
  readonly transient = true;
  constructor(
    origin: LlmErrorOrigin,
    readonly elapsedMs: number,
    readonly timeoutMs: number,
  ) {
    super(
      origin,
      `${origin.provider}/${origin.model}: no answer within the request timeout of ${timeoutMs / 1000} s`,
    );
  }
}

/** 429 after the configured retries. `retryAfterSeconds` comes from the last `retry-after`. */
export class LlmRateLimited extends LlmError {
  override name = "LlmRateLimited";
  readonly code = "LLM_RATE_LIMITED";
  readonly transient = true;
  constructor(
    origin: LlmErrorOrigin,
    readonly retryAfterSeconds: number | null,
    message: string,
  ) {
    super(origin, message);
  }
}

/** 5xx, or the provider could not be reached (refused, reset, DNS), after the configured retries. */
export class LlmUnavailable extends LlmError {
  override name = "LlmUnavailable";
  readonly code = "LLM_UNAVAILABLE";
  readonly transient = true;
  constructor(
    origin: LlmErrorOrigin,
    /** Null when no HTTP answer came back at all. */
    readonly status: number | null,
    message: string,
  ) {
    super(origin, message);
  }
}

/** Any other 4xx (bad key, no access, unknown model, request too large…): retrying cannot help. */
export class LlmRejected extends LlmError {
  override name = "LlmRejected";
  readonly code = "LLM_REJECTED";
  readonly transient = false;
  constructor(
    origin: LlmErrorOrigin,
    readonly status: number,
    message: string,
  ) {
    super(origin, message);
  }
}

/** The answer could not be used: unparseable body, invalid tool-call JSON, a tool not offered. */
export class LlmBadResponse extends LlmError {
  override name = "LlmBadResponse";
  readonly code = "LLM_BAD_RESPONSE";
  readonly transient = false;
}

/**
 * The caller's signal aborted the call. Deliberately not an `LlmError`: it is not a failure of
 * the model, and retry policies must never retry it. Named `AbortError` like the platform's.
 */
export class LlmAborted extends Error {
  override name = "AbortError";
  readonly code = "LLM_ABORTED";
  constructor(origin: LlmErrorOrigin, reason: unknown) {
    super(`${origin.provider}/${origin.model}: the call was aborted by the caller`, { cause: reason });
  }
}
