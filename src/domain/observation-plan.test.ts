import { describe, expect, it } from "vitest";
import {
  IN_FLUX_WINDOW_MS,
  planObservation,
  type BranchOwner,
  type ListedPr,
  type PlanInput,
  type TrackedPr,
} from "./observation-plan.js";

const NOW = Date.parse("2025-03-01T12:00:00Z");
const MIN = 60_000;
const STALE = 5 * MIN;
const REPO = "acme/app";
const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

function listed(number: number, over: Partial<ListedPr> = {}): ListedPr {
  return {
    nodeId: `PR_${number}`,
    number,
    headRef: `branch-${number}`,
    headRepo: REPO,
    headSha: `sha-${number}`,
    draft: false,
    title: `PR ${number}`,
    updatedAt: iso(NOW - 60 * MIN),
    ...over,
  };
}

/** A tracked PR that matches `listed(number)` and was fetched a minute ago, long after its last update. */
function tracked(number: number, over: Partial<TrackedPr> = {}): TrackedPr {
  return {
    id: `pr-${number}`,
    nodeId: `PR_${number}`,
    number,
    state: "open",
    headRef: `branch-${number}`,
    headSha: `sha-${number}`,
    draft: false,
    title: `PR ${number}`,
    ghUpdatedAt: iso(NOW - 60 * MIN),
    ciState: "success",
    mergeable: "MERGEABLE",
    dirtyAt: null,
    fetchedAt: NOW - MIN,
    sessionId: null,
    ...over,
  };
}

function plan(over: Partial<PlanInput>) {
  return planObservation({
    repoFullName: REPO,
    listed: [],
    tracked: [],
    sessions: [],
    now: NOW,
    staleAfterMs: STALE,
    pollMode: false,
    ...over,
  });
}

describe("planObservation: which tracked PRs to fetch, and why", () => {
  it.each<{
    name: string;
    pr: TrackedPr;
    list?: ListedPr[] | null;
    pollMode?: boolean;
    reason: string | null;
  }>([
    { name: "fetched recently, unchanged in the list", pr: tracked(1), reason: null },
    { name: "never fetched → new", pr: tracked(1, { fetchedAt: null }), reason: "new" },
    {
      name: "never fetched and dirty → new first",
      pr: tracked(1, { fetchedAt: null, dirtyAt: NOW }),
      reason: "new",
    },
    { name: "marked dirty (webhook) → dirty", pr: tracked(1, { dirtyAt: NOW - 1000 }), reason: "dirty" },
    {
      name: "dirty and changed in the list → dirty first",
      pr: tracked(1, { dirtyAt: NOW }),
      list: [listed(1, { headSha: "sha-new" })],
      reason: "dirty",
    },
    {
      name: "a closed PR marked dirty → dirty",
      pr: tracked(1, { state: "closed", dirtyAt: NOW }),
      list: [],
      reason: "dirty",
    },
    {
      name: "a new head sha in the list → changed",
      pr: tracked(1),
      list: [listed(1, { headSha: "sha-new" })],
      reason: "changed",
    },
    {
      name: "draft toggled in the list → changed",
      pr: tracked(1),
      list: [listed(1, { draft: true })],
      reason: "changed",
    },
    {
      name: "retitled in the list → changed",
      pr: tracked(1),
      list: [listed(1, { title: "New title" })],
      reason: "changed",
    },
    {
      name: "updated later than we read it → changed",
      pr: tracked(1),
      list: [listed(1, { updatedAt: iso(NOW - 30 * MIN) })],
      reason: "changed",
    },
    {
      name: "updatedAt older than what we read → not changed",
      pr: tracked(1),
      list: [listed(1, { updatedAt: iso(NOW - 90 * MIN) })],
      reason: null,
    },
    {
      name: "we never stored its updatedAt → changed",
      pr: tracked(1, { ghUpdatedAt: null }),
      reason: "changed",
    },
    {
      name: "a closed PR back in the open list (reopened) → changed",
      pr: tracked(1, { state: "closed" }),
      list: [listed(1, { updatedAt: iso(NOW - 2 * MIN) })],
      reason: "changed",
    },
    {
      name: "open but missing from the open list → vanished",
      pr: tracked(1),
      list: [listed(2)],
      reason: "vanished",
    },
    { name: "open, the open list is empty → vanished", pr: tracked(1), list: [], reason: "vanished" },
    {
      name: "closed and not in the open list → nothing",
      pr: tracked(1, { state: "closed", fetchedAt: NOW - 60 * MIN }),
      list: [],
      reason: null,
    },
    {
      name: "merged and not in the open list → nothing",
      pr: tracked(1, { state: "merged", fetchedAt: NOW - 60 * MIN }),
      list: [],
      reason: null,
    },
    { name: "the list was not read: no vanishing", pr: tracked(1), list: null, reason: null },
    {
      name: "the list was not read, open and stale → stale",
      pr: tracked(1, { fetchedAt: NOW - STALE }),
      list: null,
      reason: "stale",
    },
    {
      name: "open, fetched exactly staleAfter ago → stale",
      pr: tracked(1, { fetchedAt: NOW - STALE }),
      reason: "stale",
    },
    {
      name: "open, fetched just under staleAfter ago → nothing",
      pr: tracked(1, { fetchedAt: NOW - STALE + 1000 }),
      reason: null,
    },
    {
      name: "closed and old → never stale",
      pr: tracked(1, { state: "closed", fetchedAt: NOW - 600 * MIN }),
      list: null,
      reason: null,
    },
    // in_flux: only in poll mode (no healthy webhooks).
    {
      name: "poll mode, CI pending, updated 10 min ago → in_flux",
      pr: tracked(1, { ciState: "pending", ghUpdatedAt: iso(NOW - 10 * MIN), fetchedAt: NOW - MIN }),
      list: [listed(1, { updatedAt: iso(NOW - 10 * MIN) })],
      pollMode: true,
      reason: "in_flux",
    },
    {
      name: "webhooks healthy, CI pending → nothing (a webhook will say)",
      pr: tracked(1, { ciState: "pending", ghUpdatedAt: iso(NOW - 10 * MIN) }),
      list: [listed(1, { updatedAt: iso(NOW - 10 * MIN) })],
      pollMode: false,
      reason: null,
    },
    {
      name: "poll mode, mergeability UNKNOWN → in_flux",
      pr: tracked(1, { mergeable: "UNKNOWN", ghUpdatedAt: iso(NOW - 10 * MIN) }),
      list: [listed(1, { updatedAt: iso(NOW - 10 * MIN) })],
      pollMode: true,
      reason: "in_flux",
    },
    {
      name: "poll mode, CI pending but last updated over an hour ago → nothing",
      pr: tracked(1, { ciState: "pending", ghUpdatedAt: iso(NOW - IN_FLUX_WINDOW_MS - MIN) }),
      list: [listed(1, { updatedAt: iso(NOW - IN_FLUX_WINDOW_MS - MIN) })],
      pollMode: true,
      reason: null,
    },
    {
      name: "poll mode, settled → nothing",
      pr: tracked(1, { ghUpdatedAt: iso(NOW - 10 * MIN) }),
      list: [listed(1, { updatedAt: iso(NOW - 10 * MIN) })],
      pollMode: true,
      reason: null,
    },
    {
      name: "poll mode, read within the second of its last update → in_flux (a change in that second is invisible)",
      pr: tracked(1, { ghUpdatedAt: iso(NOW - 2 * MIN), fetchedAt: NOW - 2 * MIN + 1000 }),
      list: [listed(1, { updatedAt: iso(NOW - 2 * MIN) })],
      pollMode: true,
      reason: "in_flux",
    },
    {
      name: "poll mode, read 2 s after its last update and settled → nothing",
      pr: tracked(1, { ghUpdatedAt: iso(NOW - 2 * MIN), fetchedAt: NOW - 2 * MIN + 2000 }),
      list: [listed(1, { updatedAt: iso(NOW - 2 * MIN) })],
      pollMode: true,
      reason: null,
    },
    {
      name: "poll mode, a closed PR with pending CI → nothing",
      pr: tracked(1, { state: "closed", ciState: "pending", ghUpdatedAt: iso(NOW - 10 * MIN) }),
      list: [],
      pollMode: true,
      reason: null,
    },
  ])("$name", ({ pr, list, pollMode, reason }) => {
    const result = plan({
      tracked: [pr],
      listed: list === undefined ? [listed(1)] : list,
      pollMode: pollMode ?? false,
    });
    expect(result.fetch).toEqual(reason === null ? [] : [{ id: pr.id, reason }]);
  });

  it("several PRs: each once, in the tracked order, each with its own reason", () => {
    const result = plan({
      tracked: [
        tracked(1),
        tracked(2, { fetchedAt: null }),
        tracked(3, { dirtyAt: NOW }),
        tracked(4),
        tracked(5),
        tracked(6, { fetchedAt: NOW - 10 * MIN }),
      ],
      listed: [listed(1), listed(3), listed(4, { headSha: "sha-x" }), listed(6)],
    });
    expect(result.fetch).toEqual([
      { id: "pr-2", reason: "new" },
      { id: "pr-3", reason: "dirty" },
      { id: "pr-4", reason: "changed" },
      { id: "pr-5", reason: "vanished" },
      { id: "pr-6", reason: "stale" },
    ]);
  });
});

describe("planObservation: which listed PRs to track for sessions (by branch)", () => {
  const session = (sessionId: string, branch: string): BranchOwner => ({ sessionId, branch });

  it.each<{
    name: string;
    list: ListedPr[] | null;
    known?: TrackedPr[];
    sessions: BranchOwner[];
    track: [number, string][];
  }>([
    {
      name: "the session's branch has an open PR from the repo → tracked",
      list: [listed(1, { headRef: "shepherd/session-s1" }), listed(2)],
      sessions: [session("s1", "shepherd/session-s1")],
      track: [[1, "s1"]],
    },
    {
      name: "a fork's PR from a branch of the same name → ignored",
      list: [listed(1, { headRef: "shepherd/session-s1", headRepo: "mallory/app" })],
      sessions: [session("s1", "shepherd/session-s1")],
      track: [],
    },
    {
      name: "a PR whose head repository was deleted → ignored",
      list: [listed(1, { headRef: "shepherd/session-s1", headRepo: null })],
      sessions: [session("s1", "shepherd/session-s1")],
      track: [],
    },
    {
      name: "the repo's name in another case → the same repo",
      list: [listed(1, { headRef: "shepherd/session-s1", headRepo: "Acme/App" })],
      sessions: [session("s1", "shepherd/session-s1")],
      track: [[1, "s1"]],
    },
    {
      name: "several open PRs from the branch → the most recently updated wins",
      list: [
        listed(1, { headRef: "b", updatedAt: iso(NOW - 30 * MIN) }),
        listed(2, { headRef: "b", updatedAt: iso(NOW - 5 * MIN) }),
        listed(3, { headRef: "b", updatedAt: iso(NOW - 50 * MIN) }),
      ],
      sessions: [session("s1", "b")],
      track: [[2, "s1"]],
    },
    {
      name: "the most recent one is a fork's → the repo's own PR wins",
      list: [
        listed(1, { headRef: "b", updatedAt: iso(NOW - 30 * MIN) }),
        listed(2, { headRef: "b", updatedAt: iso(NOW - 5 * MIN), headRepo: "mallory/app" }),
      ],
      sessions: [session("s1", "b")],
      track: [[1, "s1"]],
    },
    {
      name: "already tracked with a session → not tracked again",
      list: [listed(1, { headRef: "b" })],
      known: [tracked(1, { sessionId: "s1" })],
      sessions: [session("s1", "b")],
      track: [],
    },
    {
      name: "already tracked without a session (a proposal's PR) → tracked for the session",
      list: [listed(1, { headRef: "b" })],
      known: [tracked(1, { sessionId: null })],
      sessions: [session("s1", "b")],
      track: [[1, "s1"]],
    },
    {
      name: "no PR from the branch → nothing",
      list: [listed(1), listed(2)],
      sessions: [session("s1", "shepherd/session-s1")],
      track: [],
    },
    {
      name: "the open list was not read → nothing",
      list: null,
      sessions: [session("s1", "branch-1")],
      track: [],
    },
    {
      name: "two sessions, two branches → each its own PR",
      list: [listed(1, { headRef: "a" }), listed(2, { headRef: "b" })],
      sessions: [session("s1", "a"), session("s2", "b")],
      track: [
        [1, "s1"],
        [2, "s2"],
      ],
    },
  ])("$name", ({ list, known, sessions, track }) => {
    const result = plan({ listed: list, tracked: known ?? [], sessions });
    expect(result.track.map((t) => [t.listed.number, t.sessionId])).toEqual(track);
  });

  it("hands over the listed PR as it was read", () => {
    const pr = listed(1, { headRef: "b", title: "Hello" });
    const result = plan({ listed: [pr], sessions: [{ sessionId: "s1", branch: "b" }] });
    expect(result.track).toEqual([{ listed: pr, sessionId: "s1" }]);
  });
});
