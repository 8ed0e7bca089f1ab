/**
 * API roles (SPEC C1 "Auth"). `agent` tokens are bound to one session and reach only it.
 */
export const ROLES = ["admin", "operator", "viewer", "agent"] as const;

export type Role = (typeof ROLES)[number];

/** Who is calling: the identity behind a bearer token. */
export interface Principal {
  tokenId: string;
  name: string;
  role: Role;
  /** Set only for `agent` tokens. */
  sessionId: string | null;
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}
