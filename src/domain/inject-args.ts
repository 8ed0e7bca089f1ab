/**
 * Arguments the framework already knows (`sessionId`, `repo`, `environment`, …) are not the LLM's
 * to choose (SPEC C6): they are removed from the tool schema the LLM sees and filled in by the
 * framework before the call, its value winning over anything the LLM sent anyway.
 *
 * Only the top level of the arguments object is concerned: injected arguments are top-level
 * parameters of a tool, and a nested object that happens to have a `sessionId` field is the tool's
 * business. The subschemas that describe that same top-level object (`allOf`, `anyOf`, `oneOf`,
 * `if`/`then`/`else`) are treated as part of it, so a `required` list in any of them can no longer
 * demand an argument the LLM cannot see. Stripping a condition in `if` treats the injected argument
 * as present and matching, which it is once filled: at worst the LLM sees a `then` that is stricter
 * than needed, never a schema that lets through what the tool refuses. `not` is left alone: removing
 * a name there would invert its meaning.
 */

type JsonObject = Record<string, unknown>;

const SAME_INSTANCE_LISTS = ["allOf", "anyOf", "oneOf"] as const;
const SAME_INSTANCE_SINGLES = ["if", "then", "else"] as const;

function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A schema that can describe an object: `type: "object"` (alone or in a list), or no type but `properties`. */
function describesObject(schema: JsonObject): boolean {
  const type = schema.type;
  if (type === "object") return true;
  if (Array.isArray(type)) return type.includes("object");
  return type === undefined && isPlainObject(schema.properties);
}

/** Every subschema that constrains the same (top-level) instance as `schema`, itself included. */
function sameInstanceSchemas(schema: JsonObject): JsonObject[] {
  const found: JsonObject[] = [];
  const seen = new Set<JsonObject>();
  const visit = (node: JsonObject): void => {
    if (seen.has(node)) return;
    seen.add(node);
    found.push(node);
    for (const key of SAME_INSTANCE_LISTS) {
      const list = node[key];
      if (Array.isArray(list)) for (const item of list) if (isPlainObject(item)) visit(item);
    }
    for (const key of SAME_INSTANCE_SINGLES) {
      const item = node[key];
      if (isPlainObject(item)) visit(item);
    }
  };
  visit(schema);
  return found;
}

function withoutNames(list: unknown, names: ReadonlySet<string>): { list: unknown; changed: boolean } {
  if (!Array.isArray(list)) return { list, changed: false };
  const kept = list.filter((item) => typeof item !== "string" || !names.has(item));
  return { list: kept, changed: kept.length !== list.length };
}

function stripNode(node: JsonObject, names: ReadonlySet<string>): void {
  if (isPlainObject(node.properties)) {
    for (const name of names) delete node.properties[name];
  }
  const required = withoutNames(node.required, names);
  if (required.changed) {
    // An emptied list goes: older drafts (and some providers) reject `required: []`.
    if (Array.isArray(required.list) && required.list.length === 0) delete node.required;
    else node.required = required.list;
  }
  if (isPlainObject(node.dependentRequired)) {
    for (const name of names) delete node.dependentRequired[name];
    for (const [key, value] of Object.entries(node.dependentRequired)) {
      const dependent = withoutNames(value, names);
      if (dependent.changed) node.dependentRequired[key] = dependent.list;
    }
  }
}

/**
 * The schema the LLM sees: `schema` without the `injected` properties and without their entries in
 * the `required` lists that apply to the top-level object. Never mutates its input; a schema that
 * does not describe an object is returned unchanged.
 */
export function stripInjectedArgs(
  schema: Record<string, unknown>,
  injected: readonly string[],
): Record<string, unknown> {
  if (!describesObject(schema) || injected.length === 0) return schema;
  const names = new Set(injected);
  // Schemas are JSON, so a deep copy is exact; mutating the copy keeps the code plain.
  const copy = structuredClone(schema);
  for (const node of sameInstanceSchemas(copy)) stripNode(node, names);
  return copy;
}

/** The top-level argument names `schema` declares, from itself and the subschemas of the same object. */
function declaredNames(schema: Record<string, unknown>): Set<string> {
  const names = new Set<string>();
  if (!describesObject(schema)) return names;
  for (const node of sameInstanceSchemas(schema)) {
    if (isPlainObject(node.properties)) for (const name of Object.keys(node.properties)) names.add(name);
  }
  return names;
}

function jsonEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, index) => jsonEqual(item, b[index]));
  }
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key], b[key]));
}

/**
 * The arguments actually sent: the LLM's `args` with the framework's `values` filled in for the
 * names the tool's `schema` declares (a tool that does not take `environment` does not get it).
 * The framework's value wins; `overridden` names the keys the LLM had set to something else.
 * `values` entries that are `undefined` are not known to the framework and fill nothing.
 */
export function fillInjectedArgs(
  args: Record<string, unknown>,
  values: Readonly<Record<string, unknown>>,
  schema: Record<string, unknown>,
): { args: Record<string, unknown>; overridden: string[] } {
  const declared = declaredNames(schema);
  const out: Record<string, unknown> = { ...args };
  const overridden: string[] = [];
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined || !declared.has(name)) continue;
    if (Object.hasOwn(args, name) && !jsonEqual(args[name], value)) overridden.push(name);
    // defineProperty, not assignment: a name such as `__proto__` must become a plain key.
    Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
  }
  return { args: out, overridden };
}
