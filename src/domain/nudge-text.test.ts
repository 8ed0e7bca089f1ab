import { describe, expect, it } from "vitest";
import {
  capText,
  ciFailedText,
  conflictText,
  LOG_TAIL_LINES,
  logTail,
  NUDGE_MAX_CHARS,
  reviewText,
  sanitizeText,
  type PrSummary,
} from "./nudge-text.js";
import type { ChangeRequest, CheckResult, ReviewThread } from "./pull-request.js";

/** What must never reach an agent's terminal: C0 (but tab and newline), DEL, C1, bidi embeddings/overrides/isolates. */
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
/** What a git branch name may carry (git refuses ASCII controls in ref names, not C1 or bidi). */
const NASTY_REF = "\u202eevil\u2066x\u2069\u009b1m";
/** Escape sequences, a terminal hyperlink, a bidi override and a bell. */
const NASTY =
  "\u001b[2J\u001b]8;;https://evil.example\u0007click\u001b]8;;\u0007\u202eevil\u202c\u0007\u009b1m";

const SUMMARY: PrSummary = {
  number: 7,
  title: "Tune title boost",
  url: "https://github.com/acme/app/pull/7",
  headRef: "shepherd/session-s-1",
  baseRef: "main",
  headSha: "0123456789abcdef0123456789abcdef01234567",
};

function check(over: Partial<CheckResult> = {}): CheckResult {
  return {
    id: "check:2",
    name: "unit tests",
    kind: "check_run",
    state: "failure",
    conclusion: "failure",
    url: "https://github.com/acme/app/actions/runs/9/job/2",
    jobId: 2,
    logTail: "FAIL src/a.test.ts",
    ...over,
  };
}

function thread(over: Partial<ReviewThread> = {}): ReviewThread {
  return {
    id: "t1",
    path: "config/boosts.yaml",
    line: 42,
    outdated: false,
    comments: [
      {
        id: "c1",
        author: "alice",
        isBot: false,
        body: "Rename this boost",
        url: "https://github.com/acme/app/pull/7#discussion_r1",
        createdAt: "2025-03-01T12:00:00Z",
      },
    ],
    ...over,
  };
}

function request(over: Partial<ChangeRequest> = {}): ChangeRequest {
  return {
    id: "r1",
    author: "bob",
    isBot: false,
    body: "Needs a test",
    url: "https://github.com/acme/app/pull/7#pullrequestreview-1",
    submittedAt: "2025-03-01T12:00:00Z",
    ...over,
  };
}

describe("sanitizeText", () => {
  it.each([
    ["plain text", "Fix the boost", "Fix the boost"],
    ["tabs and newlines are kept", "a\tb\nc\n", "a\tb\nc\n"],
    ["CRLF becomes LF", "a\r\nb\r\n", "a\nb\n"],
    ["a lone CR becomes LF", "a\rb", "a\nb"],
    ["SGR colours", "\u001b[31mred\u001b[0m done", "red done"],
    ["clear screen and cursor home", "\u001b[2J\u001b[Hafter", "after"],
    ["private-mode CSI (hide cursor)", "\u001b[?25lx", "x"],
    ["OSC title ended by BEL", "\u001b]0;pwned\u0007text", "text"],
    ["OSC 8 hyperlink ended by ST", "\u001b]8;;https://evil.example\u001b\\link\u001b]8;;\u001b\\", "link"],
    ["a single-character escape (ESC M)", "a\u001bMb", "ab"],
    ["a dangling ESC", "end\u001b", "end"],
    ["BEL", "bell\u0007", "bell"],
    ["NUL and backspace", "n\u0000u\u0008l", "nul"],
    ["vertical tab and form feed", "a\u000bb\u000cc", "abc"],
    ["DEL", "de\u007fl", "del"],
    ["C1 CSI (0x9b) and NEL (0x85)", "a\u009b31mb\u0085c", "a31mbc"],
    ["bidi overrides and embeddings", "\u202eevil\u202c \u202aa\u202b", "evil a"],
    ["bidi isolates", "\u2066iso\u2069\u2067x\u2068", "isox"],
    ["unicode text stays", "ünïcödé 日本 🐑 — “quotes”", "ünïcödé 日本 🐑 — “quotes”"],
  ])("%s", (_name, input, expected) => {
    expect(sanitizeText(input)).toBe(expected);
  });

  it.each([
    NASTY,
    "\u001b\u001b[31mx",
    "\u001b\u0000[31mx",
    "\u0000\u001b]0;t\u001b\u0007",
    "\u009b\u001b[\u001b]",
  ])("leaves no control or bidi character in %j", (input) => {
    expect(sanitizeText(input)).not.toMatch(FORBIDDEN);
  });
});

describe("capText", () => {
  const pointer = "Full text: shepherd pr show pr-1";

  it.each([
    ["shorter than the cap", "hello", 10],
    ["exactly the cap", "x".repeat(50), 50],
    ["empty", "", 0],
  ])("%s → unchanged", (_name, text, max) => {
    expect(capText(text, max, pointer)).toBe(text);
  });

  it("cuts at a line end when one is in the second half, and ends with the pointer", () => {
    const text = Array.from(
      { length: 50 },
      (_, i) => `line ${String(i).padStart(2, "0")} ${"y".repeat(20)}`,
    ).join("\n");
    const capped = capText(text, 300, pointer);
    expect(capped.length).toBeLessThanOrEqual(300);
    expect(capped.endsWith(`\n… (truncated) ${pointer}`)).toBe(true);
    const kept = capped.slice(0, capped.indexOf("\n… (truncated)"));
    expect(text.startsWith(kept)).toBe(true);
    expect(text[kept.length]).toBe("\n");
  });

  it("cuts hard when there is no line end late enough", () => {
    const text = `short\n${"z".repeat(1000)}`;
    const capped = capText(text, 200, pointer);
    expect(capped.length).toBe(200);
    expect(capped.startsWith(`short\n${"z".repeat(50)}`)).toBe(true);
    expect(capped.endsWith(pointer)).toBe(true);
  });

  it("the nudge cap is 4000 characters", () => {
    expect(NUDGE_MAX_CHARS).toBe(4000);
    expect(capText("a".repeat(5000), NUDGE_MAX_CHARS, pointer).length).toBeLessThanOrEqual(NUDGE_MAX_CHARS);
  });
});

describe("logTail", () => {
  it("keeps the last 20 lines", () => {
    const log = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join("\n");
    const tail = logTail(log);
    expect(LOG_TAIL_LINES).toBe(20);
    expect(tail.split("\n")).toEqual(Array.from({ length: 20 }, (_, i) => `line ${i + 11}`));
  });

  it.each([
    [
      "runner timestamps (7 fractional digits)",
      "2025-03-01T12:00:00.1234567Z ##[error]boom",
      "##[error]boom",
    ],
    ["runner timestamps without fraction", "2025-03-01T12:00:00Z npm test", "npm test"],
    [
      "a timestamp inside the line stays",
      "at 2025-03-01T12:00:00Z it broke",
      "at 2025-03-01T12:00:00Z it broke",
    ],
    ["a trailing newline adds no empty line", "a\nb\n", "a\nb"],
    ["CRLF", "a\r\nb\r\n", "a\nb"],
    ["trailing spaces are trimmed", "a   \nb\t", "a\nb"],
    ["colours are removed", "\u001b[31mFAIL\u001b[0m test", "FAIL test"],
    ["control characters are removed", "bell\u0007 \u202eevil", "bell evil"],
  ])("%s", (_name, log, expected) => {
    expect(logTail(log)).toBe(expected);
  });

  it("cuts overlong lines to 400 characters plus an ellipsis", () => {
    const tail = logTail(`short\n${"x".repeat(1000)}`);
    expect(tail).toBe(`short\n${"x".repeat(400)}…`);
  });

  it("takes a line count", () => {
    expect(logTail("1\n2\n3\n4", 2)).toBe("3\n4");
  });

  it("counts the lines after stripping the final newline", () => {
    const log = `${Array.from({ length: 20 }, (_, i) => `l${i}`).join("\n")}\n`;
    expect(logTail(log).split("\n")).toHaveLength(20);
    expect(logTail(log).startsWith("l0\n")).toBe(true);
  });
});

describe("ciFailedText", () => {
  it("names the PR, the short sha and each failing check with its conclusion, URL and fenced log tail", () => {
    const text = ciFailedText(
      SUMMARY,
      [
        check(),
        check({
          id: "status:deploy",
          name: "deploy",
          kind: "status",
          conclusion: "error",
          url: null,
          logTail: null,
        }),
      ],
      null,
    );
    expect(text).toContain('PR #7 "Tune title boost" (shepherd/session-s-1 → main)');
    expect(text).toContain("at 0123456");
    expect(text).not.toContain("0123456789abcdef");
    expect(text).toContain(
      "Failed: unit tests (failure)\nhttps://github.com/acme/app/actions/runs/9/job/2\nLast lines of the log:\n```\nFAIL src/a.test.ts\n```",
    );
    expect(text).toContain("Failed: deploy (error)\n\n");
    expect(text.match(/Last lines of the log/g)).toHaveLength(1);
  });

  it("says failure when the check has no conclusion", () => {
    expect(ciFailedText(SUMMARY, [check({ conclusion: null })], null)).toContain(
      "Failed: unit tests (failure)",
    );
  });

  it.each([
    ["no backticks", "plain", "```"],
    ["a triple-backtick fence inside", "```js\nboom\n```", "````"],
    ["a run of five", "x ````` y", "``````"],
    ["a single backtick", "`x`", "```"],
  ])("the log fence is longer than any backtick run inside (%s)", (_name, tail, fence) => {
    const text = ciFailedText(SUMMARY, [check({ logTail: tail })], null);
    expect(text).toContain(`Last lines of the log:\n${fence}\n${tail}\n${fence}\n`);
  });

  it("puts the rule's message first", () => {
    const text = ciFailedText(SUMMARY, [check()], "  Team note\u0007  ");
    expect(text.startsWith("Team note\n\nCI is failing")).toBe(true);
  });
});

describe("reviewText", () => {
  it("lists change requests and threads with file and line, bodies and URLs", () => {
    const text = reviewText(SUMMARY, [thread()], [request()], null);
    expect(text).toContain("Review feedback on PR #7");
    expect(text).toContain("2 unresolved items.");
    expect(text).toContain(
      "- @bob requested changes:\n  Needs a test\n  https://github.com/acme/app/pull/7#pullrequestreview-1",
    );
    expect(text).toContain(
      "- config/boosts.yaml:42 (thread t1)\n  @alice: Rename this boost\n  https://github.com/acme/app/pull/7#discussion_r1",
    );
  });

  it("counts one item in the singular", () => {
    expect(reviewText(SUMMARY, [thread()], [], null)).toContain("1 unresolved item.");
  });

  it("a change request without a body", () => {
    expect(reviewText(SUMMARY, [], [request({ body: "  " })], null)).toContain(
      "- @bob requested changes.\n  https://",
    );
  });

  it.each([
    ["a path and a line", { path: "a.ts", line: 3 }, "- a.ts:3 (thread t1)"],
    ["a path without a line (outdated)", { path: "a.ts", line: null }, "- a.ts (outdated) (thread t1)"],
    ["no path", { path: null, line: null }, "- conversation (thread t1)"],
  ])("a thread's location: %s", (_name, over, expected) => {
    expect(reviewText(SUMMARY, [thread(over)], [], null)).toContain(expected);
  });

  it("indents multi-line bodies and ends each thread with its last comment's URL", () => {
    const base = thread();
    const first = base.comments[0]!;
    const text = reviewText(
      SUMMARY,
      [
        thread({
          comments: [
            { ...first, body: "line one\nline two" },
            { ...first, id: "c2", author: "carol", body: "agreed", url: "https://github.com/x#c2" },
          ],
        }),
      ],
      [],
      null,
    );
    expect(text).toContain("  @alice: line one\n    line two\n  @carol: agreed\n  https://github.com/x#c2");
    expect(text).not.toContain("#discussion_r1");
  });

  it("cuts long bodies to 1200 characters", () => {
    const text = reviewText(SUMMARY, [], [request({ body: "b".repeat(5000) })], null);
    expect(text).toContain(`${"b".repeat(1200)}…`);
    expect(text).not.toContain("b".repeat(1201));
  });

  it("puts the rule's message first", () => {
    expect(reviewText(SUMMARY, [thread()], [], "Lead").startsWith("Lead\n\nReview feedback")).toBe(true);
  });
});

describe("conflictText", () => {
  it("is a rebase instruction onto the base branch", () => {
    const text = conflictText({ ...SUMMARY, baseRef: "release/2" }, null);
    expect(text).toContain("has merge conflicts with release/2");
    expect(text).toContain("git fetch origin release/2 && git rebase origin/release/2");
    expect(text).toMatch(/resolve the conflicts, run the tests, and push/);
  });

  it("puts the rule's message first", () => {
    expect(conflictText(SUMMARY, "Lead").startsWith("Lead\n\nPR #7")).toBe(true);
  });
});

describe("nudge texts: nothing from GitHub reaches the agent unsanitized", () => {
  // Git allows escape sequences in file names and bidi/C1 characters in branch names, and a
  // commit status's target URL is whatever the integration posted: all are GitHub-supplied text.
  it.each([
    ["the PR title", () => ciFailedText({ ...SUMMARY, title: NASTY }, [check()], null)],
    ["a check name", () => ciFailedText(SUMMARY, [check({ name: NASTY })], null)],
    ["a check URL", () => ciFailedText(SUMMARY, [check({ url: `https://ci.example/${NASTY}` })], null)],
    [
      "the head branch (CI text)",
      () => ciFailedText({ ...SUMMARY, headRef: `feat/${NASTY_REF}` }, [check()], null),
    ],
    [
      "the head branch (review text)",
      () => reviewText({ ...SUMMARY, headRef: `feat/${NASTY_REF}` }, [thread()], [], null),
    ],
    [
      "the base branch (conflict text)",
      () => conflictText({ ...SUMMARY, baseRef: `rel/${NASTY_REF}` }, null),
    ],
    ["a change request body", () => reviewText(SUMMARY, [], [request({ body: NASTY })], null)],
    [
      "a review comment body",
      () =>
        reviewText(SUMMARY, [thread({ comments: [{ ...thread().comments[0]!, body: NASTY }] })], [], null),
    ],
    [
      "a review thread's file path",
      () => reviewText(SUMMARY, [thread({ path: `src/${NASTY}.ts` })], [], null),
    ],
    ["the rule's message", () => conflictText(SUMMARY, NASTY)],
  ])("%s", (_name, render) => {
    expect(render()).not.toMatch(FORBIDDEN);
  });
});
