import type { GraphQLError } from "graphql";

/**
 * GitHub's GraphQL error entries. Query errors (syntax, validation, pagination, missing objects)
 * are answered with HTTP 200 and an `errors` array, like GitHub's:
 * `{"type": "NOT_FOUND", "path": ["repository"], "locations": [{…}], "message": "Could not …"}`.
 */

export interface GitHubErrorJson {
  type?: string;
  path?: readonly (string | number)[];
  extensions?: Record<string, unknown>;
  locations?: readonly { line: number; column: number }[];
  message: string;
}

/** Raised by resolvers and by the query analysis; `type` is GitHub's error type when it has one. */
export class GitHubQueryError extends Error {
  override name = "GitHubQueryError";
  constructor(
    message: string,
    readonly type?: string,
  ) {
    super(message);
  }
}

export function notFound(message: string): GitHubQueryError {
  return new GitHubQueryError(message, "NOT_FOUND");
}

export function forbidden(): GitHubQueryError {
  return new GitHubQueryError("Resource not accessible by personal access token", "FORBIDDEN");
}

/** What a field the simulator does not serve answers, instead of a null that would look like data. */
export function notImplemented(typeName: string, fieldName: string): GitHubQueryError {
  return new GitHubQueryError(`${typeName}.${fieldName} is not implemented by the GitHub simulator`);
}

function locationsOf(error: GraphQLError): { line: number; column: number }[] | undefined {
  return error.locations?.map(({ line, column }) => ({ line, column }));
}

/** An execution error (a resolver threw) as GitHub writes it: `type` first when there is one. */
export function executionErrorJson(error: GraphQLError): GitHubErrorJson {
  const original = error.originalError;
  const type = original instanceof GitHubQueryError ? original.type : undefined;
  return {
    ...(type === undefined ? {} : { type }),
    ...(error.path === undefined ? {} : { path: error.path }),
    ...(error.locations === undefined ? {} : { locations: locationsOf(error) }),
    message: error.message,
  };
}

/** A request-level error (syntax, variables) that has no GitHub-specific wording. */
export function requestErrorJson(error: GraphQLError): GitHubErrorJson {
  const locations = locationsOf(error);
  return { ...(locations === undefined ? {} : { locations }), message: error.message };
}
