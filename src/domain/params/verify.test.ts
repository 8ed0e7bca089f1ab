/**
 * The round-trip check is the editor's safety net: a candidate text is accepted only if it parses
 * to the original document with exactly the requested edits. These tests feed it wrong candidates
 * directly, since the editors rarely produce one.
 */
import { describe, expect, it } from "vitest";
import { jsonEditor } from "./edit-json.js";
import { yamlEditor } from "./edit-yaml.js";

const JSON_BEFORE = '{\n  "a": 1,\n  "b": { "c": [1, 2] },\n  "d": "x"\n}\n';
const YAML_BEFORE = "a: 1\nb:\n  c: [1, 2]\nd: x # note\n";

describe("jsonEditor.verify", () => {
  const edit = [{ path: ["b", "c", "1"], to: 3 }];
  it.each([
    { name: "the exact edit", after: '{\n  "a": 1,\n  "b": { "c": [1, 3] },\n  "d": "x"\n}\n', ok: true },
    { name: "whitespace moved, same data", after: '{"a":1,"b":{"c":[1,3]},"d":"x"}', ok: true },
    { name: "the edit not made", after: JSON_BEFORE, ok: false },
    {
      name: "another value changed too",
      after: '{\n  "a": 2,\n  "b": { "c": [1, 3] },\n  "d": "x"\n}\n',
      ok: false,
    },
    { name: "key order changed", after: '{\n  "b": { "c": [1, 3] },\n  "a": 1,\n  "d": "x"\n}\n', ok: false },
    {
      name: "a key added",
      after: '{\n  "a": 1,\n  "b": { "c": [1, 3] },\n  "d": "x",\n  "e": 0\n}\n',
      ok: false,
    },
    {
      name: "the number became a string",
      after: '{\n  "a": 1,\n  "b": { "c": [1, "3"] },\n  "d": "x"\n}\n',
      ok: false,
    },
    {
      name: "not JSON any more",
      after: '{\n  "a": 1,\n  "b": { "c": [1, 3], },\n  "d": "x"\n}\n',
      ok: false,
    },
  ])("$name → $ok", ({ after, ok }) => {
    expect(jsonEditor.verify(JSON_BEFORE, after, edit)).toBe(ok);
  });

  it("a path that does not exist never verifies", () => {
    expect(jsonEditor.verify(JSON_BEFORE, JSON_BEFORE, [{ path: ["zzz"], to: 1 }])).toBe(false);
    expect(jsonEditor.verify(JSON_BEFORE, JSON_BEFORE, [{ path: ["b", "c", "5"], to: 1 }])).toBe(false);
  });
});

describe("yamlEditor.verify", () => {
  const edit = [{ path: ["b", "c", "1"], to: 3 }];
  it.each([
    { name: "the exact edit", after: "a: 1\nb:\n  c: [1, 3]\nd: x # note\n", ok: true },
    { name: "the edit not made", after: YAML_BEFORE, ok: false },
    { name: "another value changed too", after: "a: 1\nb:\n  c: [1, 3]\nd: y # note\n", ok: false },
    {
      name: "only the spacing before a comment changed (same data)",
      after: "a: 1\nb:\n  c: [1, 3]\nd: x #note\n",
      ok: true,
    },
    {
      name: "the comment became part of the value",
      after: "a: 1\nb:\n  c: [1, 3]\nd: 'x # note'\n",
      ok: false,
    },
    { name: "key order changed", after: "b:\n  c: [1, 3]\na: 1\nd: x\n", ok: false },
    { name: "the number became a string", after: "a: 1\nb:\n  c: [1, '3']\nd: x\n", ok: false },
    { name: "a duplicate key appeared", after: "a: 1\nb:\n  c: [1, 3]\nd: x\nd: x\n", ok: false },
    { name: "not YAML any more", after: "a: 1\nb:\n  c: [1, 3\nd: x\n", ok: false },
  ])("$name → $ok", ({ after, ok }) => {
    expect(yamlEditor.verify(YAML_BEFORE, after, edit)).toBe(ok);
  });

  it("an alias whose anchor changed elsewhere is a change", () => {
    const before = "base: &b 1\ncopy: *b\nz: 0\n";
    expect(yamlEditor.verify(before, "base: &b 2\ncopy: *b\nz: 0\n", [{ path: ["base"], to: 2 }])).toBe(
      false,
    );
    expect(yamlEditor.verify(before, "base: &b 1\ncopy: *b\nz: 5\n", [{ path: ["z"], to: 5 }])).toBe(true);
  });
});
