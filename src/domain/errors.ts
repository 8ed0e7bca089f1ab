/**
 * The one table of error codes a user can meet over HTTP (SPEC §E), with the status and
 * whether retrying the same request can succeed. Every other layer refers to these codes.
 */
export const ERROR_CODES = {
  VALIDATION_ERROR: { status: 422, retryable: false },
  MALFORMED_REQUEST: { status: 400, retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  UPGRADE_REQUIRED: { status: 426, retryable: false },
  UNAUTHENTICATED: { status: 401, retryable: false },
  FORBIDDEN: { status: 403, retryable: false },
  NOT_FOUND: { status: 404, retryable: false },
  TOKEN_NOT_FOUND: { status: 404, retryable: false },
  REPO_NOT_FOUND: { status: 404, retryable: false },
  PROPOSAL_NOT_FOUND: { status: 404, retryable: false },
  SESSION_NOT_FOUND: { status: 404, retryable: false },
  APPROVAL_NOT_FOUND: { status: 404, retryable: false },
  UNSUPPORTED_PROVIDER: { status: 400, retryable: false },
  TOKEN_REF_NOT_FOUND: { status: 400, retryable: false },
  REPO_NAME_TAKEN: { status: 409, retryable: false },
  INVALID_STATE_TRANSITION: { status: 409, retryable: false },
  APPROVAL_ALREADY_DECIDED: { status: 409, retryable: false },
  VERSION_CONFLICT: { status: 409, retryable: false },
  REPO_NOT_CONFIGURED: { status: 422, retryable: false },
  SESSION_BUSY: { status: 429, retryable: true },
  RATE_LIMITED: { status: 429, retryable: true },
  GITHUB_NOT_CONFIGURED: { status: 503, retryable: true },
  QUEUE_UNAVAILABLE: { status: 503, retryable: true },
  SERVICE_UNAVAILABLE: { status: 503, retryable: true },
  INVALID_SIGNATURE: { status: 401, retryable: false },
  INTERNAL: { status: 500, retryable: true },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export type ErrorDetails = Record<string, unknown>;

/** An error a user can cause or must be told about, carrying a stable code from ERROR_CODES. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails | undefined;
  /** Seconds, sent as `Retry-After` on 429 and 503. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: ErrorDetails; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  get retryable(): boolean {
    return ERROR_CODES[this.code].retryable;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
