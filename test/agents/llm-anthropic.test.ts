import { inspect } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLlmClient } from "../../src/agents/llm/create-llm-client.js";
import {
  LlmBadResponse,
  LlmRateLimited,
  LlmRejected,
  LlmUnavailable,
} from "../../src/agents/llm/llm-errors.js";
import type { LlmClient, LlmMessage, LlmToolSpec } from "../../src/agents/llm/llm-port.js";
import { parseLlmConfig } from "../../src/config/llm-schema.js";
import { LlmTestServer } from "./llm-test-server.js";

/**
 * `kind: anthropic` through the real AI SDK provider against an endpoint shaped like Anthropic's
 * Messages API (`POST /v1/messages`, `tool_use` / `tool_result` blocks), served on 127.0.0.1.
 */

const KEY = "sk-ant-api03-9d8c7b6a5f4e3d2c";

const READ_FILE: LlmToolSpec = {
  name: "read_file",
  description: "Read a file of the repository",
  inputSchema: {
    type: "object",
    properties: { path: { type: "string" } },
    required: ["path"],
    additionalProperties: false,
  },
};

let server: LlmTestServer;

beforeEach(async () => {
  server = await LlmTestServer.start();
});

afterEach(async () => {
  try {
    server.assertDone();
  } finally {
    await server.close();
  }
});

async function makeClient(maxRetries = 0): Promise<LlmClient> {
  const config = parseLlmConfig(
    {
      providers: {
        claude: {
          kind: "anthropic",
          baseUrl: `${server.url}/v1`,
          apiKeyRef: "env:ANTHROPIC_API_KEY",
          maxRetries,
        },
      },
      models: { reviewer: { provider: "claude", model: "claude-sonnet-4-5", maxOutputTokens: 2048 } },
    },
    "/nonexistent",
  );
  return createLlmClient(config, "reviewer", { readSecret: async () => KEY });
}

type Block = { type: "text"; text: string } | { type: "tool_use"; id: string; name: string; input: unknown };

function message(
  content: Block[],
  stopReason: string,
  usage = { input_tokens: 120, output_tokens: 42 },
): unknown {
  return {
    id: "msg_01",
    type: "message",
    role: "assistant",
    model: "claude-sonnet-4-5-20250929",
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage,
  };
}

function anthropicError(type: string, text: string): unknown {
  return { type: "error", error: { type, message: text } };
}

const ASK: LlmMessage = { role: "user", content: "Review the proposed boost change." };

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error("rejected with a non-Error", { cause: error });
  }
  throw new Error("expected the call to fail");
}

describe("anthropic: answers", () => {
  it("returns a text answer with usage, sending the key as x-api-key", async () => {
    const client = await makeClient();
    server.reply({ status: 200, json: message([{ type: "text", text: "Looks safe." }], "end_turn") });

    const response = await client.complete({ system: "You review changes.", messages: [ASK], tools: [] });

    expect(response).toEqual({
      text: "Looks safe.",
      toolCalls: [],
      finishReason: "stop",
      usage: { inputTokens: 120, outputTokens: 42 },
      provider: "claude",
      model: "claude-sonnet-4-5-20250929",
    });
    const [sent] = server.requests;
    expect(sent?.method).toBe("POST");
    expect(sent?.path).toBe("/v1/messages");
    expect(sent?.headers["x-api-key"]).toBe(KEY);
    expect(sent?.headers["anthropic-version"]).toBeDefined();
    expect(sent?.body).toMatchObject({
      model: "claude-sonnet-4-5",
      max_tokens: 2048,
      system: [{ type: "text", text: "You review changes." }],
      messages: [{ role: "user", content: [{ type: "text", text: ASK.content }] }],
    });
  });

  it("returns tool_use blocks as tool calls and sends tool_result blocks back", async () => {
    const client = await makeClient();
    server.reply({
      status: 200,
      json: message(
        [
          { type: "text", text: "Reading both files." },
          { type: "tool_use", id: "toolu_01", name: "read_file", input: { path: "config/search.json" } },
          { type: "tool_use", id: "toolu_02", name: "read_file", input: { path: "config/missing.json" } },
        ],
        "tool_use",
      ),
    });

    const first = await client.complete({
      system: "You review changes.",
      messages: [ASK],
      tools: [READ_FILE],
    });

    expect(first.finishReason).toBe("tool-calls");
    expect(first.text).toBe("Reading both files.");
    expect(first.toolCalls).toEqual([
      { id: "toolu_01", name: "read_file", args: { path: "config/search.json" } },
      { id: "toolu_02", name: "read_file", args: { path: "config/missing.json" } },
    ]);
    expect((server.requests[0]?.body as { tools: unknown }).tools).toEqual([
      { name: "read_file", description: READ_FILE.description, input_schema: READ_FILE.inputSchema },
    ]);

    server.reply({ status: 200, json: message([{ type: "text", text: "Approve." }], "end_turn") });
    await client.complete({
      system: "You review changes.",
      messages: [
        ASK,
        { role: "assistant", content: first.text, toolCalls: first.toolCalls },
        {
          role: "tool",
          toolCallId: "toolu_01",
          toolName: "read_file",
          result: { titleBoost: 1.2 },
          isError: false,
        },
        {
          role: "tool",
          toolCallId: "toolu_02",
          toolName: "read_file",
          result: "no such file",
          isError: true,
        },
      ],
      tools: [READ_FILE],
    });

    const messages = (
      server.requests[1]?.body as { messages: { role: string; content: Record<string, unknown>[] }[] }
    ).messages;
    expect(messages).toHaveLength(3);
    expect(messages[1]).toEqual({
      role: "assistant",
      content: [
        { type: "text", text: "Reading both files." },
        { type: "tool_use", id: "toolu_01", name: "read_file", input: { path: "config/search.json" } },
        { type: "tool_use", id: "toolu_02", name: "read_file", input: { path: "config/missing.json" } },
      ],
    });
    // Both results in one user message, right after the tool_use blocks.
    expect(messages[2]?.role).toBe("user");
    const results = messages[2]?.content ?? [];
    expect(results).toHaveLength(2);
    expect(results[0]).toMatchObject({ type: "tool_result", tool_use_id: "toolu_01" });
    expect(JSON.parse(results[0]?.content as string)).toEqual({ titleBoost: 1.2 });
    expect(results[0]?.is_error).not.toBe(true);
    expect(results[1]).toMatchObject({
      type: "tool_result",
      tool_use_id: "toolu_02",
      content: "no such file",
      is_error: true,
    });
  });

  it("a tool_use for a tool that was not offered → LlmBadResponse", async () => {
    const client = await makeClient();
    server.reply({
      status: 200,
      json: message(
        [{ type: "tool_use", id: "toolu_01", name: "run_shell", input: { cmd: "ls" } }],
        "tool_use",
      ),
    });
    const error = await failure(client.complete({ system: "", messages: [ASK], tools: [READ_FILE] }));
    expect(error).toBeInstanceOf(LlmBadResponse);
    expect(error.message).toContain('"run_shell"');
  });
});

describe("anthropic: error statuses", () => {
  it("401 authentication_error → LlmRejected without the key", async () => {
    const client = await makeClient(2);
    server.reply({ status: 401, json: anthropicError("authentication_error", `invalid x-api-key ${KEY}`) });
    const error = await failure(client.complete({ system: "", messages: [ASK], tools: [] }));
    expect(error).toBeInstanceOf(LlmRejected);
    expect((error as LlmRejected).status).toBe(401);
    expect(error.message).toContain("401");
    expect(error.message).toContain("invalid x-api-key");
    expect(inspect(error, { depth: 10, showHidden: true })).not.toContain(KEY);
    expect(server.requests).toHaveLength(1);
  });

  it("400 invalid_request_error → LlmRejected", async () => {
    const client = await makeClient(2);
    server.reply({ status: 400, json: anthropicError("invalid_request_error", "prompt is too long") });
    const error = await failure(client.complete({ system: "", messages: [ASK], tools: [] }));
    expect(error).toBeInstanceOf(LlmRejected);
    expect((error as LlmRejected).status).toBe(400);
    expect(error.message).toContain("prompt is too long");
  });

  it("529 overloaded_error → LlmUnavailable after the retries", async () => {
    const client = await makeClient(1);
    const overloaded = {
      status: 529,
      json: anthropicError("overloaded_error", "Overloaded"),
      headers: { "retry-after": "0" },
    };
    server.reply(overloaded, overloaded);
    const error = await failure(client.complete({ system: "", messages: [ASK], tools: [] }));
    expect(error).toBeInstanceOf(LlmUnavailable);
    expect((error as LlmUnavailable).status).toBe(529);
    expect(server.requests).toHaveLength(2);
  });

  it("429 rate_limit_error → LlmRateLimited with retry-after", async () => {
    const client = await makeClient(0);
    server.reply({
      status: 429,
      json: anthropicError(
        "rate_limit_error",
        "Number of request tokens has exceeded your per-minute rate limit",
      ),
      headers: { "retry-after": "42" },
    });
    const error = await failure(client.complete({ system: "", messages: [ASK], tools: [] }));
    expect(error).toBeInstanceOf(LlmRateLimited);
    expect((error as LlmRateLimited).retryAfterSeconds).toBe(42);
  });
});
