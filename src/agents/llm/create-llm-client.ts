import { createAnthropic } from "@ai-sdk/anthropic";
import { createAzure } from "@ai-sdk/azure";
import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import type { LanguageModel } from "ai";
import {
  DEFAULT_MODEL_NAME,
  LlmConfigError,
  type LlmConfig,
  type LlmProviderConfig,
} from "../../config/llm-schema.js";
import { AiSdkClient } from "./ai-sdk-client.js";
import type { LlmClient } from "./llm-port.js";
import { createStubClient, loadStubScript } from "./stub-client.js";

export interface LlmClientDeps {
  /** Resolves a secret ref (`env:…`, `file:…`) to its value; called once, when the client is made. */
  readSecret(ref: string): Promise<string>;
  /** For tests and proxies; the platform's fetch otherwise. */
  fetch?: typeof fetch;
}

type HttpProvider = Exclude<LlmProviderConfig, { kind: "stub" }>;

/** Dated Azure API versions only exist on the deployment URLs (`/deployments/<name>/…`). */
function isDatedAzureVersion(version: string): boolean {
  return /^\d{4}-\d{2}-\d{2}/.test(version);
}

function languageModel(
  provider: HttpProvider,
  modelId: string,
  apiKey: string | null,
  fetchFn: typeof fetch | undefined,
): LanguageModel {
  const common = { ...(fetchFn ? { fetch: fetchFn } : {}) };
  switch (provider.kind) {
    case "openai-compatible":
      return createOpenAICompatible({
        name: provider.name,
        baseURL: provider.baseUrl,
        ...(apiKey === null ? {} : { apiKey }),
        includeUsage: true,
        ...common,
      }).chatModel(modelId);
    case "openai":
      // Chat Completions rather than Responses: stateless (nothing stored on OpenAI's side) and
      // the same wire shape as every OpenAI-compatible server.
      return createOpenAI({
        apiKey: apiKey ?? "",
        ...(provider.baseUrl === null ? {} : { baseURL: provider.baseUrl }),
        ...common,
      }).chat(modelId);
    case "anthropic":
      return createAnthropic({
        apiKey: apiKey ?? "",
        ...(provider.baseUrl === null ? {} : { baseURL: provider.baseUrl }),
        ...common,
      }).messages(modelId);
    case "azure":
      return createAzure({
        apiKey: apiKey ?? "",
        ...(provider.resourceName === null ? {} : { resourceName: provider.resourceName }),
        ...(provider.baseUrl === null ? {} : { baseURL: provider.baseUrl }),
        apiVersion: provider.apiVersion,
        useDeploymentBasedUrls: isDatedAzureVersion(provider.apiVersion),
        ...common,
      }).chat(modelId);
  }
}

/**
 * The client for one configured model (`modelName` is a key of `llm.models`, or `default`).
 * The API key is read here, once, and handed to the SDK provider: it is never logged and never
 * part of an error message. Stub scripts are read and validated here too.
 */
export async function createLlmClient(
  config: LlmConfig,
  modelName: string,
  deps: LlmClientDeps,
): Promise<LlmClient> {
  const configured = [...config.models.keys()];
  const resolvedName = modelName === DEFAULT_MODEL_NAME ? config.default : modelName;
  if (resolvedName === null) {
    throw new LlmConfigError(
      configured.length === 0
        ? "no LLM model is configured: add one under llm.models in shepherd.yaml"
        : `no default LLM model: set llm.default to one of ${configured.join(", ")}`,
    );
  }
  const model = config.models.get(resolvedName);
  if (!model) {
    throw new LlmConfigError(
      `unknown LLM model "${resolvedName}": configured models are ${configured.length === 0 ? "none" : configured.join(", ")}`,
    );
  }
  const provider = config.providers.get(model.provider);
  if (!provider) {
    throw new LlmConfigError(
      `LLM model "${resolvedName}" names provider "${model.provider}", which is not configured`,
    );
  }
  if (provider.kind === "stub") {
    return createStubClient({
      provider: provider.name,
      model: model.model,
      script: await loadStubScript(provider.script),
    });
  }
  const apiKey = provider.apiKeyRef === null ? null : await deps.readSecret(provider.apiKeyRef);
  return new AiSdkClient({
    provider: provider.name,
    model: model.model,
    languageModel: languageModel(provider, model.model, apiKey, deps.fetch),
    requestTimeoutMs: provider.requestTimeoutSeconds * 1000,
    maxRetries: provider.maxRetries,
    temperature: model.temperature,
    maxOutputTokens: model.maxOutputTokens,
    secrets: apiKey === null ? [] : [apiKey],
  });
}
