import { describe, expect, it } from "vitest";
import { jobIdFromDetailsUrl, toPrObservation } from "./observer-client.js";
import type { CheckRunJson, PullJson, RollupJson, StatusContextJson } from "./observer-queries.js";

/**
 * The mapping of GitHub's answer to an observation, for what the simulator cannot produce:
 * deleted accounts, a null `mergeable`, `EXPECTED` rollups, the rarer check conclusions. The rest
 * is covered against the simulator in test/github/observer-client.test.ts.
 */

function pullJson(overrides: Partial<PullJson> = {}, rollup: RollupJson | null = null): PullJson {
  return {
    id: "PR_1",
    number: 1,
    url: "https://github.example/acme/widgets/pull/1",
    title: "t",
    state: "OPEN",
    isDraft: false,
    merged: false,
    mergedAt: null,
    closedAt: null,
    updatedAt: "2026-01-01T00:00:00Z",
    headRefName: "topic",
    headRefOid: "a".repeat(40),
    headRepository: null,
    baseRefName: "main",
    author: null,
    mergeable: null,
    mergeStateStatus: null,
    reviewDecision: null,
    totalCommentsCount: null,
    commits: { nodes: [{ commit: { oid: "a".repeat(40), statusCheckRollup: rollup } }] },
    ...overrides,
  };
}

function checkRun(status: string, conclusion: string | null, name = "job"): CheckRunJson {
  return { __typename: "CheckRun", databaseId: 7, name, status, conclusion, detailsUrl: null };
}

function rollup(state: string, nodes: (CheckRunJson | StatusContextJson)[]): RollupJson {
  return { state, contexts: { pageInfo: { hasNextPage: false }, nodes } };
}

describe("toPrObservation", () => {
  it("a deleted author (ghost), a deleted fork, a null mergeable and no counts", () => {
    const observation = toPrObservation(pullJson(), false, null);
    expect(observation).toMatchObject({
      author: null,
      headRepo: null,
      mergeable: "UNKNOWN",
      reviewDecision: null,
      commentsCount: 0,
      ci: { state: "none", checks: [], partial: false },
      review: null,
    });
  });

  it.each([
    ["SUCCESS", "success"],
    ["FAILURE", "failure"],
    ["ERROR", "failure"],
    ["PENDING", "pending"],
    ["EXPECTED", "pending"],
  ])("rollup %s → CI %s", (state, expected) => {
    expect(toPrObservation(pullJson({}, rollup(state, [])), false, null).ci.state).toBe(expected);
  });

  it.each([
    ["COMPLETED", "SUCCESS", "success"],
    ["COMPLETED", "NEUTRAL", "neutral"],
    ["COMPLETED", "SKIPPED", "neutral"],
    ["COMPLETED", "FAILURE", "failure"],
    ["COMPLETED", "TIMED_OUT", "failure"],
    ["COMPLETED", "CANCELLED", "failure"],
    ["COMPLETED", "ACTION_REQUIRED", "failure"],
    ["COMPLETED", "STARTUP_FAILURE", "failure"],
    ["COMPLETED", "STALE", "failure"],
    ["IN_PROGRESS", null, "pending"],
    ["QUEUED", null, "pending"],
    ["WAITING", null, "pending"],
    ["PENDING", null, "pending"],
  ])("check run %s/%s → %s", (status, conclusion, expected) => {
    const [check] = toPrObservation(
      pullJson({}, rollup("PENDING", [checkRun(status, conclusion)])),
      false,
      null,
    ).ci.checks;
    expect(check?.state).toBe(expected);
    expect(check?.conclusion).toBe(conclusion === null ? null : conclusion.toLowerCase());
    expect(check?.id).toBe("check:7");
  });

  it.each([
    ["SUCCESS", "success"],
    ["FAILURE", "failure"],
    ["ERROR", "failure"],
    ["PENDING", "pending"],
    ["EXPECTED", "pending"],
  ])("status %s → %s", (state, expected) => {
    const status: StatusContextJson = {
      __typename: "StatusContext",
      context: "ci/x",
      state,
      targetUrl: null,
    };
    const [check] = toPrObservation(pullJson({}, rollup("PENDING", [status])), false, null).ci.checks;
    expect(check).toEqual({
      id: "status:ci/x",
      name: "ci/x",
      kind: "status",
      state: expected,
      conclusion: state.toLowerCase(),
      url: null,
      jobId: null,
      logTail: null,
    });
  });

  it("review threads and change requests by deleted accounts are by 'ghost'", () => {
    const observation = toPrObservation(
      pullJson({
        reviewThreads: {
          totalCount: 1,
          nodes: [
            {
              id: "T1",
              isResolved: false,
              isOutdated: false,
              path: "a.txt",
              line: 3,
              comments: {
                nodes: [{ id: "C1", author: null, body: "b", url: "u", createdAt: "2026-01-01T00:00:00Z" }],
              },
            },
          ],
        },
        latestOpinionatedReviews: {
          nodes: [
            { id: "R1", state: "CHANGES_REQUESTED", body: "no", url: "u", submittedAt: null, author: null },
            {
              id: "R2",
              state: "APPROVED",
              body: "",
              url: "u",
              submittedAt: "2026-01-01T00:00:00Z",
              author: { login: "bob", __typename: "User" },
            },
          ],
        },
      }),
      true,
      "shepherd-bot",
    );
    expect(observation.review).toEqual({
      threads: [
        {
          id: "T1",
          path: "a.txt",
          line: 3,
          outdated: false,
          comments: [
            {
              id: "C1",
              author: "ghost",
              isBot: false,
              body: "b",
              url: "u",
              createdAt: "2026-01-01T00:00:00Z",
            },
          ],
        },
      ],
      changeRequests: [{ id: "R1", author: "ghost", isBot: false, body: "no", url: "u", submittedAt: "" }],
      partial: false,
      viewer: "shepherd-bot",
    });
  });
});

describe("jobIdFromDetailsUrl", () => {
  it.each([
    ["https://github.com/acme/widgets/actions/runs/123/job/456", 456],
    ["https://ghe.example/acme/widgets/actions/runs/1/job/99?pr=3", 99],
    ["https://ghe.example/acme/widgets/actions/runs/1/job/99#step:4:1", 99],
    ["https://github.com/acme/widgets/actions/runs/123", null],
    ["https://ci.example.com/job/456", null],
    ["https://github.com/acme/widgets/actions/runs/1/job/abc", null],
    [null, null],
  ])("%s → %s", (url, expected) => {
    expect(jobIdFromDetailsUrl(url)).toBe(expected);
  });
});
