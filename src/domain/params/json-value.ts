/** The values a params edit may write: what a JSON request body can carry. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export type JsonObject = { [key: string]: JsonValue };

const MAX_DEPTH = 256;

/** True for plain JSON data: finite numbers, plain objects and arrays, no cycles, not too deep. */
export function isJsonValue(value: unknown): value is JsonValue {
  return checkJson(value, 0, new Set());
}

function checkJson(value: unknown, depth: number, ancestors: Set<object>): boolean {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value !== "object" || depth >= MAX_DEPTH || ancestors.has(value)) return false;
  let children: unknown[];
  if (Array.isArray(value)) {
    // A plain loop, not `every`: a sparse array's holes must count as (invalid) undefined.
    children = [];
    for (let i = 0; i < value.length; i++) children.push(value[i]);
  } else if (isPlainObject(value)) {
    children = Object.values(value);
  } else {
    return false;
  }
  ancestors.add(value);
  const ok = children.every((child) => checkJson(child, depth + 1, ancestors));
  ancestors.delete(value);
  return ok;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function isNonEmptyContainer(value: JsonValue): value is JsonValue[] | JsonObject {
  if (Array.isArray(value)) return value.length > 0;
  return typeof value === "object" && value !== null && Object.keys(value).length > 0;
}

/**
 * Structural equality of parsed config values. `ordered` also requires the same key order, which
 * is how the round-trip check proves that an edit moved nothing; drift and no-op checks compare
 * values the way JSON defines them, where key order carries no meaning.
 */
export function deepEqual(a: unknown, b: unknown, ordered = false): boolean {
  if (a === b) return true;
  // YAML can hold .nan; a document must still equal itself.
  if (typeof a === "number" && typeof b === "number") return Number.isNaN(a) && Number.isNaN(b);
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => deepEqual(item, b[i], ordered));
  }
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  }
  const aKeys = Object.keys(a);
  const bKeys = Object.keys(b);
  if (aKeys.length !== bKeys.length) return false;
  const aRecord = a as Record<string, unknown>;
  const bRecord = b as Record<string, unknown>;
  return aKeys.every(
    (key, i) =>
      (ordered ? bKeys[i] === key : Object.hasOwn(b, key)) && deepEqual(aRecord[key], bRecord[key], ordered),
  );
}

/** A short rendering of a value for error messages. */
export function previewValue(value: unknown, max = 120): string {
  const text = stringifyOrUndefined(value) ?? (typeof value === "bigint" ? `${value}n` : typeof value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function stringifyOrUndefined(value: unknown): string | undefined {
  try {
    // undefined for undefined, functions and symbols; throws for cycles and BigInt.
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}
