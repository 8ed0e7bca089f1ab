import type { FastifyRequest } from "fastify";
import type { Role } from "../domain/roles.js";

/**
 * Who may call a route. Every route registered under /api/v1 must declare one (http-app.ts
 * refuses to start otherwise), so no route is ever open by accident.
 */
export type Access =
  | { kind: "public" }
  | {
      kind: "roles";
      roles: readonly Role[];
      /**
       * Lets `agent` tokens in when the request concerns their own session: returns the session
       * the request is about (checked after validation).
       */
      agentSession?: (request: FastifyRequest) => string | undefined;
      /** Streams may take the token from `?access_token=` (browsers cannot set headers on them). */
      queryToken?: boolean;
    };

export const PUBLIC: Access = { kind: "public" };

export const READER_ROLES: readonly Role[] = ["admin", "operator", "viewer"];
export const ALL_ROLES: readonly Role[] = ["admin", "operator", "viewer", "agent"];

export function rolesAccess(
  roles: readonly Role[],
  extra: Omit<Extract<Access, { kind: "roles" }>, "kind" | "roles"> = {},
): Access {
  return { kind: "roles", roles, ...extra };
}

declare module "fastify" {
  interface FastifyContextConfig {
    access?: Access;
    /** The response carries a secret meant for the caller (a new token): skip response redaction. */
    returnsSecret?: boolean;
  }
}
