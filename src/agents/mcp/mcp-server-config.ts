/**
 * One MCP server Shepherd connects to (SPEC C6). Secrets in `env` (stdio) and `headers` (HTTP)
 * arrive already resolved from their refs; they travel only there — never in argv, logs or errors.
 */
export type McpServerConfig =
  | {
      name: string;
      transport: "stdio";
      command: string;
      args: string[];
      /** The child's working directory. */
      cwd: string;
      /** The child's whole environment, apart from `PATH` (ours, unless set here). */
      env: Record<string, string>;
      /** The longest a tool call may take. */
      timeoutMs: number;
    }
  | {
      name: string;
      transport: "http";
      /** The streamable HTTP endpoint. */
      url: string;
      headers: Record<string, string>;
      timeoutMs: number;
    };

export const MCP_TRANSPORTS = ["stdio", "http"] as const;
export type McpTransportKind = (typeof MCP_TRANSPORTS)[number];

/** Server names prefix tool names as `server:tool`, so they cannot contain `:`. */
export const MCP_SERVER_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Bounds of `timeoutMs`: a call never waits longer than an hour. */
export const MCP_TIMEOUT_MS_MAX = 3_600_000;

/** Headers the transport sets itself; configuring them would break the session. */
const RESERVED_HEADERS = new Set(["mcp-session-id", "mcp-protocol-version", "content-type", "accept"]);

/**
 * Why `configs` cannot be connected as given, or null. The config schema validates the file; this
 * guards the programmatic entry point, and names fields only, never values (they may be secrets).
 */
export function mcpConfigProblem(configs: readonly McpServerConfig[]): string | null {
  const seen = new Set<string>();
  for (const config of configs) {
    if (!MCP_SERVER_NAME.test(config.name)) {
      return `MCP server name ${JSON.stringify(config.name)} must match ${String(MCP_SERVER_NAME)}`;
    }
    if (seen.has(config.name)) return `MCP server name "${config.name}" is used twice`;
    seen.add(config.name);
    if (
      !Number.isInteger(config.timeoutMs) ||
      config.timeoutMs < 1 ||
      config.timeoutMs > MCP_TIMEOUT_MS_MAX
    ) {
      return `MCP server "${config.name}": timeoutMs must be an integer from 1 to ${MCP_TIMEOUT_MS_MAX}`;
    }
    if (config.transport === "stdio") {
      if (config.command.trim() === "") return `MCP server "${config.name}": command is empty`;
    } else {
      let url: URL;
      try {
        url = new URL(config.url);
      } catch {
        return `MCP server "${config.name}": url is not a valid URL`;
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        return `MCP server "${config.name}": url must be http or https`;
      }
      for (const header of Object.keys(config.headers)) {
        if (RESERVED_HEADERS.has(header.toLowerCase())) {
          return `MCP server "${config.name}": header "${header}" is set by the transport and cannot be configured`;
        }
      }
    }
  }
  return null;
}
