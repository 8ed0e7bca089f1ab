import { describe, expect, it } from "vitest";
import { toMcpCallResult, toMcpTool } from "./mcp-tool.js";

describe("toMcpTool", () => {
  it("keeps the gate's hints, drops the rest, and says null when the server sent none", () => {
    const inputSchema = { type: "object" as const, properties: { q: { type: "string" } } };
    const tool = toMcpTool("search", {
      name: "find",
      inputSchema,
      annotations: { title: "Find", readOnlyHint: true, openWorldHint: true },
    });
    expect(tool).toEqual({
      server: "search",
      name: "find",
      description: "",
      inputSchema,
      annotations: { readOnlyHint: true },
    });
    expect(toMcpTool("search", { name: "find", inputSchema }).annotations).toBeNull();
  });

  it("copies and freezes the schema, so no session can change it for the others", () => {
    const inputSchema = { type: "object" as const, properties: { q: { type: "string" } } };
    const tool = toMcpTool("search", { name: "find", inputSchema });
    inputSchema.properties.q.type = "number";
    expect(tool.inputSchema).toEqual({ type: "object", properties: { q: { type: "string" } } });
    expect(Object.isFrozen((tool.inputSchema.properties as Record<string, object>).q)).toBe(true);
  });
});

describe("toMcpCallResult", () => {
  it("joins text parts for the LLM, with placeholders for images, resources and audio", () => {
    const result = toMcpCallResult({
      content: [
        { type: "text", text: "found 2" },
        { type: "image", mimeType: "image/png", data: "iVBORw0KGgo=" },
        { type: "resource", resource: { uri: "file:///a.txt", mimeType: "text/plain", text: "alpha" } },
        { type: "resource", resource: { uri: "file:///b.bin", blob: "AAEC" } },
        { type: "resource_link", uri: "https://example.com/c", name: "c" },
        { type: "audio", mimeType: "audio/wav", data: "UklGRg==" },
      ],
    });
    expect(result.isError).toBe(false);
    expect(result.content).toEqual([
      { type: "text", text: "found 2" },
      { type: "image", mimeType: "image/png", data: "iVBORw0KGgo=" },
      { type: "resource", uri: "file:///a.txt", mimeType: "text/plain", text: "alpha" },
      { type: "resource", uri: "file:///b.bin", mimeType: null, text: null },
      { type: "resource", uri: "https://example.com/c", mimeType: null, text: null },
      { type: "text", text: "[audio audio/wav omitted]" },
    ]);
    expect(result.text).toBe(
      [
        "found 2",
        "[image image/png]",
        "[resource file:///a.txt]\nalpha",
        "[resource file:///b.bin]",
        "[resource https://example.com/c]",
        "[audio audio/wav omitted]",
      ].join("\n"),
    );
    expect(result.text).not.toContain("iVBORw0KGgo=");
  });

  it("shows structured content as JSON when there are no content parts", () => {
    expect(toMcpCallResult({ content: [], structuredContent: { sum: 3 } })).toEqual({
      isError: false,
      content: [],
      structuredContent: { sum: 3 },
      text: '{"sum":3}',
    });
  });

  it("keeps isError and reads results in the pre-2024-11 shape", () => {
    expect(toMcpCallResult({ content: [{ type: "text", text: "no" }], isError: true })).toMatchObject({
      isError: true,
      text: "no",
    });
    expect(toMcpCallResult({ toolResult: { ok: 1 } })).toEqual({
      isError: false,
      content: [{ type: "text", text: '{"ok":1}' }],
      structuredContent: null,
      text: '{"ok":1}',
    });
  });
});
