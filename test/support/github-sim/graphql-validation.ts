import {
  FieldsOnCorrectTypeRule,
  getNamedType,
  isUnionType,
  Kind,
  KnownArgumentNamesRule,
  print,
  ProvidedRequiredArgumentsRule,
  ScalarLeafsRule,
  specifiedRules,
  validate,
  ValuesOfCorrectTypeRule,
  visit,
  type ArgumentNode,
  type ASTNode,
  type DirectiveNode,
  type DocumentNode,
  type FieldNode,
  type GraphQLArgument,
  type GraphQLError,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type ValidationContext,
  type ValidationRule,
} from "graphql";
import type { GitHubErrorJson } from "./graphql-errors.js";

/**
 * Validation against GitHub's schema with graphql-js's rules, reworded the way GitHub's server
 * (graphql-ruby) words the common ones, with its `path` (`["query", "viewer", "foo"]`) and
 * `extensions.code` (`undefinedField`, `argumentNotAccepted`, `missingRequiredArguments`,
 * `selectionMismatch`, `argumentLiteralsIncompatible`) — what clients match on. Other rules keep
 * graphql-js's wording.
 */

interface Place {
  /** graphql-ruby's path: operation ("query", "query Name", "fragment Name"), then fields and arguments. */
  path: string[];
  /** The innermost field or directive the node belongs to. */
  holder: FieldNode | DirectiveNode | null;
  argument: ArgumentNode | null;
}

/** What the rule saw when it reported (the type information moves on afterwards). */
interface Seen {
  parentType: GraphQLNamedType | null;
  type: GraphQLOutputType | null;
  argument: GraphQLArgument | null;
}

function segment(node: ASTNode): string | null {
  switch (node.kind) {
    case Kind.OPERATION_DEFINITION:
      return node.name ? `${node.operation} ${node.name.value}` : node.operation;
    case Kind.FRAGMENT_DEFINITION:
      return `fragment ${node.name.value}`;
    case Kind.FIELD:
      return (node.alias ?? node.name).value;
    case Kind.INLINE_FRAGMENT:
      return node.typeCondition ? `... on ${node.typeCondition.name.value}` : "...";
    case Kind.ARGUMENT:
    case Kind.OBJECT_FIELD:
      return node.name.value;
    default:
      return null;
  }
}

/** Where every node of the document sits. */
function placesOf(document: DocumentNode): Map<ASTNode, Place> {
  const places = new Map<ASTNode, Place>();
  const path: string[] = [];
  const pushed: boolean[] = [];
  const holders: (FieldNode | DirectiveNode)[] = [];
  const args: ArgumentNode[] = [];
  visit(document, {
    enter(node) {
      const part = segment(node);
      pushed.push(part !== null);
      if (part !== null) path.push(part);
      if (node.kind === Kind.FIELD || node.kind === Kind.DIRECTIVE) holders.push(node);
      if (node.kind === Kind.ARGUMENT) args.push(node);
      places.set(node, { path: [...path], holder: holders.at(-1) ?? null, argument: args.at(-1) ?? null });
    },
    leave(node) {
      if (pushed.pop()) path.pop();
      if (node.kind === Kind.FIELD || node.kind === Kind.DIRECTIVE) holders.pop();
      if (node.kind === Kind.ARGUMENT) args.pop();
    },
  });
  return places;
}

interface Report {
  rule: ValidationRule;
  error: GraphQLError;
  seen: Seen;
}

function recording(rule: ValidationRule, reports: Report[]): ValidationRule {
  return (context: ValidationContext) => {
    const proxy = new Proxy(context, {
      get(target, property) {
        if (property === "reportError") {
          return (error: GraphQLError) =>
            reports.push({
              rule,
              error,
              seen: {
                parentType: target.getParentType() ?? null,
                type: target.getType() ?? null,
                argument: target.getArgument() ?? null,
              },
            });
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    return rule(proxy);
  };
}

function locationOf(node: ASTNode | undefined): { line: number; column: number }[] | undefined {
  const loc = node?.loc;
  if (!loc) return undefined;
  return [{ line: loc.startToken.line, column: loc.startToken.column }];
}

function entry(
  node: ASTNode | undefined,
  place: Place | undefined,
  message: string,
  extensions?: Record<string, unknown>,
): GitHubErrorJson {
  const locations = locationOf(node);
  return {
    ...(place ? { path: place.path } : {}),
    ...(extensions ? { extensions } : {}),
    ...(locations ? { locations } : {}),
    message,
  };
}

/** graphql-ruby names a field by its alias when it has one. */
function holderName(holder: FieldNode | DirectiveNode): { kind: "Field" | "Directive"; name: string } {
  if (holder.kind === Kind.DIRECTIVE) return { kind: "Directive", name: holder.name.value };
  return { kind: "Field", name: (holder.alias ?? holder.name).value };
}

/** The argument names graphql-js reports one by one (`Argument "Type.field(number:)" … is required`). */
function missingArguments(reports: readonly Report[], node: ASTNode): string[] {
  return reports
    .filter((report) => report.rule === ProvidedRequiredArgumentsRule && report.error.nodes?.[0] === node)
    .map((report) => /\(([^:()]+):\)"/.exec(report.error.message)?.[1])
    .filter((name): name is string => name !== undefined);
}

/** One report in GitHub's words, or null when it repeats one already given (graphql-ruby merges them). */
function reword(
  report: Report,
  reports: readonly Report[],
  places: Map<ASTNode, Place>,
  done: Set<ASTNode>,
): GitHubErrorJson | null {
  const { rule, error, seen } = report;
  const node = error.nodes?.[0];
  const place = node ? places.get(node) : undefined;
  const fallback = entry(node, place, error.message);
  if (!node) return fallback;
  if (rule === FieldsOnCorrectTypeRule && node.kind === Kind.FIELD && seen.parentType) {
    const typeName = seen.parentType.name;
    if (isUnionType(seen.parentType)) {
      return entry(
        node,
        place,
        `Selections can't be made directly on unions (see selections on ${typeName})`,
        {
          code: "selectionMismatch",
          nodeName: typeName,
        },
      );
    }
    return entry(node, place, `Field '${node.name.value}' doesn't exist on type '${typeName}'`, {
      code: "undefinedField",
      typeName,
      fieldName: node.name.value,
    });
  }
  if (rule === KnownArgumentNamesRule && node.kind === Kind.ARGUMENT) {
    if (!place?.holder) return fallback;
    const parent = holderName(place.holder);
    return entry(
      node,
      place,
      `${parent.kind} '${parent.name}' doesn't accept argument '${node.name.value}'`,
      {
        code: "argumentNotAccepted",
        name: parent.name,
        typeName: parent.kind,
        argumentName: node.name.value,
      },
    );
  }
  if (rule === ProvidedRequiredArgumentsRule && (node.kind === Kind.FIELD || node.kind === Kind.DIRECTIVE)) {
    if (done.has(node)) return null;
    done.add(node);
    const kind = node.kind === Kind.FIELD ? "Field" : "Directive";
    const names = missingArguments(reports, node).join(", ");
    return entry(node, place, `${kind} '${node.name.value}' is missing required arguments: ${names}`, {
      code: "missingRequiredArguments",
      className: kind,
      name: node.name.value,
      arguments: names,
    });
  }
  // A leaf with selections is reported on its selection set, a composite without on the field.
  const leafField = node.kind === Kind.FIELD ? node : place?.holder;
  if (rule === ScalarLeafsRule && leafField?.kind === Kind.FIELD && seen.type) {
    const typeName = getNamedType(seen.type).name;
    const nodeName = `field '${leafField.name.value}'`;
    const selections = leafField.selectionSet?.selections ?? [];
    const message =
      selections.length > 0
        ? `Selections can't be made on scalars (${nodeName} returns ${typeName} but has selections [${selections
            .map((selection) =>
              selection.kind === Kind.INLINE_FRAGMENT
                ? `"... on ${selection.typeCondition?.name.value ?? ""} { ... }"`
                : `"${selection.name.value}"`,
            )
            .join(", ")}])`
        : `Field must have selections (${nodeName} returns ${typeName} but has no selections. ` +
          `Did you mean '${leafField.name.value} { ... }'?)`;
    return entry(leafField, places.get(leafField), message, {
      code: "selectionMismatch",
      nodeName,
      typeName,
    });
  }
  if (rule === ValuesOfCorrectTypeRule && place?.argument && place.holder && seen.argument) {
    const argument = place.argument;
    if (done.has(argument)) return null;
    done.add(argument);
    const parent = holderName(place.holder);
    return entry(
      place.holder,
      places.get(argument),
      `Argument '${argument.name.value}' on ${parent.kind} '${parent.name}' has an invalid value ` +
        `(${print(argument.value)}). Expected type '${String(seen.argument.type)}'.`,
      { code: "argumentLiteralsIncompatible", typeName: parent.kind, argumentName: argument.name.value },
    );
  }
  return fallback;
}

/** Validates `document`; returns GitHub-shaped errors, empty when the query is valid. */
export function validateForGitHub(schema: GraphQLSchema, document: DocumentNode): GitHubErrorJson[] {
  const reports: Report[] = [];
  const rules = specifiedRules.map((rule) => recording(rule, reports));
  const unexpected = validate(schema, document, rules);
  const places = placesOf(document);
  const done = new Set<ASTNode>();
  const errors: GitHubErrorJson[] = [];
  for (const report of reports) {
    const reworded = reword(report, reports, places, done);
    if (reworded) errors.push(reworded);
  }
  // `validate` reports through the rules; anything it returned besides (an abort) is kept as is.
  for (const error of unexpected) {
    if (!reports.some((report) => report.error === error)) errors.push({ message: error.message });
  }
  return errors;
}
