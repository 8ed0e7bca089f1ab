import { generateText, type LanguageModel } from "ai";
import { SecretRedactor } from "../../domain/redact.js";
import { mapSdkError, safeDetail } from "./ai-sdk-errors.js";
import { toModelMessages, toToolSet } from "./ai-sdk-messages.js";
import { LlmAborted, LlmBadResponse, LlmTimeout, type LlmErrorOrigin } from "./llm-errors.js";
import {
  LLM_FINISH_REASONS,
  type LlmClient,
  type LlmFinishReason,
  type LlmRequest,
  type LlmResponse,
  type LlmToolCall,
  type LlmToolSpec,
} from "./llm-port.js";

export interface AiSdkClientOptions {
  /** The provider's name in shepherd.yaml. */
  provider: string;
  /** The provider-side model id. */
  model: string;
  languageModel: LanguageModel;
  /** Covers the whole call, retries and their waits included. */
  requestTimeoutMs: number;
  maxRetries: number;
  temperature: number | null;
  maxOutputTokens: number | null;
  /** Values that must never appear in an error message (the API key). */
  secrets: readonly string[];
}

type GenerateResult = Awaited<ReturnType<typeof generateText>>;

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A name the model produced, quoted and cut short for a message. */
function quoted(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
}

function finishReason(reason: string): LlmFinishReason {
  return (LLM_FINISH_REASONS as readonly string[]).includes(reason) ? (reason as LlmFinishReason) : "other";
}

/** An `LlmClient` over one AI SDK language model: one `generateText` step per `complete`. */
export class AiSdkClient implements LlmClient {
  readonly provider: string;
  readonly model: string;
  readonly #options: AiSdkClientOptions;
  readonly #redactor = new SecretRedactor();

  constructor(options: AiSdkClientOptions) {
    this.provider = options.provider;
    this.model = options.model;
    this.#options = options;
    for (const secret of options.secrets) this.#redactor.add(secret);
  }

  async complete(request: LlmRequest): Promise<LlmResponse> {
    const origin: LlmErrorOrigin = { provider: this.provider, model: this.model };
    const { signal } = request;
    if (signal?.aborted) throw new LlmAborted(origin, signal.reason);
    const options = this.#options;

    // One controller for both ends of the call; `stoppedBy` records which one fired first.
    const controller = new AbortController();
    const state: { stoppedBy: "caller" | "timeout" | null } = { stoppedBy: null };
    let rejectStopped: (reason: unknown) => void = () => undefined;
    const stopped = new Promise<never>((_, reject) => {
      rejectStopped = reject;
    });
    const stop = (by: "caller" | "timeout", reason: unknown): void => {
      if (state.stoppedBy !== null) return;
      state.stoppedBy = by;
      controller.abort(reason);
      rejectStopped(reason);
    };
    const onCallerAbort = (): void => stop("caller", signal?.reason);
    signal?.addEventListener("abort", onCallerAbort, { once: true });
    const started = performance.now();
    const timer = setTimeout(
      () => stop("timeout", new DOMException("LLM request timeout", "TimeoutError")),
      options.requestTimeoutMs,
    );

    try {
      const call = generateText({
        model: options.languageModel,
        ...(request.system === "" ? {} : { instructions: request.system }),
        messages: toModelMessages(request.messages),
        tools: toToolSet(request.tools),
        maxRetries: options.maxRetries,
        abortSignal: controller.signal,
        ...(options.temperature === null ? {} : { temperature: options.temperature }),
        ...(options.maxOutputTokens === null ? {} : { maxOutputTokens: options.maxOutputTokens }),
        // Prompts are the operator's data: no telemetry integration gets to record them.
        telemetry: { isEnabled: false },
      });
      // The race below guarantees the deadline even if some SDK step ignored the signal.
      call.catch(() => undefined);
      const result = await Promise.race([call, stopped]);
      return this.#toResponse(result, request.tools, origin);
    } catch (error) {
      if (state.stoppedBy === "caller") throw new LlmAborted(origin, signal?.reason);
      if (state.stoppedBy === "timeout") {
        throw new LlmTimeout(origin, Math.round(performance.now() - started), options.requestTimeoutMs);
      }
      throw mapSdkError(error, origin, this.#redactor);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onCallerAbort);
    }
  }

  #toResponse(result: GenerateResult, tools: readonly LlmToolSpec[], origin: LlmErrorOrigin): LlmResponse {
    const step = result.finalStep;
    const who = `${origin.provider}/${origin.model}`;
    const offered = new Set(tools.map((spec) => spec.name));
    const toolCalls: LlmToolCall[] = [];
    for (const call of step.toolCalls) {
      // The SDK marks a call to an unknown tool as invalid too: check the name first.
      if (!offered.has(call.toolName)) {
        throw new LlmBadResponse(
          origin,
          `${who}: the model called ${quoted(call.toolName)}, a tool it was not offered`,
        );
      }
      if (call.invalid === true) {
        const detail =
          call.error instanceof Error ? `: ${safeDetail(call.error.message, this.#redactor)}` : "";
        throw new LlmBadResponse(
          origin,
          `${who}: the arguments of the call to ${quoted(call.toolName)} are not valid JSON${detail}`,
        );
      }
      if (!isJsonObject(call.input)) {
        throw new LlmBadResponse(
          origin,
          `${who}: the arguments of the call to ${quoted(call.toolName)} are not a JSON object`,
        );
      }
      toolCalls.push({ id: call.toolCallId, name: call.toolName, args: call.input });
    }
    return {
      text: step.text,
      toolCalls,
      finishReason: finishReason(step.finishReason),
      usage: { inputTokens: step.usage.inputTokens ?? null, outputTokens: step.usage.outputTokens ?? null },
      provider: this.provider,
      model: step.response.modelId || this.model,
    };
  }
}
