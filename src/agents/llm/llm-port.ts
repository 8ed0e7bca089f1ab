/**
 * The LLM port (SPEC C6 "Built-in agent runtime"): all the agent loop knows about a model.
 * Provider-neutral on purpose: SDK message and error types stay inside src/agents/llm.
 *
 * One `complete` is one model call. There is no tool loop in here: every tool call goes through
 * the gate, which may pause the session for hours, so the framework executes tools itself and
 * calls `complete` again with the results.
 */

/** A tool the model may call. `inputSchema` is a JSON Schema of type object. */
export interface LlmToolSpec {
  /** Already matches `^[a-zA-Z0-9_-]{1,64}$` (what every provider accepts). */
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export interface LlmToolCall {
  id: string;
  name: string;
  /** The parsed arguments: always a JSON object (anything else is an `LlmBadResponse`). */
  args: unknown;
}

export type LlmMessage =
  | { role: "user"; content: string }
  | { role: "assistant"; content: string; toolCalls: LlmToolCall[] }
  | { role: "tool"; toolCallId: string; toolName: string; result: unknown; isError: boolean };

export interface LlmRequest {
  system: string;
  messages: readonly LlmMessage[];
  tools: readonly LlmToolSpec[];
  /** The caller's cancellation; aborting it rejects with `LlmAborted`, never `LlmTimeout`. */
  signal?: AbortSignal;
}

export const LLM_FINISH_REASONS = ["stop", "tool-calls", "length", "content-filter", "other"] as const;
export type LlmFinishReason = (typeof LLM_FINISH_REASONS)[number];

export interface LlmResponse {
  text: string;
  /** Every call names a tool of the request (a call to any other tool is an `LlmBadResponse`). */
  toolCalls: LlmToolCall[];
  finishReason: LlmFinishReason;
  /** Null where the provider did not say. */
  usage: { inputTokens: number | null; outputTokens: number | null };
  /** The provider's name in shepherd.yaml's `llm.providers`. */
  provider: string;
  /** The model that answered, as the provider reports it (falls back to the configured id). */
  model: string;
}

export interface LlmClient {
  /** The provider's name in shepherd.yaml's `llm.providers`. */
  readonly provider: string;
  /** The provider-side model id configured for this client. */
  readonly model: string;
  complete(request: LlmRequest): Promise<LlmResponse>;
}
