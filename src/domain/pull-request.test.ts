import { describe, expect, it } from "vitest";
import {
  changedParts,
  checksNeedingLogTail,
  OBSERVATION_PARTS,
  semanticParts,
  unresolvedFeedback,
  withCarriedLogTails,
  withCarriedReview,
  type CheckResult,
  type PrObservation,
  type ReviewComment,
  type ReviewFeedback,
  type ReviewThread,
  type ChangeRequest,
} from "./pull-request.js";

const VIEWER = "shepherd-bot";

function check(id: string, state: CheckResult["state"], extra: Partial<CheckResult> = {}): CheckResult {
  return {
    id,
    name: `job ${id}`,
    kind: "check_run",
    state,
    conclusion: state === "pending" ? null : state,
    url: null,
    jobId: null,
    logTail: null,
    ...extra,
  };
}

function comment(id: string, author = "alice", isBot = false): ReviewComment {
  return { id, author, isBot, body: `body ${id}`, url: `u#${id}`, createdAt: "2025-03-01T12:00:00Z" };
}

function thread(id: string, comments: ReviewComment[]): ReviewThread {
  return { id, path: "a.ts", line: 1, outdated: false, comments };
}

function request(id: string, author = "bob", isBot = false): ChangeRequest {
  return { id, author, isBot, body: "", url: `u#${id}`, submittedAt: "2025-03-01T12:00:00Z" };
}

function feedback(
  threads: ReviewThread[] = [],
  changeRequests: ChangeRequest[] = [],
  viewer: string | null = VIEWER,
): ReviewFeedback {
  return { threads, changeRequests, partial: false, viewer };
}

function pr(over: Partial<PrObservation> = {}): PrObservation {
  return {
    nodeId: "PR_1",
    number: 7,
    url: "https://github.com/acme/app/pull/7",
    title: "Tune",
    author: VIEWER,
    state: "open",
    draft: false,
    headRef: "feature",
    headRepo: "acme/app",
    headSha: "sha-a",
    baseRef: "main",
    updatedAt: "2025-03-01T12:00:00Z",
    mergedAt: null,
    closedAt: null,
    mergeable: "MERGEABLE",
    mergeStateStatus: "CLEAN",
    reviewDecision: "REVIEW_REQUIRED",
    commentsCount: 0,
    ci: {
      state: "failure",
      checks: [check("check:1", "success"), check("check:2", "failure"), check("check:3", "pending")],
      partial: false,
    },
    review: feedback([thread("t1", [comment("c1")])], [request("r1")]),
    ...over,
  };
}

const BASE = pr();

describe("changedParts", () => {
  it("all parts for a first observation", () => {
    expect(changedParts(null, BASE)).toEqual([...OBSERVATION_PARTS]);
    expect(OBSERVATION_PARTS).toEqual(["state", "ci", "review", "mergeability"]);
  });

  it.each<[string, Partial<PrObservation>, string[]]>([
    ["nothing", {}, []],
    ["the title (no reaction reads it)", { title: "Renamed" }, []],
    [
      "updatedAt, commentsCount, mergeStateStatus",
      { updatedAt: "2025-03-02T00:00:00Z", commentsCount: 9, mergeStateStatus: "BLOCKED" },
      [],
    ],
    ["the order of the checks", { ci: { ...BASE.ci, checks: [...BASE.ci.checks].reverse() } }, []],
    [
      "a passing or neutral check added",
      {
        ci: {
          ...BASE.ci,
          checks: [...BASE.ci.checks, check("check:4", "success"), check("check:5", "neutral")],
        },
      },
      [],
    ],
    [
      "a check's URL or log tail",
      { ci: { ...BASE.ci, checks: BASE.ci.checks.map((c) => ({ ...c, url: "x", logTail: "y" })) } },
      [],
    ],
    ["the state", { state: "closed" }, ["state"]],
    ["draft", { draft: true }, ["state"]],
    ["the base branch", { baseRef: "release" }, ["state"]],
    ["the head sha", { headSha: "sha-b" }, ["state", "ci"]],
    ["the CI rollup", { ci: { ...BASE.ci, state: "pending" } }, ["ci"]],
    [
      "a pending check that passed",
      {
        ci: {
          ...BASE.ci,
          checks: [check("check:1", "success"), check("check:2", "failure"), check("check:3", "success")],
        },
      },
      ["ci"],
    ],
    [
      "a failing check's conclusion",
      {
        ci: {
          ...BASE.ci,
          checks: [
            check("check:1", "success"),
            check("check:2", "failure", { conclusion: "timed_out" }),
            check("check:3", "pending"),
          ],
        },
      },
      ["ci"],
    ],
    ["the review decision", { reviewDecision: "APPROVED" }, ["review"]],
    [
      "a new comment in a thread",
      { review: feedback([thread("t1", [comment("c1"), comment("c2")])], [request("r1")]) },
      ["review"],
    ],
    ["a thread resolved", { review: feedback([], [request("r1")]) }, ["review"]],
    ["a change request dismissed", { review: feedback([thread("t1", [comment("c1")])], []) }, ["review"]],
    [
      "a comment's body edited",
      { review: feedback([thread("t1", [{ ...comment("c1"), body: "edited" }])], [request("r1")]) },
      [],
    ],
    ["mergeability", { mergeable: "UNKNOWN" }, ["mergeability"]],
    [
      "several parts",
      { state: "merged", mergeable: "CONFLICTING", reviewDecision: "APPROVED" },
      ["state", "review", "mergeability"],
    ],
  ])("%s → %j", (_name, over, expected) => {
    expect(changedParts(BASE, pr(over))).toEqual(expected);
  });

  it("the order of threads and change requests does not matter", () => {
    const a = pr({
      review: feedback(
        [thread("t1", [comment("c1")]), thread("t2", [comment("c2")])],
        [request("r1"), request("r2")],
      ),
    });
    const b = pr({
      review: feedback(
        [thread("t2", [comment("c2")]), thread("t1", [comment("c1")])],
        [request("r2"), request("r1")],
      ),
    });
    expect(changedParts(a, b)).toEqual([]);
  });

  it("semanticParts is a pure function of the observation", () => {
    expect(semanticParts(pr())).toEqual(semanticParts(pr()));
    expect(semanticParts(BASE).mergeability).toBe("MERGEABLE");
  });
});

describe("withCarriedReview", () => {
  const earlier = pr({ review: feedback([thread("t1", [comment("c1")])]) });

  it("a new observation whose threads were not read keeps the earlier feedback", () => {
    const after = pr({ review: null, headSha: "sha-b" });
    const carried = withCarriedReview(after, earlier);
    expect(carried.review).toBe(earlier.review);
    expect(carried.headSha).toBe("sha-b");
  });

  it.each<[string, PrObservation, PrObservation | null]>([
    ["threads were read in this observation", pr({ review: feedback() }), earlier],
    ["there is no earlier observation", pr({ review: null }), null],
    ["the PR was not open before", pr({ review: null }), pr({ state: "closed" })],
    ["the PR was merged before", pr({ review: null }), pr({ state: "merged" })],
  ])("unchanged when %s", (_name, after, before) => {
    expect(withCarriedReview(after, before)).toBe(after);
  });
});

describe("withCarriedLogTails", () => {
  const before = pr({
    ci: {
      state: "failure",
      partial: false,
      checks: [
        check("check:2", "failure", { jobId: 2, logTail: "tail 2" }),
        check("check:3", "failure", { jobId: 3, logTail: "tail 3" }),
        check("check:4", "failure", { jobId: 4 }),
      ],
    },
  });

  it("keeps the tail of a check that still fails, and only that", () => {
    const after = pr({
      ci: {
        state: "failure",
        partial: false,
        checks: [
          check("check:2", "failure", { jobId: 2 }),
          check("check:3", "success", { jobId: 3 }),
          check("check:4", "failure", { jobId: 4 }),
          check("check:5", "failure", { jobId: 5 }),
          check("check:6", "failure", { jobId: 6, logTail: "own tail" }),
        ],
      },
    });
    const carried = withCarriedLogTails(after, before);
    expect(carried.ci.checks.map((c) => [c.id, c.logTail])).toEqual([
      ["check:2", "tail 2"],
      ["check:3", null],
      ["check:4", null],
      ["check:5", null],
      ["check:6", "own tail"],
    ]);
    expect(after.ci.checks[0]?.logTail).toBeNull();
  });

  it("a check that already has a tail keeps its own", () => {
    const after = pr({
      ci: { state: "failure", partial: false, checks: [check("check:2", "failure", { logTail: "newer" })] },
    });
    expect(withCarriedLogTails(after, before).ci.checks[0]?.logTail).toBe("newer");
  });

  it.each<[string, PrObservation | null]>([
    ["no earlier observation", null],
    ["no tails before", pr()],
  ])("unchanged with %s", (_name, earlier) => {
    const after = pr();
    expect(withCarriedLogTails(after, earlier)).toBe(after);
  });
});

describe("checksNeedingLogTail", () => {
  it("failing checks with a job and no tail yet", () => {
    const obs = pr({
      ci: {
        state: "failure",
        partial: false,
        checks: [
          check("check:1", "failure", { jobId: 1 }),
          check("check:2", "failure", { jobId: 2, logTail: "known" }),
          check("status:ci", "failure", { kind: "status", jobId: null }),
          check("check:4", "success", { jobId: 4 }),
          check("check:5", "pending", { jobId: 5 }),
          check("check:6", "neutral", { jobId: 6 }),
          check("check:7", "failure", { jobId: 7 }),
        ],
      },
    });
    expect(checksNeedingLogTail(obs).map((c) => c.id)).toEqual(["check:1", "check:7"]);
  });

  it("none when CI passes", () => {
    expect(
      checksNeedingLogTail(
        pr({ ci: { state: "success", partial: false, checks: [check("check:1", "success", { jobId: 1 })] } }),
      ),
    ).toEqual([]);
  });
});

describe("unresolvedFeedback", () => {
  const ids = (result: ReturnType<typeof unresolvedFeedback>) => ({
    threads: result.threads.map((t) => `${t.id}:${t.comments.map((c) => c.id).join(",")}`),
    requests: result.changeRequests.map((r) => r.id),
  });

  const mixed = feedback(
    [
      thread("t1", [comment("h1"), comment("own1", VIEWER), comment("h2")]),
      thread("t2", [comment("b1", "lint[bot]", true)]),
      thread("t3", [comment("own2", VIEWER)]),
      thread("t4", [comment("b2", "lint[bot]", true), comment("h3")]),
    ],
    [request("r1"), request("r2", "ci-bot", true), request("r3", VIEWER)],
  );

  it.each<[string, ReviewFeedback | null, boolean, { threads: string[]; requests: string[] }]>([
    ["no feedback read", null, false, { threads: [], requests: [] }],
    ["nothing unresolved", feedback(), false, { threads: [], requests: [] }],
    [
      "humans only by default; the viewer never",
      mixed,
      false,
      { threads: ["t1:h1,h2", "t4:h3"], requests: ["r1"] },
    ],
    [
      "bots too with includeBots; the viewer still never",
      mixed,
      true,
      { threads: ["t1:h1,h2", "t2:b1", "t4:b2,h3"], requests: ["r1", "r2"] },
    ],
    [
      "an unknown viewer: every human comment counts",
      { ...mixed, viewer: null },
      false,
      { threads: ["t1:h1,own1,h2", "t3:own2", "t4:h3"], requests: ["r1", "r3"] },
    ],
  ])("%s", (_name, review, includeBots, expected) => {
    expect(ids(unresolvedFeedback(review, includeBots))).toEqual(expected);
  });

  it("keeps each thread's path and line and does not change its input", () => {
    const before = JSON.stringify(mixed);
    const [first] = unresolvedFeedback(mixed, false).threads;
    expect(first).toMatchObject({ id: "t1", path: "a.ts", line: 1 });
    expect(JSON.stringify(mixed)).toBe(before);
  });
});
