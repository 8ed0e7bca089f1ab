/**
 * Params edits (SPEC C3, `kind: "params"`): set values in a JSON or YAML config file by dotted key,
 * changing nothing else. The contract with the PR worker:
 *
 * - every key must already exist (`PARAM_NOT_IN_FILE`); a given `from` must deep-equal the value
 *   in the file (`PARAM_DRIFT`); a file that does not parse, or a value this module will not edit
 *   safely, is `FILE_UNPARSABLE`;
 * - the result differs from the input only inside the edited values' spans (minimal diff), and
 *   is re-parsed before it is returned: the edited paths hold the new values and every other path
 *   is unchanged, or the edit is refused with "internal: edit did not round-trip";
 * - an edit to the value already in the file is skipped, so a change that sets nothing new returns
 *   the identical text and no `changes` (the worker reports `NO_CHANGES`).
 *
 * Edits apply in the order of `set`'s keys, each to the result of the previous one; all or
 * nothing. (JavaScript orders integer-like keys such as "0" first, whatever their position.)
 */
import { parseDottedKey } from "./dotted-key.js";
import { jsonEditor } from "./edit-json.js";
import { yamlEditor } from "./edit-yaml.js";
import type { FormatEditor, LoadedParamsFile, ParamEditOperation } from "./editor.js";
import { deepEqual, isJsonValue, isPlainObject, previewValue } from "./json-value.js";

export const PARAM_FORMATS = ["json", "yaml"] as const;

export type ParamFormat = (typeof PARAM_FORMATS)[number];

export interface ParamEdit {
  /** The value the proposer saw; when given, the file must still hold it. */
  from?: unknown;
  to: unknown;
}

export interface ParamChange {
  key: string;
  from: unknown;
  to: unknown;
}

export type ParamEditErrorCode = "PARAM_NOT_IN_FILE" | "PARAM_DRIFT" | "FILE_UNPARSABLE";

export type ParamEditResult =
  | { ok: true; text: string; changes: ParamChange[] }
  | { ok: false; code: ParamEditErrorCode; message: string; key?: string };

const EDITORS: Record<ParamFormat, FormatEditor> = { json: jsonEditor, yaml: yamlEditor };

/** The format a path implies by its extension (`.json`, `.yaml`, `.yml`), or null. */
export function paramFormatForPath(path: string): ParamFormat | null {
  const lower = path.toLowerCase();
  if (lower.endsWith(".json")) return "json";
  if (lower.endsWith(".yaml") || lower.endsWith(".yml")) return "yaml";
  return null;
}

const ROUND_TRIP_FAILED = "internal: edit did not round-trip";

export function applyParamEdits(
  text: string,
  format: ParamFormat,
  set: Record<string, ParamEdit>,
): ParamEditResult {
  try {
    return apply(text, format, set);
  } catch (error) {
    // Never throw on input: whatever went wrong, the file is left as it was.
    return {
      ok: false,
      code: "FILE_UNPARSABLE",
      message: `internal: ${(error as Error)?.message ?? String(error)}`,
    };
  }
}

function unparsable(message: string, key?: string): ParamEditResult {
  return key === undefined
    ? { ok: false, code: "FILE_UNPARSABLE", message }
    : { ok: false, code: "FILE_UNPARSABLE", message, key };
}

function apply(original: string, format: ParamFormat, set: Record<string, ParamEdit>): ParamEditResult {
  const editor = Object.hasOwn(EDITORS, format) ? EDITORS[format] : undefined;
  if (editor === undefined)
    return unparsable(`unknown params format "${String(format)}" (expected json or yaml)`);
  if (typeof original !== "string") return unparsable("the file content is not text");
  if (!isPlainObject(set)) return unparsable("the edits are not an object of dotted keys");

  const loaded = editor.load(original);
  if (!loaded.ok) return unparsable(loaded.message);
  let file: LoadedParamsFile = loaded.file;
  let text = original;
  const applied: ParamEditOperation[] = [];
  const changes: ParamChange[] = [];

  for (const [key, edit] of Object.entries(set)) {
    const parsed = parseDottedKey(key);
    if (!parsed.ok) {
      return {
        ok: false,
        code: "PARAM_NOT_IN_FILE",
        key,
        message: `"${key}" is not a valid key: ${parsed.message}`,
      };
    }
    const to: unknown = isPlainObject(edit) ? edit.to : undefined;
    if (!isJsonValue(to)) {
      return unparsable(
        `the new value for key "${key}" is not a JSON value (string, finite number, boolean, null, array or object)`,
        key,
      );
    }

    const located = file.locate(parsed.path);
    if (!located.ok) {
      const message =
        located.code === "PARAM_NOT_IN_FILE"
          ? `key "${key}" is not in the file: ${located.message}`
          : `cannot edit key "${key}": ${located.message}`;
      return { ok: false, code: located.code, key, message };
    }
    const from: unknown = isPlainObject(edit) ? edit.from : undefined;
    if (from !== undefined && !deepEqual(located.current, from)) {
      return {
        ok: false,
        code: "PARAM_DRIFT",
        key,
        message: `key "${key}" has changed in the file: expected ${previewValue(from)}, found ${previewValue(located.current)}`,
      };
    }
    if (deepEqual(located.current, to)) continue;

    const operation: ParamEditOperation = { path: parsed.path, to };
    const before = text;
    const next = located.candidates(to).find((candidate) => editor.verify(before, candidate, [operation]));
    if (next === undefined)
      return unparsable(`${ROUND_TRIP_FAILED} (key "${key}"); the file was left unchanged`, key);
    const reloaded = editor.load(next);
    if (!reloaded.ok)
      return unparsable(`${ROUND_TRIP_FAILED} (key "${key}"); the file was left unchanged`, key);

    text = next;
    file = reloaded.file;
    applied.push(operation);
    changes.push({ key, from: located.current, to });
  }

  // Each step was checked against the previous text; this checks the whole against the original.
  if (applied.length > 0 && !editor.verify(original, text, applied)) {
    return unparsable(`${ROUND_TRIP_FAILED}; the file was left unchanged`);
  }
  return { ok: true, text, changes };
}
