import { mkdir, mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { McpConnections } from "../../src/agents/mcp/mcp-connections.js";
import { McpTimeout, McpToolError, McpUnavailable } from "../../src/agents/mcp/mcp-errors.js";
import type { McpServerConfig } from "../../src/agents/mcp/mcp-server-config.js";
import { fillInjectedArgs, stripInjectedArgs } from "../../src/domain/inject-args.js";
import { LogCapture } from "../support/log-capture.js";
import { exampleServerStdioCommand } from "../support/mcp/example-tools-server.js";
import { cleanupAll, onCleanup, tempDir } from "../support/processes.js";
import { waitFor } from "../support/wait-for.js";

const SECRET = "tok_3f9a8b7c6d5e4f3a2b1c";
const EXAMPLE_TOOLS = ["add", "cancelled", "echo", "env", "fail", "image", "pid", "record", "slow", "whoami"];

function stdioConfig(
  cwd: string,
  overrides: Partial<Extract<McpServerConfig, { transport: "stdio" }>> = {},
): McpServerConfig {
  return {
    name: "example",
    transport: "stdio",
    ...exampleServerStdioCommand(),
    cwd,
    env: { EXAMPLE_API_TOKEN: SECRET, EXAMPLE_RECORD_FILE: "record.log", EXAMPLE_CALLS_FILE: "calls.log" },
    // Generous: a normal call answers in milliseconds; only `slow` comes near it.
    timeoutMs: 5_000,
    ...overrides,
  };
}

async function connect(configs: McpServerConfig[], logs?: LogCapture): Promise<McpConnections> {
  const connections = await McpConnections.connect(configs, {
    ...(logs === undefined ? {} : { logger: pino({ level: "debug" }, logs) }),
  });
  onCleanup(() => connections.close());
  return connections;
}

async function serverPid(connections: McpConnections): Promise<number> {
  const result = await connections.callTool("example", "pid", {});
  return (result.structuredContent as { pid: number }).pid;
}

/** Whether a process (or, for a negative number, a process group) exists; a zombie still does. */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

/**
 * Whether a process runs: exists and is not a zombie. A grandchild whose parent died is reaped by
 * whatever init the machine has, whenever it gets to it; as a zombie it is already dead.
 */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  return stat !== null && stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}

async function lines(file: string): Promise<unknown[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as unknown);
}

/** Process ids whose command line contains `marker` (Linux /proc). */
async function processesWith(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(marker)) found.push(Number(entry));
  }
  return found;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the promise to reject");
}

afterEach(cleanupAll);

describe("MCP over stdio: one shared server", () => {
  let dir: string;
  let connections: McpConnections;
  const previousSecret = process.env.SHEPHERD_SECRET;

  beforeAll(async () => {
    // A secret of Shepherd's own, in the environment of the process that starts the server.
    process.env.SHEPHERD_SECRET = "shepherd-own-secret-value";
    // Not tempDir(): that one is emptied after each test, and this server lives for the whole block.
    dir = await mkdtemp(path.join(os.tmpdir(), "shepherd-mcp-"));
    connections = await McpConnections.connect([stdioConfig(dir)]);
  });

  afterAll(async () => {
    await connections.close();
    if (previousSecret === undefined) delete process.env.SHEPHERD_SECRET;
    else process.env.SHEPHERD_SECRET = previousSecret;
    await rm(dir, { recursive: true, force: true });
  });

  it("lists every tool with its schema and annotations, named by server", () => {
    const tools = connections.tools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(EXAMPLE_TOOLS);
    expect(tools.every((tool) => tool.server === "example")).toBe(true);
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    expect(byName.get("echo")).toMatchObject({
      description: "Returns the text it is given.",
      inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
      annotations: { readOnlyHint: true },
    });
    expect(byName.get("add")?.inputSchema).toMatchObject({
      properties: { a: { type: "number" }, b: { type: "number" } },
      required: ["a", "b"],
    });
    expect(byName.get("record")?.annotations).toEqual({ readOnlyHint: false, destructiveHint: false });
    expect(byName.get("slow")?.annotations).toBeNull();
  });

  it("keeps the listed tools frozen, since every session shares them", () => {
    const echo = connections.tools().find((tool) => tool.name === "echo")!;
    expect(() => {
      (echo.inputSchema as { type: string }).type = "string";
    }).toThrow(TypeError);
  });

  it("calls tools and returns text, structured content and images", async () => {
    expect(await connections.callTool("example", "echo", { text: "hello" })).toEqual({
      isError: false,
      content: [{ type: "text", text: "hello" }],
      structuredContent: null,
      text: "hello",
    });
    expect(await connections.callTool("example", "add", { a: 2, b: 40 })).toMatchObject({
      isError: false,
      structuredContent: { sum: 42 },
      text: "42",
    });
    expect(await connections.callTool("example", "slow", { ms: 5 })).toMatchObject({ text: "slept 5 ms" });
    const image = await connections.callTool("example", "image", {});
    expect(image.content).toEqual([
      { type: "text", text: "a pixel" },
      { type: "image", mimeType: "image/png", data: expect.stringMatching(/^iVBOR/) as unknown },
    ]);
    // The LLM's text names the image but does not carry its data.
    expect(image.text).toBe("a pixel\n[image image/png]");
  });

  it("runs the server in the configured working directory", async () => {
    expect(await connections.callTool("example", "record", { value: "first" })).toMatchObject({
      isError: false,
      text: "recorded first",
    });
    expect(await lines(path.join(dir, "record.log"))).toEqual([{ value: "first" }]);
  });

  it("returns a tool's isError result instead of throwing", async () => {
    expect(await connections.callTool("example", "fail", { message: "disk full" })).toEqual({
      isError: true,
      content: [{ type: "text", text: "disk full" }],
      structuredContent: null,
      text: "disk full",
    });
  });

  it("turns JSON-RPC errors (unknown tool, invalid params) into McpToolError", async () => {
    const unknown = await rejection(connections.callTool("example", "launch_rockets", {}));
    expect(unknown).toBeInstanceOf(McpToolError);
    expect(unknown).toMatchObject({
      code: "MCP_TOOL_FAILED",
      server: "example",
      tool: "launch_rockets",
      rpcCode: -32602,
      transient: false,
    });
    expect((unknown as Error).message).toBe(
      'MCP tool "example:launch_rockets" failed (JSON-RPC -32602): Unknown tool: launch_rockets',
    );

    const invalid = await rejection(connections.callTool("example", "add", { a: "two", b: 2 }));
    expect(invalid).toBeInstanceOf(McpToolError);
    expect(invalid).toMatchObject({ tool: "add", rpcCode: -32602 });
    expect((invalid as Error).message).toContain("Invalid arguments for tool add");

    // The connection is still fine afterwards.
    expect((await connections.callTool("example", "echo", { text: "still here" })).text).toBe("still here");
  });

  it("refuses an unknown server name with McpToolError", async () => {
    const error = await rejection(connections.callTool("nowhere", "echo", { text: "x" }));
    expect(error).toBeInstanceOf(McpToolError);
    expect((error as Error).message).toBe('unknown MCP server "nowhere"');
  });

  it("gives the server only the env it was given, plus PATH", async () => {
    const env = async (name: string): Promise<unknown> =>
      (await connections.callTool("example", "env", { name })).structuredContent;
    expect(await env("EXAMPLE_API_TOKEN")).toEqual({ name: "EXAMPLE_API_TOKEN", value: SECRET });
    expect(await env("PATH")).toEqual({ name: "PATH", value: process.env.PATH });
    // Set in our environment, invisible to the server.
    expect(process.env.SHEPHERD_SECRET).toBe("shepherd-own-secret-value");
    expect(await env("SHEPHERD_SECRET")).toEqual({ name: "SHEPHERD_SECRET", value: null });
    expect(process.env.HOME).toBeDefined();
    expect(await env("HOME")).toEqual({ name: "HOME", value: null });
  });

  it("injects the session id the framework knows, whatever the LLM sent", async () => {
    const whoami = connections.tools().find((tool) => tool.name === "whoami")!;
    const visible = stripInjectedArgs(whoami.inputSchema, ["sessionId", "repo"]);
    expect(visible).toMatchObject({ properties: { note: { type: "string" } } });
    expect(visible).not.toHaveProperty("properties.sessionId");
    expect(visible).not.toHaveProperty("required");

    const filled = fillInjectedArgs(
      { note: "hi", sessionId: "ses_spoofed" },
      { sessionId: "ses_real", repo: "acme/app" },
      whoami.inputSchema,
    );
    expect(filled.overridden).toEqual(["sessionId"]);
    const result = await connections.callTool("example", "whoami", filled.args);
    expect(result.structuredContent).toEqual({ sessionId: "ses_real" });
  });

  async function cancelledCount(): Promise<number> {
    const result = await connections.callTool("example", "cancelled", {});
    return (result.structuredContent as { cancelled: number }).cancelled;
  }

  it("cancels a call that outlasts the server's timeout with McpTimeout", async () => {
    const before = await cancelledCount();
    const error = await rejection(connections.callTool("example", "slow", { ms: 600_000 }));
    expect(error).toBeInstanceOf(McpTimeout);
    expect(error).toMatchObject({ code: "MCP_TIMEOUT", server: "example", tool: "slow", timeoutMs: 5_000 });
    expect((error as Error).message).toBe(
      'MCP tool "example:slow" did not answer within 5000 ms; the call was cancelled',
    );
    // The server was told: its handler saw the cancellation.
    await waitFor(async () => (await cancelledCount()) === before + 1, {
      message: "the server never saw the cancellation",
    });
  });

  it("stops waiting when the caller aborts, with the caller's reason", async () => {
    const calls = path.join(dir, "calls.log");
    const slowBefore = (await lines(calls)).filter(isSlowCall).length;
    const cancelledBefore = await cancelledCount();
    const controller = new AbortController();
    const call = connections.callTool("example", "slow", { ms: 600_000 }, controller.signal);
    await waitFor(async () => (await lines(calls)).filter(isSlowCall).length === slowBefore + 1, {
      message: "slow never started",
    });
    const reason = new Error("session stopped");
    controller.abort(reason);
    expect(await rejection(call)).toBe(reason);
    await waitFor(async () => (await cancelledCount()) === cancelledBefore + 1, {
      message: "the server never saw the cancellation",
    });
  });
});

function isSlowCall(line: unknown): boolean {
  return (line as { tool?: string }).tool === "slow";
}

describe("MCP over stdio: failures and process lifecycle", () => {
  it("reports a command that cannot start as McpUnavailable naming the server, without secrets", async () => {
    const dir = await tempDir("shepherd-mcp-");
    const error = await rejection(
      McpConnections.connect([
        stdioConfig(dir, { name: "broken", command: path.join(dir, "no-such-server"), args: ["--stdio"] }),
      ]),
    );
    expect(error).toBeInstanceOf(McpUnavailable);
    expect(error).toMatchObject({ code: "MCP_UNAVAILABLE", server: "broken", transient: true });
    expect((error as Error).message).toBe(
      'MCP server "broken" could not start: command or working directory not found',
    );
    expect((error as Error).message).not.toContain(SECRET);
  });

  it("reports a missing working directory as McpUnavailable", async () => {
    const dir = await tempDir("shepherd-mcp-");
    const error = await rejection(McpConnections.connect([stdioConfig(path.join(dir, "gone"))]));
    expect(error).toBeInstanceOf(McpUnavailable);
    expect((error as Error).message).toContain('MCP server "example" could not start: working directory');
  });

  it("includes the stderr tail of a server that exits at start, with env secrets redacted", async () => {
    const dir = await tempDir("shepherd-mcp-");
    const logs = new LogCapture();
    const config = stdioConfig(dir);
    if (config.transport !== "stdio") throw new Error("unreachable");
    config.env.EXAMPLE_FAIL_AT_START = "1";
    const error = await rejection(
      McpConnections.connect([config], { logger: pino({ level: "debug" }, logs) }),
    );
    expect(error).toBeInstanceOf(McpUnavailable);
    const unavailable = error as McpUnavailable;
    expect(unavailable.message).toContain('MCP server "example" could not start');
    expect(unavailable.message).toContain("(process exited with code 3)");
    expect(unavailable.message).toContain("example-tools-server: login refused for token [REDACTED]");
    expect(unavailable.stderrTail).toBe("example-tools-server: login refused for token [REDACTED]");
    expect(JSON.stringify({ message: unavailable.message, stack: unavailable.stack })).not.toContain(SECRET);
    expect(logs.text).not.toContain(SECRET);
  });

  it("fails the whole connect when one server fails, leaving no process of the others", async () => {
    const dir = await tempDir("shepherd-mcp-");
    const marker = `--marker=${path.basename(dir)}`;
    const good = stdioConfig(dir, { name: "good" });
    if (good.transport !== "stdio") throw new Error("unreachable");
    good.args = [...good.args, marker];
    const bad = stdioConfig(dir, { name: "bad", command: path.join(dir, "missing") });
    const error = await rejection(McpConnections.connect([good, bad]));
    expect(error).toMatchObject({ code: "MCP_UNAVAILABLE", server: "bad" });
    expect(await processesWith(marker)).toEqual([]);
  });

  it("close() waits until the server process and its group are gone, and is idempotent", async () => {
    const dir = await tempDir("shepherd-mcp-");
    const connections = await connect([stdioConfig(dir)]);
    const pid = await serverPid(connections);
    expect(exists(pid)).toBe(true);
    await connections.close();
    expect(exists(pid)).toBe(false);
    expect(exists(-pid)).toBe(false);
    await connections.close();
    const error = await rejection(connections.callTool("example", "echo", { text: "x" }));
    expect(error).toBeInstanceOf(McpUnavailable);
    expect((error as Error).message).toBe('MCP server "example" is closed');
  });

  it("close() escalates to SIGTERM and SIGKILL for a server that will not leave", async () => {
    const dir = await tempDir("shepherd-mcp-");
    const config = stdioConfig(dir);
    if (config.transport !== "stdio") throw new Error("unreachable");
    config.env.EXAMPLE_STUBBORN = "1";
    const connections = await connect([config]);
    const pid = await serverPid(connections);
    await connections.close();
    expect(exists(pid)).toBe(false);
  });

  it("fails a call in flight with McpUnavailable when the connections close", async () => {
    const dir = await tempDir("shepherd-mcp-");
    const connections = await connect([stdioConfig(dir)]);
    const pid = await serverPid(connections);
    const call = connections.callTool("example", "slow", { ms: 600_000 });
    await waitFor(async () => (await lines(path.join(dir, "calls.log"))).some(isSlowCall), {
      message: "slow never started",
    });
    await connections.close();
    const error = await rejection(call);
    expect(error).toBeInstanceOf(McpUnavailable);
    expect((error as Error).message).toBe('MCP server "example" is closed');
    expect(exists(pid)).toBe(false);
  });

  it("reconnects once on the next call after the server process was killed", async () => {
    const dir = await tempDir("shepherd-mcp-");
    const logs = new LogCapture();
    const connections = await connect([stdioConfig(dir)], logs);
    const first = await serverPid(connections);
    process.kill(first, "SIGKILL");
    await waitFor(() => !exists(first), { message: "the server did not die" });

    expect((await connections.callTool("example", "echo", { text: "back" })).text).toBe("back");
    const second = await serverPid(connections);
    expect(second).not.toBe(first);
    const messages = logs.records().map((record) => record.msg);
    expect(messages).toContain("mcp server connection lost");
    expect(messages).toContain("mcp server reconnected");
    expect(logs.text).not.toContain(SECRET);
  });

  it("does not resend a call that was in flight when the server died; the next call reconnects", async () => {
    const dir = await tempDir("shepherd-mcp-");
    const connections = await connect([stdioConfig(dir)]);
    const pid = await serverPid(connections);
    const call = connections.callTool("example", "slow", { ms: 600_000 });
    const calls = path.join(dir, "calls.log");
    await waitFor(async () => (await lines(calls)).some(isSlowCall), { message: "slow never started" });
    process.kill(pid, "SIGKILL");

    const error = await rejection(call);
    expect(error).toBeInstanceOf(McpUnavailable);
    expect((error as Error).message).toMatch(
      /^MCP server "example" lost the connection during the call \(process was killed by SIGKILL\); stderr: /,
    );
    expect((await connections.callTool("example", "echo", { text: "again" })).text).toBe("again");
    expect((await lines(calls)).filter(isSlowCall)).toHaveLength(1);
  });

  it("gives up after one failed reconnect per call, and a later call tries again", async () => {
    const dir = await tempDir("shepherd-mcp-");
    const cwd = path.join(dir, "work");
    await mkdir(cwd);
    const connections = await connect([stdioConfig(cwd)]);
    const pid = await serverPid(connections);
    process.kill(pid, "SIGKILL");
    await waitFor(() => !exists(pid), { message: "the server did not die" });
    await rm(cwd, { recursive: true });

    const error = await rejection(connections.callTool("example", "echo", { text: "x" }));
    expect(error).toBeInstanceOf(McpUnavailable);
    expect((error as Error).message).toContain('MCP server "example" could not reconnect: working directory');

    await mkdir(cwd);
    expect((await connections.callTool("example", "echo", { text: "recovered" })).text).toBe("recovered");
  });

  it("kills what a wrapper started when the wrapper dies, then reconnects", async () => {
    const dir = await tempDir("shepherd-mcp-");
    const { command, args } = exampleServerStdioCommand();
    const quoted = [command, ...args].map((arg) => `'${arg}'`).join(" ");
    // `; true` keeps sh from exec-ing node: the server is the wrapper's child, as with npx.
    const config = stdioConfig(dir, { command: "/bin/sh", args: ["-c", `${quoted}; true`] });
    if (config.transport !== "stdio") throw new Error("unreachable");
    // A child that would outlive its wrapper: it ignores the end of stdin and SIGTERM.
    config.env.EXAMPLE_STUBBORN = "1";
    const connections = await connect([config]);
    const server = await serverPid(connections);
    const stat = await readFile(`/proc/${server}/stat`, "utf8");
    const group = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
    expect(group).not.toBe(server);

    process.kill(group, "SIGKILL");
    await waitFor(async () => !(await running(server)), { message: "the wrapper's child outlived it" });
    expect((await connections.callTool("example", "echo", { text: "new" })).text).toBe("new");
  });
});
