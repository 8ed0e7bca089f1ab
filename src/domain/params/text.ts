/** Small helpers over source text and offsets, shared by the JSON and YAML editors. */

export type Eol = "\n" | "\r\n";

/** The file's line ending, from its first line break (LF when it has none). */
export function detectEol(text: string): Eol {
  const lf = text.indexOf("\n");
  return lf > 0 && text[lf - 1] === "\r" ? "\r\n" : "\n";
}

/** Offset of the first character of the line containing `pos`. */
export function lineStartAt(text: string, pos: number): number {
  return text.lastIndexOf("\n", pos - 1) + 1;
}

/** Offset of the line break ending the line containing `pos` (before a CR of CRLF), or the text's end. */
export function lineEndAt(text: string, pos: number): number {
  const lf = text.indexOf("\n", pos);
  if (lf === -1) return text.length;
  return lf > 0 && text[lf - 1] === "\r" ? lf - 1 : lf;
}

/** Length of the line break starting at `pos`: 2 for CRLF, 1 for LF, 0 if none. */
export function eolLengthAt(text: string, pos: number): number {
  if (text.startsWith("\r\n", pos)) return 2;
  return text[pos] === "\n" ? 1 : 0;
}

/** The line break that ends just before `end`, or "" when `end` does not follow one. */
export function eolBefore(text: string, end: number): string {
  if (end > 0 && text[end - 1] === "\n") return end > 1 && text[end - 2] === "\r" ? "\r\n" : "\n";
  return "";
}

export function columnAt(text: string, pos: number): number {
  return pos - lineStartAt(text, pos);
}

/** The leading spaces and tabs of the line containing `pos`. */
export function indentOfLineAt(text: string, pos: number): string {
  const start = lineStartAt(text, pos);
  let end = start;
  while (text[end] === " " || text[end] === "\t") end++;
  return text.slice(start, end);
}

/** 1-based line and column of an offset, as editors show them. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === "\n") {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
