import {
  isAlias,
  isCollection,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
} from "yaml";
import type { SkillProblem } from "./skill-pack-error.js";
import type { SkillPosition } from "./skill-pack.js";

/** A parsed YAML file that can say where any of its nodes is written. */
export interface YamlSource {
  file: string;
  document: Document;
  lineCounter: LineCounter;
}

/** Parses `text`; every syntax error comes back as a problem at yaml's own position. */
export function parseYamlSource(
  file: string,
  text: string,
): { source: YamlSource; problems: SkillProblem[] } {
  const lineCounter = new LineCounter();
  // prettyErrors off: messages stay one line, and the offset is still there for LineCounter.
  const document = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const source = { file, document, lineCounter };
  const problems = document.errors.map((error) => ({
    ...positionAt(source, error.pos[0]),
    message: `YAML: ${error.message.split("\n")[0] ?? error.code}`,
  }));
  return { source, problems };
}

export function positionAt(source: YamlSource, offset: number): SkillPosition {
  const { line, col } = source.lineCounter.linePos(offset);
  return { file: source.file, line, column: col };
}

interface RangedNode {
  range?: [number, number, number] | null;
}

function startOf(node: unknown): number | undefined {
  return (node as RangedNode | null)?.range?.[0];
}

/**
 * Where to report a problem with the value at `keyPath` (zod's issue path): a scalar is reported
 * where it is written; a map or list, and a key with no value, at the key that holds it (the
 * line a reader looks for). With `key`, at the key itself (unknown keys, bad names). When the
 * path does not exist (a missing key), at the nearest node that does.
 */
export function locate(
  source: YamlSource,
  keyPath: readonly PropertyKey[],
  options: { key?: boolean } = {},
): SkillPosition {
  let node: unknown = source.document.contents;
  let holderKey: unknown = null;
  for (const segment of keyPath) {
    if (isAlias(node)) node = node.resolve(source.document);
    let found = false;
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (pair) {
        found = true;
        node = pair.value;
        holderKey = pair.key;
      }
    } else if (isSeq(node) && typeof segment === "number" && segment < node.items.length) {
      found = true;
      node = node.items[segment];
      holderKey = null;
    }
    if (!found) break;
  }
  if (isAlias(node)) node = node.resolve(source.document);
  const atKey =
    holderKey !== null &&
    (options.key === true || node === null || isCollection(node) || (isScalar(node) && node.value === null));
  const offset = (atKey ? startOf(holderKey) : startOf(node)) ?? startOf(source.document.contents) ?? 0;
  return positionAt(source, offset);
}

export function problemAt(
  source: YamlSource,
  keyPath: readonly PropertyKey[],
  message: string,
  options: { key?: boolean } = {},
): SkillProblem {
  return { ...locate(source, keyPath, options), message };
}
