/**
 * A strict JSON (RFC 8259) scanner that keeps source positions: every value knows the [start, end)
 * span of its text, every member the span of its key. `JSON.parse` gives values but no positions,
 * and the params editor needs positions to splice one value without touching the rest of the file.
 */
import { lineAndColumn } from "./text.js";

interface Span {
  start: number;
  end: number;
}

export interface JsonObjectNode extends Span {
  kind: "object";
  members: JsonMember[];
}

export interface JsonArrayNode extends Span {
  kind: "array";
  items: JsonNode[];
}

export interface JsonScalarNode extends Span {
  kind: "scalar";
}

export type JsonNode = JsonObjectNode | JsonArrayNode | JsonScalarNode;

export interface JsonMember {
  key: string;
  keyStart: number;
  keyEnd: number;
  value: JsonNode;
}

export type JsonScanResult = { ok: true; root: JsonNode } | { ok: false; message: string };

const MAX_DEPTH = 512;

class ScanError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Scans `text` (a leading byte-order mark is allowed and skipped). Never throws. */
export function scanJson(text: string): JsonScanResult {
  const scanner = new Scanner(text);
  try {
    return { ok: true, root: scanner.document() };
  } catch (error) {
    if (!(error instanceof ScanError)) throw error;
    const { line, column } = lineAndColumn(text, error.offset);
    return { ok: false, message: `invalid JSON at line ${line}, column ${column}: ${error.message}` };
  }
}

function describeChar(ch: string | undefined): string {
  if (ch === undefined) return "end of file";
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f]/.test(ch)
    ? `character U+${ch.charCodeAt(0).toString(16).padStart(4, "0")}`
    : `"${ch}"`;
}

class Scanner {
  #pos = 0;

  constructor(readonly text: string) {}

  document(): JsonNode {
    if (this.text.startsWith("\uFEFF")) this.#pos = 1;
    this.#skipWhitespace();
    const root = this.#value(0);
    this.#skipWhitespace();
    if (this.#pos < this.text.length)
      this.#fail(`unexpected ${describeChar(this.text[this.#pos])} after the data`);
    return root;
  }

  #fail(message: string, offset = this.#pos): never {
    throw new ScanError(message, offset);
  }

  #skipWhitespace(): void {
    for (;;) {
      const ch = this.text[this.#pos];
      if (ch !== " " && ch !== "\t" && ch !== "\n" && ch !== "\r") return;
      this.#pos++;
    }
  }

  #value(depth: number): JsonNode {
    if (depth > MAX_DEPTH) this.#fail(`nested more than ${MAX_DEPTH} levels deep`);
    const ch = this.text[this.#pos];
    const start = this.#pos;
    if (ch === "{") return this.#object(depth);
    if (ch === "[") return this.#array(depth);
    if (ch === '"') {
      this.#string();
      return { kind: "scalar", start, end: this.#pos };
    }
    if (ch === "-" || (ch !== undefined && ch >= "0" && ch <= "9")) {
      this.#number();
      return { kind: "scalar", start, end: this.#pos };
    }
    for (const literal of ["true", "false", "null"]) {
      if (this.text.startsWith(literal, start)) {
        this.#pos += literal.length;
        return { kind: "scalar", start, end: this.#pos };
      }
    }
    return this.#fail(ch === undefined ? "unexpected end of file" : `unexpected ${describeChar(ch)}`);
  }

  #object(depth: number): JsonObjectNode {
    const start = this.#pos;
    this.#pos++; // {
    const members: JsonMember[] = [];
    this.#skipWhitespace();
    if (this.text[this.#pos] === "}") {
      this.#pos++;
      return { kind: "object", start, end: this.#pos, members };
    }
    for (;;) {
      if (this.text[this.#pos] !== '"') this.#fail(`expected a key in double quotes, found ${this.#here()}`);
      const keyStart = this.#pos;
      this.#string();
      const keyEnd = this.#pos;
      // The scanner has validated the token, so JSON.parse decodes it exactly.
      const key = JSON.parse(this.text.slice(keyStart, keyEnd)) as string;
      this.#skipWhitespace();
      if (this.text[this.#pos] !== ":") this.#fail(`expected ":" after a key, found ${this.#here()}`);
      this.#pos++;
      this.#skipWhitespace();
      const value = this.#value(depth + 1);
      members.push({ key, keyStart, keyEnd, value });
      this.#skipWhitespace();
      const next = this.text[this.#pos];
      this.#pos++;
      if (next === "}") return { kind: "object", start, end: this.#pos, members };
      if (next !== ",") this.#fail(`expected "," or "}", found ${describeChar(next)}`, this.#pos - 1);
      this.#skipWhitespace();
    }
  }

  #array(depth: number): JsonArrayNode {
    const start = this.#pos;
    this.#pos++; // [
    const items: JsonNode[] = [];
    this.#skipWhitespace();
    if (this.text[this.#pos] === "]") {
      this.#pos++;
      return { kind: "array", start, end: this.#pos, items };
    }
    for (;;) {
      items.push(this.#value(depth + 1));
      this.#skipWhitespace();
      const next = this.text[this.#pos];
      this.#pos++;
      if (next === "]") return { kind: "array", start, end: this.#pos, items };
      if (next !== ",") this.#fail(`expected "," or "]", found ${describeChar(next)}`, this.#pos - 1);
      this.#skipWhitespace();
    }
  }

  #here(): string {
    return describeChar(this.text[this.#pos]);
  }

  #string(): void {
    const start = this.#pos;
    this.#pos++; // opening quote
    for (;;) {
      const ch = this.text[this.#pos];
      if (ch === undefined) this.#fail("unterminated string", start);
      if (ch === '"') {
        this.#pos++;
        return;
      }
      if (ch < " ") this.#fail(`unescaped ${describeChar(ch)} in a string`);
      if (ch === "\\") {
        const escape = this.text[this.#pos + 1];
        if (escape === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.#pos + 2, this.#pos + 6))) {
            this.#fail("invalid \\u escape in a string");
          }
          this.#pos += 6;
          continue;
        }
        if (escape === undefined || !'"\\/bfnrt'.includes(escape)) this.#fail("invalid escape in a string");
        this.#pos += 2;
        continue;
      }
      this.#pos++;
    }
  }

  #number(): void {
    const match = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    match.lastIndex = this.#pos;
    const found = match.exec(this.text);
    if (!found) this.#fail("invalid number");
    this.#pos += found[0].length;
    // "01" or "1." would otherwise scan as a number followed by garbage: say what is wrong.
    if (/[0-9.eE+-]/.test(this.text[this.#pos] ?? "")) this.#fail("invalid number");
  }
}
