import { readFile } from "node:fs/promises";
import { LineCounter, parseDocument } from "yaml";
import { z } from "zod";
import { LlmConfigError } from "../../config/llm-schema.js";
import { LlmAborted, LlmBadResponse, type LlmErrorOrigin } from "./llm-errors.js";
import type { LlmClient, LlmMessage, LlmRequest, LlmResponse, LlmToolCall } from "./llm-port.js";

/**
 * The `stub` provider (SPEC C6): replays a scripted conversation, for tests and offline demos.
 *
 * Stateless on purpose: the step to play is the number of assistant messages already in the
 * request, so a session resumed after a crash (or replayed from its stored messages) plays the
 * same step again instead of skipping one. Step numbers count from 1, as in the file.
 */

export interface StubToolCall {
  name: string;
  args: Record<string, unknown>;
}

export interface StubStep {
  text: string;
  toolCalls: StubToolCall[];
  /** The newest user message must contain this text; null when the step does not care. */
  expectUser: string | null;
}

export interface StubScript {
  /** Where the script came from, for messages. */
  file: string;
  steps: StubStep[];
}

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

const stepSchema = z
  .strictObject({
    text: z.string().optional(),
    tool_calls: z
      .array(
        z.strictObject({
          name: z.string().regex(TOOL_NAME, "a tool name is 1-64 letters, digits, _ or -"),
          args: z.record(z.string(), z.unknown()).optional(),
        }),
      )
      .optional(),
    expect_user: z.string().min(1, "must not be empty").optional(),
  })
  .refine((step) => step.text !== undefined || (step.tool_calls?.length ?? 0) > 0, {
    message: "a step needs text and/or tool_calls",
  });

const scriptSchema = z.strictObject({
  steps: z.array(stepSchema).min(1, "the script needs at least one step"),
});

function fail(message: string): never {
  throw new LlmConfigError(`invalid stub script: ${message}`);
}

function valueAt(data: unknown, keyPath: readonly PropertyKey[]): unknown {
  let node = data;
  for (const key of keyPath) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

/** Parses and validates a stub script; errors read `file:line: step N: message`. */
export function parseStubScript(text: string, file: string): StubScript {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const syntaxError = document.errors[0];
  if (syntaxError) {
    const pos = lineCounter.linePos(syntaxError.pos[0]);
    fail(`${file}:${pos.line}:${pos.col}: ${syntaxError.message.split("\n")[0] ?? ""}`);
  }
  const data: unknown = document.toJS();
  const parsed = scriptSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (!issue) fail(`${file}: not a valid script`);
    const keyPath = issue.path;
    // The deepest node that exists in the file gives the line (an unknown key's own value first).
    const lookup = issue.code === "unrecognized_keys" ? [...keyPath, ...issue.keys.slice(0, 1)] : keyPath;
    let line: number | null = null;
    for (let depth = lookup.length; depth >= 0 && line === null; depth -= 1) {
      const node = document.getIn(lookup.slice(0, depth), true) as
        { range?: [number, number, number] } | undefined;
      if (node?.range) line = lineCounter.linePos(node.range[0]).line;
    }
    const where = line === null ? file : `${file}:${line}`;
    const step = keyPath[0] === "steps" && typeof keyPath[1] === "number" ? `step ${keyPath[1] + 1}: ` : "";
    const field = keyPath.slice(2).map(String).join(".");
    let message = issue.message;
    if (issue.code === "unrecognized_keys") {
      message = `unknown key ${issue.keys.map((key) => JSON.stringify(key)).join(", ")}`;
    } else if (issue.code === "invalid_type" && valueAt(data, keyPath) === undefined) {
      message = `${JSON.stringify(String(keyPath.at(-1) ?? ""))} is missing`;
    }
    fail(`${where}: ${step}${field === "" ? "" : `${field}: `}${message}`);
  }
  return {
    file,
    steps: parsed.data.steps.map((step) => ({
      text: step.text ?? "",
      toolCalls: (step.tool_calls ?? []).map((call) => ({ name: call.name, args: call.args ?? {} })),
      expectUser: step.expect_user ?? null,
    })),
  };
}

export async function loadStubScript(file: string): Promise<StubScript> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : "cannot be read";
    fail(`${file}: ${reason}`);
  }
  return parseStubScript(text, file);
}

function words(text: string): number {
  return text.split(/\s+/).filter((word) => word !== "").length;
}

function messageWords(message: LlmMessage): number {
  switch (message.role) {
    case "user":
      return words(message.content);
    case "assistant":
      return (
        words(message.content) +
        message.toolCalls.reduce((sum, call) => sum + words(JSON.stringify(call.args) ?? ""), 0)
      );
    case "tool":
      return words(
        typeof message.result === "string" ? message.result : (JSON.stringify(message.result) ?? ""),
      );
  }
}

export interface StubClientOptions {
  /** The provider's name in shepherd.yaml. */
  provider: string;
  /** The model id configured for it (free text for a stub). */
  model: string;
  script: StubScript;
}

export function createStubClient(options: StubClientOptions): LlmClient {
  const { provider, model, script } = options;
  const origin: LlmErrorOrigin = { provider, model };
  const who = `${provider}/${model}`;

  return {
    provider,
    model,
    async complete(request: LlmRequest): Promise<LlmResponse> {
      if (request.signal?.aborted) throw new LlmAborted(origin, request.signal.reason);
      const number = request.messages.filter((message) => message.role === "assistant").length + 1;
      const step = script.steps[number - 1];
      if (!step) {
        throw new LlmBadResponse(
          origin,
          `${who}: the stub script has no step ${number} (${script.file} has ${script.steps.length})`,
        );
      }
      if (step.expectUser !== null) {
        const newest = request.messages.findLast((message) => message.role === "user");
        if (!newest?.content.includes(step.expectUser)) {
          throw new LlmBadResponse(
            origin,
            `${who}: step ${number} of ${script.file} expects the newest user message to contain ${JSON.stringify(step.expectUser)}`,
          );
        }
      }
      const offered = new Set(request.tools.map((spec) => spec.name));
      const toolCalls: LlmToolCall[] = step.toolCalls.map((call, index) => {
        if (!offered.has(call.name)) {
          throw new LlmBadResponse(
            origin,
            `${who}: step ${number} of ${script.file} calls "${call.name}", a tool it was not offered`,
          );
        }
        return { id: `stub-${number}-${index + 1}`, name: call.name, args: structuredClone(call.args) };
      });
      const inputTokens =
        words(request.system) + request.messages.reduce((sum, m) => sum + messageWords(m), 0);
      const outputTokens =
        words(step.text) + toolCalls.reduce((sum, call) => sum + words(JSON.stringify(call.args)), 0);
      return {
        text: step.text,
        toolCalls,
        finishReason: toolCalls.length > 0 ? "tool-calls" : "stop",
        usage: { inputTokens, outputTokens },
        provider,
        model,
      };
    },
  };
}
