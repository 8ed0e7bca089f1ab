/**
 * JSON params editing by splicing: the scanner gives the exact span of the value at a path, the
 * new value is rendered in the style found around it (indent unit and depth, separators, line
 * endings, one-line or expanded) and everything outside that span stays byte-identical.
 */
import { isIndexSegment } from "./dotted-key.js";
import {
  describePrefix,
  type FormatEditor,
  type LoadResult,
  type Located,
  type ParamEditOperation,
} from "./editor.js";
import {
  scanJson,
  type JsonArrayNode,
  type JsonMember,
  type JsonNode,
  type JsonObjectNode,
} from "./json-source.js";
import { deepEqual, type JsonValue } from "./json-value.js";
import { detectEol, indentOfLineAt, lineStartAt, type Eol } from "./text.js";

export const jsonEditor: FormatEditor = { load: loadJson, verify: verifyJson };

type JsonContainer = JsonObjectNode | JsonArrayNode;

function withoutBom(text: string): string {
  return text.startsWith("\uFEFF") ? text.slice(1) : text;
}

function loadJson(text: string): LoadResult {
  const scanned = scanJson(text);
  if (!scanned.ok) return { ok: false, message: scanned.message };
  try {
    // The scanner is strict RFC 8259; JSON.parse is the reference it must agree with.
    JSON.parse(withoutBom(text));
  } catch (error) {
    return { ok: false, message: `invalid JSON: ${(error as Error).message}` };
  }
  const root = scanned.root;
  if (root.kind !== "object") {
    const what = root.kind === "array" ? "an array" : "a single value";
    return { ok: false, message: `the top level of the file is ${what}, not an object` };
  }
  return { ok: true, file: { locate: (path) => locateJson(text, root, path) } };
}

function kindName(text: string, node: JsonNode): string {
  if (node.kind !== "scalar") return node.kind === "object" ? "an object" : "an array";
  const first = text[node.start];
  if (first === '"') return "a string";
  if (first === "t" || first === "f") return "a boolean";
  if (first === "n") return "null";
  return "a number";
}

function locateJson(text: string, root: JsonObjectNode, path: readonly string[]): Located {
  let node: JsonNode = root;
  let parent: JsonContainer = root;
  for (let depth = 0; depth < path.length; depth++) {
    const segment = path[depth] as string;
    const here = describePrefix(path, depth);
    if (node.kind === "object") {
      const matches: JsonMember[] = node.members.filter((member) => member.key === segment);
      const member = matches[0];
      if (member === undefined) return notInFile(`${here} has no key "${segment}"`);
      if (matches.length > 1) {
        return {
          ok: false,
          code: "FILE_UNPARSABLE",
          message: `${here} has the key "${segment}" ${matches.length} times; refusing to guess which one to edit`,
        };
      }
      parent = node;
      node = member.value;
    } else if (node.kind === "array") {
      if (!isIndexSegment(segment)) return notInFile(`${here} is an array and "${segment}" is not an index`);
      const item: JsonNode | undefined = node.items[Number(segment)];
      if (item === undefined) {
        return notInFile(`${here} has ${node.items.length} item(s), there is no index ${segment}`);
      }
      parent = node;
      node = item;
    } else {
      return notInFile(`${here} is ${kindName(text, node)}, not an object or array`);
    }
  }
  const target = node;
  const container = parent;
  return {
    ok: true,
    current: JSON.parse(text.slice(target.start, target.end)) as unknown,
    candidates: (to) => [
      text.slice(0, target.start) +
        renderJson(to, layoutFor(text, root, target, container)) +
        text.slice(target.end),
    ],
  };
}

function notInFile(message: string): Located {
  return { ok: false, code: "PARAM_NOT_IN_FILE", message };
}

// ---------------------------------------------------------------------------------------------
// Layout: how the file writes values around the target, so that a new object or array looks as
// if it had always been there.

interface JsonLayout {
  eol: Eol;
  /** Expanded (one member per line) or one-line. */
  expanded: boolean;
  /** Indentation of the line the value starts on; nested members add `unit` per level. */
  indent: string;
  unit: string;
  /** Between a key and its value, e.g. `": "` or `":"`. */
  colon: string;
  /** Between members of a one-line container, e.g. `", "` or `","`. */
  comma: string;
  /** Inside the braces / brackets of a one-line container, e.g. `{ "a": 1 }`. */
  objectPad: string;
  arrayPad: string;
  /** The file writes non-ASCII characters as \u escapes (Python's ensure_ascii style). */
  asciiOnly: boolean;
}

function children(node: JsonNode): JsonNode[] {
  if (node.kind === "object") return node.members.map((member) => member.value);
  return node.kind === "array" ? node.items : [];
}

/** Start of the first thing inside a container: a key for objects, a value for arrays. */
function firstChildStart(node: JsonContainer): number | undefined {
  return node.kind === "object" ? node.members[0]?.keyStart : node.items[0]?.start;
}

function isOneLine(text: string, node: JsonNode): boolean {
  return !text.slice(node.start, node.end).includes("\n");
}

function* walk(node: JsonNode): Generator<JsonContainer> {
  if (node.kind === "scalar") return;
  yield node;
  for (const child of children(node)) yield* walk(child);
}

function colonOf(text: string, node: JsonNode): string | undefined {
  if (node.kind !== "object") return undefined;
  const member = node.members[0];
  if (member === undefined) return undefined;
  const sep = text.slice(member.keyEnd, member.value.start);
  return /^[ \t]*:[ \t]*$/.test(sep) ? sep : undefined;
}

function commaOf(text: string, node: JsonNode): string | undefined {
  if (node.kind === "scalar" || !isOneLine(text, node)) return undefined;
  const kids = children(node);
  const first = kids[0];
  const second = node.kind === "object" ? node.members[1]?.keyStart : node.items[1]?.start;
  if (first === undefined || second === undefined) return undefined;
  return text.slice(first.end, second);
}

function padOf(text: string, node: JsonNode): string | undefined {
  if (node.kind === "scalar" || !isOneLine(text, node)) return undefined;
  const start = firstChildStart(node);
  return start === undefined ? undefined : text.slice(node.start + 1, start);
}

/** The extra indentation of an expanded container's members relative to the container's line. */
function unitOf(text: string, node: JsonNode): string | undefined {
  if (node.kind === "scalar") return undefined;
  const childStart = firstChildStart(node);
  if (childStart === undefined || isOneLine(text, node)) return undefined;
  const childIndent = indentOfLineAt(text, childStart);
  // Only a member that starts its own line says anything about indentation.
  if (lineStartAt(text, childStart) + childIndent.length !== childStart) return undefined;
  const ownIndent = indentOfLineAt(text, node.start);
  if (childIndent.length <= ownIndent.length || !childIndent.startsWith(ownIndent)) return undefined;
  return childIndent.slice(ownIndent.length);
}

function firstOf<T>(nodes: Iterable<JsonNode>, pick: (node: JsonNode) => T | undefined): T | undefined {
  for (const node of nodes) {
    const found = pick(node);
    if (found !== undefined) return found;
  }
  return undefined;
}

function layoutFor(text: string, root: JsonNode, target: JsonNode, parent: JsonContainer): JsonLayout {
  // A non-empty container keeps its own shape; a scalar or an empty container takes its parent's.
  const own = children(target).length > 0;
  const model: JsonNode = own ? target : parent;
  const expanded = !isOneLine(text, model);
  const everywhere = (): Iterable<JsonNode> => walk(root);
  const pick = <T>(fn: (node: JsonNode) => T | undefined): T | undefined =>
    firstOf([model, target, parent], fn) ?? firstOf(everywhere(), fn);

  const colon = pick((node) => colonOf(text, node)) ?? ": ";
  const oneLineLike = (kind: JsonNode["kind"]) => (node: JsonNode) =>
    node.kind === kind ? padOf(text, node) : undefined;
  const asciiEscapes = /\\u(?:00[89a-fA-F]|0[1-9a-fA-F][0-9a-fA-F]|[1-9a-fA-F][0-9a-fA-F]{2})[0-9a-fA-F]/;
  return {
    eol: detectEol(text),
    expanded,
    indent: indentOfLineAt(text, target.start),
    unit: pick((node) => unitOf(text, node)) ?? (/^\t/m.test(text) ? "\t" : "  "),
    colon,
    comma: pick((node) => commaOf(text, node)) ?? (colon.endsWith(" ") ? ", " : ","),
    objectPad: pick(oneLineLike("object")) ?? "",
    arrayPad: pick(oneLineLike("array")) ?? "",
    // eslint-disable-next-line no-control-regex
    asciiOnly: !/[^\u0000-\u007f]/.test(text) && asciiEscapes.test(text),
  };
}

// ---------------------------------------------------------------------------------------------

function renderString(value: string, layout: JsonLayout): string {
  const json = JSON.stringify(value);
  if (!layout.asciiOnly) return json;
  // eslint-disable-next-line no-control-regex
  return json.replace(/[^\u0000-\u007f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function renderJson(value: JsonValue, layout: JsonLayout, indent = layout.indent): string {
  if (typeof value === "string") return renderString(value, layout);
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const isArray = Array.isArray(value);
  const entries: string[] = isArray
    ? value.map((item) => renderJson(item, layout, indent + layout.unit))
    : Object.entries(value).map(
        ([key, item]) =>
          renderString(key, layout) + layout.colon + renderJson(item, layout, indent + layout.unit),
      );
  const [open, close] = isArray ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) return open + close;
  if (layout.expanded) {
    const inner = indent + layout.unit;
    return `${open}${layout.eol}${inner}${entries.join(`,${layout.eol}${inner}`)}${layout.eol}${indent}${close}`;
  }
  const pad = isArray ? layout.arrayPad : layout.objectPad;
  return `${open}${pad}${entries.join(layout.comma)}${pad}${close}`;
}

// ---------------------------------------------------------------------------------------------

function verifyJson(before: string, after: string, edits: readonly ParamEditOperation[]): boolean {
  if (!scanJson(after).ok) return false;
  try {
    const expected = JSON.parse(withoutBom(before)) as unknown;
    for (const edit of edits) {
      if (!setAt(expected, edit.path, edit.to)) return false;
    }
    return deepEqual(JSON.parse(withoutBom(after)), expected, true);
  } catch {
    return false;
  }
}

/** Replaces the value at `path` in parsed JSON; false when the path does not exist. */
function setAt(root: unknown, path: readonly string[], to: JsonValue): boolean {
  let container: unknown = root;
  for (let depth = 0; depth < path.length; depth++) {
    const segment = path[depth] as string;
    if (typeof container !== "object" || container === null) return false;
    if (Array.isArray(container) && !(isIndexSegment(segment) && Number(segment) < container.length))
      return false;
    if (!Object.hasOwn(container, segment)) return false;
    if (depth === path.length - 1) {
      // defineProperty, not assignment: a "__proto__" key must stay an ordinary own property.
      // A copy, so that a later edit inside it never reaches the caller's value.
      Object.defineProperty(container, segment, {
        value: structuredClone(to),
        writable: true,
        enumerable: true,
        configurable: true,
      });
      return true;
    }
    container = (container as Record<string, unknown>)[segment];
  }
  return false;
}
