/** Plain-HTTP calls to the simulator for tests: no client library between the test and the wire. */

export interface SimHttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed JSON body, or undefined when the body is empty or not JSON. */
  json: unknown;
}

export interface SimCallOptions {
  token?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
  /** Follow redirects (default: no, so a 302 can be asserted). */
  follow?: boolean;
}

/** `path` is below `/api/v3` when it starts with `/`… and absolute URLs are used as they are. */
export async function callSim(
  baseUrl: string,
  method: string,
  path: string,
  options: SimCallOptions = {},
): Promise<SimHttpAnswer> {
  const url = path.startsWith("http") ? path : `${baseUrl}/api/v3${path}`;
  const headers: Record<string, string> = { accept: "application/vnd.github+json", ...options.headers };
  if (options.token) headers.authorization = `token ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    redirect: options.follow ? "follow" : "manual",
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : (JSON.parse(text) as unknown);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** The admin API over HTTP: `POST /_sim/<method>` with the arguments as JSON. */
export async function callAdmin(
  baseUrl: string,
  adminToken: string,
  method: string,
  args?: unknown,
): Promise<unknown> {
  const response = await fetch(`${baseUrl}/_sim/${method}`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: args === undefined ? undefined : JSON.stringify(args),
  });
  const answer = (await response.json()) as { result?: unknown; error?: string };
  if (response.status !== 200)
    throw new Error(`admin ${method}: HTTP ${response.status} ${answer.error ?? ""}`);
  return answer.result;
}

/** A GraphQL call as Octokit makes it: `POST <base>/api/graphql` with `{query, variables}`. */
export async function callGraphql(
  baseUrl: string,
  token: string | null,
  query: string,
  variables?: Record<string, unknown>,
): Promise<SimHttpAnswer> {
  return callSim(baseUrl, "POST", `${baseUrl}/api/graphql`, {
    token,
    body: variables === undefined ? { query } : { query, variables },
  });
}
