import { GitHubQueryError } from "./graphql-errors.js";

/**
 * A Relay connection over an in-memory list, as GitHub's connections behave: `after`/`before`
 * narrow the list by opaque cursors, then `first` takes from the start or `last` from the end.
 * `nodes`, `edges { node cursor }`, `pageInfo` and `totalCount` are served for every
 * `…Connection` type; `extra` holds a connection's own fields (`checkRunCount`, …).
 * The limits on `first`/`last` are checked before execution (`graphql-cost.ts`).
 */

export interface PageInfoSource {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

export interface ConnectionSource<T> {
  nodes: T[];
  edges: { node: T; cursor: string }[];
  pageInfo: PageInfoSource;
  totalCount: number;
  extra: Record<string, unknown>;
}

export interface PageArgs {
  first?: unknown;
  last?: unknown;
  after?: unknown;
  before?: unknown;
}

const PREFIX = "cursor:v2:";

function encodeCursor(index: number): string {
  return Buffer.from(`${PREFIX}${index}`).toString("base64");
}

function decodeCursor(cursor: string): number {
  const decoded = Buffer.from(cursor, "base64").toString("utf8");
  const index = decoded.startsWith(PREFIX) ? Number(decoded.slice(PREFIX.length)) : Number.NaN;
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new GitHubQueryError(
      `\`${cursor}\` does not appear to be a valid cursor.`,
      "INVALID_CURSOR_ARGUMENTS",
    );
  }
  return index;
}

function count(value: unknown): number | null {
  return typeof value === "number" ? value : null;
}

export function connection<T>(
  all: readonly T[],
  args: PageArgs,
  extra: Record<string, unknown> = {},
): ConnectionSource<T> {
  let start = 0;
  let end = all.length;
  if (typeof args.after === "string") start = Math.min(all.length, decodeCursor(args.after) + 1);
  if (typeof args.before === "string") end = Math.max(start, Math.min(end, decodeCursor(args.before)));
  const first = count(args.first);
  const last = count(args.last);
  if (first !== null) end = Math.min(end, start + Math.max(0, first));
  if (last !== null) start = Math.max(start, end - Math.max(0, last));
  const nodes = all.slice(start, end);
  const edges = nodes.map((node, offset) => ({ node, cursor: encodeCursor(start + offset) }));
  return {
    nodes,
    edges,
    pageInfo: {
      hasNextPage: end < all.length,
      hasPreviousPage: start > 0,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    totalCount: all.length,
    extra,
  };
}
