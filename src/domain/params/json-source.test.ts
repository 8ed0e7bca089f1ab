import { describe, expect, it } from "vitest";
import { scanJson, type JsonNode } from "./json-source.js";

function spanTexts(text: string, node: JsonNode, out: string[] = []): string[] {
  out.push(text.slice(node.start, node.end));
  if (node.kind === "object") for (const member of node.members) spanTexts(text, member.value, out);
  if (node.kind === "array") for (const item of node.items) spanTexts(text, item, out);
  return out;
}

describe("scanJson: spans", () => {
  it("gives each value's exact source text, keys decoded", () => {
    const text = '{ "a" : [1, -2.5e+3, "x\\"y"], "b\\u00e9": {"c": null, "d": true}, "e": false }';
    const scanned = scanJson(text);
    expect(scanned.ok).toBe(true);
    if (!scanned.ok) return;
    expect(spanTexts(text, scanned.root)).toEqual([
      text,
      '[1, -2.5e+3, "x\\"y"]',
      "1",
      "-2.5e+3",
      '"x\\"y"',
      '{"c": null, "d": true}',
      "null",
      "true",
      "false",
    ]);
    const root = scanned.root;
    expect(root.kind === "object" && root.members.map((member) => member.key)).toEqual(["a", "bé", "e"]);
    expect(root.kind === "object" && text.slice(root.members[1]?.keyStart, root.members[1]?.keyEnd)).toBe(
      '"b\\u00e9"',
    );
  });

  it("skips a byte-order mark and surrounding whitespace", () => {
    const text = '\uFEFF \r\n{"a": 1}\r\n';
    const scanned = scanJson(text);
    expect(scanned.ok && text.slice(scanned.root.start, scanned.root.end)).toBe('{"a": 1}');
  });
});

describe("scanJson: agrees with JSON.parse on what is valid", () => {
  it.each([
    "{}",
    "[]",
    "0",
    "-0",
    "1.5",
    "1e5",
    "1E-5",
    '"\\u0041\\n\\t\\/\\\\"',
    '{"a": {"b": [1, [2, [3]]]}}',
    "01",
    "1.",
    ".5",
    "-",
    "+1",
    "1e",
    "1.5.3",
    "[1,]",
    '{"a":1,}',
    '{"a" 1}',
    "{a: 1}",
    "{'a': 1}",
    '"tab\there"',
    '"\\x"',
    '"\\u12"',
    '"unterminated',
    "tru",
    "nul",
    "[]x",
    "[] []",
    "",
    "  ",
    "NaN",
    "Infinity",
    "[1 2]",
    '{"a":1 "b":2}',
    "// comment\n{}",
    "{} // trailing",
  ])("%j", (text) => {
    let parses = true;
    try {
      JSON.parse(text);
    } catch {
      parses = false;
    }
    expect(scanJson(text).ok).toBe(parses);
  });

  it("reports where the text stops being JSON, as line and column", () => {
    const scanned = scanJson('{\n  "a": 1,\n  "b": 2,\n}\n');
    expect(scanned.ok).toBe(false);
    if (!scanned.ok)
      expect(scanned.message).toBe(
        'invalid JSON at line 4, column 1: expected a key in double quotes, found "}"',
      );
  });

  it.each([
    { text: '{"a": 1 "b": 2}', message: /line 1, column 9: expected "," or "}"/ },
    { text: "[1,\n 2,\n x]", message: /line 3, column 2: unexpected "x"/ },
    { text: '{"a": "b', message: /line 1, column 7: unterminated string/ },
    { text: '{"a":\n', message: /line 2, column 1: unexpected end of file/ },
    { text: '"a\nb"', message: /unescaped character U\+000a/ },
    { text: "[01]", message: /invalid number/ },
  ])("$text", ({ text, message }) => {
    const scanned = scanJson(text);
    expect(scanned.ok).toBe(false);
    if (!scanned.ok) expect(scanned.message).toMatch(message);
  });

  it("refuses absurd nesting instead of overflowing the stack", () => {
    const text = "[".repeat(5000) + "]".repeat(5000);
    const scanned = scanJson(text);
    expect(scanned.ok).toBe(false);
    if (!scanned.ok) expect(scanned.message).toMatch(/nested more than/);
  });
});
