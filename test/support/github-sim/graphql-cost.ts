import {
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  isCompositeType,
  isInterfaceType,
  isObjectType,
  Kind,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type SelectionSetNode,
  type ValidatedExecutionArgs,
} from "graphql";
import type { GitHubErrorJson } from "./graphql-errors.js";

/**
 * GitHub's static analysis of a query before it runs, from "Rate limits and query limits for the
 * GraphQL API":
 *
 * - every connection that returns `nodes` or `edges` needs `first` or `last`, from 1 to 100
 *   (`MISSING_PAGINATION_BOUNDARIES`, `EXCESSIVE_PAGINATION`);
 * - node limit: the sum, over connections, of `first`/`last` times those of the connections
 *   around it, at most 500,000 (`MAX_NODE_LIMIT_EXCEEDED`);
 * - cost: the number of requests needed to fill every connection (one per connection, times the
 *   `first`/`last` of the connections around it), divided by 100, rounded, at least 1.
 *
 * `first`/`last` are assumed fully used, as GitHub does. A connection is a field with `first` and
 * `last` arguments returning a `…Connection` type.
 */

export const MAX_PAGE = 100;
export const MAX_NODES = 500_000;

export interface QueryAnalysis {
  /** Requests needed to fill every connection (GitHub's numerator). */
  requests: number;
  /** Points charged: round(requests / 100), at least 1. */
  cost: number;
  /** Most nodes the query can return (`rateLimit { nodeCount }`). */
  nodeCount: number;
  /** `rateLimit(dryRun: true)` was asked: the query costs nothing. */
  dryRun: boolean;
  errors: GitHubErrorJson[];
}

type Walk = (
  selectionSet: SelectionSetNode,
  parent: GraphQLCompositeType,
  multiplier: number,
  path: string[],
) => void;

function locations(node: FieldNode): { line: number; column: number }[] {
  return node.loc ? [{ line: node.loc.startToken.line, column: node.loc.startToken.column }] : [];
}

function fieldOf(parent: GraphQLCompositeType, name: string): GraphQLField<unknown, unknown> | undefined {
  return isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
}

function isConnection(field: GraphQLField<unknown, unknown>): boolean {
  const names = new Set(field.args.map((arg) => arg.name));
  return names.has("first") && names.has("last") && getNamedType(field.type).name.endsWith("Connection");
}

function pageSize(value: unknown): number | null {
  return typeof value === "number" ? value : null;
}

/** Counts a number the way GitHub's messages print it (`1,000,000`). */
function grouped(value: number): string {
  return value.toLocaleString("en-US");
}

export function analyzeQuery(args: ValidatedExecutionArgs): QueryAnalysis {
  const { schema, operation, fragmentDefinitions, variableValues } = args;
  const errors: GitHubErrorJson[] = [];
  let requests = 0;
  let nodeCount = 0;
  let dryRun = false;
  let overLimit: { name: string; total: number } | null = null;

  const included = (node: FieldNode | SelectionSetNode["selections"][number]): boolean => {
    if (getDirectiveValues(GraphQLSkipDirective, node, variableValues)?.if === true) return false;
    return getDirectiveValues(GraphQLIncludeDirective, node, variableValues)?.if !== false;
  };

  /** True when the selection (through fragments) asks for `nodes` or `edges`. */
  const selectsItems = (selectionSet: SelectionSetNode | undefined, seen = new Set<string>()): boolean => {
    for (const selection of selectionSet?.selections ?? []) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value === "nodes" || selection.name.value === "edges") return true;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (selectsItems(selection.selectionSet, seen)) return true;
      } else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment: FragmentDefinitionNode | undefined = fragmentDefinitions[selection.name.value];
        if (fragment && selectsItems(fragment.selectionSet, seen)) return true;
      }
    }
    return false;
  };

  const checkPage = (node: FieldNode, path: string[], first: number | null, last: number | null): boolean => {
    const name = node.name.value;
    const at = { path, locations: locations(node) };
    if (first !== null && last !== null) {
      errors.push({
        ...at,
        message: `Passing both \`first\` and \`last\` to paginate the \`${name}\` connection is not supported.`,
      });
      return false;
    }
    const given = first ?? last;
    const argument = first !== null ? "first" : "last";
    if (given === null) {
      if (!selectsItems(node.selectionSet)) return true;
      errors.push({
        type: "MISSING_PAGINATION_BOUNDARIES",
        ...at,
        message: `You must provide a \`first\` or \`last\` value to properly paginate the \`${name}\` connection.`,
      });
      return false;
    }
    // GitHub documents 1..100 but words only the negative case; zero gets the same wording.
    if (given < 1) {
      errors.push({
        ...at,
        message: `\`${argument}\` on the \`${name}\` connection cannot be less than ${given < 0 ? "zero" : "one"}.`,
      });
      return false;
    }
    if (given > MAX_PAGE) {
      errors.push({
        type: "EXCESSIVE_PAGINATION",
        ...at,
        message:
          `Requesting ${given} records on the \`${name}\` connection exceeds the \`${argument}\` limit ` +
          `of ${MAX_PAGE} records.`,
      });
      return false;
    }
    return true;
  };

  const walk: Walk = (selectionSet, parent, multiplier, path) => {
    for (const selection of selectionSet.selections) {
      if (!included(selection)) continue;
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const typeName = selection.typeCondition?.name.value;
        const type = typeName === undefined ? parent : schema.getType(typeName);
        if (type && isCompositeType(type)) walk(selection.selectionSet, type, multiplier, path);
        continue;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragmentDefinitions[selection.name.value];
        const type = fragment ? schema.getType(fragment.typeCondition.name.value) : undefined;
        if (fragment && type && isCompositeType(type)) walk(fragment.selectionSet, type, multiplier, path);
        continue;
      }
      const field = fieldOf(parent, selection.name.value);
      if (!field) continue;
      const here = [...path, (selection.alias ?? selection.name).value];
      const values = getArgumentValues(field, selection, variableValues);
      if (
        parent === schema.getQueryType() &&
        selection.name.value === "rateLimit" &&
        values.dryRun === true
      ) {
        dryRun = true;
      }
      let inner = multiplier;
      if (isConnection(field)) {
        const first = pageSize(values.first);
        const last = pageSize(values.last);
        if (!checkPage(selection, here, first, last)) continue;
        const size = first ?? last ?? 0;
        requests += multiplier;
        nodeCount += multiplier * size;
        if (overLimit === null && nodeCount > MAX_NODES)
          overLimit = { name: selection.name.value, total: nodeCount };
        inner = multiplier * size;
      }
      const type = getNamedType(field.type);
      if (selection.selectionSet && isCompositeType(type)) walk(selection.selectionSet, type, inner, here);
    }
  };

  const root = schema.getRootType(operation.operation);
  if (root) walk(operation.selectionSet, root, 1, []);
  const limit = overLimit as { name: string; total: number } | null;
  if (errors.length === 0 && limit !== null) {
    errors.push({
      type: "MAX_NODE_LIMIT_EXCEEDED",
      message:
        `By the time this query traverses to the ${limit.name} connection, it is requesting up to ` +
        `${grouped(limit.total)} possible nodes which exceeds the maximum limit of ${grouped(MAX_NODES)}.`,
    });
  }
  return { requests, cost: Math.max(1, Math.round(requests / 100)), nodeCount, dryRun, errors };
}
