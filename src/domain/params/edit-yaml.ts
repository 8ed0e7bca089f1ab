/**
 * YAML params editing by splicing. The `yaml` package parses the file and gives each node its
 * source range; the new value is rendered in the old value's style (plain stays plain when that
 * reads back as the same string, quotes and block scalars are kept, hex stays hex) and spliced in,
 * so comments, anchors elsewhere, quoting of other values and document markers stay byte-identical.
 * Re-stringifying the Document would normalise the whole file, which is what this module avoids.
 * Node ranges from `parseDocument` are enough to find the spans; renderings live in yaml-render.ts.
 *
 * Values with an anchor, an alias or an explicit tag are refused: splicing around them is possible
 * but an edit would silently change other places (aliases) or the meaning of the tag.
 */
import {
  isAlias,
  isCollection,
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  Scalar,
  visit,
  type Document,
  type Pair,
  type YAMLError,
  type YAMLMap,
  type YAMLSeq,
} from "yaml";
import { isIndexSegment } from "./dotted-key.js";
import {
  describePrefix,
  type FormatEditor,
  type LoadResult,
  type LocateFailureCode,
  type Located,
  type ParamEditOperation,
} from "./editor.js";
import { deepEqual, isNonEmptyContainer, type JsonObject, type JsonValue } from "./json-value.js";
import { columnAt, detectEol, eolBefore, eolLengthAt, lineEndAt, lineStartAt, type Eol } from "./text.js";
import {
  blockLines,
  booleanRenderings,
  inlineScalar,
  nullRenderings,
  numberRenderings,
  renderFlow,
  stringRenderings,
} from "./yaml-render.js";

export const yamlEditor: FormatEditor = { load: loadYaml, verify: verifyYaml };

type YamlDocument = Document.Parsed;

function parseYaml(text: string): YamlDocument {
  return parseDocument(text);
}

function describeYamlError(error: YAMLError): string {
  const reason = (error.message.split("\n")[0] ?? error.message).replace(/ at line \d+, column \d+:?$/, "");
  const at = error.linePos?.[0];
  return at ? `invalid YAML at line ${at.line}, column ${at.col}: ${reason}` : `invalid YAML: ${reason}`;
}

function loadYaml(text: string): LoadResult {
  const doc = parseYaml(text);
  const error = doc.errors[0];
  if (error) return { ok: false, message: describeYamlError(error) };
  const contents = doc.contents;
  if (!isMap(contents)) {
    const what = contents === null ? "empty" : isSeq(contents) ? "a sequence" : "a single value";
    return { ok: false, message: `the top level of the file is ${what}, not a mapping` };
  }
  try {
    // Resolves every alias now: a dangling or runaway alias graph is a property of the file.
    doc.toJS();
  } catch (caught) {
    return { ok: false, message: `the YAML cannot be read: ${(caught as Error).message}` };
  }
  return { ok: true, file: { locate: (path) => locateYaml(text, doc, path) } };
}

// ---------------------------------------------------------------------------------------------
// Finding the value at a path.

type Slot =
  { kind: "map"; parent: YAMLMap; pair: Pair; key: Scalar } | { kind: "seq"; parent: YAMLSeq; index: number };

type Found =
  { ok: true; node: unknown; slot: Slot } | { ok: false; code: LocateFailureCode; message: string };

function keyMatches(key: unknown, segment: string): key is Scalar {
  if (!isScalar(key)) return false;
  if (typeof key.value === "string") return key.value === segment;
  // `1: x`, `true: x`, `~: x`: the key as written or as the value it reads as.
  return key.source === segment || String(key.value) === segment;
}

function refuse(message: string): { ok: false; code: "FILE_UNPARSABLE"; message: string } {
  return { ok: false, code: "FILE_UNPARSABLE", message };
}

function notInFile(message: string): { ok: false; code: "PARAM_NOT_IN_FILE"; message: string } {
  return { ok: false, code: "PARAM_NOT_IN_FILE", message };
}

function kindName(node: unknown): string {
  if (!isScalar(node)) return "a value";
  const value = node.value;
  if (value === null) return "null";
  return typeof value === "string" ? "a string" : `a ${typeof value}`;
}

/** Walks `path` from the top mapping; `referenced` anchors may not be crossed (aliases repeat them). */
function findSlot(root: unknown, path: readonly string[], referenced: ReadonlySet<string>): Found {
  let node: unknown = root;
  let slot: Slot | undefined;
  for (let depth = 0; depth < path.length; depth++) {
    const segment = path[depth] as string;
    const here = describePrefix(path, depth);
    if (isAlias(node)) {
      return refuse(
        `${here} is an alias (*${node.source}); aliases are not edited, edit the anchored value instead`,
      );
    }
    if ((isMap(node) || isSeq(node)) && node.anchor && referenced.has(node.anchor)) {
      return refuse(
        `${here} has the anchor &${node.anchor} that aliases elsewhere repeat; an edit inside it would change them too`,
      );
    }
    if (isMap(node)) {
      const pairs = node.items.filter((pair) => keyMatches(pair.key, segment));
      const pair = pairs[0];
      if (pair === undefined) {
        const merges = node.items.some((item) => keyMatches(item.key, "<<"));
        const hint = merges
          ? " of its own (keys merged in with `<<` are edited where they are anchored)"
          : "";
        return notInFile(`${here} has no key "${segment}"${hint}`);
      }
      if (pairs.length > 1) {
        return refuse(
          `${here} has the key "${segment}" ${pairs.length} times; refusing to guess which one to edit`,
        );
      }
      slot = { kind: "map", parent: node, pair, key: pair.key as Scalar };
      node = pair.value;
    } else if (isSeq(node)) {
      if (!isIndexSegment(segment)) {
        return notInFile(`${here} is a sequence and "${segment}" is not an index`);
      }
      const index = Number(segment);
      if (index >= node.items.length) {
        return notInFile(`${here} has ${node.items.length} item(s), there is no index ${segment}`);
      }
      slot = { kind: "seq", parent: node, index };
      node = node.items[index];
    } else {
      return notInFile(`${here} is ${kindName(node)}, not a mapping or sequence`);
    }
  }
  return slot ? { ok: true, node, slot } : notInFile("the key is empty");
}

function aliasedAnchors(doc: YamlDocument): Set<string> {
  const names = new Set<string>();
  visit(doc, {
    Alias(_, alias) {
      names.add(alias.source);
    },
  });
  return names;
}

type ValueNode = Scalar | YAMLMap | YAMLSeq;

/** How the old value sits in the text, which decides how a new one is spliced in. */
type Shape =
  | "empty" // `key:` with nothing after it
  | "inline" // a flow scalar or flow collection, possibly spanning lines
  | "blockScalar" // `|` or `>` with content lines below
  | "blockCollection"; // a block mapping or sequence on the following lines

interface Site {
  text: string;
  node: ValueNode;
  start: number;
  end: number;
  shape: Shape;
  slot: Slot;
  /** Offset of the `:` after the key (mapping values). */
  colon: number | null;
  /** Offset of the `- ` on the value's line (block sequence items). */
  dash: number | null;
  inFlow: boolean;
  eol: Eol;
  unit: number;
  seqIndent: number;
}

function shapeOf(node: ValueNode, start: number, end: number): Shape {
  if (isScalar(node)) {
    if (node.type === Scalar.BLOCK_LITERAL || node.type === Scalar.BLOCK_FOLDED) return "blockScalar";
    return node.value === null && node.source === "" && start === end ? "empty" : "inline";
  }
  return node.flow ? "inline" : "blockCollection";
}

function colonAfterKey(text: string, key: Scalar): number | null {
  const end = key.range?.[1];
  if (end === undefined) return null;
  let i = end;
  while (text[i] === " " || text[i] === "\t") i++;
  return text[i] === ":" ? i : null;
}

function dashBefore(text: string, start: number): number | null {
  let i = start - 1;
  while (i >= 0 && (text[i] === " " || text[i] === "\t")) i--;
  return text[i] === "-" ? i : null;
}

function locateYaml(text: string, doc: YamlDocument, path: readonly string[]): Located {
  const found = findSlot(doc.contents, path, aliasedAnchors(doc));
  if (!found.ok) return found;
  const { node, slot } = found;
  if (node === null || node === undefined)
    return refuse("the key has no value node (`? key` without a value)");
  if (isAlias(node)) {
    return refuse(
      `the value is an alias (*${node.source}); aliases are not edited, edit the anchored value instead`,
    );
  }
  if (!isScalar(node) && !isCollection(node)) return refuse("the value is not a scalar, mapping or sequence");
  if (node.anchor)
    return refuse(`the value has an anchor (&${node.anchor}); editing anchored values is not supported`);
  if (node.tag)
    return refuse(`the value has an explicit tag (${node.tag}); editing tagged values is not supported`);
  const range = node.range;
  if (!range) return refuse("the value has no position in the file");

  let colon: number | null = null;
  if (slot.kind === "map") {
    colon = colonAfterKey(text, slot.key);
    if (colon === null)
      return refuse("the key is written as an explicit key (`? key`); editing it is not supported");
  }
  const inFlow = slot.parent.flow === true;
  const site: Site = {
    text,
    node,
    start: range[0],
    end: range[1],
    shape: shapeOf(node, range[0], range[1]),
    slot,
    colon,
    dash: slot.kind === "seq" && !inFlow ? dashBefore(text, range[0]) : null,
    inFlow,
    eol: detectEol(text),
    ...detectIndents(text, doc),
  };
  return { ok: true, current: node.toJS(doc) as unknown, candidates: (to) => candidatesFor(site, to) };
}

/** The file's indentation step for nested mappings, and for sequences under a key (0 or more). */
function detectIndents(text: string, doc: YamlDocument): { unit: number; seqIndent: number } {
  let unit: number | undefined;
  let seqIndent: number | undefined;
  visit(doc, {
    Pair(_, pair) {
      const keyStart = isScalar(pair.key) ? pair.key.range?.[0] : undefined;
      const value = pair.value;
      if (keyStart === undefined || !isCollection(value) || value.flow || !value.range) return;
      // A value on the key's own line (a compact item) says nothing about indentation.
      if (lineStartAt(text, value.range[0]) === lineStartAt(text, keyStart)) return;
      const delta = columnAt(text, value.range[0]) - columnAt(text, keyStart);
      if (isMap(value) && unit === undefined && delta > 0) unit = delta;
      if (isSeq(value) && seqIndent === undefined && delta >= 0) seqIndent = delta;
    },
  });
  const step = unit ?? (seqIndent !== undefined && seqIndent > 0 ? seqIndent : 2);
  return { unit: step, seqIndent: seqIndent ?? step };
}

// ---------------------------------------------------------------------------------------------
// Splicing.

/** The `# comment` after a block scalar's `|` / `>` indicator, with its leading space. */
function blockHeaderComment(text: string, start: number): string {
  const header = text.slice(start, lineEndAt(text, start));
  return /^[|>][1-9+-]*([ \t]+#.*?)?[ \t]*$/.exec(header)?.[1] ?? "";
}

/** A block collection's range must end at a line boundary for line-wise replacement. */
function endsOnLineBoundary(text: string, end: number): boolean {
  return end === text.length || eolBefore(text, end) !== "";
}

/** Replaces the old value with a one-line rendering. */
function placeInline(site: Site, rendered: string): string | null {
  const { text, start, end } = site;
  switch (site.shape) {
    case "empty": {
      const after = site.colon ?? site.dash;
      if (after === null) return text.slice(0, start) + rendered + text.slice(end);
      return `${text.slice(0, after + 1)} ${rendered}${text.slice(after + 1)}`;
    }
    case "inline":
      return text.slice(0, start) + rendered + text.slice(end);
    case "blockScalar":
      return (
        text.slice(0, start) +
        rendered +
        blockHeaderComment(text, start) +
        eolBefore(text, end) +
        text.slice(end)
      );
    case "blockCollection": {
      if (!endsOnLineBoundary(text, end)) return null;
      if (site.colon === null)
        return text.slice(0, start) + rendered + eolBefore(text, end) + text.slice(end);
      // `key:` keeps whatever followed it on its line (a comment); the old lines go.
      const keyLineEnd = lineEndAt(text, site.colon);
      const keep = eolBefore(text, end) ? keyLineEnd + eolLengthAt(text, keyLineEnd) : keyLineEnd;
      return `${text.slice(0, site.colon + 1)} ${rendered}${text.slice(site.colon + 1, keep)}${text.slice(end)}`;
    }
  }
}

function indentLines(lines: readonly string[], column: number): string[] {
  return lines.map((line) => " ".repeat(column) + line);
}

/** Replaces the old value with a new block mapping or sequence; null when it cannot be placed. */
function placeBlock(site: Site, value: JsonValue[] | JsonObject): string | null {
  const { text, start, end, eol, node } = site;
  const lines = blockLines(value, site);
  const isList = Array.isArray(value);

  if (site.slot.kind === "map" && site.colon !== null) {
    const colon = site.colon;
    const keyColumn = columnAt(text, site.slot.key.range?.[0] ?? colon);
    const sameKind = site.shape === "blockCollection" && (isList ? isSeq(node) : isMap(node));
    const column = sameKind ? columnAt(text, start) : keyColumn + (isList ? site.seqIndent : site.unit);
    const body = indentLines(lines, column).join(eol);
    switch (site.shape) {
      case "empty":
      case "inline": {
        // `key: old  # note` → `key:  # note` followed by the new lines.
        const from = site.shape === "empty" ? colon + 1 : end;
        const lineEnd = lineEndAt(text, from);
        return text.slice(0, colon + 1) + text.slice(from, lineEnd) + eol + body + text.slice(lineEnd);
      }
      case "blockScalar":
        return (
          text.slice(0, colon + 1) +
          blockHeaderComment(text, start) +
          eol +
          body +
          eolBefore(text, end) +
          text.slice(end)
        );
      case "blockCollection": {
        if (!endsOnLineBoundary(text, end)) return null;
        const keyLineEnd = lineEndAt(text, colon);
        return (
          text.slice(0, keyLineEnd + eolLengthAt(text, keyLineEnd)) +
          body +
          eolBefore(text, end) +
          text.slice(end)
        );
      }
    }
  }

  // A block sequence item: the first line follows `- `, the rest align under it.
  const dash = site.dash;
  const compact = (column: number, firstSuffix = ""): string =>
    [`${lines[0] ?? ""}${firstSuffix}`, ...indentLines(lines.slice(1), column)].join(eol);
  // `- old # note` → `- # note` with the new lines below, so the comment keeps its line.
  const commentForm = (dashAt: number, keepFrom: number): string => {
    const lineEnd = lineEndAt(text, keepFrom);
    return (
      text.slice(0, dashAt + 1) +
      text.slice(keepFrom, lineEnd) +
      eol +
      indentLines(lines, columnAt(text, dashAt) + 2).join(eol) +
      text.slice(lineEnd)
    );
  };
  switch (site.shape) {
    case "empty": {
      if (dash === null) return null;
      const rest = text.slice(dash + 1, lineEndAt(text, dash));
      if (rest.trim() !== "") return commentForm(dash, dash + 1);
      return `${text.slice(0, dash + 1)} ${compact(columnAt(text, dash) + 2)}${text.slice(lineEndAt(text, dash))}`;
    }
    case "inline": {
      const trailing = text.slice(end, lineEndAt(text, end));
      if (trailing.trim() !== "") return dash === null ? null : commentForm(dash, end);
      return text.slice(0, start) + compact(columnAt(text, start)) + text.slice(end);
    }
    case "blockScalar":
      return (
        text.slice(0, start) +
        compact(columnAt(text, start), blockHeaderComment(text, start)) +
        eolBefore(text, end) +
        text.slice(end)
      );
    case "blockCollection":
      if (!endsOnLineBoundary(text, end)) return null;
      return text.slice(0, start) + compact(columnAt(text, start)) + eolBefore(text, end) + text.slice(end);
  }
}

/** Renderings of a string as a block scalar, when the old value was one (`|`, `|-`, `>`, `>-`). */
function blockScalarCandidates(site: Site, value: string): string[] {
  const { text, start, end, eol } = site;
  const header = /^([|>])([+-]?)([ \t]+#.*?)?[ \t]*$/.exec(text.slice(start, lineEndAt(text, start)));
  if (!header) return []; // an explicit indentation indicator: not worth the risk
  const indicator = header[1] as "|" | ">";
  const comment = header[3] ?? "";

  const contentStart = lineEndAt(text, start) + eolLengthAt(text, lineEndAt(text, start));
  const indent = /^( *)\S/m.exec(text.slice(contentStart, end))?.[1]?.length;
  if (indent === undefined || indent === 0) return [];

  // eslint-disable-next-line no-control-regex
  if (value.includes("\r") || /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\ufeff]/.test(value))
    return [];
  const body = value.replace(/\n+$/, "");
  const trailing = value.length - body.length;
  // Keep-chomping (`|+`) would swallow the blank lines that follow in the file.
  if (body === "" || trailing > 1) return [];
  const lines = body.split("\n");
  const firstContent = lines.find((line) => line.trim() !== "");
  if (firstContent === undefined || /^[ \t]/.test(firstContent)) return [];

  const chomp = trailing === 0 ? "-" : "";
  const pad = " ".repeat(indent);
  const render = (style: "|" | ">"): string =>
    text.slice(0, start) +
    style +
    chomp +
    comment +
    eol +
    lines.map((line) => (line === "" ? "" : pad + line)).join(eol) +
    eolBefore(text, end) +
    text.slice(end);

  const out: string[] = [];
  // Folding joins lines, so only a single line is written folded exactly as it reads.
  if (indicator === ">" && lines.length === 1) out.push(render(">"));
  out.push(render("|"));
  return out;
}

function candidatesFor(site: Site, to: JsonValue): string[] {
  const out: (string | null)[] = [];
  if (isNonEmptyContainer(to)) {
    // A non-empty flow collection stays flow; an empty `{}` / `[]` is a placeholder (Helm's
    // `resources: {}`) and is filled in block style like its neighbours.
    const flowOld = isCollection(site.node) && site.node.flow === true && site.node.items.length > 0;
    if (!site.inFlow && !flowOld) out.push(placeBlock(site, to));
    out.push(placeInline(site, renderFlow(to)));
  } else if (typeof to === "string") {
    if (site.shape === "blockScalar") out.push(...blockScalarCandidates(site, to));
    for (const rendered of stringRenderings(to, site.node, site.inFlow))
      out.push(placeInline(site, rendered));
  } else {
    const renderings =
      typeof to === "number"
        ? numberRenderings(to, site.node)
        : typeof to === "boolean"
          ? booleanRenderings(to, site.node)
          : to === null
            ? nullRenderings(site.node)
            : [inlineScalar(to, "value")];
    for (const rendered of renderings) out.push(placeInline(site, rendered));
  }
  return [...new Set(out.filter((candidate): candidate is string => candidate !== null))];
}

// ---------------------------------------------------------------------------------------------

function verifyYaml(before: string, after: string, edits: readonly ParamEditOperation[]): boolean {
  try {
    const expected = parseYaml(before);
    const actual = parseYaml(after);
    if (expected.errors.length > 0 || actual.errors.length > 0) return false;
    for (const edit of edits) {
      const found = findSlot(expected.contents, edit.path, new Set());
      if (!found.ok) return false;
      const created = expected.createNode(edit.to);
      if (found.slot.kind === "map") found.slot.pair.value = created;
      else found.slot.parent.items[found.slot.index] = created;
    }
    return deepEqual(actual.toJS(), expected.toJS(), true);
  } catch {
    return false;
  }
}
