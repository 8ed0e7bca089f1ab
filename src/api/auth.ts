import type { FastifyRequest } from "fastify";
import { AppError } from "../domain/errors.js";
import type { Principal } from "../domain/roles.js";
import type { TokenService } from "../services/token-service.js";
import type { Access } from "./access.js";
import type { ApiApp } from "./api-context.js";

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

function bearerToken(
  request: FastifyRequest,
  access: Extract<Access, { kind: "roles" }>,
): string | undefined {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new AppError("UNAUTHENTICATED", "malformed Authorization header: use `Bearer <token>`");
    return match[1];
  }
  if (access.queryToken) {
    const fromQuery = (request.query as { access_token?: unknown } | undefined)?.access_token;
    if (typeof fromQuery === "string" && fromQuery !== "") return fromQuery;
  }
  return undefined;
}

/**
 * Authentication on every request (before the body is read) and authorization by the route's
 * declared access. Agent tokens that a route admits for their own session are checked again
 * after validation, against the session the request names.
 */
export function installAuth(app: ApiApp, tokens: TokenService): void {
  app.decorateRequest("principal", null);

  app.addHook("onRequest", async (request) => {
    const access = request.routeOptions.config.access;
    if (!access || access.kind === "public") return;
    const secret = bearerToken(request, access);
    if (!secret) {
      throw new AppError(
        "UNAUTHENTICATED",
        "this endpoint needs a token: send `Authorization: Bearer <token>`",
      );
    }
    const principal = await tokens.authenticate(secret);
    if (!principal) throw new AppError("UNAUTHENTICATED", "the token is unknown, expired or revoked");
    request.principal = principal;
    const admitted = access.roles.includes(principal.role);
    const maybeOwnSession = principal.role === "agent" && access.agentSession !== undefined;
    if (!admitted && !maybeOwnSession) {
      throw new AppError(
        "FORBIDDEN",
        `a ${principal.role} token may not ${request.method} ${request.routeOptions.url ?? request.url}`,
        { details: { role: principal.role, allowed: access.roles } },
      );
    }
  });

  app.addHook("preHandler", async (request) => {
    const access = request.routeOptions.config.access;
    const principal = request.principal;
    if (!access || access.kind === "public" || !principal) return;
    if (principal.role !== "agent" || access.roles.includes("agent") || !access.agentSession) return;
    const sessionId = access.agentSession(request);
    if (sessionId === undefined || sessionId !== principal.sessionId) {
      throw new AppError("FORBIDDEN", "an agent token reaches only its own session", {
        details: { role: "agent", sessionId: principal.sessionId },
      });
    }
  });
}
