import { jsonSchema, tool, type JSONSchema7, type JSONValue, type ModelMessage, type ToolSet } from "ai";
import type { LlmMessage, LlmToolSpec } from "./llm-port.js";

/**
 * Port messages and tools → AI SDK v7 prompt shapes. The SDK then produces each provider's wire
 * format (OpenAI `tool_calls` / `role: "tool"`, Anthropic `tool_use` / `tool_result` blocks).
 */

type ToolResultOutput = Extract<ModelMessage, { role: "tool" }>["content"][number] & { type: "tool-result" };

function toJsonValue(value: unknown, toolName: string): JSONValue {
  if (value === undefined) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new TypeError(`the result of tool "${toolName}" cannot be sent to the model: not JSON`, {
      cause: error,
    });
  }
  return text === undefined ? null : (JSON.parse(text) as JSONValue);
}

function toolResultOutput(message: Extract<LlmMessage, { role: "tool" }>): ToolResultOutput["output"] {
  if (typeof message.result === "string") {
    return message.isError
      ? { type: "error-text", value: message.result }
      : { type: "text", value: message.result };
  }
  const value = toJsonValue(message.result, message.toolName);
  return message.isError ? { type: "error-json", value } : { type: "json", value };
}

export function toModelMessages(messages: readonly LlmMessage[]): ModelMessage[] {
  const out: ModelMessage[] = [];
  for (const message of messages) {
    switch (message.role) {
      case "user":
        out.push({ role: "user", content: message.content });
        break;
      case "assistant":
        out.push({
          role: "assistant",
          content: [
            ...(message.content === "" ? [] : [{ type: "text" as const, text: message.content }]),
            ...message.toolCalls.map((call) => ({
              type: "tool-call" as const,
              toolCallId: call.id,
              toolName: call.name,
              input: call.args,
            })),
          ],
        });
        break;
      case "tool": {
        const part: ToolResultOutput = {
          type: "tool-result",
          toolCallId: message.toolCallId,
          toolName: message.toolName,
          output: toolResultOutput(message),
        };
        // The results of one assistant turn travel together (Anthropic wants them in one message).
        const previous = out.at(-1);
        if (previous?.role === "tool") previous.content.push(part);
        else out.push({ role: "tool", content: [part] });
        break;
      }
    }
  }
  return out;
}

/**
 * Tools without `execute`: the SDK hands the calls back instead of running them. No input
 * validation here either: the framework checks arguments against the schema itself.
 */
export function toToolSet(tools: readonly LlmToolSpec[]): ToolSet | undefined {
  if (tools.length === 0) return undefined;
  return Object.fromEntries(
    tools.map((spec) => [
      spec.name,
      tool({ description: spec.description, inputSchema: jsonSchema(spec.inputSchema as JSONSchema7) }),
    ]),
  );
}
