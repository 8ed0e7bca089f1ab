import type { z } from "zod";
import type { SkillProblem } from "./skill-pack-error.js";
import { problemAt, type YamlSource } from "./yaml-positions.js";

function label(keyPath: readonly PropertyKey[]): string {
  return keyPath.map(String).join(".");
}

function prefixed(keyPath: readonly PropertyKey[], message: string): string {
  return keyPath.length === 0 ? message : `${label(keyPath)}: ${message}`;
}

/** True when the key at the end of `keyPath` is absent from its (present) parent map. */
function isMissingKey(raw: unknown, keyPath: readonly PropertyKey[]): boolean {
  let node = raw;
  for (const segment of keyPath.slice(0, -1)) {
    if (node === null || typeof node !== "object") return false;
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  const last = keyPath[keyPath.length - 1];
  return (
    last !== undefined &&
    node !== null &&
    typeof node === "object" &&
    !Array.isArray(node) &&
    !Object.hasOwn(node, last)
  );
}

/** A union branch that failed only because the value was of another type says nothing useful. */
function isTypeMismatchOnly(branch: readonly z.core.$ZodIssue[]): boolean {
  return branch.every((issue) => issue.code === "invalid_type" && issue.path.length === 0);
}

/**
 * Maps zod's issues for `skill.yaml` to problems at the YAML nodes they concern: unknown keys and
 * bad names at the key itself, a missing key at the map that lacks it, a union (string or
 * `{ secret }`) at the branch that matches the value's shape.
 */
export function skillSchemaProblems(source: YamlSource, raw: unknown, error: z.ZodError): SkillProblem[] {
  const problems: SkillProblem[] = [];
  const visit = (issue: z.core.$ZodIssue, prefix: readonly PropertyKey[]): void => {
    const keyPath = [...prefix, ...issue.path];
    // An absent key fails as a type mismatch (or every branch of a union does): say what it is.
    if ((issue.code === "invalid_type" || issue.code === "invalid_union") && isMissingKey(raw, keyPath)) {
      const key = String(keyPath[keyPath.length - 1]);
      problems.push(
        problemAt(source, keyPath, prefixed(keyPath.slice(0, -1), `missing required key "${key}"`)),
      );
      return;
    }
    switch (issue.code) {
      case "unrecognized_keys":
        for (const key of issue.keys) {
          problems.push(
            problemAt(source, [...keyPath, key], prefixed([...keyPath, key], "unknown key"), { key: true }),
          );
        }
        return;
      case "invalid_key": {
        const name = String(keyPath[keyPath.length - 1]);
        const reasons = issue.issues.map((inner) => inner.message).join("; ");
        problems.push(
          problemAt(source, keyPath, prefixed(keyPath.slice(0, -1), `invalid name "${name}": ${reasons}`), {
            key: true,
          }),
        );
        return;
      }
      case "invalid_union": {
        const informative = issue.errors.filter((branch) => !isTypeMismatchOnly(branch));
        const [only] = informative;
        if (informative.length === 1 && only) {
          for (const inner of only) visit(inner, keyPath);
          return;
        }
        problems.push(problemAt(source, keyPath, prefixed(keyPath, issue.message)));
        return;
      }
      default:
        problems.push(problemAt(source, keyPath, prefixed(keyPath, issue.message)));
    }
  };
  for (const issue of error.issues) visit(issue, []);
  return problems;
}
