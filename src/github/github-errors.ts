/**
 * Provider-neutral errors: what the rest of Shepherd needs to know about a failed GitHub call,
 * without Octokit types leaking out of src/github.
 */
export type GitHubErrorKind =
  | "rate_limited"
  | "auth_failed"
  | "forbidden"
  | "not_found"
  | "validation_failed"
  | "unavailable"
  | "api_error";

export class GitHubError extends Error {
  override name = "GitHubError";
  constructor(
    readonly kind: GitHubErrorKind,
    message: string,
    readonly status: number | null,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

/** Primary or secondary rate limit that outlasted the wait we allow: try again after `retryAfterSeconds`. */
export class RateLimited extends GitHubError {
  override name = "RateLimited";
  constructor(
    readonly retryAfterSeconds: number,
    message: string,
    status: number,
  ) {
    super("rate_limited", message, status);
  }
}

/** The token is unknown, revoked or expired (401). */
export class AuthFailed extends GitHubError {
  override name = "AuthFailed";
  constructor(message: string) {
    super("auth_failed", message, 401);
  }
}

/** The token works but may not do this (403 "Resource not accessible…"). */
export class PermissionDenied extends GitHubError {
  override name = "PermissionDenied";
  constructor(message: string) {
    super("forbidden", message, 403);
  }
}

/** The resource does not exist, or the token cannot see it (GitHub answers 404 for both). */
export class NotFound extends GitHubError {
  override name = "NotFound";
  constructor(message: string) {
    super("not_found", message, 404);
  }
}

/** 422: GitHub refused the request's content (e.g. "A pull request already exists"). */
export class ValidationFailed extends GitHubError {
  override name = "ValidationFailed";
  constructor(
    message: string,
    /** GitHub's `errors[].message` / `errors[].code` texts. */
    readonly details: string[],
  ) {
    super("validation_failed", message, 422);
  }
}

/** Network error, timeout or 5xx after the allowed retries. */
export class GitHubUnavailable extends GitHubError {
  override name = "GitHubUnavailable";
  constructor(message: string, status: number | null, options: { cause?: unknown } = {}) {
    super("unavailable", message, status, options);
  }
}
