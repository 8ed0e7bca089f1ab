import { sql, type Kysely, type RawBuilder, type Selectable } from "kysely";
import type {
  LessonDraft,
  LessonRunSource,
  LessonSignals,
  LessonSource,
  LessonToolCallSource,
  LessonToolStep,
} from "../domain/lesson.js";
import { OUTCOME_KINDS, type OutcomeKind, type SessionOutcome } from "../domain/session.js";
import type { Dialect } from "./database.js";
import { newId } from "./ids.js";
import type { LessonsTable, Schema } from "./schema.js";

export interface LessonRecord {
  id: string;
  sourceSessionId: string;
  extractorVersion: number;
  skill: string | null;
  repoId: string | null;
  outcome: SessionOutcome;
  summary: string;
  signals: LessonSignals;
  toolSequence: LessonToolStep[];
  confidenceFinal: number | null;
  text: string;
  embedding: number[] | null;
  createdAt: number;
  deletedAt: number | null;
}

/** A lesson found by full-text search; a higher score is more relevant (scores compare within one dialect only). */
export interface LessonMatch extends LessonRecord {
  score: number;
}

/** Where a lesson comes from: its session, that session's skill and repo, the extractor's version. */
export interface LessonOrigin {
  sessionId: string;
  skill: string | null;
  repoId: string | null;
  extractorVersion: number;
}

export interface AddedLesson {
  lesson: LessonRecord;
  /** False when the session already had a lesson of this version: that one is returned. */
  created: boolean;
}

export interface LessonSearch {
  text: string;
  limit: number;
  skill?: string | undefined;
  /** A repo id, or null for lessons of sessions without a repo; undefined does not filter. */
  repoId?: string | null | undefined;
  excludeSessionId?: string | undefined;
}

export const LESSON_SEARCH_MAX_LIMIT = 100;
/** Enough words for any real goal; a 10 KB paste must not become a 2,000-term query. */
export const SEARCH_TERMS_MAX = 64;
/** Longer "words" are pasted blobs (hashes, base64), not something a lesson would share. */
const SEARCH_TERM_MAX_CHARS = 64;
/**
 * The commonest English words. PostgreSQL's `english` configuration ignores them already; FTS5
 * has no stop words, and there each would make every lesson a (poor) match.
 */
const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    "a an and are as at be but by for from has have if in into is it its no not of on or so " +
    "such that the their then there these they this to was were will with"
  ).split(" "),
);

// The columns of `lessons` we read: never `text_search`, PostgreSQL's generated tsvector.
const COLUMNS = [
  "id",
  "source_session_id",
  "extractor_version",
  "skill",
  "repo_id",
  "outcome",
  "summary",
  "signals",
  "tool_sequence",
  "confidence_final",
  "text",
  "embedding",
  "created_at",
  "deleted_at",
] as const satisfies readonly (keyof LessonsTable)[];

type LessonRow = Pick<Selectable<LessonsTable>, (typeof COLUMNS)[number]>;

function parseEmbedding(value: string | null): number[] | null {
  if (value === null) return null;
  const parsed: unknown = JSON.parse(value);
  return Array.isArray(parsed) && parsed.every((n) => typeof n === "number") ? parsed : null;
}

function toRecord(row: LessonRow): LessonRecord {
  return {
    id: row.id,
    sourceSessionId: row.source_session_id,
    extractorVersion: Number(row.extractor_version),
    skill: row.skill,
    repoId: row.repo_id,
    outcome: JSON.parse(row.outcome) as SessionOutcome,
    summary: row.summary,
    signals: JSON.parse(row.signals) as LessonSignals,
    toolSequence: JSON.parse(row.tool_sequence) as LessonToolStep[],
    confidenceFinal: row.confidence_final === null ? null : Number(row.confidence_final),
    text: row.text,
    embedding: parseEmbedding(row.embedding),
    createdAt: Number(row.created_at),
    deletedAt: row.deleted_at === null ? null : Number(row.deleted_at),
  };
}

/**
 * The words of a user's text, lower-cased and de-duplicated, for a full-text query. Only letters,
 * digits and combining marks survive, so no query syntax of either database (FTS5's quotes, `*`,
 * `NEAR(`, `-`, `:`, column filters; websearch's quotes, `-`, `or`) can reach the parser.
 */
export function searchTerms(text: string): string[] {
  const terms = new Set<string>();
  for (const match of text.toLowerCase().matchAll(/[\p{L}\p{N}\p{M}]+/gu)) {
    const term = match[0];
    // `or` is also websearch_to_tsquery's operator: dropping it keeps the query plain words.
    if (term.length > SEARCH_TERM_MAX_CHARS || STOP_WORDS.has(term)) continue;
    terms.add(term);
    if (terms.size === SEARCH_TERMS_MAX) break;
  }
  return [...terms];
}

/** FTS5: every term a quoted string (tokenized, so stemmed), any of them may match. */
export function fts5Query(terms: readonly string[]): string {
  return terms.map((term) => `"${term.replaceAll('"', '""')}"`).join(" OR ");
}

/** websearch_to_tsquery: bare words joined by `or` (it would AND them otherwise). */
export function websearchQuery(terms: readonly string[]): string {
  return terms.join(" or ");
}

function lessonSourceInputs(value: string | null): Record<string, unknown> {
  if (value === null) return {};
  try {
    const parsed: unknown = JSON.parse(value);
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

function jsonField(value: string | null, field: string): string | null {
  if (value === null) return null;
  try {
    const parsed: unknown = JSON.parse(value);
    if (parsed === null || typeof parsed !== "object") return null;
    const found = (parsed as Record<string, unknown>)[field];
    return typeof found === "string" ? found : null;
  } catch {
    return null;
  }
}

/**
 * Lessons (SPEC C6 "Lessons"): one per session and extractor version, full-text searchable —
 * FTS5 with bm25 on SQLite, a generated tsvector with ts_rank on PostgreSQL.
 */
export class LessonStore {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly dialect: Dialect,
  ) {}

  /**
   * Stores the lesson unless the session already has one of this version, in which case that
   * one is returned. Two callers racing both get the one row: the unique constraint decides.
   */
  async add(
    draft: LessonDraft,
    origin: LessonOrigin,
    now: number,
    embedding: readonly number[] | null = null,
  ): Promise<AddedLesson> {
    const inserted = await this.db
      .insertInto("lessons")
      .values({
        id: newId("lsn", now),
        source_session_id: origin.sessionId,
        extractor_version: origin.extractorVersion,
        skill: origin.skill,
        repo_id: origin.repoId,
        outcome: JSON.stringify(draft.outcome),
        summary: draft.summary,
        signals: JSON.stringify(draft.signals),
        tool_sequence: JSON.stringify(draft.toolSequence),
        confidence_final: draft.confidenceFinal,
        text: draft.text,
        embedding: embedding === null ? null : JSON.stringify(embedding),
        created_at: now,
        deleted_at: null,
      })
      .onConflict((conflict) => conflict.columns(["source_session_id", "extractor_version"]).doNothing())
      .returning(COLUMNS)
      .executeTakeFirst();
    if (inserted) return { lesson: toRecord(inserted), created: true };
    const existing = await this.db
      .selectFrom("lessons")
      .select(COLUMNS)
      .where("source_session_id", "=", origin.sessionId)
      .where("extractor_version", "=", origin.extractorVersion)
      .executeTakeFirstOrThrow();
    return { lesson: toRecord(existing), created: false };
  }

  /** The session's lessons, oldest extractor version first; soft-deleted ones only when asked. */
  async listBySession(
    sessionId: string,
    options: { includeDeleted?: boolean } = {},
  ): Promise<LessonRecord[]> {
    let query = this.db
      .selectFrom("lessons")
      .select(COLUMNS)
      .where("source_session_id", "=", sessionId)
      .orderBy("extractor_version")
      .orderBy("id");
    if (!options.includeDeleted) query = query.where("deleted_at", "is", null);
    return (await query.execute()).map(toRecord);
  }

  /**
   * Lessons ranked by full-text relevance to `text`, most relevant first. The text is the user's:
   * it is reduced to plain words, so it can never be a query-syntax error; with no words left
   * nothing matches. Soft-deleted lessons are never found.
   */
  async search(search: LessonSearch): Promise<LessonMatch[]> {
    const terms = searchTerms(search.text);
    const limit = Math.min(Math.max(Math.trunc(search.limit), 0), LESSON_SEARCH_MAX_LIMIT);
    if (terms.length === 0 || !(limit > 0)) return [];
    const filters: RawBuilder<unknown>[] = [sql`l.deleted_at is null`];
    if (search.skill !== undefined) filters.push(sql`l.skill = ${search.skill}`);
    if (search.repoId === null) filters.push(sql`l.repo_id is null`);
    else if (search.repoId !== undefined) filters.push(sql`l.repo_id = ${search.repoId}`);
    if (search.excludeSessionId !== undefined) {
      filters.push(sql`l.source_session_id <> ${search.excludeSessionId}`);
    }
    const where = sql.join(filters, sql` and `);
    const columns = sql.join(COLUMNS.map((column) => sql.ref(`l.${column}`)));
    const query =
      this.dialect === "sqlite"
        ? // bm25() is lower for better matches.
          sql<LessonRow & { score: number }>`
            select ${columns}, -bm25(lessons_fts) as score
            from lessons_fts join lessons l on l.rowid = lessons_fts.rowid
            where lessons_fts match ${fts5Query(terms)} and ${where}
            order by score desc, l.id desc
            limit ${limit}`
        : sql<LessonRow & { score: number }>`
            select ${columns}, ts_rank(l.text_search, q.query) as score
            from lessons l, websearch_to_tsquery('english', ${websearchQuery(terms)}) as q(query)
            where l.text_search @@ q.query and ${where}
            order by score desc, l.id desc
            limit ${limit}`;
    const { rows } = await query.execute(this.db);
    return rows.map((row) => ({ ...toRecord(row), score: Number(row.score) }));
  }

  /**
   * Marks the lessons of a deleted session, so they are never offered again. The first deletion
   * time is kept. Returns how many lessons were marked.
   */
  async markSourceDeleted(sessionId: string, now: number): Promise<number> {
    const result = await this.db
      .updateTable("lessons")
      .set({ deleted_at: now })
      .where("source_session_id", "=", sessionId)
      .where("deleted_at", "is", null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /**
   * Finished sessions (an outcome) that ended at or after `since` and have no lesson of
   * `version`, oldest first. A session ended before `ended_at` was recorded counts by its last
   * update. A lesson marked deleted still counts as present: its session is not extracted again.
   */
  async missingFor(window: { since: number }, version: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom("sessions as s")
      .select("s.id")
      .where("s.outcome", "is not", null)
      .where((eb) => eb(eb.fn.coalesce("s.ended_at", "s.updated_at"), ">=", window.since))
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom("lessons as l")
              .select("l.id")
              .whereRef("l.source_session_id", "=", "s.id")
              .where("l.extractor_version", "=", version),
          ),
        ),
      )
      .orderBy((eb) => eb.fn.coalesce("s.ended_at", "s.updated_at"))
      .orderBy("s.id")
      .execute();
    return rows.map((row) => row.id);
  }

  /**
   * The stored facts of a session a lesson is extracted from, or null when there is no such
   * session. Malformed JSON in a run or call is read as absent: a lesson is best effort.
   */
  async readSource(sessionId: string): Promise<LessonSource | null> {
    const session = await this.db
      .selectFrom("sessions")
      .select(["id", "goal", "skill", "repo_id", "inputs", "outcome"])
      .where("id", "=", sessionId)
      .executeTakeFirst();
    if (!session) return null;
    const runs = await this.db
      .selectFrom("agent_runs")
      .select(["agent", "signal", "confidence", "envelope", "error"])
      .where("session_id", "=", sessionId)
      .orderBy("started_at")
      .orderBy("id")
      .execute();
    const calls = await this.db
      .selectFrom("tool_calls")
      .select(["server", "tool", "status"])
      .where("session_id", "=", sessionId)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return {
      sessionId: session.id,
      goal: session.goal,
      skill: session.skill,
      repoId: session.repo_id,
      inputs: lessonSourceInputs(session.inputs),
      outcome: parseOutcome(session.outcome),
      runs: runs.map((run): LessonRunSource => ({
        agent: run.agent,
        signal: run.signal,
        confidence: run.confidence === null ? null : Number(run.confidence),
        content: jsonField(run.envelope, "content"),
        rationale: jsonField(run.envelope, "rationale"),
        errorCode: jsonField(run.error, "code"),
      })),
      toolCalls: calls.map((call): LessonToolCallSource => ({
        server: call.server,
        tool: call.tool,
        status: call.status,
      })),
    };
  }
}

/** Sessions store their outcome as JSON; one this code does not know is an error, not "unfinished". */
function parseOutcome(value: string | null): SessionOutcome | null {
  if (value === null) return null;
  const parsed: unknown = JSON.parse(value);
  const { kind, detail } = (parsed ?? {}) as Record<string, unknown>;
  if (!(OUTCOME_KINDS as readonly unknown[]).includes(kind)) {
    throw new Error("the session's outcome is not a known outcome");
  }
  return typeof detail === "string" ? { kind: kind as OutcomeKind, detail } : { kind: kind as OutcomeKind };
}
