import type { IncomingHttpHeaders } from "node:http";
import {
  executeRootSelectionSet,
  GraphQLError,
  parse,
  validateExecutionArgs,
  type DocumentNode,
} from "graphql";
import { basicError, docsUrl } from "./error-json.js";
import type { GqlContext } from "./graphql-context.js";
import { analyzeQuery } from "./graphql-cost.js";
import { executionErrorJson, requestErrorJson, type GitHubErrorJson } from "./graphql-errors.js";
import { fieldResolver, typeResolver } from "./graphql-resolvers.js";
import { githubSchema } from "./graphql-schema.js";
import { validateForGitHub } from "./graphql-validation.js";
import { requestId } from "./ids.js";
import { rateLimitHeaders } from "./rest-api.js";
import type { SimContext } from "./rest-context.js";
import { jsonResponse, type SimResponse } from "./sim-response.js";
import type { SimToken } from "./sim-state.js";
import { tokenFromAuthorization } from "./tokens.js";

/**
 * `POST /api/graphql`, GitHub Enterprise Server's GraphQL endpoint: authentication, GitHub's
 * query checks (schema validation, pagination bounds, node limit), the point cost charged to the
 * token's GraphQL budget, then execution. Like GitHub, every query problem is an HTTP 200 with an
 * `errors` array, an exhausted budget included (`type: RATE_LIMITED`); only bad credentials (401)
 * and an unreadable body (400) change the status.
 */

export interface GraphqlRequest {
  method: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface GraphqlBody {
  query: string;
  variables: Record<string, unknown>;
  operationName: string | null;
}

const DOCS = "graphql";

function readBody(body: Buffer): GraphqlBody | "unparsable" | "no-query" {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return "unparsable";
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return "unparsable";
  const { query, variables, operationName } = parsed as Record<string, unknown>;
  if (typeof query !== "string") return "no-query";
  return {
    query,
    variables:
      typeof variables === "object" && variables !== null && !Array.isArray(variables)
        ? (variables as Record<string, unknown>)
        : {},
    operationName: typeof operationName === "string" ? operationName : null,
  };
}

export class GraphqlApi {
  constructor(private readonly sim: SimContext) {}

  async handle(request: GraphqlRequest): Promise<SimResponse> {
    const base: Record<string, string> = {
      "x-github-request-id": requestId(),
      "x-github-media-type": "github.v4; format=json",
    };
    const tokenValue = tokenFromAuthorization(request.headers.authorization);
    if (tokenValue === null) {
      return jsonResponse(
        401,
        {
          message: "This endpoint requires you to be authenticated.",
          documentation_url: docsUrl("graphql/guides/forming-calls-with-graphql#authenticating-with-graphql"),
        },
        base,
      );
    }
    const token = this.sim.state.tokens.get(tokenValue);
    if (!token || token.revoked) return jsonResponse(401, basicError(401, "Bad credentials", DOCS), base);
    if (token.kind === "classic") {
      base["x-oauth-scopes"] = "repo";
      base["x-accepted-oauth-scopes"] = "repo";
    }
    if (request.method !== "POST") return jsonResponse(404, basicError(404, "Not Found", DOCS), base);
    const { limits } = this.sim;
    const current = (): Record<string, string> => ({
      ...base,
      ...rateLimitHeaders(limits.snapshot(token.value, "graphql"), "graphql"),
    });
    if (limits.exhausted(token.value, "graphql")) return this.rateLimited(token, current());

    const body = readBody(request.body);
    if (body === "unparsable")
      return jsonResponse(400, basicError(400, "Problems parsing JSON", DOCS), current());
    if (body === "no-query") {
      return this.errors(
        [{ message: "A query attribute must be specified and must be a string." }],
        current(),
      );
    }
    let document: DocumentNode;
    try {
      document = parse(body.query);
    } catch (error) {
      if (!(error instanceof GraphQLError)) throw error;
      return this.errors([requestErrorJson(error)], current());
    }
    const schema = githubSchema();
    const invalid = validateForGitHub(schema, document);
    if (invalid.length > 0) return this.errors(invalid, current());

    const context: GqlContext = {
      sim: this.sim,
      token,
      viewer: this.sim.state.user(token.login),
      rate: limits.snapshot(token.value, "graphql"),
      cost: 0,
      nodeCount: 0,
      memo: new Map(),
    };
    const validated = validateExecutionArgs({
      schema,
      document,
      variableValues: body.variables,
      operationName: body.operationName,
      contextValue: context,
      fieldResolver,
      typeResolver,
    });
    if (!("schema" in validated)) return this.errors(validated.map(requestErrorJson), current());
    const analysis = analyzeQuery(validated);
    if (analysis.errors.length > 0) return this.errors(analysis.errors, current());
    if (!analysis.dryRun && limits.exhausted(token.value, "graphql", analysis.cost)) {
      return this.rateLimited(token, current());
    }
    context.rate = analysis.dryRun
      ? limits.snapshot(token.value, "graphql")
      : limits.charge(token.value, "graphql", analysis.cost);
    context.cost = analysis.cost;
    context.nodeCount = analysis.nodeCount;

    const result = await executeRootSelectionSet(validated);
    const answer: Record<string, unknown> = { data: result.data ?? null };
    if (result.errors && result.errors.length > 0) answer.errors = result.errors.map(executionErrorJson);
    return jsonResponse(200, answer, { ...base, ...rateLimitHeaders(context.rate, "graphql") });
  }

  private errors(errors: readonly GitHubErrorJson[], headers: Record<string, string>): SimResponse {
    return jsonResponse(200, { errors }, headers);
  }

  /** GitHub answers an exhausted GraphQL budget with a 200 whose only error is RATE_LIMITED. */
  private rateLimited(token: SimToken, headers: Record<string, string>): SimResponse {
    const userId = this.sim.state.user(token.login).id;
    return {
      ...this.errors(
        [{ type: "RATE_LIMITED", message: `API rate limit already exceeded for user ID ${userId}.` }],
        headers,
      ),
      rateLimited: true,
    };
  }
}
