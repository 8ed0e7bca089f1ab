import type { LogFn } from "pino";
import { VERSION } from "../../version.js";
import { McpToolError } from "./mcp-errors.js";
import { mcpConfigProblem, type McpServerConfig } from "./mcp-server-config.js";
import { McpServerConnection, type McpLogger } from "./mcp-server-connection.js";
import type { McpCallResult, McpTool } from "./mcp-tool.js";

export interface McpConnectOptions {
  /** The client name the servers see in `initialize`; "shepherd" by default. */
  clientName?: string;
  logger?: McpLogger;
  /**
   * Bounds starting one server, the MCP handshake and listing its tools (30 s by default). Separate
   * from each server's `timeoutMs`, which bounds tool calls: a stdio server started through `npx`
   * can take far longer to come up than any of its tools should take to answer.
   */
  connectTimeoutMs?: number;
}

export const DEFAULT_MCP_CONNECT_TIMEOUT_MS = 30_000;

const noop: LogFn = () => undefined;
const SILENT: McpLogger = { debug: noop, info: noop, warn: noop };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The MCP servers of one Shepherd process (SPEC C6): connected together, their tools listed once,
 * calls routed by server name. A server that cannot be reached at connect fails the whole connect,
 * so that a skill pack is never validated against a partial tool list.
 */
export class McpConnections {
  readonly #servers: ReadonlyMap<string, McpServerConnection>;
  #closing: Promise<void> | null = null;

  private constructor(servers: ReadonlyMap<string, McpServerConnection>) {
    this.#servers = servers;
  }

  /**
   * Connects every server in parallel and lists its tools (all pages). A server that cannot be
   * started or reached → McpUnavailable naming it (with a stdio server's stderr tail, secrets
   * redacted); the servers that did connect are closed again.
   */
  static async connect(
    configs: readonly McpServerConfig[],
    options: McpConnectOptions = {},
  ): Promise<McpConnections> {
    const problem = mcpConfigProblem(configs);
    if (problem !== null) throw new Error(problem);
    const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_MCP_CONNECT_TIMEOUT_MS;
    if (!Number.isInteger(connectTimeoutMs) || connectTimeoutMs < 1) {
      throw new Error("connectTimeoutMs must be a positive integer");
    }
    const connectionOptions = {
      clientName: options.clientName ?? "shepherd",
      clientVersion: VERSION,
      logger: options.logger ?? SILENT,
      connectTimeoutMs,
    };
    const settled = await Promise.allSettled(
      configs.map((config) => McpServerConnection.open(config, connectionOptions)),
    );
    const connected: McpServerConnection[] = [];
    let firstFailure: { reason: unknown } | null = null;
    for (const outcome of settled) {
      if (outcome.status === "fulfilled") connected.push(outcome.value);
      else firstFailure ??= { reason: outcome.reason };
    }
    if (firstFailure !== null) {
      await Promise.all(connected.map((connection) => connection.close()));
      throw firstFailure.reason;
    }
    return new McpConnections(new Map(connected.map((connection) => [connection.name, connection])));
  }

  /** Every server's tools, in configuration order, as listed at connect. */
  tools(): McpTool[] {
    return [...this.#servers.values()].flatMap((connection) => connection.tools);
  }

  /**
   * Calls `name` on `server`. A result with `isError: true` is returned, not thrown. Throws
   * McpToolError (unknown server, JSON-RPC error), McpTimeout (past the server's `timeoutMs`; the
   * request is cancelled), McpUnavailable (cannot reach it, even after reconnecting once), or the
   * reason of `signal` when the caller aborts.
   */
  async callTool(
    server: string,
    name: string,
    args: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<McpCallResult> {
    const connection = this.#servers.get(server);
    if (connection === undefined) {
      const shown = JSON.stringify(server.slice(0, 100));
      throw new McpToolError(server, name, `unknown MCP server ${shown}`);
    }
    if (!isPlainObject(args)) {
      throw new McpToolError(server, name, `MCP tool "${server}:${name}": arguments must be an object`);
    }
    return connection.callTool(name, args, signal);
  }

  /** Idempotent; ends every session and waits until every stdio server process is gone. */
  close(): Promise<void> {
    this.#closing ??= Promise.all([...this.#servers.values()].map((connection) => connection.close())).then(
      () => undefined,
    );
    return this.#closing;
  }
}
