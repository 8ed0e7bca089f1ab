/**
 * Rendering JSON values as YAML text for the params editor: plain when the parser reads it back
 * as the same string, otherwise quoted; numbers, booleans and nulls in the spelling of the value
 * they replace. Every rendering here is a candidate: the editor keeps it only if the edited file
 * passes the round-trip check.
 */
import { isMap, isScalar, isSeq, parseDocument, Scalar } from "yaml";
import { isNonEmptyContainer, type JsonObject, type JsonValue } from "./json-value.js";

// eslint-disable-next-line no-control-regex
const NOT_PRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/;

type PlainContext = "value" | "flow" | "key" | "flowKey";

/**
 * Whether `text` written plain (unquoted) reads back as exactly that string. A quick filter
 * excludes what plain scalars cannot hold; the parser then says how the rest reads. Both YAML 1.1
 * and 1.2 must read it as the string: many consumers (PyYAML, go-yaml v2 under Helm) still read
 * `yes`, `on`, `0755` or `2024-01-01` the 1.1 way, so those stay quoted whatever the file declares.
 */
export function plainReadsAs(text: string, where: PlainContext): boolean {
  if (text === "" || text !== text.trim() || NOT_PRINTABLE.test(text)) return false;
  if (/^[?:,[\]{}#&*!|>'"%@`]/.test(text) || /^-( |$)/.test(text)) return false;
  if (/: |:$| #/.test(text)) return false;
  if (where !== "value" && /[,[\]{}]/.test(text)) return false;
  if (where === "flowKey" && text.includes(":")) return false;
  const flow = where === "flow" || where === "flowKey";
  const source = flow ? `[${text}]` : where === "key" ? `${text}: x` : text;
  return (["1.1", "1.2"] as const).every((version) => {
    const doc = parseDocument(source, { version });
    if (doc.errors.length > 0) return false;
    let node: unknown = doc.contents;
    if (flow) node = isSeq(node) && node.items.length === 1 ? node.items[0] : null;
    if (where === "key") node = isMap(node) && node.items.length === 1 ? node.items[0]?.key : null;
    return isScalar(node) && node.type === Scalar.PLAIN && node.value === text;
  });
}

function hexEscape(ch: string): string {
  return `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/** YAML double quotes accept JSON's escapes; characters YAML cannot hold raw are escaped too. */
export function doubleQuoted(text: string): string {
  return JSON.stringify(text).replace(new RegExp(NOT_PRINTABLE.source, "g"), hexEscape);
}

function singleQuoted(text: string): string | null {
  return NOT_PRINTABLE.test(text) ? null : `'${text.replaceAll("'", "''")}'`;
}

/** Keeps the case of the word it replaces: `True` → `False`, `YES` → `NO`. */
function matchCase(word: string, model: string): string {
  if (model.length > 1 && model === model.toUpperCase()) return word.toUpperCase();
  if (
    model[0] !== undefined &&
    model[0] === model[0].toUpperCase() &&
    model.slice(1) === model.slice(1).toLowerCase()
  ) {
    return word[0]?.toUpperCase() + word.slice(1);
  }
  return word;
}

export function numberRenderings(value: number, old: unknown): string[] {
  const out: string[] = [];
  const source = isScalar(old) && typeof old.value === "number" ? old.source : undefined;
  if (source !== undefined) {
    const upper = /[A-F]/.test(source.slice(2));
    if (Number.isSafeInteger(value) && value >= 0) {
      if (/^0x[0-9a-f]+$/i.test(source)) {
        const digits = value.toString(16);
        out.push(source.slice(0, 2) + (upper ? digits.toUpperCase() : digits));
      } else if (/^0o[0-7]+$/i.test(source)) {
        out.push(source.slice(0, 2) + value.toString(8));
      } else if (/^0[0-7]+$/.test(source)) {
        out.push(`0${value.toString(8)}`); // YAML 1.1 octal
      }
    }
    if (/^[-+]?[0-9.]+e[-+]?[0-9]+$/i.test(source)) {
      const exp = value.toExponential().replace("e+", "e");
      out.push(source.includes("E") ? exp.toUpperCase() : exp);
    }
  }
  const plain = String(value);
  out.push(plain);
  // YAML 1.1 floats need a dot before an exponent.
  if (/e/.test(plain) && !plain.includes(".")) out.push(plain.replace("e", ".0e"));
  return out;
}

export function booleanRenderings(value: boolean, old: unknown): string[] {
  const out: string[] = [];
  const source = isScalar(old) && typeof old.value === "boolean" ? old.source : undefined;
  if (source !== undefined) {
    for (const [yes, no] of [
      ["true", "false"],
      ["yes", "no"],
      ["on", "off"],
      ["y", "n"],
    ] as const) {
      const lower = source.toLowerCase();
      if (lower === yes || lower === no) out.push(matchCase(value ? yes : no, source));
    }
  }
  out.push(value ? "true" : "false");
  return out;
}

export function nullRenderings(old: unknown): string[] {
  const source = isScalar(old) && old.value === null ? old.source : undefined;
  if (source === "~") return ["~", "null"];
  if (source !== undefined && source.toLowerCase() === "null") return [matchCase("null", source), "null"];
  return ["null"];
}

/** A string in the old value's quoting style where it fits, else double-quoted; best first. */
export function stringRenderings(text: string, old: unknown, inFlow: boolean): string[] {
  const style = isScalar(old) ? old.type : undefined;
  const out: string[] = [];
  if (style === Scalar.QUOTE_SINGLE) {
    const quoted = singleQuoted(text);
    if (quoted !== null) out.push(quoted);
  } else if (style !== Scalar.QUOTE_DOUBLE && plainReadsAs(text, inFlow ? "flow" : "value")) {
    out.push(text);
  }
  out.push(doubleQuoted(text));
  return out;
}

/** One-line rendering of a scalar or empty collection inside new content. */
export function inlineScalar(value: JsonValue, where: "value" | "flow"): string {
  if (typeof value === "string") return plainReadsAs(value, where) ? value : doubleQuoted(value);
  if (Array.isArray(value)) return "[]";
  if (value !== null && typeof value === "object") return "{}";
  return String(value);
}

export function renderFlow(value: JsonValue): string {
  if (!isNonEmptyContainer(value)) return inlineScalar(value, "flow");
  if (Array.isArray(value)) return `[${value.map((item) => renderFlow(item)).join(", ")}]`;
  const entries = Object.entries(value).map(([key, item]) => {
    const keyText = plainReadsAs(key, "flowKey") ? key : doubleQuoted(key);
    return `${keyText}: ${renderFlow(item)}`;
  });
  return `{${entries.join(", ")}}`;
}

/** Block lines of a new non-empty collection, relative to the column where the first line starts. */
export interface BlockIndents {
  /** Indentation step of nested mappings. */
  unit: number;
  /** Indentation of a sequence under its key: 0 for the "indentless" style. */
  seqIndent: number;
}

export function blockLines(value: JsonValue[] | JsonObject, indents: BlockIndents): string[] {
  const lines: string[] = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      if (isNonEmptyContainer(item)) {
        const [first = "", ...rest] = blockLines(item, indents);
        lines.push(`- ${first}`, ...rest.map((line) => `  ${line}`));
      } else {
        lines.push(`- ${inlineScalar(item, "value")}`);
      }
    }
    return lines;
  }
  for (const [key, item] of Object.entries(value)) {
    const keyText = plainReadsAs(key, "key") ? key : doubleQuoted(key);
    if (isNonEmptyContainer(item)) {
      const pad = " ".repeat(Array.isArray(item) ? indents.seqIndent : indents.unit);
      lines.push(`${keyText}:`, ...blockLines(item, indents).map((line) => pad + line));
    } else {
      lines.push(`${keyText}: ${inlineScalar(item, "value")}`);
    }
  }
  return lines;
}
