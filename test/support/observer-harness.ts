import type { PassReport } from "../../src/services/observer/observer-pass.js";
import type { PrObserver } from "../../src/services/observer/pr-observer.js";
import { PullRequestStore, type PullRequestRecord } from "../../src/store/pull-request-store.js";
import { RepoObservationStore, type RepoObservationRecord } from "../../src/store/repo-observation-store.js";
import { SessionMessageStore, type SessionMessageRecord } from "../../src/store/session-message-store.js";
import { SessionStore, type SessionRecord } from "../../src/store/session-store.js";
import type { SimRequestRecord } from "./github-sim/request-log.js";
import { startPrHarness, type HarnessRepo, type PrHarness, type PrHarnessOptions } from "./pr-harness.js";

/** A clock that follows real time plus an offset the test can move forward. */
export class TestClock {
  offset = 0;
  readonly now = (): number => Date.now() + this.offset;
  advance(ms: number): void {
    this.offset += ms;
  }
}

export interface NotificationRow {
  id: string;
  kind: string;
  priority: string;
  title: string;
  body: string;
  prId: string | null;
  sessionId: string | null;
  dedupKey: string | null;
}

export interface OpenedPr {
  proposalId: string;
  number: number;
  prId: string;
  branch: string;
}

export interface ObserverHarness extends PrHarness {
  observer: PrObserver;
  clock: TestClock;
  tick(): Promise<PassReport>;
  refresh(): Promise<PassReport>;
  createSession(input: {
    repoId: string | null;
    branch?: string | null;
    runState?: SessionRecord["runState"];
  }): Promise<SessionRecord>;
  updateSession(id: string, patch: Parameters<SessionStore["updateFacts"]>[2]): Promise<SessionRecord>;
  /** Opens a PR for a one-line params change through the real PR worker. */
  openTrackedPr(repo: HarnessRepo, options?: { sessionId?: string; value?: number }): Promise<OpenedPr>;
  pr(id: string): Promise<PullRequestRecord>;
  repoObservation(repoId: string): Promise<RepoObservationRecord | null>;
  messages(sessionId: string): Promise<SessionMessageRecord[]>;
  notifications(): Promise<NotificationRow[]>;
  /** Simulator requests since the last call to `mark()` (or since the start). */
  requestsSinceMark(): SimRequestRecord[];
  mark(): void;
}

export async function startObserverHarness(
  options: PrHarnessOptions & { observerYaml?: string[]; reactionsYaml?: string[] } = {},
): Promise<ObserverHarness> {
  const clock = new TestClock();
  const extra = [
    "observer:",
    ...(options.observerYaml ?? ["  intervalSeconds: 30"]),
    ...(options.reactionsYaml ? ["reactions:", ...options.reactionsYaml] : []),
    options.extraYaml ?? "",
  ].join("\n");
  const base = await startPrHarness({ ...options, extraYaml: extra, observerClock: clock.now });
  const observer = base.server.running.observer;
  if (!observer) throw new Error("the server has no observer");
  const db = base.server.running.database.db;
  const sessions = new SessionStore(db);
  let markAt = 0;

  return {
    ...base,
    observer,
    clock,
    tick: () => observer.tick(),
    refresh: () => observer.refresh(),
    createSession: (input) =>
      sessions.create(
        {
          goal: "keep the search tuned",
          repoId: input.repoId,
          branch: input.branch ?? null,
          agent: { skill: "config-tuner" },
          runState: input.runState ?? "running",
          createdBy: "test",
        },
        clock.now(),
      ),
    async updateSession(id, patch) {
      const current = await sessions.get(id);
      if (!current) throw new Error(`no session ${id}`);
      return sessions.updateFacts(id, current.version, patch, clock.now());
    },
    async openTrackedPr(repo, opts = {}) {
      const proposal = await base.propose({
        repoId: repo.name,
        title: `Tune a to ${opts.value ?? 2}`,
        kind: "params",
        ...(opts.sessionId ? { sessionId: opts.sessionId } : {}),
        change: { path: "params.json", set: { a: { to: opts.value ?? 2 } } },
      });
      const answer = await base.openPr(proposal.id);
      if (answer.status !== 202) throw new Error(`open-pr: ${answer.status}`);
      const done = await base.settled(proposal.id);
      if (done.status !== "pr_opened" || !done.pr) throw new Error(`PR not opened: ${JSON.stringify(done)}`);
      const record = await new PullRequestStore(db).findByNumber(repo.repoId, done.pr.number);
      if (!record) throw new Error("the PR worker did not track the PR");
      return {
        proposalId: proposal.id,
        number: done.pr.number,
        prId: record.id,
        branch: done.pr.branch ?? "",
      };
    },
    async pr(id) {
      const record = await new PullRequestStore(db).get(id);
      if (!record) throw new Error(`no pull request ${id}`);
      return record;
    },
    repoObservation: (repoId) => new RepoObservationStore(db).get(repoId),
    async messages(sessionId) {
      return (await new SessionMessageStore(db).list(sessionId, { limit: 1000 })).reverse();
    },
    async notifications() {
      const rows = await db.selectFrom("notifications").selectAll().orderBy("id").execute();
      return rows.map((row) => ({
        id: row.id,
        kind: row.kind,
        priority: row.priority,
        title: row.title,
        body: row.body,
        prId: row.pr_id,
        sessionId: row.session_id,
        dedupKey: row.dedup_key,
      }));
    },
    requestsSinceMark: () => base.sim.admin.requests().filter((request) => request.at >= markAt),
    mark() {
      markAt = Date.now();
    },
  };
}

/** A repo whose params.json the helpers edit. */
export const PARAMS = { "params.json": '{"a": 1, "b": 2}\n' };
