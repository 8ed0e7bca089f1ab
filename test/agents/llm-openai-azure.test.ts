import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLlmClient } from "../../src/agents/llm/create-llm-client.js";
import { LlmRejected } from "../../src/agents/llm/llm-errors.js";
import type { LlmClient } from "../../src/agents/llm/llm-port.js";
import { parseLlmConfig } from "../../src/config/llm-schema.js";
import { LlmTestServer } from "./llm-test-server.js";

/**
 * `kind: openai` and `kind: azure` pointed at a local endpoint through `baseUrl`: the wiring
 * (path, auth header, API version) of each SDK provider, over the Chat Completions shape.
 */

const KEY = "sk-proj-1a2b3c4d5e6f7a8b";

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

async function makeClient(provider: Record<string, unknown>, model: string): Promise<LlmClient> {
  const config = parseLlmConfig(
    {
      providers: { remote: { apiKeyRef: "file:llm-key", maxRetries: 0, ...provider } },
      models: { main: { provider: "remote", model } },
    },
    "/nonexistent",
  );
  return createLlmClient(config, "main", { readSecret: async () => KEY });
}

const ANSWER = {
  id: "chatcmpl-9",
  object: "chat.completion",
  created: 1_700_000_000,
  model: "gpt-4.1-2025-04-14",
  choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: "Done." } }],
  usage: { prompt_tokens: 11, completion_tokens: 2, total_tokens: 13 },
};

describe("openai", () => {
  it("calls Chat Completions under baseUrl with a bearer key", async () => {
    const client = await makeClient({ kind: "openai", baseUrl: `${server.url}/v1` }, "gpt-4.1");
    server.reply({ status: 200, json: ANSWER });

    const response = await client.complete({
      system: "Be brief.",
      messages: [{ role: "user", content: "Hi" }],
      tools: [],
    });

    expect(response.text).toBe("Done.");
    expect(response.usage).toEqual({ inputTokens: 11, outputTokens: 2 });
    expect(response.provider).toBe("remote");
    const [sent] = server.requests;
    expect(sent?.path).toBe("/v1/chat/completions");
    expect(sent?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(sent?.body).toMatchObject({
      model: "gpt-4.1",
      messages: [{ content: "Be brief." }, { role: "user", content: "Hi" }],
    });
  });

  it("maps a 404 (unknown model) to LlmRejected", async () => {
    const client = await makeClient({ kind: "openai", baseUrl: `${server.url}/v1` }, "gpt-nope");
    server.reply({
      status: 404,
      json: { error: { message: "The model `gpt-nope` does not exist", code: "model_not_found" } },
    });
    const error = await client
      .complete({ system: "", messages: [{ role: "user", content: "Hi" }], tools: [] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmRejected);
    expect((error as LlmRejected).status).toBe(404);
    expect((error as Error).message).toContain("does not exist");
  });
});

describe("azure", () => {
  it("a dated apiVersion uses the deployment URL and the api-key header", async () => {
    const client = await makeClient(
      { kind: "azure", baseUrl: `${server.url}/openai`, apiVersion: "2024-10-21" },
      "gpt4o-prod",
    );
    server.reply({ status: 200, json: ANSWER });

    const response = await client.complete({
      system: "",
      messages: [{ role: "user", content: "Hi" }],
      tools: [],
    });

    expect(response.text).toBe("Done.");
    const [sent] = server.requests;
    expect(sent?.path).toBe("/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21");
    expect(sent?.headers["api-key"]).toBe(KEY);
    expect(sent?.headers).not.toHaveProperty("authorization");
  });

  it("the default v1 API takes the deployment name as the model", async () => {
    const client = await makeClient({ kind: "azure", baseUrl: `${server.url}/openai/v1` }, "gpt4o-prod");
    server.reply({ status: 200, json: ANSWER });

    await client.complete({ system: "", messages: [{ role: "user", content: "Hi" }], tools: [] });

    const [sent] = server.requests;
    expect(sent?.path).toBe("/openai/v1/chat/completions");
    expect(sent?.body).toMatchObject({ model: "gpt4o-prod" });
    expect(sent?.headers["api-key"]).toBe(KEY);
  });
});
