import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { ListToolsRequestSchema, type ListToolsResult } from "@modelcontextprotocol/sdk/types.js";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { McpConnections } from "../../src/agents/mcp/mcp-connections.js";
import { McpTimeout, McpToolError, McpUnavailable } from "../../src/agents/mcp/mcp-errors.js";
import type { McpServerConfig } from "../../src/agents/mcp/mcp-server-config.js";
import { LogCapture } from "../support/log-capture.js";
import { startExampleServerHttp, type ExampleHttpServer } from "../support/mcp/example-tools-server.js";
import { cleanupAll, freePort, onCleanup, tempDir } from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";

const TOKEN = "mcp_live_9c8b7a6d5e4f3a2b1c0d";
const EXAMPLE_TOOLS = ["add", "cancelled", "echo", "env", "fail", "image", "pid", "record", "slow", "whoami"];

function httpConfig(url: string, overrides: Partial<Extract<McpServerConfig, { transport: "http" }>> = {}) {
  return {
    name: "remote",
    transport: "http",
    url,
    headers: { Authorization: `Bearer ${TOKEN}` },
    timeoutMs: 5_000,
    ...overrides,
  } satisfies McpServerConfig;
}

async function startServer(
  options: Parameters<typeof startExampleServerHttp>[0] = {},
): Promise<ExampleHttpServer> {
  const server = await startExampleServerHttp({ bearerToken: TOKEN, ...options });
  onCleanup(() => server.close());
  return server;
}

async function connect(configs: McpServerConfig[], logs?: LogCapture): Promise<McpConnections> {
  const connections = await McpConnections.connect(configs, {
    ...(logs === undefined ? {} : { logger: pino({ level: "debug" }, logs) }),
  });
  onCleanup(() => connections.close());
  return connections;
}

async function lines(file: string): Promise<unknown[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as unknown);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject");
}

/**
 * A stateless MCP server (the SDK's low-level Server) that answers tools/list with the given pages,
 * the cursor being the page's index: for listings no well-behaved server would send.
 */
async function startPagedServer(pages: ListToolsResult[]): Promise<string> {
  const http = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
      const body =
        req.method === "POST" ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown) : undefined;
      const server = new Server({ name: "paged", version: "1.0.0" }, { capabilities: { tools: {} } });
      server.setRequestHandler(
        ListToolsRequestSchema,
        (request) => pages[Number(request.params?.cursor ?? 0)]!,
      );
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on("close", () => void server.close());
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    })();
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
  onCleanup(() => {
    http.closeAllConnections();
    return new Promise<void>((resolve) => http.close(() => resolve()));
  });
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
}

function listed(name: string): ListToolsResult["tools"][number] {
  return { name, description: `tool ${name}`, inputSchema: { type: "object" } };
}

afterEach(cleanupAll);

describe("MCP over streamable HTTP: one shared server", () => {
  let server: ExampleHttpServer;
  let connections: McpConnections;

  beforeAll(async () => {
    server = await startExampleServerHttp({ bearerToken: TOKEN, env: { EXAMPLE_REGION: "eu-west" } });
    connections = await McpConnections.connect([httpConfig(server.url)]);
  });

  afterAll(async () => {
    await connections.close();
    await server.close();
  });

  it("lists every tool with its schema and annotations, named by server", () => {
    const tools = connections.tools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(EXAMPLE_TOOLS);
    expect(tools.every((tool) => tool.server === "remote")).toBe(true);
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    expect(byName.get("whoami")?.inputSchema).toMatchObject({
      type: "object",
      properties: { sessionId: { type: "string" }, note: { type: "string" } },
      required: ["sessionId"],
    });
    expect(byName.get("echo")?.annotations).toEqual({ readOnlyHint: true });
    expect(byName.get("fail")?.annotations).toBeNull();
  });

  it("calls tools over one session", async () => {
    expect(await connections.callTool("remote", "echo", { text: "over http" })).toEqual({
      isError: false,
      content: [{ type: "text", text: "over http" }],
      structuredContent: null,
      text: "over http",
    });
    expect((await connections.callTool("remote", "add", { a: 1.5, b: 2 })).structuredContent).toEqual({
      sum: 3.5,
    });
    expect((await connections.callTool("remote", "whoami", { sessionId: "ses_9" })).text).toBe(
      "session ses_9",
    );
    expect((await connections.callTool("remote", "env", { name: "EXAMPLE_REGION" })).text).toBe("eu-west");
    expect((await connections.callTool("remote", "image", {})).text).toBe("a pixel\n[image image/png]");
    expect(server.sessionCount()).toBe(1);
  });

  it("returns a tool's isError result instead of throwing", async () => {
    const result = await connections.callTool("remote", "fail", { message: "quota exceeded" });
    expect(result).toMatchObject({ isError: true, text: "quota exceeded" });
  });

  it("turns JSON-RPC errors (unknown tool, invalid params) into McpToolError", async () => {
    const unknown = await rejection(connections.callTool("remote", "drop_tables", {}));
    expect(unknown).toBeInstanceOf(McpToolError);
    expect(unknown).toMatchObject({
      code: "MCP_TOOL_FAILED",
      server: "remote",
      tool: "drop_tables",
      rpcCode: -32602,
    });
    const invalid = await rejection(connections.callTool("remote", "slow", { ms: -1 }));
    expect(invalid).toBeInstanceOf(McpToolError);
    expect((invalid as Error).message).toContain("Invalid arguments for tool slow");
  });

  it("cancels a call that outlasts the server's timeout with McpTimeout", async () => {
    const before = server.state.cancelled;
    const error = await rejection(connections.callTool("remote", "slow", { ms: 600_000 }));
    expect(error).toBeInstanceOf(McpTimeout);
    expect(error).toMatchObject({ code: "MCP_TIMEOUT", tool: "slow", timeoutMs: 5_000, transient: true });
    await waitFor(() => server.state.cancelled === before + 1, {
      message: "the server never saw the cancellation",
    });
    expect((await connections.callTool("remote", "echo", { text: "after" })).text).toBe("after");
  });
});

describe("MCP over streamable HTTP: failures and sessions", () => {
  it("reports a refused connection as McpUnavailable naming the server, without the header secret", async () => {
    const port = await freePort();
    const logs = new LogCapture();
    const error = await rejection(
      McpConnections.connect([httpConfig(`http://127.0.0.1:${port}/mcp`)], {
        logger: pino({ level: "debug" }, logs),
      }),
    );
    expect(error).toBeInstanceOf(McpUnavailable);
    expect(error).toMatchObject({ code: "MCP_UNAVAILABLE", server: "remote", stderrTail: null });
    expect((error as Error).message).toBe('MCP server "remote" could not start: connection refused');
    expect(
      JSON.stringify({ message: (error as Error).message, stack: (error as Error).stack }),
    ).not.toContain(TOKEN);
    expect(logs.text).not.toContain(TOKEN);
  });

  it("sends the configured headers: a wrong token is refused with McpUnavailable, not echoed", async () => {
    const server = await startServer();
    const wrong = "mcp_live_wrong_0000000000000";
    const error = await rejection(
      McpConnections.connect([httpConfig(server.url, { headers: { Authorization: `Bearer ${wrong}` } })]),
    );
    expect(error).toBeInstanceOf(McpUnavailable);
    expect((error as Error).message).toBe('MCP server "remote" could not start: HTTP 401');
    expect((error as Error).message).not.toContain(wrong);
  });

  it("starts a new session and runs the call once when the server forgot the old one", async () => {
    const dir = await tempDir("shepherd-mcp-http-");
    const record = path.join(dir, "record.log");
    const calls = path.join(dir, "calls.log");
    const server = await startServer({ env: { EXAMPLE_RECORD_FILE: record, EXAMPLE_CALLS_FILE: calls } });
    const logs = new LogCapture();
    const connections = await connect([httpConfig(server.url)], logs);
    expect((await connections.callTool("remote", "echo", { text: "one" })).text).toBe("one");

    await server.dropSessions();
    expect(server.sessionCount()).toBe(0);
    expect((await connections.callTool("remote", "record", { value: "exactly-once" })).isError).toBe(false);
    expect(await lines(record)).toEqual([{ value: "exactly-once" }]);
    expect((await lines(calls)).filter((line) => (line as { tool: string }).tool === "record")).toHaveLength(
      1,
    );
    expect(server.sessionCount()).toBe(1);
    expect(logs.records().map((entry) => entry.msg)).toContain("mcp server reconnected");
  });

  it("fails with McpUnavailable while the server is down and reconnects once it is back", async () => {
    const port = await freePort();
    const first = await startExampleServerHttp({ port, bearerToken: TOKEN });
    const connections = await connect([httpConfig(first.url)]);
    expect((await connections.callTool("remote", "echo", { text: "up" })).text).toBe("up");

    await first.close();
    // The first call may meet a pooled socket the server closed, or a refused connection.
    const lost = await rejection(connections.callTool("remote", "echo", { text: "down" }));
    expect(lost).toBeInstanceOf(McpUnavailable);
    expect((lost as Error).message).toMatch(
      /^MCP server "remote" (is unavailable|could not reconnect): connection/,
    );
    const refused = await rejection(connections.callTool("remote", "echo", { text: "still down" }));
    expect(refused).toBeInstanceOf(McpUnavailable);
    expect((refused as Error).message).toBe('MCP server "remote" could not reconnect: connection refused');

    const second = await startServer({ port });
    expect((await connections.callTool("remote", "echo", { text: "up again" })).text).toBe("up again");
    expect(second.sessionCount()).toBe(1);
  });

  it("close() ends the HTTP session on the server and is idempotent", async () => {
    const server = await startServer();
    const connections = await connect([httpConfig(server.url)]);
    expect(server.sessionCount()).toBe(1);
    await connections.close();
    await connections.close();
    expect(server.sessionCount()).toBe(0);
    expect(await rejection(connections.callTool("remote", "echo", { text: "x" }))).toBeInstanceOf(
      McpUnavailable,
    );
  });

  it("connects stdio-less configurations alongside each other and routes by server name", async () => {
    const a = await startServer({ env: { EXAMPLE_REGION: "a" } });
    const b = await startServer({ env: { EXAMPLE_REGION: "b" } });
    const connections = await connect([
      httpConfig(a.url, { name: "alpha" }),
      httpConfig(b.url, { name: "beta" }),
    ]);
    expect(
      connections
        .tools()
        .filter((tool) => tool.name === "echo")
        .map((tool) => tool.server),
    ).toEqual(["alpha", "beta"]);
    expect((await connections.callTool("beta", "env", { name: "EXAMPLE_REGION" })).text).toBe("b");
    expect((await connections.callTool("alpha", "env", { name: "EXAMPLE_REGION" })).text).toBe("a");
  });

  it("reads every page of tools/list, skipping tools with unusable or repeated names", async () => {
    const url = await startPagedServer([
      { tools: [listed("alpha"), listed("has space"), listed("a:b")], nextCursor: "1" },
      { tools: [listed("beta"), listed("alpha")], nextCursor: "2" },
      { tools: [listed("gamma")] },
    ]);
    const logs = new LogCapture();
    const connections = await connect([httpConfig(url, { name: "paged", headers: {} })], logs);
    expect(connections.tools().map((tool) => tool.name)).toEqual(["alpha", "beta", "gamma"]);
    const skipped = logs.records().filter((entry) => String(entry.msg).startsWith("mcp tool skipped"));
    expect(skipped.map((entry) => [entry.msg, entry.tool])).toEqual([
      ["mcp tool skipped: invalid name", "has space"],
      ["mcp tool skipped: invalid name", "a:b"],
      ["mcp tool skipped: listed twice", "alpha"],
    ]);
  });

  it("refuses a server whose tools/list pages never end", async () => {
    const url = await startPagedServer([
      { tools: [listed("alpha")], nextCursor: "1" },
      { tools: [listed("beta")], nextCursor: "0" },
    ]);
    const error = await rejection(McpConnections.connect([httpConfig(url, { name: "paged", headers: {} })]));
    expect(error).toBeInstanceOf(McpUnavailable);
    expect((error as Error).message).toBe(
      'MCP server "paged" could not start: tools/list repeated a page cursor',
    );
  });

  it("refuses configurations that cannot work, naming fields but not values", async () => {
    await expect(
      McpConnections.connect([httpConfig("http://127.0.0.1:1/mcp"), httpConfig("http://127.0.0.1:2/mcp")]),
    ).rejects.toThrow('MCP server name "remote" is used twice');
    await expect(
      McpConnections.connect([httpConfig("http://127.0.0.1:1/mcp", { name: "a:b" })]),
    ).rejects.toThrow('MCP server name "a:b" must match');
    await expect(
      McpConnections.connect([httpConfig("ftp://127.0.0.1/mcp", { headers: { "X-Key": TOKEN } })]),
    ).rejects.toThrow('MCP server "remote": url must be http or https');
    await expect(
      McpConnections.connect([
        httpConfig("http://127.0.0.1:1/mcp", { headers: { "Mcp-Session-Id": TOKEN } }),
      ]),
    ).rejects.toThrow('header "Mcp-Session-Id" is set by the transport');
  });
});
