import type { CiState, Mergeable, PrState } from "./pull-request.js";

/**
 * Which PRs an observer pass must fetch with GraphQL (SPEC C4 loop step 2), and which PRs of a
 * repository's open list become tracked. Pure: the observer gathers the inputs and carries the
 * plan out. Everything not chosen here costs nothing.
 */
export interface TrackedPr {
  id: string;
  nodeId: string;
  number: number;
  state: PrState;
  headRef: string;
  headSha: string;
  draft: boolean;
  title: string;
  ghUpdatedAt: string | null;
  ciState: CiState;
  mergeable: Mergeable;
  dirtyAt: number | null;
  fetchedAt: number | null;
  sessionId: string | null;
}

export interface ListedPr {
  nodeId: string;
  number: number;
  headRef: string;
  headRepo: string | null;
  headSha: string;
  draft: boolean;
  title: string;
  updatedAt: string;
}

/** A session whose PR is found by its branch. */
export interface BranchOwner {
  sessionId: string;
  branch: string;
}

export const FETCH_REASONS = ["new", "changed", "vanished", "dirty", "stale", "in_flux"] as const;
export type FetchReason = (typeof FETCH_REASONS)[number];

export interface PlanInput {
  /** `owner/name` of the repository (fork guard: a session's PR must come from it). */
  repoFullName: string;
  /** The open list read in this pass, or null when it was not read (or the read failed). */
  listed: readonly ListedPr[] | null;
  tracked: readonly TrackedPr[];
  sessions: readonly BranchOwner[];
  now: number;
  staleAfterMs: number;
  /** Without healthy webhooks, PRs whose CI runs or whose mergeability is being computed are re-read each pass. */
  pollMode: boolean;
}

export interface Plan {
  /** Listed PRs to start tracking, each owned by a session (discovered by its branch). */
  track: { listed: ListedPr; sessionId: string }[];
  /** Tracked PRs (by id) to fetch, with the first reason found. */
  fetch: { id: string; reason: FetchReason }[];
}

/** How long after its last update a pending CI or unknown mergeability is still worth re-reading each pass. */
export const IN_FLUX_WINDOW_MS = 60 * 60_000;
/** How long after its last update a PR without any check is re-read each pass (CI may not have started yet). */
export const CI_START_WINDOW_MS = 10 * 60_000;
/** GitHub's `updatedAt` has whole seconds: a change in the same second as our read looks unchanged. */
const SAME_SECOND_MARGIN_MS = 2000;

function sameRepo(a: string | null, b: string): boolean {
  return a !== null && a.toLowerCase() === b.toLowerCase();
}

function changedSince(listed: ListedPr, tracked: TrackedPr): boolean {
  return (
    // Listed as open while we saw it closed: reopened (maybe within the same second).
    tracked.state !== "open" ||
    listed.headSha !== tracked.headSha ||
    listed.draft !== tracked.draft ||
    listed.title !== tracked.title ||
    tracked.ghUpdatedAt === null ||
    listed.updatedAt > tracked.ghUpdatedAt
  );
}

function inFlux(tracked: TrackedPr, now: number): boolean {
  if (tracked.state !== "open" || tracked.fetchedAt === null || tracked.ghUpdatedAt === null) return false;
  const updated = Date.parse(tracked.ghUpdatedAt);
  if (tracked.fetchedAt - updated < SAME_SECOND_MARGIN_MS) return true;
  if (tracked.ciState === "none" && now - updated < CI_START_WINDOW_MS) return true;
  const settling = tracked.ciState === "pending" || tracked.mergeable === "UNKNOWN";
  return settling && now - updated < IN_FLUX_WINDOW_MS;
}

export function planObservation(input: PlanInput): Plan {
  const byNode = new Map(input.tracked.map((pr) => [pr.nodeId, pr]));
  const track: Plan["track"] = [];
  if (input.listed) {
    for (const session of input.sessions) {
      // Most recently updated wins when several open PRs come from the session's branch.
      const candidates = input.listed
        .filter((pr) => pr.headRef === session.branch && sameRepo(pr.headRepo, input.repoFullName))
        .sort((a, b) =>
          a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : b.number - a.number,
        );
      const chosen = candidates[0];
      if (!chosen) continue;
      const known = byNode.get(chosen.nodeId);
      if (!known || known.sessionId === null) track.push({ listed: chosen, sessionId: session.sessionId });
    }
  }

  const listedByNode = new Map((input.listed ?? []).map((pr) => [pr.nodeId, pr]));
  const fetch: Plan["fetch"] = [];
  const seen = new Set<string>();
  const add = (id: string, reason: FetchReason): void => {
    if (seen.has(id)) return;
    seen.add(id);
    fetch.push({ id, reason });
  };
  for (const pr of input.tracked) {
    const listed = listedByNode.get(pr.nodeId);
    if (pr.fetchedAt === null) add(pr.id, "new");
    else if (pr.dirtyAt !== null) add(pr.id, "dirty");
    else if (listed && changedSince(listed, pr)) add(pr.id, "changed");
    else if (input.listed && !listed && pr.state === "open") add(pr.id, "vanished");
    else if (pr.state === "open" && input.now - pr.fetchedAt >= input.staleAfterMs) add(pr.id, "stale");
    else if (input.pollMode && inFlux(pr, input.now)) add(pr.id, "in_flux");
  }
  return { track, fetch };
}
