import { describe, expect, it } from "vitest";
import { applyParamEdits, type ParamEdit } from "./edit-params.js";
import { changedLines } from "./line-diff.js";

interface Case {
  name: string;
  before: string;
  set: Record<string, ParamEdit>;
  after: string;
  /** 1-based line numbers: exactly these lines may differ (line-by-line diff). */
  removed: number[];
  added: number[];
}

function withoutFrom(set: Record<string, ParamEdit>): Record<string, ParamEdit> {
  return Object.fromEntries(Object.entries(set).map(([key, edit]) => [key, { to: edit.to }]));
}

function lines(...parts: string[]): string {
  return parts.join("\n");
}

const CASES: Case[] = [
  {
    name: "2-space: a nested number",
    before: lines(
      "{",
      '  "name": "demo",',
      '  "search": {',
      '    "boost": {',
      '      "title": 2.5,',
      '      "body": 1',
      "    }",
      "  }",
      "}",
      "",
    ),
    set: { "search.boost.title": { from: 2.5, to: 3 } },
    after: lines(
      "{",
      '  "name": "demo",',
      '  "search": {',
      '    "boost": {',
      '      "title": 3,',
      '      "body": 1',
      "    }",
      "  }",
      "}",
      "",
    ),
    removed: [5],
    added: [5],
  },
  {
    name: "4-space: a string needing escapes",
    before: lines("{", '    "greeting": "hello",', '    "n": 1', "}", ""),
    set: { greeting: { to: 'say "hi"\\\n\t' } },
    after: lines("{", '    "greeting": "say \\"hi\\"\\\\\\n\\t",', '    "n": 1', "}", ""),
    removed: [2],
    added: [2],
  },
  {
    name: "4-space: a scalar becomes an expanded object indented by 4",
    before: lines("{", '    "a": {', '        "b": 1', "    },", '    "c": 2', "}", ""),
    set: { "a.b": { to: { x: [1, "y"], z: {} } } },
    after: lines(
      "{",
      '    "a": {',
      '        "b": {',
      '            "x": [',
      "                1,",
      '                "y"',
      "            ],",
      '            "z": {}',
      "        }",
      "    },",
      '    "c": 2',
      "}",
      "",
    ),
    removed: [3],
    added: [3, 4, 5, 6, 7, 8, 9],
  },
  {
    name: "tabs: an expanded object replaced, tabs kept",
    before: lines("{", '\t"search": {', '\t\t"boost": {', '\t\t\t"title": 2', "\t\t}", "\t}", "}", ""),
    set: { "search.boost": { to: { title: 1, tags: ["a"] } } },
    after: lines(
      "{",
      '\t"search": {',
      '\t\t"boost": {',
      '\t\t\t"title": 1,',
      '\t\t\t"tags": [',
      '\t\t\t\t"a"',
      "\t\t\t]",
      "\t\t}",
      "\t}",
      "}",
      "",
    ),
    removed: [4],
    added: [4, 5, 6, 7],
  },
  {
    name: "CRLF: new lines use CRLF",
    before: '{\r\n  "a": 1,\r\n  "b": true\r\n}\r\n',
    set: { a: { to: [1, 2] }, b: { to: false } },
    after: '{\r\n  "a": [\r\n    1,\r\n    2\r\n  ],\r\n  "b": false\r\n}\r\n',
    removed: [2, 3],
    added: [2, 3, 4, 5, 6],
  },
  {
    name: "minified: stays on one line with the file's separators",
    before: '{"a":{"b":1,"c":[1,2]},"d":"x"}',
    set: { "a.b": { to: { x: [true, null] } }, d: { to: "y" } },
    after: '{"a":{"b":{"x":[true,null]},"c":[1,2]},"d":"y"}',
    removed: [1],
    added: [1],
  },
  {
    name: "one-line with spaces (prettier style): padding and separators kept",
    before: lines("{", '  "flags": { "beta": false, "ids": [1, 2] },', '  "n": 0', "}", ""),
    set: { "flags.beta": { to: { on: true, pct: 5 } }, "flags.ids": { to: [3, 4, 5] } },
    after: lines(
      "{",
      '  "flags": { "beta": { "on": true, "pct": 5 }, "ids": [3, 4, 5] },',
      '  "n": 0',
      "}",
      "",
    ),
    removed: [2],
    added: [2],
  },
  {
    name: "a one-line object inside an expanded array keeps its own shape",
    before: lines(
      "{",
      '  "items": [',
      '    { "id": 1, "name": "a" },',
      '    { "id": 2, "name": "b" }',
      "  ]",
      "}",
      "",
    ),
    set: { "items.1": { to: { id: 9, tags: [] } }, "items.0.name": { to: "A" } },
    after: lines(
      "{",
      '  "items": [',
      '    { "id": 1, "name": "A" },',
      '    { "id": 9, "tags": [] }',
      "  ]",
      "}",
      "",
    ),
    removed: [3, 4],
    added: [3, 4],
  },
  {
    name: "no trailing newline stays absent",
    before: '{\n  "a": 1\n}',
    set: { a: { to: 2 } },
    after: '{\n  "a": 2\n}',
    removed: [2],
    added: [2],
  },
  {
    name: "no trailing newline, value on the last line replaced by an object",
    before: '{"a": 1,\n "b": 2}',
    set: { b: { to: { c: 3 } } },
    after: '{"a": 1,\n "b": {\n   "c": 3\n }}',
    removed: [2],
    added: [2, 3, 4],
  },
  {
    name: "unicode keys and values written as they are",
    before: lines("{", '  "ключ": "значение",', '  "emoji": "🙂"', "}", ""),
    set: { ключ: { from: "значение", to: "新しい値 🙂" }, emoji: { to: "é\u2028" } },
    after: lines("{", '  "ключ": "新しい値 🙂",', '  "emoji": "é\u2028"', "}", ""),
    removed: [2, 3],
    added: [2, 3],
  },
  {
    name: "an ASCII-only file with \\u escapes gets \\u escapes",
    before: '{"name": "caf\\u00e9", "city": "x"}\n',
    set: { city: { to: "Zürich 🙂" } },
    after: '{"name": "caf\\u00e9", "city": "Z\\u00fcrich \\ud83d\\ude42"}\n',
    removed: [1],
    added: [1],
  },
  {
    name: "an expanded object replaced by a scalar",
    before: lines(
      "{",
      '  "search": {',
      '    "a": 1,',
      '    "b": [',
      "      2",
      "    ]",
      "  },",
      '  "z": 0',
      "}",
      "",
    ),
    set: { search: { to: false } },
    after: lines("{", '  "search": false,', '  "z": 0', "}", ""),
    removed: [2, 3, 4, 5, 6, 7],
    added: [2],
  },
  {
    name: "an empty object filled, expanded like its parent",
    before: lines("{", '  "opts": {},', '  "z": 0', "}", ""),
    set: { opts: { to: { a: "b" } } },
    after: lines("{", '  "opts": {', '    "a": "b"', "  },", '  "z": 0', "}", ""),
    removed: [2],
    added: [2, 3, 4],
  },
  {
    name: "arrays by index, nested",
    before: lines("{", '  "m": [', "    [1, 2],", "    [3, 4]", "  ]", "}", ""),
    set: { "m.1.0": { to: 30 }, "m.0": { to: "flat" } },
    after: lines("{", '  "m": [', '    "flat",', "    [30, 4]", "  ]", "}", ""),
    removed: [3, 4],
    added: [3, 4],
  },
  {
    name: "keys with dots through escaping",
    before: '{\n  "a.b": { "c.d": 1 },\n  "a": { "b": { "c": 2 } }\n}\n',
    set: { "a\\.b.c\\.d": { from: 1, to: 10 }, "a.b.c": { from: 2, to: 20 } },
    after: '{\n  "a.b": { "c.d": 10 },\n  "a": { "b": { "c": 20 } }\n}\n',
    removed: [2, 3],
    added: [2, 3],
  },
  {
    name: "a deeply nested key",
    before: '{"l1":{"l2":{"l3":{"l4":{"l5":{"l6":{"l7":{"l8":{"l9":{"l10":"deep"}}}}}}}}}}\n',
    set: { "l1.l2.l3.l4.l5.l6.l7.l8.l9.l10": { from: "deep", to: "deeper" } },
    after: '{"l1":{"l2":{"l3":{"l4":{"l5":{"l6":{"l7":{"l8":{"l9":{"l10":"deeper"}}}}}}}}}}\n',
    removed: [1],
    added: [1],
  },
  {
    name: "number spellings of other values are untouched",
    before: '{"a": 1.0, "b": 1e3, "c": -0.5E-2}\n',
    set: { a: { to: 2 } },
    after: '{"a": 2, "b": 1e3, "c": -0.5E-2}\n',
    removed: [1],
    added: [1],
  },
  {
    name: "spaces around the colon are the file's business",
    before: '{\n  "a" : 1,\n  "b" : { "c" : 2 }\n}\n',
    set: { "b.c": { to: 3 }, a: { to: { x: 1 } } },
    after: '{\n  "a" : {\n    "x" : 1\n  },\n  "b" : { "c" : 3 }\n}\n',
    removed: [2, 3],
    added: [2, 3, 4, 5],
  },
  {
    name: "a byte-order mark is kept",
    before: '\uFEFF{"a": 1}\n',
    set: { a: { to: 2 } },
    after: '\uFEFF{"a": 2}\n',
    removed: [1],
    added: [1],
  },
  {
    name: "a __proto__ key is an ordinary key",
    before: '{"__proto__": {"x": 1}, "y": 2}\n',
    set: { "__proto__.x": { from: 1, to: 2 } },
    after: '{"__proto__": {"x": 2}, "y": 2}\n',
    removed: [1],
    added: [1],
  },
  {
    name: "duplicate keys elsewhere do not block an edit",
    before: '{"a": 1, "a": 2, "b": 3}\n',
    set: { b: { to: 4 } },
    after: '{"a": 1, "a": 2, "b": 4}\n',
    removed: [1],
    added: [1],
  },
  {
    name: "null, booleans and strings swap freely",
    before: lines("{", '  "a": null,', '  "b": true,', '  "c": "x"', "}"),
    set: { a: { to: "null" }, b: { to: null }, c: { to: 0 } },
    after: lines("{", '  "a": "null",', '  "b": null,', '  "c": 0', "}"),
    removed: [2, 3, 4],
    added: [2, 3, 4],
  },
];

describe("applyParamEdits (json): format preservation", () => {
  it.each(CASES)("$name", ({ before, set, after, removed, added }) => {
    const result = applyParamEdits(before, "json", set);
    if (!result.ok) throw new Error(`${result.code}: ${result.message}`);
    expect(result.text).toBe(after);
    expect(changedLines(before, result.text)).toEqual({ removed, added });
    // Applying the same values again changes nothing; the old `from` is now drift.
    const again = applyParamEdits(result.text, "json", withoutFrom(set));
    expect(again.ok && again.text).toBe(after);
    expect(again.ok && again.changes).toEqual([]);
    const stale = Object.entries(set).find(([, edit]) => edit.from !== undefined);
    if (stale) {
      const drift = applyParamEdits(result.text, "json", { [stale[0]]: stale[1] });
      expect(drift.ok === false && drift.code).toBe("PARAM_DRIFT");
    }
  });
});

describe("applyParamEdits (json): refusals", () => {
  it("a key that appears twice is ambiguous", () => {
    const result = applyParamEdits('{"a": {"b": 1, "b": 2}}', "json", { "a.b": { to: 3 } });
    expect(result).toEqual({
      ok: false,
      code: "FILE_UNPARSABLE",
      key: "a.b",
      message: 'cannot edit key "a.b": "a" has the key "b" 2 times; refusing to guess which one to edit',
    });
  });

  it("a same-value edit of a spelled-differently number is a no-op, not a rewrite", () => {
    const text = '{"a": 1.0, "b": 1E2}\n';
    expect(applyParamEdits(text, "json", { a: { to: 1 }, b: { from: 100, to: 100 } })).toEqual({
      ok: true,
      text,
      changes: [],
    });
  });
});
