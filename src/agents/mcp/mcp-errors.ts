/**
 * What can go wrong talking to an MCP server, without SDK types leaking out of src/agents/mcp.
 * Messages name the server and never carry its env or header values (they may be secrets).
 *
 * A tool result with `isError: true` is none of these: it is the tool's answer, and the LLM sees it.
 */
export const MCP_ERROR_CODES = ["MCP_UNAVAILABLE", "MCP_TOOL_FAILED", "MCP_TIMEOUT"] as const;
export type McpErrorCode = (typeof MCP_ERROR_CODES)[number];

export abstract class McpClientError extends Error {
  abstract readonly code: McpErrorCode;
  /** Trying again later can succeed (SPEC C6 retry policy: timeouts and connection errors). */
  abstract readonly transient: boolean;

  constructor(
    /** The configured name of the server. */
    readonly server: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

/**
 * The server cannot be reached: it did not start, its process exited, or the connection was lost.
 * The next call reconnects once before giving up again.
 */
export class McpUnavailable extends McpClientError {
  override name = "McpUnavailable";
  readonly code = "MCP_UNAVAILABLE";
  readonly transient = true;

  constructor(
    server: string,
    message: string,
    /** The end of a stdio server's stderr (at most 4 KiB, env values redacted); null for HTTP. */
    readonly stderrTail: string | null = null,
    options: { cause?: unknown } = {},
  ) {
    super(server, message, options);
  }
}

/**
 * The server answered the call with a JSON-RPC error (unknown tool, invalid params…) or with
 * something that is not a tool result; also an unknown server name.
 */
export class McpToolError extends McpClientError {
  override name = "McpToolError";
  readonly code = "MCP_TOOL_FAILED";
  readonly transient = false;

  constructor(
    server: string,
    readonly tool: string | null,
    message: string,
    /** The JSON-RPC error code, when the server sent one. */
    readonly rpcCode: number | null = null,
    options: { cause?: unknown } = {},
  ) {
    super(server, message, options);
  }
}

/** The call took longer than the server's `timeoutMs`; the request was cancelled. */
export class McpTimeout extends McpClientError {
  override name = "McpTimeout";
  readonly code = "MCP_TIMEOUT";
  readonly transient = true;

  constructor(
    server: string,
    readonly tool: string,
    readonly timeoutMs: number,
  ) {
    super(
      server,
      `MCP tool "${server}:${tool}" did not answer within ${timeoutMs} ms; the call was cancelled`,
    );
  }
}

export function isMcpClientError(value: unknown): value is McpClientError {
  return value instanceof McpClientError;
}
