import type { CallToolResult, Tool } from "@modelcontextprotocol/sdk/types.js";

/** A tool offered by an MCP server; the rest of Shepherd addresses it as `server:name`. */
export interface McpTool {
  server: string;
  name: string;
  description: string;
  /** JSON Schema of the arguments, as the server sent it. */
  inputSchema: Record<string, unknown>;
  /** The server's hints for the gate; null when it sent none. */
  annotations: { readOnlyHint?: boolean; destructiveHint?: boolean } | null;
}

/** One part of a tool result, reduced to what an agent can use. */
export type McpContent =
  | { type: "text"; text: string }
  /** `data` is base64; it never goes into `McpCallResult.text`. */
  | { type: "image"; mimeType: string; data: string }
  /** An embedded resource (its text, if it is text) or a link to one. */
  | { type: "resource"; uri: string; mimeType: string | null; text: string | null };

export interface McpCallResult {
  /** The tool reports a failure; this is its answer for the LLM, not an exception. */
  isError: boolean;
  content: McpContent[];
  structuredContent: unknown;
  /** The text parts joined, for an LLM (placeholders for images and non-text resources). */
  text: string;
}

/**
 * Tool names per the MCP naming guidance (SEP-986), plus `/` which earlier servers use and skill
 * packs accept. Enforced because Shepherd addresses tools as `server:tool` and matches them against
 * skill packs: a name with `:`, spaces or control characters cannot be addressed (or shown) safely.
 */
export const MCP_TOOL_NAME = /^[A-Za-z0-9_./-]{1,128}$/;

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}

/** The listed tool as Shepherd keeps it: frozen, since every session shares the one list. */
export function toMcpTool(server: string, tool: Tool): McpTool {
  const hints = tool.annotations;
  let annotations: McpTool["annotations"] = null;
  if (hints !== undefined) {
    annotations = {};
    if (typeof hints.readOnlyHint === "boolean") annotations.readOnlyHint = hints.readOnlyHint;
    if (typeof hints.destructiveHint === "boolean") annotations.destructiveHint = hints.destructiveHint;
  }
  return deepFreeze({
    server,
    name: tool.name,
    description: tool.description ?? "",
    inputSchema: structuredClone(tool.inputSchema),
    annotations,
  });
}

type WireContent = CallToolResult["content"][number];

function toContent(part: WireContent): McpContent {
  switch (part.type) {
    case "text":
      return { type: "text", text: part.text };
    case "image":
      return { type: "image", mimeType: part.mimeType, data: part.data };
    case "resource": {
      const resource = part.resource;
      return {
        type: "resource",
        uri: resource.uri,
        mimeType: resource.mimeType ?? null,
        text: "text" in resource && typeof resource.text === "string" ? resource.text : null,
      };
    }
    case "resource_link":
      return { type: "resource", uri: part.uri, mimeType: part.mimeType ?? null, text: null };
    case "audio":
      // No agent here consumes audio; say that something was there rather than drop it silently.
      return { type: "text", text: `[audio ${part.mimeType} omitted]` };
  }
}

function partText(part: McpContent): string {
  switch (part.type) {
    case "text":
      return part.text;
    case "image":
      return `[image ${part.mimeType}]`;
    case "resource":
      return part.text === null ? `[resource ${part.uri}]` : `[resource ${part.uri}]\n${part.text}`;
  }
}

/**
 * A `tools/call` result as Shepherd passes it on. Results in the pre-2024-11 shape (`toolResult`)
 * become their JSON text; a result with structured content and no content parts is shown as JSON,
 * which is what the MCP spec asks servers to send alongside it anyway.
 */
export function toMcpCallResult(raw: CallToolResult | { toolResult: unknown }): McpCallResult {
  if (!("content" in raw)) {
    const text = JSON.stringify(raw.toolResult) ?? "";
    return { isError: false, content: [{ type: "text", text }], structuredContent: null, text };
  }
  const content = raw.content.map(toContent);
  const structuredContent = raw.structuredContent ?? null;
  const text =
    content.length === 0 && structuredContent !== null
      ? JSON.stringify(structuredContent)
      : content.map(partText).join("\n");
  return { isError: raw.isError === true, content, structuredContent, text };
}
