import { basicError, invalidRequest } from "./error-json.js";
import type { PullOperations } from "./pull-operations.js";
import type { RateLimits } from "./rate-limits.js";
import type { SimUrls } from "./sim-urls.js";
import type { PermissionLevel, PermissionName, SimRepo, SimState, SimToken, SimUser } from "./sim-state.js";

/** What REST handlers (and the git, raw and admin front ends) work with. */
export interface SimContext {
  state: SimState;
  pulls: PullOperations;
  limits: RateLimits;
  urls: SimUrls;
}

export interface RestRequest {
  sim: SimContext;
  method: string;
  /** Path below `/api/v3`. */
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: Record<string, unknown>;
  token: SimToken;
  user: SimUser;
}

export interface RepoRequest extends RestRequest {
  repo: SimRepo;
}

/** A handler's answer: JSON `body` (omitted for 204/302), plus headers such as `Link`. */
export interface RestResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A permission requirement: any one of the listed grants suffices. */
export type Need = readonly (readonly [PermissionName, PermissionLevel])[];

interface RouteBase {
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  pattern: string;
  /** The documentation page error bodies point to, below the GHES docs root. */
  docs: string;
}

export type RestRoute =
  | (RouteBase & {
      scope: "account";
      /** Costs no primary budget (`GET /rate_limit`). */
      free?: boolean;
      handle(request: RestRequest): Promise<RestResult> | RestResult;
    })
  | (RouteBase & {
      scope: "repo";
      needs: Need;
      handle(request: RepoRequest): Promise<RestResult> | RestResult;
    });

/** Thrown by handlers to answer with an error; the dispatcher turns it into the response. */
export class RestError extends Error {
  constructor(readonly result: RestResult) {
    super(`REST ${result.status}`);
  }
}

export function notFound(docs: string): RestError {
  return new RestError({ status: 404, body: basicError(404, "Not Found", docs) });
}

/** A string body field, or undefined when absent; a wrong type is GitHub's 422 "Invalid request". */
export function stringField(body: Record<string, unknown>, field: string, docs: string): string | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (typeof value !== "string")
    throw new RestError({ status: 422, body: invalidRequest(field, value, "a string", docs) });
  return value;
}

/** Like `stringField`, but `null` is also accepted (PR bodies). */
export function nullableStringField(
  body: Record<string, unknown>,
  field: string,
  docs: string,
): string | null | undefined {
  if (body[field] === null) return null;
  return stringField(body, field, docs);
}

export function booleanField(
  body: Record<string, unknown>,
  field: string,
  docs: string,
): boolean | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (typeof value !== "boolean") {
    throw new RestError({ status: 422, body: invalidRequest(field, value, "a boolean", docs) });
  }
  return value;
}

export function stringArrayField(
  body: Record<string, unknown>,
  field: string,
  docs: string,
): string[] | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
    throw new RestError({ status: 422, body: invalidRequest(field, value, "an array of strings", docs) });
  }
  return value as string[];
}

/** `pull_number`, `issue_number`, `job_id`…: a positive integer, else the resource does not exist. */
export function numberParam(value: string | undefined, docs: string): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1) throw notFound(docs);
  return parsed;
}
