/**
 * An answer computed before anything is written to the socket, so that a fault can hold or delay
 * it after the request's effect has happened (`delay-after`, `hold`).
 */
export interface SimResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer | null;
  /** The answer is a rate-limit refusal (recorded in the request log). */
  rateLimited?: boolean;
}

export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): SimResponse {
  return {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
    body: Buffer.from(JSON.stringify(body)),
  };
}

export function textResponse(
  status: number,
  text: string | Buffer,
  headers: Record<string, string> = {},
): SimResponse {
  return {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
    body: typeof text === "string" ? Buffer.from(text) : text,
  };
}
