import type { Kysely, Selectable } from "kysely";
import type { CiState, Mergeable, PrObservation, PrState, ReviewDecision } from "../domain/pull-request.js";
import { parseReactionHistory, type ReactionHistory } from "../domain/reaction-history.js";
import { newId } from "./ids.js";
import type { PullRequestsTable, Schema } from "./schema.js";
import { StaleVersionError } from "./transitions.js";

/** A pull request Shepherd tracks (SPEC C4): facts for lists, the observation for details. */
export interface PullRequestRecord {
  id: string;
  nodeId: string;
  repoId: string;
  number: number;
  url: string;
  title: string;
  author: string | null;
  headRef: string;
  headRepo: string | null;
  headSha: string;
  baseRef: string;
  state: PrState;
  draft: boolean;
  mergeable: Mergeable;
  mergeStateStatus: string | null;
  ciState: CiState;
  reviewDecision: ReviewDecision | null;
  unresolvedThreads: number;
  commentsCount: number | null;
  ghUpdatedAt: string | null;
  sessionId: string | null;
  proposalId: string | null;
  observation: PrObservation | null;
  observedHash: string | null;
  reactedHash: string | null;
  reactions: ReactionHistory;
  dirtyAt: number | null;
  fetchedAt: number | null;
  threadsFetchedAt: number | null;
  createdAt: number;
  updatedAt: number;
  version: number;
}

/** What is known of a PR before its first full observation (from the open list or the PR worker). */
export interface PullRequestBaseline {
  nodeId: string;
  repoId: string;
  number: number;
  url: string;
  title: string;
  author: string | null;
  headRef: string;
  headRepo: string | null;
  headSha: string;
  baseRef: string;
  state: PrState;
  draft: boolean;
  ghUpdatedAt: string | null;
  sessionId: string | null;
  proposalId: string | null;
}

function parseObservation(json: string | null): PrObservation | null {
  if (!json) return null;
  try {
    return JSON.parse(json) as PrObservation;
  } catch {
    return null;
  }
}

function toRecord(row: Selectable<PullRequestsTable>): PullRequestRecord {
  return {
    id: row.id,
    nodeId: row.node_id,
    repoId: row.repo_id,
    number: row.number,
    url: row.url,
    title: row.title,
    author: row.author,
    headRef: row.head_ref,
    headRepo: row.head_repo,
    headSha: row.head_sha,
    baseRef: row.base_ref,
    state: row.state as PrState,
    draft: row.draft === 1,
    mergeable: row.mergeable as Mergeable,
    mergeStateStatus: row.merge_state_status,
    ciState: row.ci_state as CiState,
    reviewDecision: row.review_decision as ReviewDecision | null,
    unresolvedThreads: row.unresolved_threads,
    commentsCount: row.comments_count,
    ghUpdatedAt: row.gh_updated_at,
    sessionId: row.session_id,
    proposalId: row.proposal_id,
    observation: parseObservation(row.observation),
    observedHash: row.observed_hash,
    reactedHash: row.reacted_hash,
    reactions: parseReactionHistory(row.reactions),
    dirtyAt: row.dirty_at,
    fetchedAt: row.fetched_at,
    threadsFetchedAt: row.threads_fetched_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: row.version,
  };
}

/** The columns an observation sets, derived from it in one place. */
function observationColumns(observation: PrObservation) {
  return {
    url: observation.url,
    title: observation.title,
    author: observation.author,
    head_ref: observation.headRef,
    head_repo: observation.headRepo,
    head_sha: observation.headSha,
    base_ref: observation.baseRef,
    state: observation.state,
    draft: observation.draft ? 1 : 0,
    mergeable: observation.mergeable,
    merge_state_status: observation.mergeStateStatus,
    ci_state: observation.ci.state,
    review_decision: observation.reviewDecision,
    unresolved_threads: observation.review?.threads.length ?? 0,
    gh_updated_at: observation.updatedAt,
    observation: JSON.stringify(observation),
  };
}

export interface PullRequestFilter {
  repoId?: string | undefined;
  sessionId?: string | undefined;
  proposalId?: string | undefined;
  state?: PrState | undefined;
  number?: number | undefined;
}

export class PullRequestStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async get(id: string): Promise<PullRequestRecord | null> {
    const row = await this.db.selectFrom("pull_requests").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  async getByNodeId(nodeId: string): Promise<PullRequestRecord | null> {
    const row = await this.db
      .selectFrom("pull_requests")
      .selectAll()
      .where("node_id", "=", nodeId)
      .executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  async findByNumber(repoId: string, number: number): Promise<PullRequestRecord | null> {
    const row = await this.db
      .selectFrom("pull_requests")
      .selectAll()
      .where("repo_id", "=", repoId)
      .where("number", "=", number)
      .orderBy("id", "desc")
      .executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  /** Starts tracking a PR; when it is already tracked (same node id) the existing row is returned. */
  async track(baseline: PullRequestBaseline, now: number): Promise<PullRequestRecord> {
    await this.db
      .insertInto("pull_requests")
      .values({
        id: newId("pr", now),
        node_id: baseline.nodeId,
        repo_id: baseline.repoId,
        number: baseline.number,
        url: baseline.url,
        title: baseline.title,
        author: baseline.author,
        head_ref: baseline.headRef,
        head_repo: baseline.headRepo,
        head_sha: baseline.headSha,
        base_ref: baseline.baseRef,
        state: baseline.state,
        draft: baseline.draft ? 1 : 0,
        mergeable: "UNKNOWN",
        merge_state_status: null,
        ci_state: "none",
        review_decision: null,
        unresolved_threads: 0,
        comments_count: null,
        gh_updated_at: null,
        session_id: baseline.sessionId,
        proposal_id: baseline.proposalId,
        observation: null,
        observed_hash: null,
        reacted_hash: null,
        reactions: "{}",
        dirty_at: now,
        fetched_at: null,
        threads_fetched_at: null,
        created_at: now,
        updated_at: now,
        version: 1,
      })
      .onConflict((conflict) => conflict.column("node_id").doNothing())
      .execute();
    const record = await this.getByNodeId(baseline.nodeId);
    if (!record) throw new Error(`pull request ${baseline.nodeId} vanished while being tracked`);
    const links: { session_id?: string; proposal_id?: string } = {};
    if (baseline.sessionId && record.sessionId === null) links.session_id = baseline.sessionId;
    if (baseline.proposalId && record.proposalId === null) links.proposal_id = baseline.proposalId;
    if (Object.keys(links).length === 0) return record;
    const row = await this.db
      .updateTable("pull_requests")
      .set({ ...links, updated_at: now })
      .where("id", "=", record.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  }

  /** PRs of these repos that the observer still has to watch: open ones, and any not yet observed. */
  async listWatched(repoIds: readonly string[]): Promise<PullRequestRecord[]> {
    if (repoIds.length === 0) return [];
    const rows = await this.db
      .selectFrom("pull_requests")
      .selectAll()
      .where("repo_id", "in", repoIds)
      .where((eb) =>
        eb.or([
          eb("state", "=", "open"),
          eb("fetched_at", "is", null),
          eb("observed_hash", "is distinct from", eb.ref("reacted_hash")),
        ]),
      )
      .orderBy("id")
      .execute();
    return rows.map(toRecord);
  }

  /** Tracked PRs with these node ids (a closed PR that shows up in an open list again). */
  async listByNodeIds(nodeIds: readonly string[]): Promise<PullRequestRecord[]> {
    if (nodeIds.length === 0) return [];
    const rows = await this.db
      .selectFrom("pull_requests")
      .selectAll()
      .where("node_id", "in", nodeIds)
      .execute();
    return rows.map(toRecord);
  }

  /**
   * Writes a persisted observation if the row is still at `expectedVersion`. Dirty marks older
   * than `fetchStartedAt` are cleared: a webhook that arrived during the fetch stays dirty.
   */
  async saveObservation(
    trx: Kysely<Schema>,
    record: PullRequestRecord,
    input: {
      observation: PrObservation;
      observedHash: string;
      fetchedAt: number;
      fetchStartedAt: number;
      threadsFetched: boolean;
      sessionId: string | null;
    },
  ): Promise<PullRequestRecord> {
    const row = await trx
      .updateTable("pull_requests")
      .set((eb) => ({
        ...observationColumns(input.observation),
        comments_count: input.threadsFetched ? input.observation.commentsCount : record.commentsCount,
        observed_hash: input.observedHash,
        fetched_at: input.fetchedAt,
        threads_fetched_at: input.threadsFetched ? input.fetchedAt : record.threadsFetchedAt,
        session_id: input.sessionId ?? record.sessionId,
        dirty_at: eb
          .case()
          .when("dirty_at", "<", input.fetchStartedAt)
          .then(null)
          .else(eb.ref("dirty_at"))
          .end(),
        updated_at: input.fetchedAt,
        version: eb("version", "+", 1),
      }))
      .where("id", "=", record.id)
      .where("version", "=", record.version)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new StaleVersionError("pull_requests", record.id, record.version);
    return toRecord(row);
  }

  /** Acknowledges the reactions to an observation: their history, and the hash they answered. */
  async saveReactions(
    trx: Kysely<Schema>,
    record: PullRequestRecord,
    input: { reactions: ReactionHistory; reactedHash: string | null; now: number },
  ): Promise<PullRequestRecord> {
    const row = await trx
      .updateTable("pull_requests")
      .set((eb) => ({
        reactions: JSON.stringify(input.reactions),
        reacted_hash: input.reactedHash,
        updated_at: input.now,
        version: eb("version", "+", 1),
      }))
      .where("id", "=", record.id)
      .where("version", "=", record.version)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new StaleVersionError("pull_requests", record.id, record.version);
    return toRecord(row);
  }

  /**
   * Marks PRs dirty for a targeted refresh (SPEC C4 webhooks): by number, by head commit, or by
   * node id, within one repo. Returns how many tracked PRs were marked.
   */
  async markDirty(
    trx: Kysely<Schema>,
    input: { repoId: string; numbers?: readonly number[]; headSha?: string; nodeIds?: readonly string[] },
    now: number,
  ): Promise<number> {
    const numbers = input.numbers ?? [];
    const nodeIds = input.nodeIds ?? [];
    if (numbers.length === 0 && nodeIds.length === 0 && !input.headSha) return 0;
    const result = await trx
      .updateTable("pull_requests")
      .set((eb) => ({ dirty_at: eb.fn.coalesce("dirty_at", eb.val(now)) }))
      .where("repo_id", "=", input.repoId)
      .where((eb) => {
        const matches = [];
        if (numbers.length > 0) matches.push(eb("number", "in", numbers));
        if (nodeIds.length > 0) matches.push(eb("node_id", "in", nodeIds));
        if (input.headSha) matches.push(eb("head_sha", "=", input.headSha));
        return eb.or(matches);
      })
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async list(
    filter: PullRequestFilter,
    page: { before?: string | undefined; limit: number },
  ): Promise<PullRequestRecord[]> {
    let query = this.db.selectFrom("pull_requests").selectAll();
    if (filter.repoId) query = query.where("repo_id", "=", filter.repoId);
    if (filter.sessionId) query = query.where("session_id", "=", filter.sessionId);
    if (filter.proposalId) query = query.where("proposal_id", "=", filter.proposalId);
    if (filter.state) query = query.where("state", "=", filter.state);
    if (filter.number !== undefined) query = query.where("number", "=", filter.number);
    if (page.before) query = query.where("id", "<", page.before);
    const rows = await query.orderBy("id", "desc").limit(page.limit).execute();
    return rows.map(toRecord);
  }

  async count(filter: PullRequestFilter): Promise<number> {
    let query = this.db.selectFrom("pull_requests").select((eb) => eb.fn.countAll<number>().as("n"));
    if (filter.repoId) query = query.where("repo_id", "=", filter.repoId);
    if (filter.sessionId) query = query.where("session_id", "=", filter.sessionId);
    if (filter.proposalId) query = query.where("proposal_id", "=", filter.proposalId);
    if (filter.state) query = query.where("state", "=", filter.state);
    if (filter.number !== undefined) query = query.where("number", "=", filter.number);
    const row = await query.executeTakeFirst();
    return Number(row?.n ?? 0);
  }
}
