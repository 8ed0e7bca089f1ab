import { timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { ADMIN_METHODS, type AdminMethod, type SimAdmin } from "./sim-admin.js";
import { jsonResponse, type SimResponse } from "./sim-response.js";

/**
 * The admin API over HTTP, for tests in other processes and the local demo: every `SimAdmin`
 * method is `POST /_sim/<method>` with `Authorization: Bearer <adminToken>`. The JSON body is the
 * method's single argument (an object, or a bare string such as a token), or a JSON array of
 * its positional arguments; an empty body calls it without arguments. The answer is
 * `{"result": <return value>}`, or `{"error": "..."}` with status 400.
 */

export const ADMIN_PREFIX = "/_sim/";

function authorized(header: string | undefined, adminToken: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? "");
  if (!match?.[1]) return false;
  const given = Buffer.from(match[1].trim());
  const expected = Buffer.from(adminToken);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function isAdminMethod(name: string): name is AdminMethod {
  return (ADMIN_METHODS as readonly string[]).includes(name);
}

export async function handleAdminRequest(
  admin: SimAdmin,
  adminToken: string,
  request: { method: string; path: string; headers: IncomingHttpHeaders; body: Buffer },
): Promise<SimResponse> {
  if (!authorized(request.headers.authorization, adminToken)) {
    return jsonResponse(401, { error: "admin token required (Authorization: Bearer <adminToken>)" });
  }
  const name = request.path.slice(ADMIN_PREFIX.length);
  if (!isAdminMethod(name))
    return jsonResponse(404, { error: `no admin method ${name}`, methods: ADMIN_METHODS });
  if (request.method !== "POST" && !(request.method === "GET" && request.body.length === 0)) {
    return jsonResponse(405, { error: "use POST" });
  }
  let args: unknown[] = [];
  if (request.body.length > 0) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(request.body.toString("utf8"));
    } catch {
      return jsonResponse(400, { error: "the body must be JSON" });
    }
    args = Array.isArray(parsed) ? parsed : [parsed];
  }
  try {
    const call = (admin[name] as (...input: unknown[]) => unknown).bind(admin);
    const result = await call(...args);
    return jsonResponse(200, { result: result ?? null });
  } catch (error) {
    return jsonResponse(400, { error: (error as Error).message });
  }
}
