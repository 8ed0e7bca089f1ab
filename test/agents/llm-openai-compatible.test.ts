import { inspect } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLlmClient } from "../../src/agents/llm/create-llm-client.js";
import {
  LlmAborted,
  LlmBadResponse,
  LlmError,
  LlmRateLimited,
  LlmRejected,
  LlmTimeout,
  LlmUnavailable,
} from "../../src/agents/llm/llm-errors.js";
import type { LlmClient, LlmMessage, LlmRequest, LlmToolSpec } from "../../src/agents/llm/llm-port.js";
import { parseLlmConfig } from "../../src/config/llm-schema.js";
import { LlmTestServer } from "./llm-test-server.js";

/**
 * `kind: openai-compatible` through the real AI SDK provider against an OpenAI-shaped endpoint
 * served on 127.0.0.1 (`POST /v1/chat/completions`, non-streaming).
 */

const KEY = "sk-local-4f9c2e7a1b3d5f60";

const READ_FILE: LlmToolSpec = {
  name: "read_file",
  description: "Read a file of the repository",
  inputSchema: {
    type: "object",
    properties: { path: { type: "string", description: "Path from the repository root" } },
    required: ["path"],
    additionalProperties: false,
  },
};
const SEARCH_CODE: LlmToolSpec = {
  name: "search_code",
  description: "Search the code",
  inputSchema: {
    type: "object",
    properties: { query: { type: "string" }, limit: { type: "integer", minimum: 1, maximum: 50 } },
    required: ["query"],
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

interface ProviderOverrides {
  baseUrl?: string;
  apiKeyRef?: string | undefined;
  requestTimeoutSeconds?: number;
  maxRetries?: number;
}

async function makeClient(
  overrides: ProviderOverrides = {},
): Promise<{ client: LlmClient; secretReads: string[] }> {
  const provider: Record<string, unknown> = {
    kind: "openai-compatible",
    baseUrl: `${server.url}/v1`,
    apiKeyRef: "env:OLLAMA_KEY",
    maxRetries: 2,
    ...overrides,
  };
  if (provider.apiKeyRef === undefined) delete provider.apiKeyRef;
  const config = parseLlmConfig(
    {
      default: "workhorse",
      providers: { local: provider },
      models: { workhorse: { provider: "local", model: "qwen2.5-coder:14b", temperature: 0 } },
    },
    "/nonexistent",
  );
  const secretReads: string[] = [];
  const client = await createLlmClient(config, "workhorse", {
    readSecret: async (ref) => {
      secretReads.push(ref);
      return KEY;
    },
  });
  return { client, secretReads };
}

interface Completion {
  content?: string | null;
  toolCalls?: { id: string; name: string; arguments: string }[];
  finishReason?: string;
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
  model?: string;
}

function completion(options: Completion): unknown {
  const usage = options.usage === undefined ? { prompt_tokens: 31, completion_tokens: 9 } : options.usage;
  return {
    id: "chatcmpl-1",
    object: "chat.completion",
    created: 1_700_000_000,
    model: options.model ?? "qwen2.5-coder:14b-instruct-q4",
    choices: [
      {
        index: 0,
        finish_reason: options.finishReason ?? (options.toolCalls ? "tool_calls" : "stop"),
        message: {
          role: "assistant",
          content: options.content ?? null,
          ...(options.toolCalls
            ? {
                tool_calls: options.toolCalls.map((call) => ({
                  id: call.id,
                  type: "function",
                  function: { name: call.name, arguments: call.arguments },
                })),
              }
            : {}),
        },
      },
    ],
    ...(usage === null
      ? {}
      : { usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } }),
  };
}

function request(messages: LlmMessage[], tools: LlmToolSpec[] = [READ_FILE, SEARCH_CODE]): LlmRequest {
  return { system: "You tune search configs.", messages, tools };
}

const ASK: LlmMessage = { role: "user", content: "Why does the title boost look low?" };

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error("rejected with a non-Error", { cause: error });
  }
  throw new Error("expected the call to fail");
}

/** The key appears nowhere in the error: message, fields, stack or cause. */
function expectNoKey(error: Error): void {
  expect(error.message).not.toContain(KEY);
  expect(inspect(error, { depth: 10, showHidden: true })).not.toContain(KEY);
  expect(JSON.stringify(error)).not.toContain(KEY);
}

function body(index: number): Record<string, unknown> {
  const recorded = server.requests[index];
  if (!recorded) throw new Error(`no request ${index}`);
  return recorded.body as Record<string, unknown>;
}

describe("openai-compatible: answers", () => {
  it("returns a plain text answer with usage, and sends the key as a bearer token", async () => {
    const { client, secretReads } = await makeClient();
    server.reply({ status: 200, json: completion({ content: "The boost is 1.2." }) });

    const response = await client.complete(request([ASK], []));

    expect(response).toEqual({
      text: "The boost is 1.2.",
      toolCalls: [],
      finishReason: "stop",
      usage: { inputTokens: 31, outputTokens: 9 },
      provider: "local",
      model: "qwen2.5-coder:14b-instruct-q4",
    });
    expect(client.provider).toBe("local");
    expect(client.model).toBe("qwen2.5-coder:14b");
    expect(secretReads).toEqual(["env:OLLAMA_KEY"]);
    expect(server.requests).toHaveLength(1);
    const [sent] = server.requests;
    expect(sent?.method).toBe("POST");
    expect(sent?.path).toBe("/v1/chat/completions");
    expect(sent?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(body(0)).toMatchObject({
      model: "qwen2.5-coder:14b",
      temperature: 0,
      messages: [
        { role: "system", content: "You tune search configs." },
        { role: "user", content: ASK.content },
      ],
    });
    expect(body(0)).not.toHaveProperty("tools");
    expect(body(0).stream).not.toBe(true);
  });

  it("records missing usage as null", async () => {
    const { client } = await makeClient();
    server.reply({ status: 200, json: completion({ content: "ok", usage: null }) });
    const response = await client.complete(request([ASK]));
    expect(response.usage).toEqual({ inputTokens: null, outputTokens: null });
  });

  it("maps the finish reason", async () => {
    const { client } = await makeClient();
    server.reply(
      { status: 200, json: completion({ content: "The boo", finishReason: "length" }) },
      { status: 200, json: completion({ content: "", finishReason: "content_filter" }) },
    );
    expect((await client.complete(request([ASK]))).finishReason).toBe("length");
    expect((await client.complete(request([ASK]))).finishReason).toBe("content-filter");
  });

  it("sends no Authorization header when the provider has no apiKeyRef", async () => {
    const { client, secretReads } = await makeClient({ apiKeyRef: undefined });
    server.reply({ status: 200, json: completion({ content: "ok" }) });
    await client.complete(request([ASK]));
    expect(secretReads).toEqual([]);
    expect(server.requests[0]?.headers).not.toHaveProperty("authorization");
  });

  it("returns tool calls, then sends the results back with the tools' schemas", async () => {
    const { client } = await makeClient();
    server.reply({
      status: 200,
      json: completion({
        content: "Let me read the config.",
        toolCalls: [
          { id: "call_a1", name: "read_file", arguments: '{"path":"config/search.json"}' },
          { id: "call_b2", name: "search_code", arguments: '{"query":"titleBoost","limit":5}' },
        ],
      }),
    });

    const first = await client.complete(request([ASK]));

    expect(first.finishReason).toBe("tool-calls");
    expect(first.text).toBe("Let me read the config.");
    expect(first.toolCalls).toEqual([
      { id: "call_a1", name: "read_file", args: { path: "config/search.json" } },
      { id: "call_b2", name: "search_code", args: { query: "titleBoost", limit: 5 } },
    ]);
    const firstTools = body(0).tools as {
      type: string;
      function: { name: string; description: string; parameters: unknown };
    }[];
    expect(firstTools).toEqual([
      {
        type: "function",
        function: {
          name: "read_file",
          description: READ_FILE.description,
          parameters: READ_FILE.inputSchema,
        },
      },
      {
        type: "function",
        function: {
          name: "search_code",
          description: SEARCH_CODE.description,
          parameters: SEARCH_CODE.inputSchema,
        },
      },
    ]);

    server.reply({ status: 200, json: completion({ content: "Raise it to 2.0." }) });
    const followUp: LlmMessage[] = [
      ASK,
      { role: "assistant", content: first.text, toolCalls: first.toolCalls },
      {
        role: "tool",
        toolCallId: "call_a1",
        toolName: "read_file",
        result: { titleBoost: 1.2 },
        isError: false,
      },
      {
        role: "tool",
        toolCallId: "call_b2",
        toolName: "search_code",
        result: "search index is offline",
        isError: true,
      },
    ];
    const second = await client.complete(request(followUp));

    expect(second.text).toBe("Raise it to 2.0.");
    const messages = body(1).messages as Record<string, unknown>[];
    expect(messages).toHaveLength(5);
    expect(messages[0]).toEqual({ role: "system", content: "You tune search configs." });
    expect(messages[1]).toEqual({ role: "user", content: ASK.content });
    expect(messages[2]).toMatchObject({ role: "assistant", content: "Let me read the config." });
    const sentCalls = messages[2]?.tool_calls as {
      id: string;
      type: string;
      function: { name: string; arguments: string };
    }[];
    expect(
      sentCalls.map((call) => ({
        ...call,
        function: { ...call.function, arguments: JSON.parse(call.function.arguments) as unknown },
      })),
    ).toEqual([
      {
        id: "call_a1",
        type: "function",
        function: { name: "read_file", arguments: { path: "config/search.json" } },
      },
      {
        id: "call_b2",
        type: "function",
        function: { name: "search_code", arguments: { query: "titleBoost", limit: 5 } },
      },
    ]);
    expect(messages[3]).toMatchObject({ role: "tool", tool_call_id: "call_a1" });
    expect(JSON.parse(messages[3]?.content as string)).toEqual({ titleBoost: 1.2 });
    expect(messages[4]).toMatchObject({
      role: "tool",
      tool_call_id: "call_b2",
      content: "search index is offline",
    });
    expect((body(1).tools as unknown[]).length).toBe(2);
  });
});

describe("openai-compatible: failures", () => {
  it("429 with retry-after → LlmRateLimited after the configured retries", async () => {
    const { client } = await makeClient({ maxRetries: 2 });
    const limited = (seconds: string) => ({
      status: 429,
      json: { error: { message: "Rate limit reached", type: "rate_limit_exceeded" } },
      headers: { "retry-after": seconds },
    });
    server.reply(limited("0"), limited("0"), limited("7"));

    const error = await failure(client.complete(request([ASK])));

    expect(error).toBeInstanceOf(LlmRateLimited);
    const limitedError = error as LlmRateLimited;
    expect(limitedError.code).toBe("LLM_RATE_LIMITED");
    expect(limitedError.transient).toBe(true);
    expect(limitedError.retryAfterSeconds).toBe(7);
    expect(limitedError.provider).toBe("local");
    expect(limitedError.model).toBe("qwen2.5-coder:14b");
    expect(error.message).toContain("429");
    expect(server.requests).toHaveLength(3);
    expectNoKey(error);
  });

  it("429 without retry-after → retryAfterSeconds null", async () => {
    const { client } = await makeClient({ maxRetries: 0 });
    server.reply({ status: 429, json: { error: { message: "slow down" } } });
    const error = await failure(client.complete(request([ASK])));
    expect(error).toBeInstanceOf(LlmRateLimited);
    expect((error as LlmRateLimited).retryAfterSeconds).toBeNull();
    expect(server.requests).toHaveLength(1);
  });

  it("500 → LlmUnavailable after the configured retries", async () => {
    // No retry-after: the SDK backs off 2 s before its one retry.
    const { client } = await makeClient({ maxRetries: 1 });
    server.reply(
      { status: 500, json: { error: { message: "model crashed" } } },
      { status: 500, json: { error: { message: "model crashed" } } },
    );
    const error = await failure(client.complete(request([ASK])));
    expect(error).toBeInstanceOf(LlmUnavailable);
    expect((error as LlmUnavailable).status).toBe(500);
    expect((error as LlmUnavailable).transient).toBe(true);
    expect(error.message).toContain("500");
    expect(server.requests).toHaveLength(2);
    expectNoKey(error);
  });

  it("502 with an HTML body → LlmUnavailable after the configured retries", async () => {
    const { client } = await makeClient({ maxRetries: 2 });
    const bad = {
      status: 502,
      text: "<html>Bad Gateway</html>",
      contentType: "text/html",
      headers: { "retry-after": "0" },
    };
    server.reply(bad, bad, bad);
    const error = await failure(client.complete(request([ASK])));
    expect(error).toBeInstanceOf(LlmUnavailable);
    expect((error as LlmUnavailable).status).toBe(502);
    expect(server.requests).toHaveLength(3);
  });

  it("a refused connection → LlmUnavailable with no status", async () => {
    const closed = await LlmTestServer.start();
    const url = closed.url;
    await closed.close();
    const { client } = await makeClient({ baseUrl: `${url}/v1`, maxRetries: 0 });
    const error = await failure(client.complete(request([ASK])));
    expect(error).toBeInstanceOf(LlmUnavailable);
    expect((error as LlmUnavailable).status).toBeNull();
    expect(error.message).toContain("cannot reach");
    expectNoKey(error);
  });

  it.each([401, 403])("%i → LlmRejected at once, naming the status but never the key", async (status) => {
    const { client } = await makeClient({ maxRetries: 2 });
    // Some servers echo what they were sent; the message must still not carry the key.
    server.reply({
      status,
      json: {
        error: { message: `Incorrect API key provided: ${KEY} (header Authorization: Bearer ${KEY})` },
      },
    });
    const error = await failure(client.complete(request([ASK])));
    expect(error).toBeInstanceOf(LlmRejected);
    expect((error as LlmRejected).status).toBe(status);
    expect((error as LlmRejected).transient).toBe(false);
    expect((error as LlmRejected).code).toBe("LLM_REJECTED");
    expect(error.message).toContain(String(status));
    expect(error.message).toContain("Incorrect API key provided");
    expect(server.requests).toHaveLength(1);
    expectNoKey(error);
  });

  it("a server that never answers → LlmTimeout after the request timeout", async () => {
    const { client } = await makeClient({ requestTimeoutSeconds: 1, maxRetries: 2 });
    server.reply({ hang: true });
    const error = await failure(client.complete(request([ASK])));
    expect(error).toBeInstanceOf(LlmTimeout);
    const timeout = error as LlmTimeout;
    expect(timeout.code).toBe("LLM_TIMEOUT");
    expect(timeout.transient).toBe(true);
    expect(timeout.timeoutMs).toBe(1000);
    expect(timeout.elapsedMs).toBeGreaterThan(0);
    expect(timeout.provider).toBe("local");
    expect(server.requests).toHaveLength(1);
    expectNoKey(error);
  });

  it("the timeout covers the waits between retries", async () => {
    // A 500 without retry-after makes the SDK wait 2 s before retrying: the 1 s deadline ends it.
    const { client } = await makeClient({ requestTimeoutSeconds: 1, maxRetries: 2 });
    server.reply({ status: 500, json: { error: { message: "overloaded" } } });
    const error = await failure(client.complete(request([ASK])));
    expect(error).toBeInstanceOf(LlmTimeout);
    expect(server.requests).toHaveLength(1);
  });

  it("the deadline holds even when the transport ignores the abort signal", async () => {
    const config = parseLlmConfig(
      {
        providers: {
          local: { kind: "openai-compatible", baseUrl: `${server.url}/v1`, requestTimeoutSeconds: 1 },
        },
        models: { workhorse: { provider: "local", model: "qwen2.5-coder:14b" } },
      },
      "/nonexistent",
    );
    let calls = 0;
    const client = await createLlmClient(config, "workhorse", {
      readSecret: () => Promise.reject(new Error("no key configured")),
      // A fetch that never settles, whatever its signal says.
      fetch: () => {
        calls += 1;
        return new Promise<Response>(() => undefined);
      },
    });
    const error = await failure(client.complete(request([ASK])));
    expect(error).toBeInstanceOf(LlmTimeout);
    expect(calls).toBe(1);
  });

  it("the caller's signal aborting → LlmAborted, not LlmTimeout", async () => {
    const { client } = await makeClient();
    server.reply({ hang: true });
    const controller = new AbortController();
    const pending = failure(client.complete({ ...request([ASK]), signal: controller.signal }));
    await server.waitForRequests(1);
    controller.abort();
    const error = await pending;
    expect(error).toBeInstanceOf(LlmAborted);
    expect(error).not.toBeInstanceOf(LlmError);
    expect(error.name).toBe("AbortError");
    expect((error as LlmAborted).code).toBe("LLM_ABORTED");
  });

  it("an already aborted signal sends nothing", async () => {
    const { client } = await makeClient();
    const error = await failure(client.complete({ ...request([ASK]), signal: AbortSignal.abort() }));
    expect(error).toBeInstanceOf(LlmAborted);
    expect(server.requests).toHaveLength(0);
  });

  it("invalid JSON in tool-call arguments → LlmBadResponse", async () => {
    const { client } = await makeClient();
    server.reply({
      status: 200,
      json: completion({
        toolCalls: [{ id: "call_1", name: "read_file", arguments: '{"path": "config/se' }],
      }),
    });
    const error = await failure(client.complete(request([ASK])));
    expect(error).toBeInstanceOf(LlmBadResponse);
    expect((error as LlmBadResponse).transient).toBe(false);
    expect(error.message).toContain('"read_file"');
    expect(error.message).toContain("not valid JSON");
    expectNoKey(error);
  });

  it("tool-call arguments that are not an object → LlmBadResponse", async () => {
    const { client } = await makeClient();
    server.reply({
      status: 200,
      json: completion({ toolCalls: [{ id: "call_1", name: "read_file", arguments: "[1,2]" }] }),
    });
    const error = await failure(client.complete(request([ASK])));
    expect(error).toBeInstanceOf(LlmBadResponse);
    expect(error.message).toContain("not a JSON object");
  });

  it("a call to a tool that was not offered → LlmBadResponse", async () => {
    const { client } = await makeClient();
    server.reply({
      status: 200,
      json: completion({ toolCalls: [{ id: "call_1", name: "delete_repo", arguments: "{}" }] }),
    });
    const error = await failure(client.complete(request([ASK])));
    expect(error).toBeInstanceOf(LlmBadResponse);
    expect(error.message).toContain('"delete_repo"');
    expect(error.message).toContain("not offered");
  });

  it("an answer that is not JSON → LlmBadResponse", async () => {
    const { client } = await makeClient();
    server.reply({ status: 200, text: "<html>captive portal</html>", contentType: "text/html" });
    const error = await failure(client.complete(request([ASK])));
    expect(error).toBeInstanceOf(LlmBadResponse);
    expectNoKey(error);
  });
});
