import { randomUUID } from "node:crypto";
import { appendFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { McpServer, type ToolCallback } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  CallToolRequestSchema,
  ErrorCode,
  McpError,
  isInitializeRequest,
  type CallToolResult,
  type ToolAnnotations,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

/**
 * A real MCP server (the SDK's McpServer, zod input schemas) whose tools leave traces tests can
 * observe. Runs over stdio (`node --import tsx test/support/mcp/example-tools-server.ts --stdio`,
 * see `exampleServerStdioCommand`) or streamable HTTP (`startExampleServerHttp`).
 *
 * Tools: `echo {text}`, `add {a, b}` (structured result), `slow {ms}` (sleeps; honours
 * cancellation), `fail {message}` (an `isError` result), `whoami {sessionId}`, `record {value}`
 * (appends a JSON line to the file named by env EXAMPLE_RECORD_FILE, relative to the cwd), `env
 * {name}` (one variable of the server's environment), `pid {}`, `cancelled {}` (how many calls
 * were cancelled so far) and `image {}` (a 1×1 PNG).
 *
 * Unlike McpServer's own `tools/call` handler, which turns every failure into an `isError` result,
 * an unknown tool or invalid arguments get a JSON-RPC error (-32602) here, as MCP servers that
 * follow the 2025-06-18 spec answer; clients must handle both.
 *
 * With env EXAMPLE_CALLS_FILE set, every `tools/call` appends `{"tool": name}` to that file before
 * the tool runs: proof that a call reached the server (and how many times).
 *
 * With env EXAMPLE_RECORD_HOLD_MS set, `record` waits that long after its effect (the line is
 * written) before it answers: a call whose caller can be stopped between the effect and the result.
 *
 * With env EXAMPLE_STUBBORN set, the stdio server ignores the end of its stdin and SIGTERM.
 *
 * With env EXAMPLE_FAIL_AT_START set, the stdio server exits with 3 before speaking MCP, after
 * writing to stderr a complaint that quotes env EXAMPLE_API_TOKEN: a server that cannot start and
 * leaks its secret into its output.
 */

export interface ExampleServerState {
  /** Calls of `slow` that were cancelled by the client. */
  cancelled: number;
}

export interface ExampleServerOptions {
  /** What `env` and `record` read: the process environment for stdio, a given one for HTTP. */
  env: Readonly<Record<string, string | undefined>>;
  /** Shared by the HTTP sessions of one server. */
  state?: ExampleServerState;
}

type Extra = Parameters<ToolCallback<z.ZodRawShape>>[1];

interface ExampleTool {
  description: string;
  input: z.ZodRawShape;
  output?: z.ZodRawShape;
  annotations?: ToolAnnotations;
  run: (args: Record<string, unknown>, extra: Extra) => Promise<CallToolResult>;
}

function tool<Shape extends z.ZodRawShape>(definition: {
  description: string;
  input: Shape;
  output?: z.ZodRawShape;
  annotations?: ToolAnnotations;
  run: (args: z.infer<z.ZodObject<Shape>>, extra: Extra) => Promise<CallToolResult>;
}): ExampleTool {
  return definition as unknown as ExampleTool;
}

function text(value: string): CallToolResult {
  return { content: [{ type: "text", text: value }] };
}

/** A 1×1 transparent PNG. */
const PIXEL_PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

function sleep(ms: number, signal: AbortSignal): Promise<"slept" | "cancelled"> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve("cancelled");
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve("slept");
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve("cancelled");
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function exampleTools(options: ExampleServerOptions, state: ExampleServerState): Map<string, ExampleTool> {
  const readOnly: ToolAnnotations = { readOnlyHint: true };
  return new Map<string, ExampleTool>([
    [
      "echo",
      tool({
        description: "Returns the text it is given.",
        input: { text: z.string() },
        annotations: readOnly,
        run: async ({ text: value }) => text(value),
      }),
    ],
    [
      "add",
      tool({
        description: "Adds two numbers.",
        input: { a: z.number(), b: z.number() },
        output: { sum: z.number() },
        annotations: readOnly,
        run: async ({ a, b }) => ({ ...text(String(a + b)), structuredContent: { sum: a + b } }),
      }),
    ],
    [
      "slow",
      tool({
        description: "Sleeps for `ms` milliseconds, then answers; stops early when cancelled.",
        input: { ms: z.number().int().min(0).max(600_000) },
        run: async ({ ms }, extra) => {
          if ((await sleep(ms, extra.signal)) === "cancelled") {
            state.cancelled += 1;
            return text("cancelled");
          }
          return text(`slept ${ms} ms`);
        },
      }),
    ],
    [
      "fail",
      tool({
        description: "Reports a tool failure with the given message.",
        input: { message: z.string() },
        run: async ({ message }) => ({ ...text(message), isError: true }),
      }),
    ],
    [
      "whoami",
      tool({
        description: "Returns the session id it was called with.",
        input: { sessionId: z.string(), note: z.string().optional() },
        annotations: readOnly,
        run: async ({ sessionId }) => ({ ...text(`session ${sessionId}`), structuredContent: { sessionId } }),
      }),
    ],
    [
      "record",
      tool({
        description: "Appends the value to the record file (env EXAMPLE_RECORD_FILE).",
        input: { value: z.string() },
        annotations: { readOnlyHint: false, destructiveHint: false },
        run: async ({ value }, extra) => {
          const file = options.env.EXAMPLE_RECORD_FILE;
          if (!file) return { ...text("EXAMPLE_RECORD_FILE is not set"), isError: true };
          await appendFile(path.resolve(file), `${JSON.stringify({ value })}\n`);
          const holdMs = Number(options.env.EXAMPLE_RECORD_HOLD_MS ?? 0);
          if (holdMs > 0) await sleep(holdMs, extra.signal);
          return text(`recorded ${value}`);
        },
      }),
    ],
    [
      "env",
      tool({
        description: "Returns one variable of the server's environment (null when unset).",
        input: { name: z.string() },
        annotations: readOnly,
        run: async ({ name }) => {
          const value = options.env[name] ?? null;
          return { ...text(value ?? "(unset)"), structuredContent: { name, value } };
        },
      }),
    ],
    [
      "pid",
      tool({
        description: "Returns the server's process id.",
        input: {},
        annotations: readOnly,
        run: async () => ({ ...text(String(process.pid)), structuredContent: { pid: process.pid } }),
      }),
    ],
    [
      "cancelled",
      tool({
        description: "Returns how many calls were cancelled by the client so far.",
        input: {},
        annotations: readOnly,
        run: async () => ({
          ...text(String(state.cancelled)),
          structuredContent: { cancelled: state.cancelled },
        }),
      }),
    ],
    [
      "image",
      tool({
        description: "Returns a 1x1 PNG.",
        input: {},
        annotations: readOnly,
        run: async () => ({
          content: [
            { type: "text", text: "a pixel" },
            { type: "image", mimeType: "image/png", data: PIXEL_PNG },
          ],
        }),
      }),
    ],
  ]);
}

export function createExampleServer(options: ExampleServerOptions): McpServer {
  const state = options.state ?? { cancelled: 0 };
  const tools = exampleTools(options, state);
  const server = new McpServer({ name: "shepherd-example-tools", version: "1.0.0" });
  for (const [name, definition] of tools) {
    server.registerTool(
      name,
      {
        description: definition.description,
        inputSchema: definition.input,
        ...(definition.output === undefined ? {} : { outputSchema: definition.output }),
        ...(definition.annotations === undefined ? {} : { annotations: definition.annotations }),
      },
      (args: Record<string, unknown>, extra: Extra) => definition.run(args, extra),
    );
  }
  // McpServer lists the tools; calls go through a stricter handler (see the file comment).
  server.server.removeRequestHandler("tools/call");
  server.server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const name = request.params.name;
    const definition = tools.get(name);
    if (definition === undefined) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
    const callsFile = options.env.EXAMPLE_CALLS_FILE;
    if (callsFile) await appendFile(path.resolve(callsFile), `${JSON.stringify({ tool: name })}\n`);
    const parsed = z.object(definition.input).safeParse(request.params.arguments ?? {});
    if (!parsed.success) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `Invalid arguments for tool ${name}: ${z.prettifyError(parsed.error)}`,
      );
    }
    return definition.run(parsed.data, extra);
  });
  return server;
}

/** `command` and `args` that start this file as a stdio MCP server, from any working directory. */
export function exampleServerStdioCommand(): { command: string; args: string[] } {
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return { command: process.execPath, args: ["--import", tsx, fileURLToPath(import.meta.url), "--stdio"] };
}

async function runStdio(): Promise<void> {
  if (process.env.EXAMPLE_FAIL_AT_START) {
    const token = process.env.EXAMPLE_API_TOKEN ?? "(none)";
    process.stderr.write(`example-tools-server: login refused for token ${token}\n`);
    process.exit(3);
  }
  const server = createExampleServer({ env: process.env });
  await server.connect(new StdioServerTransport());
  if (process.env.EXAMPLE_STUBBORN) {
    // A server that will not leave: only SIGKILL ends it.
    process.on("SIGTERM", () => undefined);
    setInterval(() => undefined, 60_000);
  } else {
    // The client closing our stdin is the MCP stdio way of saying goodbye.
    process.stdin.once("end", () => process.exit(0));
  }
  process.stderr.write("example-tools-server: ready on stdio\n");
}

export interface ExampleHttpServer {
  /** The streamable HTTP endpoint, e.g. http://127.0.0.1:PORT/mcp. */
  url: string;
  state: ExampleServerState;
  /** Open MCP sessions. */
  sessionCount(): number;
  /** Forgets every session, as a restarted server would: their next request gets 404. */
  dropSessions(): Promise<void>;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function sendJsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null }));
}

/**
 * The example server over streamable HTTP on 127.0.0.1 (`port` 0 picks a free one), with stateful
 * sessions: one McpServer per session, as the SDK requires. With `bearerToken`, requests without
 * `Authorization: Bearer <token>` get 401.
 */
export async function startExampleServerHttp(
  options: { port?: number; env?: Record<string, string>; bearerToken?: string } = {},
): Promise<ExampleHttpServer> {
  const state: ExampleServerState = { cancelled: 0 };
  const env = options.env ?? {};
  const sessions = new Map<string, { server: McpServer; transport: StreamableHTTPServerTransport }>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (options.bearerToken !== undefined && req.headers.authorization !== `Bearer ${options.bearerToken}`) {
      sendJsonRpcError(res, 401, -32000, "Unauthorized");
      return;
    }
    if (new URL(req.url ?? "/", "http://127.0.0.1").pathname !== "/mcp") {
      res.writeHead(404).end();
      return;
    }
    let body: unknown;
    if (req.method === "POST") {
      const raw = await readBody(req);
      if (raw === null) return sendJsonRpcError(res, 413, -32600, "Request body too large");
      try {
        body = JSON.parse(raw);
      } catch {
        return sendJsonRpcError(res, 400, ErrorCode.ParseError, "Parse error");
      }
    }
    const sessionId = req.headers["mcp-session-id"];
    if (typeof sessionId === "string") {
      const session = sessions.get(sessionId);
      if (session === undefined) return sendJsonRpcError(res, 404, -32001, "Session not found");
      await session.transport.handleRequest(req, res, body);
      return;
    }
    if (req.method !== "POST" || !isInitializeRequest(body)) {
      return sendJsonRpcError(res, 400, -32000, "Bad Request: No valid session ID provided");
    }
    const server = createExampleServer({ env, state });
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { server, transport });
      },
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  };

  const http = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = http.address() as AddressInfo;

  const dropSessions = async (): Promise<void> => {
    const open = [...sessions.values()];
    sessions.clear();
    await Promise.all(open.map(({ server }) => server.close()));
  };

  return {
    url: `http://127.0.0.1:${port}/mcp`,
    state,
    sessionCount: () => sessions.size,
    dropSessions,
    close: async () => {
      await dropSessions();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

if (process.argv.includes("--stdio") && process.argv[1] !== undefined) {
  if (pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) await runStdio();
}
