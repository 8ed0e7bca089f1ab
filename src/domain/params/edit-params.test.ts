import { describe, expect, it } from "vitest";
import { applyParamEdits, paramFormatForPath, type ParamEdit, type ParamFormat } from "./edit-params.js";

/** The same document in both formats, so that every rule is checked for each. */
const FILES: Record<ParamFormat, string> = {
  json: `{
  "search": {
    "boost": { "title": 2, "body": 1 },
    "fields": ["title", "body"],
    "filters": [{ "field": "lang", "value": "en" }]
  },
  "limits": { "rows": 10, "timeout": null },
  "a.b": { "c": true },
  "0": "zero"
}
`,
  yaml: `search:
  boost: { title: 2, body: 1 }
  fields: [title, body]
  filters:
    - field: lang
      value: en
limits:
  rows: 10
  timeout: null
a.b:
  c: true
"0": zero
`,
};

const FORMATS = ["json", "yaml"] as const;

function expectError(
  result: ReturnType<typeof applyParamEdits>,
  code: string,
  message: RegExp,
  key?: string,
): void {
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.code).toBe(code);
  expect(result.message).toMatch(message);
  expect(result.key).toBe(key);
}

describe.each(FORMATS)("applyParamEdits (%s): every key must already exist", (format) => {
  it.each([
    { key: "nope", reason: /the top level has no key "nope"/ },
    { key: "search.nope", reason: /"search" has no key "nope"/ },
    {
      key: "search.boost.title.x",
      reason: /"search\.boost\.title" is a number, not (an object or array|a mapping or sequence)/,
    },
    { key: "search.fields.2", reason: /"search\.fields" has 2 item\(s\), there is no index 2/ },
    { key: "search.fields.01", reason: /"search\.fields" is (an array|a sequence) and "01" is not an index/ },
    { key: "search.fields.-1", reason: /"search\.fields" is (an array|a sequence) and "-1" is not an index/ },
    {
      key: "search.fields.title",
      reason: /"search\.fields" is (an array|a sequence) and "title" is not an index/,
    },
    { key: "search.filters.0.nope", reason: /"search\.filters\.0" has no key "nope"/ },
    {
      key: "limits.timeout.x",
      reason: /"limits\.timeout" is null, not (an object or array|a mapping or sequence)/,
    },
    { key: "a.b.c", reason: /the top level has no key "a"/ },
    { key: "Search.boost", reason: /the top level has no key "Search"/ },
  ])("$key", ({ key, reason }) => {
    const result = applyParamEdits(FILES[format], format, { [key]: { to: 1 } });
    const quoted = key.replace(/[.\\]/g, "\\$&");
    expectError(
      result,
      "PARAM_NOT_IN_FILE",
      new RegExp(`^key "${quoted}" is not in the file: ${reason.source}$`),
      key,
    );
  });

  it("names the first missing key when several are missing", () => {
    const result = applyParamEdits(FILES[format], format, {
      "limits.rows": { to: 20 },
      "limits.missing": { to: 1 },
      "other.missing": { to: 1 },
    });
    expectError(result, "PARAM_NOT_IN_FILE", /limits\.missing/, "limits.missing");
  });

  it.each([
    { key: "", reason: /the key is empty/ },
    { key: "search..boost", reason: /empty segment/ },
    { key: "search.", reason: /ends with a dot/ },
    { key: "a\nb", reason: /control character/ },
  ])("an invalid dotted key %# cannot name anything in the file", ({ key, reason }) => {
    expectError(
      applyParamEdits(FILES[format], format, { [key]: { to: 1 } }),
      "PARAM_NOT_IN_FILE",
      reason,
      key,
    );
  });

  it("finds keys with dots through escaping, and numeric-looking mapping keys", () => {
    const result = applyParamEdits(FILES[format], format, {
      "a\\.b.c": { from: true, to: false },
      "0": { to: "nil" },
    });
    expect(result.ok).toBe(true);
    if (result.ok) {
      // JavaScript iterates integer-like keys first.
      expect(result.changes).toEqual([
        { key: "0", from: "zero", to: "nil" },
        { key: "a\\.b.c", from: true, to: false },
      ]);
    }
  });
});

describe.each(FORMATS)("applyParamEdits (%s): drift", (format) => {
  it.each([
    { key: "limits.rows", from: 11 },
    { key: "limits.rows", from: "10" },
    { key: "limits.timeout", from: 0 },
    { key: "limits.timeout", from: "null" },
    { key: "search.fields", from: ["body", "title"] },
    { key: "search.fields", from: ["title"] },
    { key: "search.boost", from: { title: 2 } },
    { key: "search.boost", from: { title: 2, body: 1, extra: 0 } },
    { key: "search.filters", from: [{ field: "lang", value: "de" }] },
  ])("$key: from $from differs", ({ key, from }) => {
    const result = applyParamEdits(FILES[format], format, { [key]: { from, to: 5 } });
    expectError(result, "PARAM_DRIFT", /has changed in the file: expected .+, found .+/, key);
  });

  it("names the expected and the actual value", () => {
    const result = applyParamEdits(FILES[format], format, { "limits.rows": { from: 11, to: 12 } });
    expectError(
      result,
      "PARAM_DRIFT",
      /^key "limits\.rows" has changed in the file: expected 11, found 10$/,
      "limits.rows",
    );
  });

  it.each([
    { key: "limits.rows", from: 10 },
    { key: "limits.timeout", from: null },
    { key: "search.boost", from: { body: 1, title: 2 } },
    { key: "search.filters", from: [{ value: "en", field: "lang" }] },
    { key: "search.fields", from: ["title", "body"] },
  ])("$key: from deep-equals the current value (key order does not matter)", ({ key, from }) => {
    const result = applyParamEdits(FILES[format], format, { [key]: { from, to: 7 } });
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.changes).toEqual([{ key, from, to: 7 }]);
  });

  it("checks nothing when from is absent", () => {
    const result = applyParamEdits(FILES[format], format, { "limits.rows": { to: 99 } });
    expect(result.ok && result.changes).toEqual([{ key: "limits.rows", from: 10, to: 99 }]);
  });

  it("drift on a later key fails the whole call", () => {
    const result = applyParamEdits(FILES[format], format, {
      "limits.rows": { from: 10, to: 20 },
      "search.boost.title": { from: 3, to: 4 },
    });
    expectError(result, "PARAM_DRIFT", /search\.boost\.title/, "search.boost.title");
  });
});

describe.each(FORMATS)("applyParamEdits (%s): no-ops, order, results", (format) => {
  it("setting the current value returns the identical text and no changes", () => {
    const result = applyParamEdits(FILES[format], format, {
      "limits.rows": { from: 10, to: 10 },
      "search.boost": { to: { body: 1, title: 2 } },
      "limits.timeout": { to: null },
    });
    expect(result).toEqual({ ok: true, text: FILES[format], changes: [] });
  });

  it("an empty set is a no-op", () => {
    expect(applyParamEdits(FILES[format], format, {})).toEqual({
      ok: true,
      text: FILES[format],
      changes: [],
    });
  });

  it("applies keys in order, each seeing the previous result, never mutating the caller's values", () => {
    const timeout = { connect: 1, read: 2 };
    const result = applyParamEdits(FILES[format], format, {
      "limits.timeout": { to: timeout },
      "limits.timeout.read": { from: 2, to: 30 },
      "search.boost.title": { to: 3 },
      "search.boost.body": { to: 0.5 },
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.changes).toEqual([
      { key: "limits.timeout", from: null, to: { connect: 1, read: 2 } },
      { key: "limits.timeout.read", from: 2, to: 30 },
      { key: "search.boost.title", from: 2, to: 3 },
      { key: "search.boost.body", from: 1, to: 0.5 },
    ]);
    expect(timeout).toEqual({ connect: 1, read: 2 });
    const again = applyParamEdits(result.text, format, {
      "limits.timeout": { from: { connect: 1, read: 30 }, to: { connect: 1, read: 30 } },
      "search.boost": { from: { title: 3, body: 0.5 }, to: { title: 3, body: 0.5 } },
    });
    expect(again).toEqual({ ok: true, text: result.text, changes: [] });
  });

  it("a later key may name something an earlier key created", () => {
    const result = applyParamEdits(FILES[format], format, {
      "limits.rows": { to: [1, 2] },
      "limits.rows.1": { to: 3 },
    });
    expect(result.ok && result.changes.map((change) => change.to)).toEqual([[1, 2], 3]);
  });

  it("a key removed by an earlier edit is then missing", () => {
    const result = applyParamEdits(FILES[format], format, {
      "search.boost": { to: 1 },
      "search.boost.title": { to: 2 },
    });
    expectError(result, "PARAM_NOT_IN_FILE", /"search\.boost" is a number/, "search.boost.title");
  });
});

describe.each(FORMATS)("applyParamEdits (%s): values must be JSON", (format) => {
  class Custom {
    x = 1;
  }
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  it.each([
    { name: "undefined", edit: { to: undefined } },
    { name: "missing to", edit: {} },
    { name: "NaN", edit: { to: Number.NaN } },
    { name: "Infinity", edit: { to: Number.POSITIVE_INFINITY } },
    { name: "a function", edit: { to: () => 1 } },
    { name: "a Date", edit: { to: new Date(0) } },
    { name: "a class instance", edit: { to: new Custom() } },
    { name: "a nested undefined", edit: { to: { a: undefined } } },
    // eslint-disable-next-line no-sparse-arrays -- the hole is the point
    { name: "a sparse array", edit: { to: [1, , 3] } },
    { name: "a cycle", edit: { to: cyclic } },
    { name: "a bigint", edit: { to: 10n } },
    { name: "an edit that is not an object", edit: 5 },
    { name: "an edit that is null", edit: null },
  ])("$name is refused, naming the key", ({ edit }) => {
    const result = applyParamEdits(FILES[format], format, { "limits.rows": edit as unknown as ParamEdit });
    expectError(
      result,
      "FILE_UNPARSABLE",
      /the new value for key "limits\.rows" is not a JSON value/,
      "limits.rows",
    );
  });
});

describe("applyParamEdits: files that do not parse or are not a mapping", () => {
  it.each([
    { format: "json", text: '{\n  "a": 1,\n  "b": 2,\n}\n', message: /^invalid JSON at line 4, column 1: / },
    {
      format: "json",
      text: '{\n  "a": 1\n  "b": 2\n}',
      message: /^invalid JSON at line 3, column 3: expected "," or "}"/,
    },
    { format: "json", text: '{"a": 1} {"b": 2}', message: /line 1, column 10/ },
    { format: "json", text: "", message: /unexpected end of file/ },
    { format: "json", text: "// comment\n{}", message: /line 1, column 1/ },
    { format: "json", text: '[{"a": 1}]', message: /top level of the file is an array, not an object/ },
    { format: "json", text: "42", message: /top level of the file is a single value, not an object/ },
    {
      format: "yaml",
      text: "a: 1\nb: 'x' y\n",
      message: /^invalid YAML at line 2, column 8: Unexpected scalar/,
    },
    {
      format: "yaml",
      text: 'a: 1\nb: "open\n',
      message: /^invalid YAML at line 3, column 1: Missing closing "quote$/,
    },
    { format: "yaml", text: "a: b: c\n", message: /^invalid YAML at line 1, column 4: Nested mappings/ },
    { format: "yaml", text: "a: [1, 2\nb: 3\n", message: /^invalid YAML at line \d+, column \d+/ },
    { format: "yaml", text: "a:\n\tb: 1\n", message: /line 2, column 1: Tabs are not allowed/ },
    { format: "yaml", text: "a: 1\na: 2\n", message: /line 2, column 1: Map keys must be unique/ },
    { format: "yaml", text: "a: 1\n---\nb: 2\n", message: /multiple documents/ },
    { format: "yaml", text: "- a\n- b\n", message: /top level of the file is a sequence, not a mapping/ },
    { format: "yaml", text: "just text\n", message: /top level of the file is a single value/ },
    { format: "yaml", text: "", message: /top level of the file is empty/ },
    { format: "yaml", text: "# only a comment\n", message: /top level of the file is empty/ },
    { format: "yaml", text: "a: *missing\n", message: /cannot be read|invalid YAML/ },
  ] as const)("$format: $text", ({ format, text, message }) => {
    const result = applyParamEdits(text, format, { a: { to: 1 } });
    expectError(result, "FILE_UNPARSABLE", message);
  });

  it("a YAML alias bomb is refused rather than expanded", () => {
    const lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 9; i++) {
      lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(", ")}]`);
    }
    const result = applyParamEdits(`${lines.join("\n")}\n`, "yaml", { a0: { to: 1 } });
    expectError(result, "FILE_UNPARSABLE", /cannot be read/);
  });
});

describe("applyParamEdits: never throws on bad input", () => {
  it.each([
    { name: "unknown format", call: () => applyParamEdits("{}", "toml" as ParamFormat, {}) },
    {
      name: "set is null",
      call: () => applyParamEdits("{}", "json", null as unknown as Record<string, ParamEdit>),
    },
    {
      name: "set is an array",
      call: () => applyParamEdits("{}", "json", [] as unknown as Record<string, ParamEdit>),
    },
    { name: "text is not a string", call: () => applyParamEdits(42 as unknown as string, "yaml", {}) },
  ])("$name → FILE_UNPARSABLE", ({ call }) => {
    const result = call();
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.code).toBe("FILE_UNPARSABLE");
  });
});

describe("paramFormatForPath", () => {
  it.each([
    { path: "config/params.json", format: "json" },
    { path: "PARAMS.JSON", format: "json" },
    { path: "values.yaml", format: "yaml" },
    { path: "ci/workflow.yml", format: "yaml" },
    { path: "a.YML", format: "yaml" },
    { path: "params.toml", format: null },
    { path: "json", format: null },
    { path: "file.json.bak", format: null },
  ])("$path → $format", ({ path, format }) => {
    expect(paramFormatForPath(path)).toBe(format);
  });
});
