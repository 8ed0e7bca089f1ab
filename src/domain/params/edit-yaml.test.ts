import { parse } from "yaml";
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

function lines(...parts: string[]): string {
  return parts.join("\n");
}

function expectEdit({ before, set, after, removed, added }: Omit<Case, "name">): void {
  const result = applyParamEdits(before, "yaml", set);
  if (!result.ok) throw new Error(`${result.code}: ${result.message}`);
  expect(result.text).toBe(after);
  expect(changedLines(before, result.text)).toEqual({ removed, added });
  // Applying the same values again changes nothing.
  const toOnly = Object.fromEntries(Object.entries(set).map(([key, edit]) => [key, { to: edit.to }]));
  expect(applyParamEdits(result.text, "yaml", toOnly)).toEqual({ ok: true, text: after, changes: [] });
}

const HELM = lines(
  "# Default values for demo.",
  "replicaCount: 1 # bump for HA",
  "",
  "image:",
  "  repository: nginx",
  "  # pin the tag",
  '  tag: "1.25.3"',
  "  pullPolicy: 'IfNotPresent' # or Always",
  "",
  "service:",
  "  type: ClusterIP",
  "  port: 80",
  "",
  "resources: {}",
  "nodeSelector:",
  "tolerations: []",
  "",
);

describe("applyParamEdits (yaml): scalars keep their style and the comments around them", () => {
  it.each<Case>([
    {
      name: "a plain number with a trailing comment",
      before: HELM,
      set: { replicaCount: { from: 1, to: 3 } },
      after: HELM.replace("replicaCount: 1 #", "replicaCount: 3 #"),
      removed: [2],
      added: [2],
    },
    {
      name: "double quotes stay double, the comment above stays",
      before: HELM,
      set: { "image.tag": { from: "1.25.3", to: "1.26.0" } },
      after: HELM.replace('"1.25.3"', '"1.26.0"'),
      removed: [7],
      added: [7],
    },
    {
      name: "single quotes stay single, the trailing comment stays",
      before: HELM,
      set: { "image.pullPolicy": { to: "it's Always" } },
      after: HELM.replace("'IfNotPresent'", "'it''s Always'"),
      removed: [8],
      added: [8],
    },
    {
      name: "plain stays plain when it reads back the same",
      before: HELM,
      set: { "image.repository": { to: "ghcr.io/acme/app:1.0" }, "service.type": { to: "Load Balancer é" } },
      after: HELM.replace("repository: nginx", "repository: ghcr.io/acme/app:1.0").replace(
        "type: ClusterIP",
        "type: Load Balancer é",
      ),
      removed: [5, 11],
      added: [5, 11],
    },
    {
      name: "several keys in one file, neighbours untouched",
      before: HELM,
      set: { "service.port": { to: 8080 }, replicaCount: { to: 2 }, "image.tag": { to: "latest" } },
      after: HELM.replace("port: 80", "port: 8080")
        .replace("replicaCount: 1", "replicaCount: 2")
        .replace('"1.25.3"', '"latest"'),
      removed: [2, 7, 12],
      added: [2, 7, 12],
    },
  ])("$name", (testCase) => expectEdit(testCase));
});

describe("applyParamEdits (yaml): strings that need quotes where the old value was plain", () => {
  it.each([
    { value: "yes", written: '"yes"' },
    { value: "No", written: '"No"' },
    { value: "on", written: '"on"' },
    { value: "y", written: '"y"' },
    { value: "true", written: '"true"' },
    { value: "null", written: '"null"' },
    { value: "~", written: '"~"' },
    { value: "", written: '""' },
    { value: ": x", written: '": x"' },
    { value: "key: value", written: '"key: value"' },
    { value: "ends with:", written: '"ends with:"' },
    { value: "#not a comment", written: '"#not a comment"' },
    { value: "a # b", written: '"a # b"' },
    { value: "1e3", written: '"1e3"' },
    { value: "0x10", written: '"0x10"' },
    { value: "0755", written: '"0755"' },
    { value: "1_000", written: '"1_000"' },
    { value: "12:30", written: '"12:30"' },
    { value: ".inf", written: '".inf"' },
    { value: "-.5", written: '"-.5"' },
    { value: "+1", written: '"+1"' },
    { value: "2024-01-01", written: '"2024-01-01"' },
    { value: " leading", written: '" leading"' },
    { value: "trailing ", written: '"trailing "' },
    { value: "multi\nline", written: '"multi\\nline"' },
    { value: "tab\there", written: '"tab\\there"' },
    { value: "-", written: '"-"' },
    { value: "- item", written: '"- item"' },
    { value: "@at", written: '"@at"' },
    { value: "`tick", written: '"`tick"' },
    { value: "%pct", written: '"%pct"' },
    { value: "[x]", written: '"[x]"' },
    { value: "{x}", written: '"{x}"' },
    { value: "*star", written: '"*star"' },
    { value: "&amp", written: '"&amp"' },
    { value: "!bang", written: '"!bang"' },
    { value: "|pipe", written: '"|pipe"' },
    { value: ">gt", written: '">gt"' },
    { value: "'sq", written: '"\'sq"' },
    { value: '"dq', written: '"\\"dq"' },
    { value: "---", written: '"---"' },
    { value: "bell\u0007", written: '"bell\\u0007"' },
    { value: "nel\u0085", written: '"nel\\u0085"' },
    { value: "bom\ufeff", written: '"bom\\ufeff"' },
    { value: "hello world", written: "hello world" },
    { value: "a:b", written: "a:b" },
    { value: "x#y", written: "x#y" },
    { value: "C:\\dir", written: "C:\\dir" },
    { value: "-Xmx2g", written: "-Xmx2g" },
    { value: "a, b", written: "a, b" },
    { value: "foo[1]", written: "foo[1]" },
    { value: "über 日本 🙂", written: "über 日本 🙂" },
    { value: "it's", written: "it's" },
  ])("$value → $written", ({ value, written }) => {
    const before = "a: 1\nname: plain # note\nz: 2\n";
    const result = applyParamEdits(before, "yaml", { name: { to: value } });
    if (!result.ok) throw new Error(result.message);
    expect(result.text).toBe(`a: 1\nname: ${written} # note\nz: 2\n`);
    // Both YAML versions read it back as the same string.
    expect((parse(result.text, { version: "1.1" }) as { name: unknown }).name).toBe(value);
    expect((parse(result.text, { version: "1.2" }) as { name: unknown }).name).toBe(value);
  });

  it("in a flow sequence, commas and brackets are quoted too", () => {
    expectEdit({
      before: "f: [a, b, c]\n",
      set: { "f.0": { to: "x,y" }, "f.1": { to: "[z]" }, "f.2": { to: "plain" } },
      after: 'f: ["x,y", "[z]", plain]\n',
      removed: [1],
      added: [1],
    });
  });
});

describe("applyParamEdits (yaml): numbers, booleans and null with YAML semantics", () => {
  const NUMBERS = lines(
    "limit: 1e3",
    "mask: 0x10",
    "upper: 0xFF",
    "mode: 0o644",
    "ratio: 1.5",
    'quoted: "1e3"',
    "",
  );

  it.each([
    { key: "limit", from: 1000, to: 2000, line: 1, written: "limit: 2e3" },
    { key: "limit", from: 1000, to: 1500, line: 1, written: "limit: 1.5e3" },
    { key: "mask", from: 16, to: 255, line: 2, written: "mask: 0xff" },
    { key: "mask", from: 16, to: -1, line: 2, written: "mask: -1" },
    { key: "upper", from: 255, to: 171, line: 3, written: "upper: 0xAB" },
    { key: "mode", from: 420, to: 493, line: 4, written: "mode: 0o755" },
    { key: "ratio", from: 1.5, to: 2, line: 5, written: "ratio: 2" },
    { key: "ratio", from: 1.5, to: -0.25, line: 5, written: "ratio: -0.25" },
    { key: "quoted", from: "1e3", to: 1000, line: 6, written: "quoted: 1000" },
  ])("$key: $from → $to", ({ key, from, to, line, written }) => {
    const after = NUMBERS.split("\n");
    after[line - 1] = written;
    expectEdit({
      before: NUMBERS,
      set: { [key]: { from, to } },
      after: after.join("\n"),
      removed: [line],
      added: [line],
    });
  });

  it.each([
    { key: "limit", from: "1e3" },
    { key: "mask", from: "0x10" },
    { key: "quoted", from: 1000 },
  ])("$key: the file's value is what YAML reads, so from $from is drift", ({ key, from }) => {
    const result = applyParamEdits(NUMBERS, "yaml", { [key]: { from, to: 1 } });
    expect(result.ok === false && result.code).toBe("PARAM_DRIFT");
  });

  it("the same number in another spelling is a no-op", () => {
    expect(
      applyParamEdits(NUMBERS, "yaml", { limit: { to: 1000 }, mask: { to: 16 }, ratio: { to: 1.5 } }),
    ).toEqual({
      ok: true,
      text: NUMBERS,
      changes: [],
    });
  });

  it.each<Case>([
    {
      name: "True keeps its capital",
      before: "enabled: True\nloud: FALSE\n",
      set: { enabled: { from: true, to: false }, loud: { to: true } },
      after: "enabled: False\nloud: TRUE\n",
      removed: [1, 2],
      added: [1, 2],
    },
    {
      name: "yes/no under YAML 1.1",
      before: "%YAML 1.1\n---\ndebug: yes\nverbose: Off\n",
      set: { debug: { from: true, to: false }, verbose: { from: false, to: true } },
      after: "%YAML 1.1\n---\ndebug: no\nverbose: On\n",
      removed: [3, 4],
      added: [3, 4],
    },
    {
      name: "~ stays ~ style for null, empty values get a value",
      before: "a: 5\nb: ~\nc:\nd: # comment\ne: 1\n",
      set: { a: { to: null }, b: { from: null, to: 1 }, c: { to: "x" }, d: { from: null, to: [] } },
      after: "a: null\nb: 1\nc: x\nd: [] # comment\ne: 1\n",
      removed: [1, 2, 3, 4],
      added: [1, 2, 3, 4],
    },
  ])("$name", (testCase) => expectEdit(testCase));

  it("yes is a string under YAML 1.2 (what the parser reads decides)", () => {
    const result = applyParamEdits("debug: yes\n", "yaml", { debug: { from: "yes", to: "no" } });
    expect(result.ok && result.text).toBe('debug: "no"\n');
  });
});

describe("applyParamEdits (yaml): comments, line endings, markers", () => {
  it.each<Case>([
    {
      name: "own-line, trailing-on-edited and trailing-on-neighbour comments all stay",
      before: lines("# header", "a: 1 # one", "# about b", "b: 2 # two", "c: 3 # three", "# footer", ""),
      set: { b: { to: 20 } },
      after: lines("# header", "a: 1 # one", "# about b", "b: 20 # two", "c: 3 # three", "# footer", ""),
      removed: [4],
      added: [4],
    },
    {
      name: "CRLF: a scalar edit",
      before: "a: 1\r\nb:\r\n  c: old # note\r\n",
      set: { "b.c": { to: "new" } },
      after: "a: 1\r\nb:\r\n  c: new # note\r\n",
      removed: [3],
      added: [3],
    },
    {
      name: "CRLF: a new mapping uses CRLF",
      before: "a: 1\r\nb: 2\r\n",
      set: { a: { to: { x: 1, y: [true] } } },
      after: 'a:\r\n  x: 1\r\n  "y":\r\n    - true\r\nb: 2\r\n',
      removed: [1],
      added: [1, 2, 3, 4],
    },
    {
      name: "no trailing newline stays absent (scalar)",
      before: "a: 1\nb: 2",
      set: { b: { to: 3 } },
      after: "a: 1\nb: 3",
      removed: [2],
      added: [2],
    },
    {
      name: "no trailing newline stays absent (new mapping on the last line)",
      before: "a: 1\nb: 2",
      set: { b: { to: { c: 3 } } },
      after: "a: 1\nb:\n  c: 3",
      removed: [2],
      added: [2, 3],
    },
    {
      name: "no trailing newline stays absent (mapping replaced by a scalar)",
      before: "a: 1\nb:\n  c: 3",
      set: { b: { to: 4 } },
      after: "a: 1\nb: 4",
      removed: [2, 3],
      added: [2],
    },
    {
      name: "document markers and directives stay",
      before: "%YAML 1.2\n---\n# doc\na: 1\n...\n",
      set: { a: { to: 2 } },
      after: "%YAML 1.2\n---\n# doc\na: 2\n...\n",
      removed: [4],
      added: [4],
    },
    {
      name: "a byte-order mark stays",
      before: "\uFEFFa: 1\nb: 2\n",
      set: { b: { to: 3 } },
      after: "\uFEFFa: 1\nb: 3\n",
      removed: [2],
      added: [2],
    },
    {
      name: "anchors and aliases elsewhere stay",
      before: "base: &base\n  x: 1\nother: *base\nval: 2 # v\n",
      set: { val: { to: 3 } },
      after: "base: &base\n  x: 1\nother: *base\nval: 3 # v\n",
      removed: [4],
      added: [4],
    },
    {
      name: "an anchor nobody aliases does not block edits inside it",
      before: "free: &unused\n  y: 1\n",
      set: { "free.y": { to: 2 } },
      after: "free: &unused\n  y: 2\n",
      removed: [2],
      added: [2],
    },
    {
      name: "quoting style of other values stays",
      before: "a: 'x'\nb: \"y\"\nc: z\nd: 1\n",
      set: { d: { to: 2 } },
      after: "a: 'x'\nb: \"y\"\nc: z\nd: 2\n",
      removed: [4],
      added: [4],
    },
    {
      name: "a value written on the line after its key",
      before: "a:\n  5\nb: 1\n",
      set: { a: { to: 6 } },
      after: "a:\n  6\nb: 1\n",
      removed: [2],
      added: [2],
    },
    {
      name: "a multi-line plain scalar becomes one line",
      before: "a: this is\n  folded plain\nb: 1\n",
      set: { a: { to: "short" } },
      after: "a: short\nb: 1\n",
      removed: [1, 2],
      added: [1],
    },
    {
      name: "a multi-line double-quoted scalar stays double-quoted",
      before: 'a: "first\n  second" # c\nb: 1\n',
      set: { a: { to: "one" } },
      after: 'a: "one" # c\nb: 1\n',
      removed: [1, 2],
      added: [1],
    },
    {
      name: "quoted and numeric keys",
      before: "\"quoted key\": 1\n1: one\n'single': 2\n",
      set: { "quoted key": { to: 10 }, "1": { to: "uno" }, single: { to: 20 } },
      after: "\"quoted key\": 10\n1: uno\n'single': 20\n",
      removed: [1, 2, 3],
      added: [1, 2, 3],
    },
    {
      name: "keys with dots and unicode",
      before: "a.b:\n  c: 1\nключ: значение\n",
      set: { "a\\.b.c": { from: 1, to: 2 }, ключ: { to: "новое" } },
      after: "a.b:\n  c: 2\nключ: новое\n",
      removed: [2, 3],
      added: [2, 3],
    },
    {
      name: "a deeply nested key",
      before: lines("l1:", "  l2:", "    l3:", "      l4:", "        l5:", "          l6: deep # here", ""),
      set: { "l1.l2.l3.l4.l5.l6": { from: "deep", to: "deeper" } },
      after: lines("l1:", "  l2:", "    l3:", "      l4:", "        l5:", "          l6: deeper # here", ""),
      removed: [6],
      added: [6],
    },
  ])("$name", (testCase) => expectEdit(testCase));
});

describe("applyParamEdits (yaml): block scalars", () => {
  it.each<Case>([
    {
      name: "a literal block gets new lines, the blank line after it stays",
      before: "script: |\n  echo a\n  echo b\n\nnext: 1\n",
      set: { script: { from: "echo a\necho b\n", to: "echo c\n" } },
      after: "script: |\n  echo c\n\nnext: 1\n",
      removed: [2, 3],
      added: [2],
    },
    {
      name: "strip chomping when the new text has no final newline",
      before: "s: |\n  a\nn: 1\n",
      set: { s: { to: "one\ntwo" } },
      after: "s: |-\n  one\n  two\nn: 1\n",
      removed: [1, 2],
      added: [1, 2, 3],
    },
    {
      name: "the header comment stays",
      before: "s: | # keep me\n  a\n",
      set: { s: { to: "b\n" } },
      after: "s: | # keep me\n  b\n",
      removed: [2],
      added: [2],
    },
    {
      name: "content indentation of the block is kept",
      before: "s: |\n    deep\n    er\nn: 1\n",
      set: { s: { to: "x\n\ny\n" } },
      after: "s: |\n    x\n\n    y\nn: 1\n",
      removed: [2, 3],
      added: [2, 3, 4],
    },
    {
      name: "a folded single line stays folded",
      before: "d: >-\n  long text here\nn: 1\n",
      set: { d: { to: "new long text" } },
      after: "d: >-\n  new long text\nn: 1\n",
      removed: [2],
      added: [2],
    },
    {
      name: "folded to several lines becomes literal",
      before: "d: >\n  a b\n",
      set: { d: { to: "x\ny\n" } },
      after: "d: |\n  x\n  y\n",
      removed: [1, 2],
      added: [1, 2, 3],
    },
    {
      name: "two trailing newlines fall back to double quotes",
      before: "s: |\n  a\nn: 1\n",
      set: { s: { to: "a\n\n" } },
      after: 's: "a\\n\\n"\nn: 1\n',
      removed: [1, 2],
      added: [1],
    },
    {
      name: "a first line starting with a space falls back to double quotes",
      before: "s: |\n  a\nn: 1\n",
      set: { s: { to: "  indented\n" } },
      after: 's: "  indented\\n"\nn: 1\n',
      removed: [1, 2],
      added: [1],
    },
    {
      name: "a block replaced by a number, header comment kept",
      before: "s: | # c\n  a\nn: 1\n",
      set: { s: { to: 5 } },
      after: "s: 5 # c\nn: 1\n",
      removed: [1, 2],
      added: [1],
    },
    {
      name: "a block at the end of a file without a final newline",
      before: "n: 1\ns: |\n  a",
      set: { s: { to: "b" } },
      after: "n: 1\ns: |-\n  b",
      removed: [2, 3],
      added: [2, 3],
    },
    {
      name: "a block in a sequence item",
      before: "steps:\n  - run: |\n      make\n  - x\n",
      set: { "steps.0.run": { to: "make test\nmake lint\n" } },
      after: "steps:\n  - run: |\n      make test\n      make lint\n  - x\n",
      removed: [3],
      added: [3, 4],
    },
  ])("$name", (testCase) => expectEdit(testCase));
});

describe("applyParamEdits (yaml): structure changes", () => {
  it.each<Case>([
    {
      name: "a scalar becomes a mapping, the comment stays on the key line",
      before: "a: 1 # c\nb: 2\n",
      set: { a: { to: { x: 1, list: [1, 2] } } },
      after: "a: # c\n  x: 1\n  list:\n    - 1\n    - 2\nb: 2\n",
      removed: [1],
      added: [1, 2, 3, 4, 5],
    },
    {
      name: "a mapping becomes a scalar",
      before: "a:\n  x: 1\n  y: 2\nb: 3\n",
      set: { a: { to: "v" } },
      after: "a: v\nb: 3\n",
      removed: [1, 2, 3],
      added: [1],
    },
    {
      name: "a mapping replaced by a mapping at the same indentation, comment after the key kept",
      before: "a: # about a\n  # inner\n  x: 1\nb: 3\n",
      set: { a: { to: { k: "v" } } },
      after: "a: # about a\n  k: v\nb: 3\n",
      removed: [2, 3],
      added: [2],
    },
    {
      name: "a mapping becomes a sequence in the file's indentless style",
      before: "list:\n- a\n- b\nm:\n  k: 1\n",
      set: { m: { to: [1, 2] } },
      after: "list:\n- a\n- b\nm:\n- 1\n- 2\n",
      removed: [5],
      added: [5, 6],
    },
    {
      name: "a 4-space file gets 4-space nesting",
      before: "a:\n    b: 1\n    c: 2\n",
      set: { "a.b": { to: { x: 1 } } },
      after: "a:\n    b:\n        x: 1\n    c: 2\n",
      removed: [2],
      added: [2, 3],
    },
    {
      name: "a sequence item becomes a mapping",
      before: "items:\n  - a\n  - b\n",
      set: { "items.0": { to: { name: "x", v: 1 } } },
      after: "items:\n  - name: x\n    v: 1\n  - b\n",
      removed: [2],
      added: [2, 3],
    },
    {
      name: "empty sequence items get values",
      before: "items:\n  -\n  -\n  - b\n",
      set: { "items.0": { to: "a" }, "items.1": { to: { k: 1, l: 2 } } },
      after: "items:\n  - a\n  - k: 1\n    l: 2\n  - b\n",
      removed: [2, 3],
      added: [2, 3, 4],
    },
    {
      name: "CRLF: a block scalar and a new sequence use CRLF",
      before: "s: |\r\n  old\r\nl: 1\r\n",
      set: { s: { to: "new\nlines\n" }, l: { to: ["x"] } },
      after: "s: |\r\n  new\r\n  lines\r\nl:\r\n  - x\r\n",
      removed: [2, 3],
      added: [2, 3, 4, 5],
    },
    {
      name: "a mapping in a sequence becomes a scalar",
      before: "items:\n  - name: x\n    v: 1\n  - b\n",
      set: { "items.0": { to: "a" } },
      after: "items:\n  - a\n  - b\n",
      removed: [2, 3],
      added: [2],
    },
    {
      name: "a sequence item with a comment becomes a mapping under it",
      before: "items:\n  - a # first\n  - b\n",
      set: { "items.0": { to: { k: 1 } } },
      after: "items:\n  - # first\n    k: 1\n  - b\n",
      removed: [2],
      added: [2, 3],
    },
    {
      name: "a nested sequence inside a sequence",
      before: "m:\n  - 1\n",
      set: { "m.0": { to: [[1, 2], [3]] } },
      after: "m:\n  - - - 1\n      - 2\n    - - 3\n",
      removed: [2],
      added: [2, 3, 4],
    },
    {
      name: "a sequence of mappings under a key",
      before: "env: none\n",
      set: {
        env: {
          to: [
            { name: "A", value: "1" },
            { name: "B", value: "yes" },
          ],
        },
      },
      after: 'env:\n  - name: A\n    value: "1"\n  - name: B\n    value: "yes"\n',
      removed: [1],
      added: [1, 2, 3, 4, 5],
    },
    {
      name: "new keys that need quotes are quoted",
      before: "m: 0\n",
      set: { m: { to: { "a b": 1, yes: 2, "k:x": 3, "": 4, "#c": 5, "1": 6, y: 7, n: 8 } } },
      // `1` would be an integer key, `yes`, `y` and `n` booleans to YAML 1.1 readers.
      after: 'm:\n  "1": 6\n  a b: 1\n  "yes": 2\n  k:x: 3\n  "": 4\n  "#c": 5\n  "y": 7\n  "n": 8\n',
      removed: [1],
      added: [1, 2, 3, 4, 5, 6, 7, 8, 9],
    },
    {
      name: "an empty {} placeholder is filled in block style",
      before: "resources: {}\nnodeSelector:\n",
      set: { resources: { to: { limits: { cpu: "100m" } } }, nodeSelector: { to: { disk: "ssd" } } },
      after: "resources:\n  limits:\n    cpu: 100m\nnodeSelector:\n  disk: ssd\n",
      removed: [1],
      added: [1, 2, 3, 5],
    },
    {
      name: "a flow sequence stays flow",
      before: "f: [1, 2] # c\n",
      set: { f: { to: [3, "a b", { k: "v" }, []] } },
      after: "f: [3, a b, {k: v}, []] # c\n",
      removed: [1],
      added: [1],
    },
    {
      name: "inside a flow mapping, new values are flow",
      before: "m: {a: 1, b: 2}\n",
      set: { "m.a": { to: { c: [1, "x y"] } } },
      after: "m: {a: {c: [1, x y]}, b: 2}\n",
      removed: [1],
      added: [1],
    },
    {
      name: "a whole flow mapping replaced by an empty one",
      before: "m: {a: 1}\n",
      set: { m: { to: {} } },
      after: "m: {}\n",
      removed: [1],
      added: [1],
    },
    {
      name: "a mapping replaced by an empty sequence",
      before: "m:\n  a: 1\nz: 0\n",
      set: { m: { to: [] } },
      after: "m: []\nz: 0\n",
      removed: [1, 2],
      added: [1],
    },
    {
      name: "a multi-line string inside a new mapping is double-quoted",
      before: "m: 0\n",
      set: { m: { to: { text: "a\nb", none: null, t: true } } },
      after: 'm:\n  text: "a\\nb"\n  none: null\n  t: true\n',
      removed: [1],
      added: [1, 2, 3, 4],
    },
    {
      name: "Kubernetes-style: an item deep in a list of containers",
      before: lines(
        "spec:",
        "  containers:",
        "    - name: app",
        "      image: nginx:1.25 # pinned",
        "      ports:",
        "        - containerPort: 80",
        "",
      ),
      set: {
        "spec.containers.0.image": { to: "nginx:1.26" },
        "spec.containers.0.ports.0.containerPort": { to: 8080 },
      },
      after: lines(
        "spec:",
        "  containers:",
        "    - name: app",
        "      image: nginx:1.26 # pinned",
        "      ports:",
        "        - containerPort: 8080",
        "",
      ),
      removed: [4, 6],
      added: [4, 6],
    },
  ])("$name", (testCase) => expectEdit(testCase));
});

describe("applyParamEdits (yaml): refusals", () => {
  const ANCHORS = lines(
    "base: &base",
    "  x: 1",
    "other: *base",
    "tagged: !!str 5",
    "custom: !Ref thing",
    "anchored: &a 7",
    "uses: *a",
    "? explicit",
    ": 1",
    "",
  );

  it.each([
    { key: "other", message: /the value is an alias \(\*base\)/ },
    { key: "other.x", message: /"other" is an alias \(\*base\)/ },
    { key: "base", message: /the value has an anchor \(&base\)/ },
    { key: "base.x", message: /"base" has the anchor &base that aliases elsewhere repeat/ },
    { key: "anchored", message: /the value has an anchor \(&a\)/ },
    { key: "tagged", message: /explicit tag \(tag:yaml\.org,2002:str\)/ },
    { key: "custom", message: /explicit tag \(!Ref\)/ },
    { key: "explicit", message: /explicit key/ },
  ])("$key", ({ key, message }) => {
    const result = applyParamEdits(ANCHORS, "yaml", { [key]: { to: 2 } });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.code).toBe("FILE_UNPARSABLE");
    expect(result.key).toBe(key);
    expect(result.message).toMatch(new RegExp(`^cannot edit key "${key.replace(".", "\\.")}": `));
    expect(result.message).toMatch(message);
  });

  it("a key that only a << merge provides is not the mapping's own", () => {
    const text = "%YAML 1.1\n---\nbase: &b {x: 1}\nd:\n  <<: *b\n  y: 2\n";
    expect(applyParamEdits(text, "yaml", { "d.x": { to: 5 } })).toEqual({
      ok: false,
      code: "PARAM_NOT_IN_FILE",
      key: "d.x",
      message:
        'key "d.x" is not in the file: "d" has no key "x" of its own (keys merged in with `<<` are edited where they are anchored)',
    });
    const own = applyParamEdits(text, "yaml", { "d.y": { from: 2, to: 3 } });
    expect(own.ok && own.text).toBe(text.replace("y: 2", "y: 3"));
  });

  it("drift and existence are still checked before a refusal would matter", () => {
    const result = applyParamEdits(ANCHORS, "yaml", { "base.y": { to: 1 } });
    expect(result.ok === false && result.code).toBe("FILE_UNPARSABLE");
    const missing = applyParamEdits(ANCHORS, "yaml", { nope: { to: 1 } });
    expect(missing.ok === false && missing.code).toBe("PARAM_NOT_IN_FILE");
  });
});
