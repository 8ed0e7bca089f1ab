import { describe, expect, it } from "vitest";
import { ENVELOPE_INSTRUCTIONS, parseTurnEnvelope, type TurnEnvelope } from "./turn-envelope.js";

const ENVELOPE: TurnEnvelope = {
  content: "Proposed raising title boost to 2.0",
  confidence: 0.82,
  rationale: "Offline eval improved NDCG by 4%.",
  signal: "success",
};
const JSON_TEXT = JSON.stringify(ENVELOPE);

describe("parseTurnEnvelope: accepted", () => {
  it.each<[string, string, TurnEnvelope, boolean]>([
    ["the whole reply as JSON", JSON_TEXT, ENVELOPE, false],
    ["JSON with surrounding whitespace", `\n  ${JSON_TEXT}\n\n`, ENVELOPE, false],
    [
      "JSON without a signal",
      JSON.stringify({ ...ENVELOPE, signal: undefined }),
      { ...ENVELOPE, signal: null },
      false,
    ],
    [
      "JSON with a null signal",
      JSON.stringify({ ...ENVELOPE, signal: null }),
      { ...ENVELOPE, signal: null },
      false,
    ],
    [
      "a signal in capitals",
      JSON.stringify({ ...ENVELOPE, signal: " Needs_Review " }),
      { ...ENVELOPE, signal: "needs_review" },
      false,
    ],
    ["confidence 0", JSON.stringify({ ...ENVELOPE, confidence: 0 }), { ...ENVELOPE, confidence: 0 }, false],
    ["confidence 1", JSON.stringify({ ...ENVELOPE, confidence: 1 }), { ...ENVELOPE, confidence: 1 }, false],
    ["extra keys are ignored", JSON.stringify({ ...ENVELOPE, notes: "x" }), ENVELOPE, false],
    ["a fenced json block that is the whole reply", "```json\n" + JSON_TEXT + "\n```", ENVELOPE, false],
    [
      "a fenced json block after prose",
      "I checked the config.\n\n```json\n" + JSON_TEXT + "\n```\n",
      ENVELOPE,
      true,
    ],
    ["an unlabelled fence holding the object", "Done.\n```\n" + JSON_TEXT + "\n```", ENVELOPE, true],
    [
      "the last envelope among several fences",
      'Current config:\n```json\n{"titleBoost": 1.2}\n```\nResult:\n```json\n' + JSON_TEXT + "\n```",
      ENVELOPE,
      true,
    ],
    [
      "a bare object closing a prose reply",
      "I checked the config.\n" + JSON.stringify(ENVELOPE, null, 2),
      ENVELOPE,
      true,
    ],
  ])("%s", (_name, text, envelope, recovered) => {
    expect(parseTurnEnvelope(text)).toEqual({ ok: true, envelope, recovered });
  });

  it.each<[string, string, Partial<TurnEnvelope>]>([
    [
      "markdown sections",
      "## Response\nProposed raising title boost to 2.0\n\n## Confidence\n0.82\n\n## Rationale\nOffline eval improved NDCG by 4%.\n\n## Signal\nsuccess\n",
      ENVELOPE,
    ],
    [
      "## Content instead of ## Response",
      "## Content\nDone.\n## Confidence\n0.5\n## Rationale\nSo-so.",
      { content: "Done.", confidence: 0.5, rationale: "So-so.", signal: null },
    ],
    [
      "a reason after an em dash",
      "## Response\nDone.\n## Confidence\n0.8 — because the tests pass",
      { confidence: 0.8, rationale: "because the tests pass" },
    ],
    [
      "a reason after an en dash",
      "## Response\nDone.\n## Confidence\n0.8 – tests pass",
      { confidence: 0.8, rationale: "tests pass" },
    ],
    [
      "a reason after a hyphen",
      "## Response\nDone.\n## Confidence\n0.8 - tests pass",
      { confidence: 0.8, rationale: "tests pass" },
    ],
    [
      "a percentage",
      "## Response\nDone.\n## Confidence\n80% — tests pass",
      { confidence: 0.8, rationale: "tests pass" },
    ],
    [
      "a bold figure",
      "## Response\nDone.\n## Confidence\n**0.9** - sure",
      { confidence: 0.9, rationale: "sure" },
    ],
    [
      "## Rationale wins over the inline reason",
      "## Response\nDone.\n## Confidence\n0.7 — quick look\n## Rationale\nRead both files.",
      { confidence: 0.7, rationale: "Read both files." },
    ],
    [
      "a multi-line reason",
      "## Response\nDone.\n## Confidence\n0.6 — partly\nbecause CI is slow",
      { rationale: "partly\nbecause CI is slow" },
    ],
    [
      "a preamble before the sections",
      "Here is my answer.\n\n## Response\nDone.\n## Confidence\n1 — certain",
      { content: "Done.", confidence: 1 },
    ],
    [
      "a signal in backticks",
      "## Response\nDone.\n## Confidence\n0.9 — ok\n## Signal\n`Needs_Input`",
      { signal: "needs_input" },
    ],
    [
      "no signal written as none",
      "## Response\nDone.\n## Confidence\n0.9 — ok\n## Signal\nnone",
      { signal: null },
    ],
    [
      "headings with a colon, any level",
      "# Response:\nDone.\n### confidence\n0.9 — ok",
      { content: "Done.", confidence: 0.9 },
    ],
    [
      "other headings and code stay in the content",
      "## Response\nChanged it.\n### Details\n```md\n## Confidence\nnot a heading\n```\n## Confidence\n0.75 — fine",
      { content: "Changed it.\n### Details\n```md\n## Confidence\nnot a heading\n```", confidence: 0.75 },
    ],
    [
      "a JSON sample inside the content is not the envelope",
      '## Response\nSet it to:\n```json\n{"titleBoost": 2.0}\n```\n## Confidence\n0.9 — measured',
      { content: 'Set it to:\n```json\n{"titleBoost": 2.0}\n```', confidence: 0.9 },
    ],
  ])("prose: %s", (_name, text, expected) => {
    const parsed = parseTurnEnvelope(text);
    expect(parsed).toMatchObject({ ok: true, recovered: true, envelope: expected });
  });
});

describe("parseTurnEnvelope: rejected", () => {
  it.each<[string, string, string | RegExp]>([
    ["an empty reply", "  \n", "the reply is empty: expected the JSON envelope"],
    ["plain prose", "I think we should raise the boost.", /no envelope: expected a JSON object/],
    ["JSON that is not an object", "[1, 2]", "the reply is JSON but not an object (got an array)"],
    ["a JSON string", '"done"', /JSON but not an object/],
    ["missing keys", '{"content": "x"}', "the envelope is missing confidence, rationale"],
    [
      "confidence above 1",
      JSON.stringify({ ...ENVELOPE, confidence: 1.2 }),
      "confidence must be from 0 to 1, got 1.2",
    ],
    [
      "confidence below 0",
      JSON.stringify({ ...ENVELOPE, confidence: -0.1 }),
      "confidence must be from 0 to 1, got -0.1",
    ],
    [
      "confidence as a string",
      JSON.stringify({ ...ENVELOPE, confidence: "0.8" }),
      'confidence must be a number from 0 to 1, got "0.8"',
    ],
    [
      "confidence as a percentage",
      JSON.stringify({ ...ENVELOPE, confidence: 80 }),
      "confidence must be from 0 to 1, got 80",
    ],
    [
      "confidence null",
      JSON.stringify({ ...ENVELOPE, confidence: null }),
      "confidence must be a number from 0 to 1, got null",
    ],
    [
      "content not a string",
      JSON.stringify({ ...ENVELOPE, content: { a: 1 } }),
      "content must be a string, got an object",
    ],
    ["empty content", JSON.stringify({ ...ENVELOPE, content: " " }), "content is empty"],
    [
      "rationale not a string",
      JSON.stringify({ ...ENVELOPE, rationale: 3 }),
      "rationale must be a string, got 3",
    ],
    ["empty rationale", JSON.stringify({ ...ENVELOPE, rationale: "" }), "rationale is empty"],
    [
      "a signal with spaces",
      JSON.stringify({ ...ENVELOPE, signal: "needs review" }),
      /signal "needs review" is not a valid signal name/,
    ],
    [
      "a signal starting with a digit",
      JSON.stringify({ ...ENVELOPE, signal: "2fa" }),
      /not a valid signal name/,
    ],
    ["a signal too long", JSON.stringify({ ...ENVELOPE, signal: "a".repeat(33) }), /not a valid signal name/],
    ["an empty signal", JSON.stringify({ ...ENVELOPE, signal: "" }), /not a valid signal name/],
    [
      "a signal that is not a string",
      JSON.stringify({ ...ENVELOPE, signal: true }),
      "signal must be a string or null, got true",
    ],
    ["broken JSON", '{"content": "x", "confidence": 0.8,', /looks like JSON but does not parse/],
    ["a broken fenced block", 'Done.\n```json\n{"content": "x",\n```', /fenced JSON block is not valid JSON/],
    [
      "a fenced object that is not an envelope",
      'Done.\n```json\n{"titleBoost": 2}\n```',
      "the envelope is missing content, confidence, rationale",
    ],
    [
      "a bad fenced envelope",
      "```json\n" + JSON.stringify({ ...ENVELOPE, confidence: 2 }) + "\n```",
      "confidence must be from 0 to 1, got 2",
    ],
    [
      "sections without confidence",
      "## Response\nDone.\n## Rationale\nBecause.",
      /sections lack ## Confidence/,
    ],
    ["sections without a response", "## Confidence\n0.9 — sure", /sections lack ## Response/],
    ["an empty response section", "## Response\n\n## Confidence\n0.9 — sure", /sections lack ## Response/],
    [
      "a confidence that is a word",
      "## Response\nDone.\n## Confidence\nhigh",
      '## Confidence must start with a number from 0 to 1 or a percentage, got "high"',
    ],
    [
      "a percentage over 100",
      "## Response\nDone.\n## Confidence\n120% — very",
      "confidence must be from 0 to 1, got 120%",
    ],
    [
      "a figure over 1",
      "## Response\nDone.\n## Confidence\n8/10 — good",
      /confidence must be from 0 to 1, got 8/,
    ],
    [
      "no rationale anywhere",
      "## Response\nDone.\n## Confidence\n0.9",
      "the reply has no rationale: add a ## Rationale section",
    ],
    [
      "an invalid prose signal",
      "## Response\nDone.\n## Confidence\n0.9 — ok\n## Signal\nall good!",
      /not a valid signal name/,
    ],
    [
      "a duplicated section",
      "## Response\nA\n## Confidence\n0.9 — ok\n## Confidence\n0.5 — no",
      "the ## confidence section appears more than once",
    ],
    [
      "both Response and Content",
      "## Response\nA\n## Content\nB\n## Confidence\n0.9 — ok",
      "give either ## Response or ## Content, not both",
    ],
  ])("%s", (_name, text, error) => {
    const parsed = parseTurnEnvelope(text);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    if (typeof error === "string") expect(parsed.error).toBe(error);
    else expect(parsed.error).toMatch(error);
  });
});

describe("ENVELOPE_INSTRUCTIONS", () => {
  it("shows the JSON form, and its example parses once filled in", () => {
    expect(ENVELOPE_INSTRUCTIONS).toContain('"confidence"');
    const example = ENVELOPE_INSTRUCTIONS.split("\n").find((line) => line.startsWith("{")) ?? "";
    const filled = example
      .replace("<your answer or summary>", "Done")
      .replace("<a number from 0 to 1>", "0.9")
      .replace("<why you are this confident>", "Tested")
      .replace('"<a signal name, or null>"', "null");
    expect(parseTurnEnvelope(filled)).toEqual({
      ok: true,
      envelope: { content: "Done", confidence: 0.9, rationale: "Tested", signal: null },
      recovered: false,
    });
  });
});
