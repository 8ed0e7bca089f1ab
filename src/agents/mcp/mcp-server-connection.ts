import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { SecretRedactor } from "../../domain/redact.js";
import type { Logger } from "../../observability/logger.js";
import { McpTimeout, McpToolError, McpUnavailable, type McpClientError } from "./mcp-errors.js";
import type { McpServerConfig } from "./mcp-server-config.js";
import { MCP_TOOL_NAME, toMcpCallResult, toMcpTool, type McpCallResult, type McpTool } from "./mcp-tool.js";
import { StdioChildTransport, StdioSendError } from "./stdio-child-transport.js";

export type McpLogger = Pick<Logger, "debug" | "info" | "warn">;

export interface McpConnectionOptions {
  clientName: string;
  clientVersion: string;
  logger: McpLogger;
  /** Bounds starting the server, the MCP handshake and listing its tools, together. */
  connectTimeoutMs: number;
}

/** A server that pages its tool list forever is broken, not generous. */
const MAX_TOOL_PAGES = 100;
/** The SDK's own request timer must never fire before ours (see #call). */
const SDK_TIMEOUT_SLACK_MS = 10_000;
/** Ending an HTTP session politely must not hold up close(). */
const TERMINATE_SESSION_MS = 2_000;
/** How much of the stderr tail goes into the error message (all of it stays on the error). */
const MESSAGE_STDERR_CHARS = 1_000;
const MESSAGE_DETAIL_CHARS = 300;

/** The codes the SDK itself raises (as numbers: McpError.code is a plain number). */
const RPC_CONNECTION_CLOSED: number = ErrorCode.ConnectionClosed;
const RPC_REQUEST_TIMEOUT: number = ErrorCode.RequestTimeout;

/** Plain words for the error codes of spawn and fetch (undici) that people actually meet. */
const NETWORK_REASONS: Readonly<Record<string, string>> = {
  ENOENT: "command or working directory not found",
  EACCES: "permission denied",
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection closed by the server",
  UND_ERR_SOCKET: "connection closed by the server",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host not found",
  ETIMEDOUT: "connection timed out",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
};

interface Session {
  client: Client;
  transport: StdioChildTransport | StreamableHTTPClientTransport;
  /** The connection is gone (process exited, connection closed, HTTP session refused). */
  lost: boolean;
  /** We are closing it: its close is not a loss to report. */
  disposing: boolean;
}

/** How one call ended; an `undelivered` failure provably never reached the tool. */
type CallOutcome =
  { ok: true; result: McpCallResult } | { ok: false; error: McpClientError; undelivered: boolean };

/**
 * A signal for one request, aborted by `outer` or after `ms`. `done()` detaches it from both: the
 * SDK never removes its abort listener, so a signal that aborted after the request had finished
 * would make it send a cancellation for a request that is long over.
 */
function requestSignal(
  ms: number,
  outer?: AbortSignal,
): { signal: AbortSignal; timedOut: () => boolean; done: () => void } {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error("timed out"));
  }, ms);
  const onAbort = (): void => controller.abort(outer?.reason);
  if (outer?.aborted) onAbort();
  else outer?.addEventListener("abort", onAbort, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    done: () => {
      clearTimeout(timer);
      outer?.removeEventListener("abort", onAbort);
    },
  };
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** The first `code` (ECONNREFUSED, ENOENT…) on an error or its causes. */
function errorCode(error: unknown): string | null {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}

function secretsOf(config: McpServerConfig): SecretRedactor {
  const redactor = new SecretRedactor();
  const values = config.transport === "stdio" ? Object.values(config.env) : Object.values(config.headers);
  for (const value of values) {
    redactor.add(value);
    // "Bearer <token>": the token alone may show up too.
    const credential = /^[A-Za-z][\w-]*\s+(\S.*)$/.exec(value.trim())?.[1];
    if (credential !== undefined) redactor.add(credential);
  }
  return redactor;
}

/** One configured MCP server: its tools as listed at connect, and calls that survive a lost connection. */
export class McpServerConnection {
  readonly #config: McpServerConfig;
  readonly #options: McpConnectionOptions;
  readonly #redactor: SecretRedactor;
  #session: Session | null = null;
  #tools: readonly McpTool[] = [];
  #reconnecting: Promise<Session> | null = null;
  #closing: Promise<void> | null = null;

  private constructor(config: McpServerConfig, options: McpConnectionOptions) {
    this.#config = config;
    this.#options = options;
    this.#redactor = secretsOf(config);
  }

  /** Starts or reaches the server and lists its tools; McpUnavailable if it cannot. */
  static async open(config: McpServerConfig, options: McpConnectionOptions): Promise<McpServerConnection> {
    const connection = new McpServerConnection(config, options);
    const { session, tools } = await connection.#startSession("could not start");
    connection.#session = session;
    connection.#tools = tools;
    options.logger.info(
      { server: config.name, transport: config.transport, tools: tools.length },
      "mcp server connected",
    );
    return connection;
  }

  get name(): string {
    return this.#config.name;
  }

  get tools(): readonly McpTool[] {
    return this.#tools;
  }

  async callTool(tool: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<McpCallResult> {
    signal?.throwIfAborted();
    let reconnected = false;
    let session = this.#session;
    if (session === null || !this.#usable(session)) {
      session = await this.#reconnect();
      reconnected = true;
    }
    let outcome = await this.#call(session, tool, args, signal);
    // The tool provably did not run (e.g. the HTTP server forgot our session): a fresh session may
    // run it, once. A call that might have run is never sent twice.
    if (!outcome.ok && outcome.undelivered && !reconnected) {
      session = await this.#reconnect();
      outcome = await this.#call(session, tool, args, signal);
    }
    if (outcome.ok) return outcome.result;
    throw outcome.error;
  }

  /** Idempotent: ends the session and, for stdio, waits until the process is gone. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#reconnecting?.catch(() => undefined);
      const session = this.#session;
      this.#session = null;
      if (session !== null) await this.#dispose(session);
    })();
    return this.#closing;
  }

  #usable(session: Session): boolean {
    if (session.lost || session.disposing) return false;
    return !(session.transport instanceof StdioChildTransport) || session.transport.alive;
  }

  #unavailable(message: string, transport: Session["transport"] | null): McpUnavailable {
    const name = this.#config.name;
    if (transport instanceof StdioChildTransport) {
      const tail = this.#redactor.redact(transport.stderrTail()).trim();
      const exit = transport.exitDescription;
      let full = `MCP server "${name}" ${message}`;
      if (exit !== null) full += ` (process ${exit})`;
      if (tail !== "") full += `; stderr: ${tail.slice(-MESSAGE_STDERR_CHARS)}`;
      return new McpUnavailable(name, full, tail === "" ? null : tail);
    }
    return new McpUnavailable(name, `MCP server "${name}" ${message}`);
  }

  /** Why a transport-level failure happened, in words safe to show (secrets redacted, bounded). */
  #reason(error: unknown): string {
    if (error instanceof StreamableHTTPError) {
      return error.code !== undefined && error.code > 0 ? `HTTP ${error.code}` : "unexpected HTTP response";
    }
    if (error instanceof McpError) {
      if (error.code === RPC_CONNECTION_CLOSED) return "connection closed";
      if (error.code === RPC_REQUEST_TIMEOUT) return "no answer in time";
    }
    const code = errorCode(error);
    const known = code === null ? undefined : NETWORK_REASONS[code];
    if (known !== undefined) return known;
    const text = error instanceof Error ? error.message : String(error);
    const detail = truncate(this.#redactor.redact(text), MESSAGE_DETAIL_CHARS);
    return code === null ? detail : `${detail} (${code})`;
  }

  async #startSession(verb: string): Promise<{ session: Session; tools: McpTool[] }> {
    const config = this.#config;
    const transport =
      config.transport === "stdio"
        ? new StdioChildTransport({
            command: config.command,
            args: config.args,
            cwd: config.cwd,
            env: config.env,
          })
        : new StreamableHTTPClientTransport(new URL(config.url), {
            requestInit: { headers: config.headers },
          });
    const client = new Client(
      { name: this.#options.clientName, version: this.#options.clientVersion },
      { capabilities: {} },
    );
    const session: Session = { client, transport, lost: false, disposing: false };
    client.onclose = () => {
      if (session.disposing || session.lost) return;
      session.lost = true;
      this.#options.logger.warn({ server: config.name }, "mcp server connection lost");
    };
    client.onerror = (error) => {
      this.#options.logger.debug({ server: config.name, reason: this.#reason(error) }, "mcp transport error");
    };

    const timeoutMs = this.#options.connectTimeoutMs;
    const deadline = requestSignal(timeoutMs);
    try {
      await client.connect(transport, { timeout: timeoutMs + SDK_TIMEOUT_SLACK_MS, signal: deadline.signal });
      const tools = await this.#listTools(client, timeoutMs + SDK_TIMEOUT_SLACK_MS, deadline.signal);
      return { session, tools };
    } catch (error) {
      await this.#dispose(session);
      const reason = deadline.timedOut() ? `gave no answer within ${timeoutMs} ms` : this.#reason(error);
      throw this.#unavailable(`${verb}: ${reason}`, transport);
    } finally {
      deadline.done();
    }
  }

  async #listTools(client: Client, timeoutMs: number, signal: AbortSignal): Promise<McpTool[]> {
    // A server without the tools capability has none to offer (and may not know the method).
    if (client.getServerCapabilities()?.tools === undefined) return [];
    const server = this.#config.name;
    const tools: McpTool[] = [];
    const names = new Set<string>();
    const cursors = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; page < MAX_TOOL_PAGES; page++) {
      const result = await client.listTools(cursor === undefined ? undefined : { cursor }, {
        timeout: timeoutMs,
        signal,
      });
      for (const tool of result.tools) {
        const shown = truncate(tool.name, 130);
        if (!MCP_TOOL_NAME.test(tool.name)) {
          this.#options.logger.warn({ server, tool: shown }, "mcp tool skipped: invalid name");
        } else if (names.has(tool.name)) {
          this.#options.logger.warn({ server, tool: shown }, "mcp tool skipped: listed twice");
        } else {
          names.add(tool.name);
          tools.push(toMcpTool(server, tool));
        }
      }
      cursor = result.nextCursor;
      if (cursor === undefined) return tools;
      if (cursors.has(cursor)) throw new Error("tools/list repeated a page cursor");
      cursors.add(cursor);
    }
    throw new Error(`tools/list did not end within ${MAX_TOOL_PAGES} pages`);
  }

  /** Replaces a lost session; concurrent callers share one attempt. McpUnavailable if it fails. */
  #reconnect(): Promise<Session> {
    if (this.#closing !== null) {
      return Promise.reject(
        new McpUnavailable(this.#config.name, `MCP server "${this.#config.name}" is closed`),
      );
    }
    this.#reconnecting ??= (async () => {
      const old = this.#session;
      this.#session = null;
      if (old !== null) await this.#dispose(old);
      const { session, tools } = await this.#startSession("could not reconnect");
      if (this.#closing !== null) {
        await this.#dispose(session);
        throw new McpUnavailable(this.#config.name, `MCP server "${this.#config.name}" is closed`);
      }
      const before = this.#tools.map((tool) => tool.name).join(",");
      if (tools.map((tool) => tool.name).join(",") !== before) {
        // Skill packs were validated against the first list; it stays what Shepherd offers.
        this.#options.logger.warn({ server: this.#config.name }, "mcp server tools changed after reconnect");
      }
      this.#session = session;
      this.#options.logger.info({ server: this.#config.name }, "mcp server reconnected");
      return session;
    })().finally(() => {
      this.#reconnecting = null;
    });
    return this.#reconnecting;
  }

  async #dispose(session: Session): Promise<void> {
    session.disposing = true;
    if (session.transport instanceof StreamableHTTPClientTransport && !session.lost) {
      const transport = session.transport;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        transport.terminateSession().catch(() => undefined),
        new Promise((resolve) => (timer = setTimeout(resolve, TERMINATE_SESSION_MS))),
      ]);
      clearTimeout(timer);
    }
    await session.client.close().catch(() => undefined);
    // The SDK client only closes a transport it connected; a failed start leaves ours to close.
    await session.transport.close().catch(() => undefined);
  }

  /** One `tools/call`. Only the caller's abort is thrown (as its reason); every failure is an outcome. */
  async #call(
    session: Session,
    tool: string,
    args: Record<string, unknown>,
    signal: AbortSignal | undefined,
  ): Promise<CallOutcome> {
    // Our own timer rather than the SDK's: a timeout is then known to be ours, not a -32001 the
    // server sent, and the SDK still sends the cancellation when our signal aborts.
    const request = requestSignal(this.#config.timeoutMs, signal);
    try {
      const raw = await session.client.callTool({ name: tool, arguments: args }, undefined, {
        signal: request.signal,
        timeout: this.#config.timeoutMs + SDK_TIMEOUT_SLACK_MS,
      });
      return { ok: true, result: toMcpCallResult(raw) };
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      return { ok: false, ...this.#classify(session, tool, error, request.timedOut()) };
    } finally {
      request.done();
    }
  }

  #classify(
    session: Session,
    tool: string,
    error: unknown,
    timedOut: boolean,
  ): { error: McpClientError; undelivered: boolean } {
    const server = this.#config.name;
    if (timedOut) return { error: new McpTimeout(server, tool, this.#config.timeoutMs), undelivered: false };
    if (error instanceof StdioSendError) {
      session.lost = true;
      return {
        error: this.#unavailable(`is unavailable: ${error.message}`, session.transport),
        undelivered: true,
      };
    }
    if (this.#closing !== null) {
      return { error: new McpUnavailable(server, `MCP server "${server}" is closed`), undelivered: false };
    }
    const usable = this.#usable(session);
    // The SDK rejects what is pending with -32000 when the connection closes; a server may send
    // -32000 too, and then the connection is still up.
    const sdkClosed = error instanceof McpError && error.code === RPC_CONNECTION_CLOSED && !usable;
    if (error instanceof McpError && !sdkClosed) {
      // The SDK prefixes "MCP error <code>: " on both ends, so a server's message arrives with two.
      const bare = error.message.replace(/^(MCP error -?\d+: )+/, "");
      const message = truncate(this.#redactor.redact(bare), MESSAGE_DETAIL_CHARS);
      return {
        error: new McpToolError(
          server,
          tool,
          `MCP tool "${server}:${tool}" failed (JSON-RPC ${error.code}): ${message}`,
          error.code,
        ),
        undelivered: false,
      };
    }
    if (!usable) {
      // Lost while the call was in flight: the tool may or may not have run.
      return {
        error: this.#unavailable("lost the connection during the call", session.transport),
        undelivered: false,
      };
    }
    if (error instanceof Error && error.name === "ZodError") {
      return {
        error: new McpToolError(server, tool, `MCP tool "${server}:${tool}" answered with an invalid result`),
        undelivered: false,
      };
    }
    // The transport failed (HTTP error status, network): start a new session next time.
    session.lost = true;
    const undelivered =
      (error instanceof StreamableHTTPError && error.code === 404) || errorCode(error) === "ECONNREFUSED";
    return {
      error: this.#unavailable(`is unavailable: ${this.#reason(error)}`, session.transport),
      undelivered,
    };
  }
}
