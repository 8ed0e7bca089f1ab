import type { FastifyReply } from "fastify";
import { z } from "zod";
import { AppError } from "../domain/errors.js";

/**
 * Cursor pagination (SPEC C1): newest first, `?limit=` 1–200 (default 50), opaque `?cursor=`;
 * responses `{data, nextCursor, hasMore}` plus `X-Total-Count`. `hasMore` is exact because one
 * more row than asked is fetched.
 */
export const MAX_PAGE_SIZE = 200;

export const paginationQuery = {
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(50),
  cursor: z.string().min(1).max(512).optional(),
};

export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({
    data: z.array(item),
    nextCursor: z
      .string()
      .nullable()
      .describe("Pass as ?cursor= to get the next page; null on the last page."),
    hasMore: z.boolean(),
  });
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
  hasMore: boolean;
}

type CursorKey = string | number;

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify({ k: key })).toString("base64url");
}

const ID_KEY = /^[a-z]{2,8}_[0-9a-z]{26}$/;

export function decodeCursor(cursor: string, keyType: "id" | "seq"): CursorKey {
  const malformed = (): AppError =>
    new AppError(
      "VALIDATION_ERROR",
      "malformed cursor: pass back the nextCursor of a previous page unchanged",
      {
        details: { issues: [{ path: "querystring.cursor", message: "malformed cursor" }] },
      },
    );
  let parsed: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw malformed();
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw malformed();
  }
  const key = (parsed as { k?: unknown } | null)?.k;
  if (keyType === "id" && typeof key === "string" && ID_KEY.test(key)) return key;
  if (keyType === "seq" && typeof key === "number" && Number.isSafeInteger(key) && key > 0) return key;
  throw malformed();
}

export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}

/**
 * Runs one page: `fetch(after, take)` returns up to `take` items older than the `after` key,
 * newest first. Sets `X-Total-Count` on the reply.
 */
export async function paginate<T, K extends CursorKey>(
  reply: FastifyReply,
  request: PageRequest,
  source: {
    keyType: K extends number ? "seq" : "id";
    fetch: (after: K | undefined, take: number) => Promise<T[]>;
    count: () => Promise<number>;
    keyOf: (item: T) => K;
  },
): Promise<Page<T>> {
  const after =
    request.cursor === undefined ? undefined : (decodeCursor(request.cursor, source.keyType) as K);
  const [rows, total] = await Promise.all([source.fetch(after, request.limit + 1), source.count()]);
  const hasMore = rows.length > request.limit;
  const data = hasMore ? rows.slice(0, request.limit) : rows;
  const last = data.at(-1);
  reply.header("x-total-count", String(total));
  return {
    data,
    nextCursor: hasMore && last !== undefined ? encodeCursor(source.keyOf(last)) : null,
    hasMore,
  };
}
