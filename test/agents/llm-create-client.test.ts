import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLlmClient } from "../../src/agents/llm/create-llm-client.js";
import { LlmConfigError, parseLlmConfig, type LlmConfig } from "../../src/config/llm-schema.js";
import { LlmTestServer } from "./llm-test-server.js";

/** Choosing the model, reading the key once, and the errors of a client that cannot be made. */

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

function config(): LlmConfig {
  return parseLlmConfig(
    {
      default: "workhorse",
      providers: {
        local: { kind: "openai-compatible", baseUrl: `${server.url}/v1`, apiKeyRef: "env:OLLAMA_KEY" },
        other: { kind: "openai-compatible", baseUrl: `${server.url}/other/v1` },
      },
      models: {
        workhorse: { provider: "local", model: "qwen2.5-coder:14b" },
        small: { provider: "other", model: "llama3.2:3b" },
      },
    },
    "/nonexistent",
  );
}

const ANSWER = {
  id: "c",
  object: "chat.completion",
  created: 1,
  model: "m",
  choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: "ok" } }],
};

describe("createLlmClient", () => {
  it("an unknown model names the configured ones", async () => {
    const error = await createLlmClient(config(), "gpt-5", { readSecret: async () => "k" }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LlmConfigError);
    expect((error as Error).message).toBe(
      'unknown LLM model "gpt-5": configured models are workhorse, small',
    );
  });

  it("a name that is a prototype key is just unknown", async () => {
    const error = await createLlmClient(config(), "constructor", { readSecret: async () => "k" }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LlmConfigError);
  });

  it('"default" means llm.default', async () => {
    const client = await createLlmClient(config(), "default", { readSecret: async () => "key-123456" });
    expect(client.provider).toBe("local");
    expect(client.model).toBe("qwen2.5-coder:14b");
  });

  it('"default" with no model configured is a clear error', async () => {
    const empty = parseLlmConfig({}, "/nonexistent");
    await expect(createLlmClient(empty, "default", { readSecret: async () => "k" })).rejects.toThrow(
      "no LLM model is configured",
    );
  });

  it("reads the key once, when the client is made, and uses the deps' fetch", async () => {
    const reads: string[] = [];
    const fetched: string[] = [];
    const client = await createLlmClient(config(), "workhorse", {
      readSecret: async (ref) => {
        reads.push(ref);
        return "key-abcdef-123";
      },
      fetch: (input, init) => {
        fetched.push(String(input instanceof Request ? input.url : input));
        return fetch(input, init);
      },
    });
    expect(reads).toEqual(["env:OLLAMA_KEY"]);
    server.reply({ status: 200, json: ANSWER }, { status: 200, json: ANSWER });
    await client.complete({ system: "", messages: [{ role: "user", content: "a" }], tools: [] });
    await client.complete({ system: "", messages: [{ role: "user", content: "b" }], tools: [] });
    expect(reads).toEqual(["env:OLLAMA_KEY"]);
    expect(fetched).toEqual([`${server.url}/v1/chat/completions`, `${server.url}/v1/chat/completions`]);
  });

  it("a secret that cannot be read fails the creation with the reader's error", async () => {
    const error = await createLlmClient(config(), "workhorse", {
      readSecret: () => Promise.reject(new Error("environment variable OLLAMA_KEY is not set")),
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe("environment variable OLLAMA_KEY is not set");
  });

  it("each model gets its own provider", async () => {
    const client = await createLlmClient(config(), "small", { readSecret: async () => "unused" });
    server.reply({ status: 200, json: ANSWER });
    await client.complete({ system: "", messages: [{ role: "user", content: "a" }], tools: [] });
    expect(server.requests[0]?.path).toBe("/other/v1/chat/completions");
    expect(server.requests[0]?.body).toMatchObject({ model: "llama3.2:3b" });
  });
});
