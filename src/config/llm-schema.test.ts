import path from "node:path";
import { describe, expect, it } from "vitest";
import { LlmConfigError, parseLlmConfig, type LlmConfigIssue } from "./llm-schema.js";

const BASE = path.resolve("/etc/shepherd");

const EXAMPLE = {
  default: "workhorse",
  providers: {
    local: {
      kind: "openai-compatible",
      baseUrl: "http://127.0.0.1:11434/v1",
      apiKeyRef: "env:OLLAMA_KEY",
      requestTimeoutSeconds: 120,
      maxRetries: 2,
    },
    openai: { kind: "openai", apiKeyRef: "file:openai-key" },
    claude: { kind: "anthropic", apiKeyRef: "env:ANTHROPIC_API_KEY" },
    azure: { kind: "azure", resourceName: "my-res", apiKeyRef: "env:AZURE_KEY", apiVersion: "2024-10-21" },
    script: { kind: "stub", script: "./stub/config-tuner.yaml" },
  },
  models: {
    workhorse: { provider: "local", model: "qwen2.5-coder:14b", temperature: 0 },
    offline: { provider: "script", model: "replay" },
  },
};

function issues(raw: unknown): LlmConfigIssue[] {
  try {
    parseLlmConfig(raw, BASE);
  } catch (error) {
    if (error instanceof LlmConfigError) return error.issues;
    throw error;
  }
  throw new Error("expected the configuration to be rejected");
}

function withProvider(provider: Record<string, unknown>): unknown {
  return { providers: { p: provider }, models: { m: { provider: "p", model: "x" } } };
}

describe("llm config: the documented example", () => {
  it("parses, applies defaults and resolves the stub script against the config's directory", () => {
    const config = parseLlmConfig(EXAMPLE, BASE);
    expect(config.default).toBe("workhorse");
    expect(Object.fromEntries(config.providers)).toEqual({
      local: {
        kind: "openai-compatible",
        name: "local",
        baseUrl: "http://127.0.0.1:11434/v1",
        apiKeyRef: "env:OLLAMA_KEY",
        requestTimeoutSeconds: 120,
        maxRetries: 2,
      },
      openai: {
        kind: "openai",
        name: "openai",
        baseUrl: null,
        apiKeyRef: "file:openai-key",
        requestTimeoutSeconds: 120,
        maxRetries: 2,
      },
      claude: {
        kind: "anthropic",
        name: "claude",
        baseUrl: null,
        apiKeyRef: "env:ANTHROPIC_API_KEY",
        requestTimeoutSeconds: 120,
        maxRetries: 2,
      },
      azure: {
        kind: "azure",
        name: "azure",
        resourceName: "my-res",
        baseUrl: null,
        apiKeyRef: "env:AZURE_KEY",
        apiVersion: "2024-10-21",
        requestTimeoutSeconds: 120,
        maxRetries: 2,
      },
      script: { kind: "stub", name: "script", script: path.join(BASE, "stub", "config-tuner.yaml") },
    });
    expect(Object.fromEntries(config.models)).toEqual({
      workhorse: {
        name: "workhorse",
        provider: "local",
        model: "qwen2.5-coder:14b",
        temperature: 0,
        maxOutputTokens: null,
      },
      offline: {
        name: "offline",
        provider: "script",
        model: "replay",
        temperature: null,
        maxOutputTokens: null,
      },
    });
  });

  it("an absent section means no models", () => {
    const config = parseLlmConfig(undefined, BASE);
    expect(config.default).toBeNull();
    expect(config.models.size).toBe(0);
  });

  it("a single model is the default without saying so", () => {
    const config = parseLlmConfig(
      withProvider({ kind: "openai-compatible", baseUrl: "http://gpu-box:8000/v1" }),
      BASE,
    );
    expect(config.default).toBe("m");
  });

  it("trailing slashes of baseUrl are dropped", () => {
    const config = parseLlmConfig(
      withProvider({ kind: "openai-compatible", baseUrl: "http://127.0.0.1:8000/v1/" }),
      BASE,
    );
    expect(config.providers.get("p")).toMatchObject({ baseUrl: "http://127.0.0.1:8000/v1" });
  });
});

describe("llm config: rejected", () => {
  it.each([
    ["openai", { kind: "openai" }],
    ["anthropic", { kind: "anthropic" }],
    ["azure", { kind: "azure", resourceName: "r" }],
  ])("%s without apiKeyRef", (_kind, provider) => {
    expect(issues(withProvider(provider))).toContainEqual(
      expect.objectContaining({ path: "llm.providers.p.apiKeyRef" }),
    );
  });

  it("an unknown kind names the known ones", () => {
    expect(issues(withProvider({ kind: "gemini", apiKeyRef: "env:K" }))).toContainEqual({
      path: "llm.providers.p.kind",
      message: "kind must be one of openai-compatible, openai, anthropic, azure, stub",
    });
  });

  it("unknown keys, with their path", () => {
    expect(issues(withProvider({ kind: "stub", script: "s.yaml", maxRetries: 1 }))).toContainEqual({
      path: "llm.providers.p.maxRetries",
      message: "unknown key",
    });
    expect(issues({ ...EXAMPLE, model: {} })).toContainEqual({ path: "llm.model", message: "unknown key" });
  });

  it.each([
    ["requestTimeoutSeconds", 601],
    ["requestTimeoutSeconds", 0],
    ["requestTimeoutSeconds", 1.5],
    ["maxRetries", -1],
    ["maxRetries", 11],
  ])("%s: %s", (key, value) => {
    expect(
      issues(withProvider({ kind: "openai-compatible", baseUrl: "http://127.0.0.1/v1", [key]: value })),
    ).toContainEqual(expect.objectContaining({ path: `llm.providers.p.${key}` }));
  });

  it("a model naming an unknown provider lists the configured ones", () => {
    const raw = { ...EXAMPLE, models: { ...EXAMPLE.models, extra: { provider: "groq", model: "x" } } };
    expect(issues(raw)).toContainEqual({
      path: "llm.models.extra.provider",
      message:
        'no provider named "groq" under llm.providers (configured: local, openai, claude, azure, script)',
    });
  });

  it("an unknown default lists the configured models", () => {
    expect(issues({ ...EXAMPLE, default: "fast" })).toContainEqual({
      path: "llm.default",
      message: 'no model named "fast" under llm.models (configured: workhorse, offline)',
    });
  });

  it("several models and no default", () => {
    const { default: _omitted, ...raw } = EXAMPLE;
    expect(issues(raw)).toContainEqual({
      path: "llm.default",
      message: "name the default model, one of: workhorse, offline",
    });
  });

  it('a model named "default"', () => {
    const raw = { ...EXAMPLE, models: { ...EXAMPLE.models, default: { provider: "local", model: "x" } } };
    expect(issues(raw)).toContainEqual(expect.objectContaining({ path: "llm.models.default" }));
  });

  it("azure needs exactly one of resourceName and baseUrl", () => {
    expect(issues(withProvider({ kind: "azure", apiKeyRef: "env:K" }))).toContainEqual({
      path: "llm.providers.p",
      message: "give exactly one of resourceName or baseUrl",
    });
    expect(
      issues(
        withProvider({
          kind: "azure",
          apiKeyRef: "env:K",
          resourceName: "r",
          baseUrl: "https://gw.example/openai",
        }),
      ),
    ).toContainEqual(expect.objectContaining({ path: "llm.providers.p" }));
  });

  it("a bad azure apiVersion or resourceName", () => {
    expect(
      issues(withProvider({ kind: "azure", apiKeyRef: "env:K", resourceName: "r", apiVersion: "latest" })),
    ).toContainEqual(expect.objectContaining({ path: "llm.providers.p.apiVersion" }));
    expect(issues(withProvider({ kind: "azure", apiKeyRef: "env:K", resourceName: "a.b" }))).toContainEqual(
      expect.objectContaining({ path: "llm.providers.p.resourceName" }),
    );
  });

  it("a key over plain http to a host that is not loopback", () => {
    expect(
      issues(
        withProvider({ kind: "openai-compatible", baseUrl: "http://gpu-box:8000/v1", apiKeyRef: "env:K" }),
      ),
    ).toContainEqual({
      path: "llm.providers.p.baseUrl",
      message:
        "an API key is sent only over https (plain http only to a loopback host); use https://gpu-box:8000",
    });
    // Without a key, or to loopback, or over https: fine.
    expect(() =>
      parseLlmConfig(
        withProvider({ kind: "openai-compatible", baseUrl: "http://localhost:8000/v1", apiKeyRef: "env:K" }),
        BASE,
      ),
    ).not.toThrow();
    expect(() =>
      parseLlmConfig(
        withProvider({ kind: "anthropic", baseUrl: "https://proxy.example/v1", apiKeyRef: "env:K" }),
        BASE,
      ),
    ).not.toThrow();
  });

  it("a baseUrl that is not an http(s) URL", () => {
    expect(issues(withProvider({ kind: "openai-compatible", baseUrl: "ftp://x/v1" }))).toContainEqual({
      path: "llm.providers.p.baseUrl",
      message: "must be an http(s) URL",
    });
  });

  it("an apiKeyRef that is not a secret ref", () => {
    expect(issues(withProvider({ kind: "openai", apiKeyRef: "sk-live-abc" }))).toContainEqual({
      path: "llm.providers.p.apiKeyRef",
      message: '"sk-live-abc" is not a secret ref; use file:<name> or env:<VAR>',
    });
    expect(issues(withProvider({ kind: "openai", apiKeyRef: "file:../outside" }))).toContainEqual(
      expect.objectContaining({ path: "llm.providers.p.apiKeyRef" }),
    );
  });

  it("names with upper case or dots", () => {
    expect(issues({ providers: {}, models: { "Big.Model": { provider: "p", model: "x" } } })).toContainEqual(
      expect.objectContaining({ path: "llm.models.Big.Model" }),
    );
  });

  it("a temperature out of range and an empty model id", () => {
    const raw = withProvider({ kind: "openai-compatible", baseUrl: "http://127.0.0.1/v1" }) as {
      models: { m: object };
    };
    raw.models.m = { provider: "p", model: " ", temperature: 3 };
    const found = issues(raw).map((issue) => issue.path);
    expect(found).toContain("llm.models.m.model");
    expect(found).toContain("llm.models.m.temperature");
  });
});
