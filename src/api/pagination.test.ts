import type { FastifyReply } from "fastify";
import { describe, expect, it } from "vitest";
import { AppError } from "../domain/errors.js";
import { newId } from "../store/ids.js";
import { decodeCursor, encodeCursor, paginate } from "./pagination.js";

function b64(text: string): string {
  return Buffer.from(text).toString("base64url");
}

function rejection(cursor: string, keyType: "id" | "seq"): AppError {
  let thrown: unknown;
  try {
    decodeCursor(cursor, keyType);
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `cursor ${JSON.stringify(cursor)} was accepted as a ${keyType} cursor`).toBeInstanceOf(
    AppError,
  );
  return thrown as AppError;
}

describe("encodeCursor / decodeCursor", () => {
  it.each([newId("tok"), newId("tok", 0), newId("sess"), newId("ab", Date.parse("2030-01-01T00:00:00Z"))])(
    "round-trips the id key %s",
    (id) => {
      const cursor = encodeCursor(id);
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(cursor, "id")).toBe(id);
    },
  );

  it.each([1, 2, 42, 1_000_000, Number.MAX_SAFE_INTEGER])("round-trips the seq key %s", (seq) => {
    const cursor = encodeCursor(seq);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, "seq")).toBe(seq);
  });

  it("is opaque: the cursor is not the key itself", () => {
    const id = newId("tok");
    expect(encodeCursor(id)).not.toContain(id);
    expect(encodeCursor(12345)).not.toBe("12345");
  });

  const malformed: [string, string, "id" | "seq"][] = [
    ["empty", "", "id"],
    ["spaces", "not a cursor", "id"],
    ["punctuation", "!!!", "seq"],
    ["standard base64 with + / =", Buffer.from('{"k":1}??>').toString("base64"), "seq"],
    ["base64 padding", `${encodeCursor(7)}=`, "seq"],
    ["a path", "../../etc/passwd", "id"],
    ["url-encoded text", "%7B%22k%22%3A1%7D", "seq"],
    ["base64 of non-JSON", b64("hello world"), "id"],
    ["base64 of truncated JSON", b64('{"k":'), "seq"],
    ["base64 of null", b64("null"), "seq"],
    ["base64 of a number", b64("5"), "seq"],
    ["base64 of an array", b64("[5]"), "seq"],
    ["base64 of a string", b64('"tok_00000000000000000000000000"'), "id"],
    ["an object without k", b64('{"id":5}'), "seq"],
    ["k null", b64('{"k":null}'), "seq"],
    ["k an object", b64('{"k":{"k":5}}'), "seq"],
    ["a seq cursor where an id is expected", encodeCursor(5), "id"],
    ["an id cursor where a seq is expected", encodeCursor(newId("tok")), "seq"],
    ["a numeric string as a seq", b64('{"k":"5"}'), "seq"],
    ["seq 0", encodeCursor(0), "seq"],
    ["a negative seq", encodeCursor(-3), "seq"],
    ["a fractional seq", encodeCursor(1.5), "seq"],
    ["a seq beyond 2^53", b64('{"k":9007199254740993}'), "seq"],
    ["a seq written as 1e400", b64('{"k":1e400}'), "seq"],
    ["an id too short", encodeCursor("tok_abc"), "id"],
    ["an id with upper case", encodeCursor("TOK_0123456789ABCDEFGHJKMNPQRS"), "id"],
    ["an id with a path", encodeCursor("tok_../../../../../../../etc/pas"), "id"],
    ["an id with a trailing newline", encodeCursor(`${newId("tok")}\n`), "id"],
    ["an id with SQL", encodeCursor("tok_' OR 1=1 --"), "id"],
  ];

  it.each(malformed)("rejects %s with VALIDATION_ERROR", (_name, cursor, keyType) => {
    const error = rejection(cursor, keyType);
    expect(error.code).toBe("VALIDATION_ERROR");
    expect(error.status).toBe(422);
    expect(error.details).toEqual({ issues: [{ path: "querystring.cursor", message: "malformed cursor" }] });
    // The message never echoes the cursor back.
    if (cursor.length > 3) expect(error.message).not.toContain(cursor);
  });
});

describe("paginate", () => {
  function fakeReply(): { reply: FastifyReply; headers: Record<string, string> } {
    const headers: Record<string, string> = {};
    const reply = {
      header(name: string, value: string) {
        headers[name.toLowerCase()] = value;
        return reply;
      },
    };
    return { reply: reply as unknown as FastifyReply, headers };
  }

  /** Seqs 1..n, served newest first below `before`. */
  function source(n: number) {
    const asked: { after: number | undefined; take: number }[] = [];
    return {
      asked,
      keyType: "seq" as const,
      fetch: async (after: number | undefined, take: number) => {
        asked.push({ after, take });
        const all = Array.from({ length: n }, (_, i) => n - i);
        return all.filter((seq) => after === undefined || seq < after).slice(0, take);
      },
      count: async () => n,
      keyOf: (seq: number) => seq,
    };
  }

  it("asks for one more row than the limit, so hasMore is exact", async () => {
    const { reply, headers } = fakeReply();
    const exact = source(3);
    const page = await paginate(reply, { limit: 3 }, exact);
    expect(exact.asked).toEqual([{ after: undefined, take: 4 }]);
    expect(page).toEqual({ data: [3, 2, 1], nextCursor: null, hasMore: false });
    expect(headers["x-total-count"]).toBe("3");
  });

  it("walks every item once through nextCursor", async () => {
    const items = source(10);
    const seen: number[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const page = await paginate(fakeReply().reply, { limit: 3, cursor }, items);
      seen.push(...page.data);
      expect(page.hasMore).toBe(page.nextCursor !== null);
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(seen).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
  });

  it("refuses a malformed cursor before fetching anything", async () => {
    const items = source(5);
    await expect(paginate(fakeReply().reply, { limit: 3, cursor: "junk!" }, items)).rejects.toMatchObject({
      code: "VALIDATION_ERROR",
    });
    expect(items.asked).toEqual([]);
  });
});
