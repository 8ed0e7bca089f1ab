import { ciFailing } from "./commit-checks.js";
import type { MergeCheck, PullRecord, SimRepo } from "./sim-state.js";

/**
 * The git-derived facts of a pull request: mergeability (with `git merge-tree --write-tree`) and
 * the commits / additions / deletions / changed files figures. Computed once per (head, base) pair.
 *
 * Like GitHub's background mergeability job, the first reader of a new pair is told "unknown"
 * (`mergeable: null`), and every later reader gets the answer. Only readers that show
 * mergeability (a full pull request, GraphQL `mergeable`) pass `reveal: true`; listing pull
 * requests does not consume the "unknown".
 */

export interface PullFacts {
  headSha: string;
  baseSha: string;
  mergeable: boolean | null;
  rebaseable: boolean | null;
  /** GitHub's `mergeable_state`: unknown, dirty, draft, unstable or clean. */
  mergeableState: "unknown" | "dirty" | "draft" | "unstable" | "clean";
  commits: number;
  additions: number;
  deletions: number;
  changedFiles: number;
}

/** The computation under way per pull request, so concurrent readers share one. */
const inFlight = new WeakMap<PullRecord, { pair: string; promise: Promise<MergeCheck> }>();

async function computeCheck(repo: SimRepo, headSha: string, baseSha: string): Promise<MergeCheck> {
  const mergeBase = await repo.git.mergeBase(baseSha, headSha);
  const [commits, stats, merged] = await Promise.all([
    repo.git.commitsBetween(baseSha, headSha).then((list) => list.length),
    repo.git.diffStats(mergeBase ?? baseSha, headSha),
    repo.git.mergeTree(baseSha, headSha),
  ]);
  return {
    headSha,
    baseSha,
    mergeable: mergeBase !== null && merged.clean,
    rebaseable: mergeBase !== null && merged.clean,
    commits,
    stats,
    revealed: false,
  };
}

/** The base tip a pull request is compared with: the live branch while open, frozen after. */
export function currentBaseSha(repo: SimRepo, pull: PullRecord): string {
  return pull.state === "open" ? (repo.heads.get(pull.baseRef) ?? pull.baseSha) : pull.baseSha;
}

async function ensureCheck(repo: SimRepo, pull: PullRecord): Promise<MergeCheck> {
  const headSha = pull.headSha;
  const baseSha = currentBaseSha(repo, pull);
  const existing = pull.mergeCheck;
  if (existing && existing.headSha === headSha && existing.baseSha === baseSha) return existing;
  const pair = `${headSha}:${baseSha}`;
  let pending = inFlight.get(pull);
  if (pending?.pair !== pair) {
    const promise = computeCheck(repo, headSha, baseSha);
    pending = { pair, promise };
    inFlight.set(pull, pending);
    const started = pending;
    void promise
      .finally(() => {
        if (inFlight.get(pull) === started) inFlight.delete(pull);
      })
      .catch(() => undefined);
  }
  const check = await pending.promise;
  // Another reader may have stored (and revealed) this very pair meanwhile: keep theirs.
  const current = pull.mergeCheck;
  if (current && current.headSha === check.headSha && current.baseSha === check.baseSha) return current;
  pull.mergeCheck = check;
  return check;
}

type Mergeability = Pick<PullFacts, "mergeable" | "rebaseable" | "mergeableState">;

const UNKNOWN: Mergeability = { mergeable: null, rebaseable: null, mergeableState: "unknown" };

function knownMergeability(repo: SimRepo, pull: PullRecord, check: MergeCheck): Mergeability {
  const mergeableState = !check.mergeable
    ? "dirty"
    : pull.draft
      ? "draft"
      : ciFailing(repo, check.headSha)
        ? "unstable"
        : "clean";
  return { mergeable: check.mergeable, rebaseable: check.rebaseable, mergeableState };
}

export async function pullFacts(
  repo: SimRepo,
  pull: PullRecord,
  options: { reveal: boolean },
): Promise<PullFacts> {
  const check = await ensureCheck(repo, pull);
  const figures = {
    headSha: check.headSha,
    baseSha: check.baseSha,
    commits: check.commits,
    additions: check.stats.additions,
    deletions: check.stats.deletions,
    changedFiles: check.stats.changedFiles,
  };
  if (pull.state !== "open") return { ...figures, ...UNKNOWN };
  if (!check.revealed) {
    if (options.reveal) check.revealed = true;
    return { ...figures, ...UNKNOWN };
  }
  return { ...figures, ...knownMergeability(repo, pull, check) };
}

/**
 * Mergeability as already known, without computing or revealing anything (what a webhook payload
 * carries: GitHub sends `null` until its background job has run and been asked for).
 */
export function mergeabilitySoFar(repo: SimRepo, pull: PullRecord): Mergeability {
  const check = pull.mergeCheck;
  if (pull.state !== "open" || !check?.revealed) return UNKNOWN;
  if (check.headSha !== pull.headSha || check.baseSha !== currentBaseSha(repo, pull)) return UNKNOWN;
  return knownMergeability(repo, pull, check);
}

/** The diff figures of a (head, base) pair, computed from git and not stored. */
export async function pairFigures(
  repo: SimRepo,
  headSha: string,
  baseSha: string,
): Promise<{ commits: number; additions: number; deletions: number; changedFiles: number }> {
  const check = await computeCheck(repo, headSha, baseSha);
  return { commits: check.commits, ...check.stats };
}
