import path from "node:path";
import { z } from "zod";
import { isLoopbackHost } from "./github-urls.js";
import { parseSecretRef, SecretRefError } from "./secret-ref.js";

/**
 * `llm:` of `shepherd.yaml` (SPEC C6): named providers (where and how to call) and named models
 * (which provider, which model id, which sampling settings). Skill packs name models, never
 * providers. camelCase like `observer:`.
 *
 * load-config.ts validates the section with `llmSchema` (positions of issues come from there) and
 * then calls `resolveLlmConfig` for the checks across keys, defaults and paths.
 */

export const LLM_PROVIDER_KINDS = ["openai-compatible", "openai", "anthropic", "azure", "stub"] as const;
export type LlmProviderKind = (typeof LLM_PROVIDER_KINDS)[number];

export const LLM_DEFAULTS = {
  requestTimeoutSeconds: 120,
  maxRetries: 2,
  azureApiVersion: "v1",
} as const;

/** What a skill pack writes for "the operator's default model"; no model may take the name. */
export const DEFAULT_MODEL_NAME = "default";

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const name = z.string().regex(NAME, "names are lower-case letters, digits, - and _ (at most 63)");
const nonEmpty = z.string().trim().min(1, "must not be empty");
const url = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });
const secretRef = nonEmpty.max(300);

const callSettings = {
  /** Covers the whole call: every attempt and the waits between them. */
  requestTimeoutSeconds: z.number().int().min(1).max(600).optional(),
  /** Retries of 429, 5xx and connection errors (0 = one attempt only). */
  maxRetries: z.number().int().min(0).max(10).optional(),
};

const providerSchema = z.discriminatedUnion(
  "kind",
  [
    z.strictObject({
      kind: z.literal("openai-compatible"),
      /** The API root, e.g. `http://127.0.0.1:11434/v1` (Ollama); `/chat/completions` is appended. */
      baseUrl: url,
      /** Optional: local servers often need no key. */
      apiKeyRef: secretRef.optional(),
      ...callSettings,
    }),
    z.strictObject({
      kind: z.literal("openai"),
      baseUrl: url.optional(),
      apiKeyRef: secretRef,
      ...callSettings,
    }),
    z.strictObject({
      kind: z.literal("anthropic"),
      /** Default `https://api.anthropic.com/v1`; `/messages` is appended. */
      baseUrl: url.optional(),
      apiKeyRef: secretRef,
      ...callSettings,
    }),
    z.strictObject({
      kind: z.literal("azure"),
      /** `https://<resourceName>.openai.azure.com`; give this or `baseUrl`. */
      resourceName: z
        .string()
        .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i, "must be an Azure resource name (a DNS label)")
        .optional(),
      baseUrl: url.optional(),
      apiKeyRef: secretRef,
      /** `v1` (default), `preview`, or a dated version like `2024-10-21` (deployment URLs). */
      apiVersion: z
        .string()
        .regex(
          /^(v1|preview|\d{4}-\d{2}-\d{2}(-preview)?)$/,
          'must be "v1", "preview" or a date like 2024-10-21',
        )
        .optional(),
      ...callSettings,
    }),
    z.strictObject({
      kind: z.literal("stub"),
      /** A YAML script of replies, relative to the config file's directory. */
      script: nonEmpty,
    }),
  ],
  { error: `kind must be one of ${LLM_PROVIDER_KINDS.join(", ")}` },
);

const modelSchema = z.strictObject({
  /** A name under `llm.providers`. */
  provider: name,
  /** The provider-side model id (an Azure deployment name for `azure`). */
  model: nonEmpty.max(200),
  temperature: z.number().min(0).max(2).optional(),
  maxOutputTokens: z.number().int().min(1).max(1_000_000).optional(),
});

export const llmSchema = z.strictObject({
  /** A model name under `models`; may be left out when there is exactly one model. */
  default: name.optional(),
  providers: z.record(name, providerSchema).optional(),
  models: z.record(name, modelSchema).optional(),
});
export type LlmConfigInput = z.infer<typeof llmSchema>;

interface CallSettings {
  requestTimeoutSeconds: number;
  maxRetries: number;
}

export type LlmProviderConfig =
  | ({ kind: "openai-compatible"; name: string; baseUrl: string; apiKeyRef: string | null } & CallSettings)
  | ({ kind: "openai"; name: string; baseUrl: string | null; apiKeyRef: string } & CallSettings)
  | ({ kind: "anthropic"; name: string; baseUrl: string | null; apiKeyRef: string } & CallSettings)
  | ({
      kind: "azure";
      name: string;
      resourceName: string | null;
      baseUrl: string | null;
      apiKeyRef: string;
      apiVersion: string;
    } & CallSettings)
  | { kind: "stub"; name: string; /** Absolute. */ script: string };

export interface LlmModelConfig {
  name: string;
  /** A key of `LlmConfig.providers`. */
  provider: string;
  model: string;
  temperature: number | null;
  maxOutputTokens: number | null;
}

/** Maps, not objects: a name from outside (a skill pack's `model`) never meets a prototype key. */
export interface LlmConfig {
  /** The model used when a skill pack names `default` (or none); null when no model is configured. */
  default: string | null;
  providers: Map<string, LlmProviderConfig>;
  models: Map<string, LlmModelConfig>;
}

export const EMPTY_LLM_CONFIG: LlmConfig = { default: null, providers: new Map(), models: new Map() };

type Fail = (keyPath: string[], message: string) => void;

function listOf(names: Iterable<string>): string {
  const all = [...names];
  return all.length === 0 ? "none" : all.join(", ");
}

function resolveProvider(
  providerName: string,
  input: z.infer<typeof providerSchema>,
  baseDir: string,
  fail: Fail,
): LlmProviderConfig {
  const at = ["llm", "providers", providerName];
  if (input.kind === "stub") {
    return { kind: "stub", name: providerName, script: path.resolve(baseDir, input.script) };
  }
  const settings: CallSettings = {
    requestTimeoutSeconds: input.requestTimeoutSeconds ?? LLM_DEFAULTS.requestTimeoutSeconds,
    maxRetries: input.maxRetries ?? LLM_DEFAULTS.maxRetries,
  };
  if (input.apiKeyRef !== undefined) {
    try {
      parseSecretRef(input.apiKeyRef);
    } catch (error) {
      if (!(error instanceof SecretRefError)) throw error;
      fail([...at, "apiKeyRef"], error.message);
    }
    // The key travels in a header: never in clear text beyond this machine.
    if (input.baseUrl !== undefined) {
      const target = new URL(input.baseUrl);
      if (target.protocol === "http:" && !isLoopbackHost(target.hostname)) {
        fail(
          [...at, "baseUrl"],
          `an API key is sent only over https (plain http only to a loopback host); use https://${target.host}`,
        );
      }
    }
  }
  const baseUrl = input.baseUrl?.replace(/\/+$/, "") ?? null;
  switch (input.kind) {
    case "openai-compatible":
      return {
        kind: input.kind,
        name: providerName,
        baseUrl: baseUrl ?? input.baseUrl,
        apiKeyRef: input.apiKeyRef ?? null,
        ...settings,
      };
    case "openai":
    case "anthropic":
      return { kind: input.kind, name: providerName, baseUrl, apiKeyRef: input.apiKeyRef, ...settings };
    case "azure":
      if ((input.resourceName === undefined) === (input.baseUrl === undefined)) {
        fail(at, "give exactly one of resourceName or baseUrl");
      }
      return {
        kind: input.kind,
        name: providerName,
        resourceName: input.resourceName ?? null,
        baseUrl,
        apiKeyRef: input.apiKeyRef,
        apiVersion: input.apiVersion ?? LLM_DEFAULTS.azureApiVersion,
        ...settings,
      };
  }
}

/**
 * Cross-key checks and defaults of a schema-valid `llm:` section. `baseDir` is the directory of
 * the config file: stub scripts are relative to it. Problems go to `fail`; the result is only
 * meaningful when `fail` was not called.
 */
export function resolveLlmConfig(input: LlmConfigInput | undefined, baseDir: string, fail: Fail): LlmConfig {
  const providers = new Map<string, LlmProviderConfig>();
  for (const [providerName, provider] of Object.entries(input?.providers ?? {})) {
    providers.set(providerName, resolveProvider(providerName, provider, baseDir, fail));
  }
  const models = new Map<string, LlmModelConfig>();
  for (const [modelName, model] of Object.entries(input?.models ?? {})) {
    const at = ["llm", "models", modelName];
    if (modelName === DEFAULT_MODEL_NAME) {
      fail(at, `"${DEFAULT_MODEL_NAME}" is reserved: skill packs use it to mean llm.default`);
    }
    if (!providers.has(model.provider)) {
      fail(
        [...at, "provider"],
        `no provider named "${model.provider}" under llm.providers (configured: ${listOf(providers.keys())})`,
      );
    }
    models.set(modelName, {
      name: modelName,
      provider: model.provider,
      model: model.model,
      temperature: model.temperature ?? null,
      maxOutputTokens: model.maxOutputTokens ?? null,
    });
  }
  let defaultModel: string | null = null;
  if (input?.default !== undefined) {
    if (models.has(input.default)) defaultModel = input.default;
    else {
      fail(
        ["llm", "default"],
        `no model named "${input.default}" under llm.models (configured: ${listOf(models.keys())})`,
      );
    }
  } else if (models.size === 1) {
    defaultModel = [...models.keys()][0] ?? null;
  } else if (models.size > 1) {
    fail(["llm", "default"], `name the default model, one of: ${listOf(models.keys())}`);
  }
  return { default: defaultModel, providers, models };
}

export interface LlmConfigIssue {
  /** Dotted key path, e.g. `llm.models.workhorse.provider`. */
  path: string;
  message: string;
}

/** `llm:` configuration that cannot be used, or a model/stub script that cannot produce a client. */
export class LlmConfigError extends Error {
  override name = "LlmConfigError";
  readonly code = "LLM_CONFIG_INVALID";
  constructor(
    message: string,
    readonly issues: LlmConfigIssue[] = [],
  ) {
    super(message);
  }
}

/**
 * Schema plus `resolveLlmConfig` in one step, for callers outside load-config.ts (tests, tools).
 * `raw` is the value of the `llm:` key (undefined when the file has none).
 */
export function parseLlmConfig(raw: unknown, baseDir: string): LlmConfig {
  const issues: LlmConfigIssue[] = [];
  const parsed = llmSchema.optional().safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const keys = issue.code === "unrecognized_keys" ? issue.keys : [null];
      for (const key of keys) {
        const keyPath = ["llm", ...issue.path.map(String), ...(key === null ? [] : [key])];
        issues.push({ path: keyPath.join("."), message: key === null ? issue.message : "unknown key" });
      }
    }
  } else {
    const config = resolveLlmConfig(parsed.data, baseDir, (keyPath, message) =>
      issues.push({ path: keyPath.join("."), message }),
    );
    if (issues.length === 0) return config;
  }
  throw new LlmConfigError(
    `invalid llm configuration: ${issues.map((issue) => `${issue.path}: ${issue.message}`).join("; ")}`,
    issues,
  );
}
