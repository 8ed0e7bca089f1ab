import { describe, expect, it } from "vitest";
import {
  extractLesson,
  LESSON_EXTRACTOR_VERSION,
  LESSON_SUMMARY_MAX_CHARS,
  LESSON_TEXT_MAX_CHARS,
  LESSON_TOOL_STEPS_MAX,
  lessonQuery,
  type LessonDraft,
  type LessonRunSource,
  type LessonSource,
  type LessonToolCallSource,
} from "./lesson.js";

function run(over: Partial<LessonRunSource> = {}): LessonRunSource {
  return {
    agent: "triage",
    signal: null,
    confidence: null,
    content: null,
    rationale: null,
    errorCode: null,
    ...over,
  };
}

function call(tool: string, status = "succeeded", server = "builtin"): LessonToolCallSource {
  return { server, tool, status };
}

function source(over: Partial<LessonSource> = {}): LessonSource {
  return {
    sessionId: "ses_1",
    goal: "Fix the failing CI on the payments service",
    skill: "ci-doctor",
    repoId: "repo_1",
    inputs: {},
    outcome: { kind: "resolved" },
    runs: [],
    toolCalls: [],
    ...over,
  };
}

function extracted(over: Partial<LessonSource> = {}): LessonDraft {
  const draft = extractLesson(source(over));
  if (draft === null) throw new Error("expected a lesson");
  return draft;
}

describe("extractLesson", () => {
  it("is at version 1", () => {
    expect(LESSON_EXTRACTOR_VERSION).toBe(1);
  });

  it("teaches nothing while the session has no outcome", () => {
    expect(extractLesson(source({ outcome: null, runs: [run({ content: "half done" })] }))).toBeNull();
  });

  it("extracts every field of a finished session", () => {
    const draft = extracted({
      inputs: { service: "payments", attempt: 2, urgent: true, owner: null, extra: { nested: 1 } },
      outcome: { kind: "resolved", detail: "fixed" },
      runs: [
        run({ agent: "triage", signal: "needs_fix", confidence: 0.6, content: "found a flaky test" }),
        run({ agent: "fixer", signal: "success", confidence: 0.9, content: "Pinned the clock in the test." }),
      ],
      toolCalls: [call("read_file"), call("search_code", "succeeded", "repo"), call("mark_resolved")],
    });
    expect(draft).toEqual({
      outcome: { kind: "resolved", detail: "fixed" },
      summary: "Pinned the clock in the test.",
      signals: {
        attempt: 2,
        owner: null,
        service: "payments",
        urgent: true,
        last_signal: "success",
        outcome: "resolved",
      },
      toolSequence: [
        { tool: "builtin:read_file", status: "succeeded", count: 1 },
        { tool: "repo:search_code", status: "succeeded", count: 1 },
        { tool: "builtin:mark_resolved", status: "succeeded", count: 1 },
      ],
      confidenceFinal: 0.9,
      text: [
        "Goal: Fix the failing CI on the payments service",
        "Skill: ci-doctor",
        "Inputs:",
        "- attempt: 2",
        '- extra: {"nested":1}',
        "- owner: null",
        "- service: payments",
        "- urgent: true",
        "Outcome: resolved: fixed",
        "Summary: Pinned the clock in the test.",
        "Key tools: builtin:read_file, repo:search_code, builtin:mark_resolved",
      ].join("\n"),
    });
  });

  it.each<[string, Partial<LessonSource>, string]>([
    ["the last run's content", { runs: [run({ content: "first" }), run({ content: "last" })] }, "last"],
    [
      "the outcome detail when the last run has no envelope",
      {
        outcome: { kind: "failed", detail: "LLM_TIMEOUT" },
        runs: [run({ content: "earlier" }), run({ errorCode: "LLM_TIMEOUT" })],
      },
      "LLM_TIMEOUT",
    ],
    [
      "the outcome detail when the last content is blank",
      { outcome: { kind: "escalated", detail: "sre" }, runs: [run({ content: "  \n " })] },
      "sre",
    ],
    ["nothing when neither exists", { outcome: { kind: "stopped" }, runs: [] }, ""],
  ])("summary: %s", (_name, over, summary) => {
    expect(extracted(over).summary).toBe(summary);
  });

  it("caps the summary at 1,000 characters", () => {
    const draft = extracted({ runs: [run({ content: "x".repeat(5000) })] });
    expect(draft.summary).toHaveLength(LESSON_SUMMARY_MAX_CHARS);
    expect(draft.summary.endsWith("…")).toBe(true);
  });

  it.each<[string, (number | null)[], number | null]>([
    ["the last run's", [0.2, 0.7], 0.7],
    ["the last non-null", [0.4, null], 0.4],
    ["null when no run has one", [null, null], null],
    ["null without runs", [], null],
    ["not a non-finite number", [0.3, Number.NaN], 0.3],
  ])("confidenceFinal is %s", (_name, confidences, expected) => {
    const draft = extracted({ runs: confidences.map((confidence) => run({ confidence })) });
    expect(draft.confidenceFinal).toBe(expected);
  });

  it("takes the last signal any run sent, and the framework's facts win over inputs", () => {
    const draft = extracted({
      inputs: { outcome: "spoofed", last_signal: "spoofed" },
      outcome: { kind: "failed", detail: "x" },
      runs: [run({ signal: "retry" }), run({ signal: null })],
    });
    expect(draft.signals).toEqual({ outcome: "failed", last_signal: "retry" });
  });

  it("keeps only scalar inputs as signals, sanitized and capped", () => {
    const draft = extracted({
      inputs: {
        list: [1, 2],
        object: { a: 1 },
        text: `a\u001b[31mred\u0007${"y".repeat(500)}`,
        infinite: Number.POSITIVE_INFINITY,
      },
    });
    expect(Object.keys(draft.signals).sort()).toEqual(["last_signal", "outcome", "text"]);
    const text = draft.signals.text as string;
    expect(text.startsWith("ared")).toBe(true);
    expect(text).toHaveLength(200);
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\u0000-\u001f]/);
  });

  it("collapses consecutive repeats of one tool and status, and caps the sequence at 50 steps", () => {
    const draft = extracted({
      toolCalls: [
        call("read_file"),
        call("read_file"),
        call("read_file", "failed"),
        call("read_file"),
        call("search_code"),
        call("search_code"),
      ],
    });
    expect(draft.toolSequence).toEqual([
      { tool: "builtin:read_file", status: "succeeded", count: 2 },
      { tool: "builtin:read_file", status: "failed", count: 1 },
      { tool: "builtin:read_file", status: "succeeded", count: 1 },
      { tool: "builtin:search_code", status: "succeeded", count: 2 },
    ]);

    const many = extracted({
      toolCalls: Array.from({ length: 120 }, (_, i) => call(`tool_${i % 60}`)),
    });
    expect(many.toolSequence).toHaveLength(LESSON_TOOL_STEPS_MAX);
    expect(many.toolSequence.at(-1)).toEqual({ tool: "builtin:tool_49", status: "succeeded", count: 1 });
  });

  it("names each key tool once in the text, in order of first use", () => {
    const draft = extracted({ toolCalls: [call("a"), call("b"), call("a"), call("c")] });
    expect(draft.text.split("\n").at(-1)).toBe("Key tools: builtin:a, builtin:b, builtin:c");
  });

  it("strips control characters, escape sequences and bidi overrides from everything it keeps", () => {
    const hostile = "ok\u001b]0;title\u0007\u202eevil\u0000\r\nnext";
    const draft = extracted({
      goal: hostile,
      skill: hostile,
      inputs: { [hostile]: hostile },
      outcome: { kind: "needs_review", detail: hostile },
      runs: [run({ content: hostile })],
      toolCalls: [{ server: hostile, tool: hostile, status: hostile }],
    });
    const all = JSON.stringify(draft);
    for (const bad of ["\\u001b", "\\u0007", "\\u0000", "\\r", "\u202e"]) expect(all).not.toContain(bad);
    expect(draft.summary).toBe("okevil\nnext");
    expect(draft.outcome).toEqual({ kind: "needs_review", detail: "okevil\nnext" });
  });

  it("caps the text at 4,000 characters and keeps the outcome even with a huge goal and inputs", () => {
    const draft = extracted({
      goal: "g".repeat(10_000),
      inputs: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, "v".repeat(500)])),
      outcome: { kind: "failed", detail: "boom" },
      runs: [run({ content: "s".repeat(5000) })],
    });
    expect(draft.text.length).toBeLessThanOrEqual(LESSON_TEXT_MAX_CHARS);
    expect(draft.text).toContain("Outcome: failed: boom");
  });

  it("gives the same lesson for the same facts, whatever the order of the input keys", () => {
    const a = extracted({ inputs: { b: 1, a: "x" } });
    const b = extracted({ inputs: { a: "x", b: 1 } });
    expect(a).toEqual(b);
    expect(a.text).toBe(b.text);
  });
});

describe("lessonQuery", () => {
  it("is the goal, the skill and the inputs, without a lesson's labels", () => {
    expect(lessonQuery("Fix the failing CI", { service: "payments", n: 2 }, "ci-doctor")).toBe(
      "Fix the failing CI\nci-doctor\nn: 2\nservice: payments",
    );
  });

  it("leaves out what the session does not have", () => {
    expect(lessonQuery("Rotate keys", {}, null)).toBe("Rotate keys");
  });

  it("is sanitized and capped", () => {
    const query = lessonQuery(`a\u001b[2Jb${"z".repeat(20_000)}`, { x: "y".repeat(10_000) }, null);
    expect(query.length).toBeLessThanOrEqual(LESSON_TEXT_MAX_CHARS);
    expect(query.startsWith("abzz")).toBe(true);
    // eslint-disable-next-line no-control-regex
    expect(query).not.toMatch(/\u001b/);
  });
});
