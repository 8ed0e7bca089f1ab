import { describe, expect, it } from "vitest";
import { fts5Query, searchTerms, SEARCH_TERMS_MAX, websearchQuery } from "./lesson-store.js";

describe("search query text", () => {
  it("keeps only plain words, lower-cased, once each, without common words", () => {
    expect(searchTerms('The "Flaky" test* -- NEAR(flaky, ci) text:CI or ÉTÉ')).toEqual([
      "flaky",
      "test",
      "near",
      "ci",
      "text",
      "été",
    ]);
    expect(searchTerms("\"*:-()^'; ")).toEqual([]);
  });

  it("caps the number and the length of words", () => {
    const many = Array.from({ length: 500 }, (_, i) => `w${i}`).join(" ");
    expect(searchTerms(many)).toHaveLength(SEARCH_TERMS_MAX);
    expect(searchTerms(`${"x".repeat(65)} ok`)).toEqual(["ok"]);
  });

  it("quotes each word for FTS5 and ORs them for websearch", () => {
    expect(fts5Query(["flaky", "near"])).toBe('"flaky" OR "near"');
    expect(fts5Query(['a"b'])).toBe('"a""b"');
    expect(websearchQuery(["flaky", "near"])).toBe("flaky or near");
  });
});
