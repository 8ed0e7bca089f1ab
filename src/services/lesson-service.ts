import { extractLesson, LESSON_EXTRACTOR_VERSION, lessonQuery } from "../domain/lesson.js";
import type { Logger } from "../observability/logger.js";
import type { AddedLesson, LessonMatch, LessonRecord, LessonStore } from "../store/lesson-store.js";
import type { EventLog } from "./event-log.js";

/**
 * Turns texts into vectors, one per text, in order. An injected port: this service never calls a
 * provider itself, and works (full-text only) without one.
 */
export type Embedder = (texts: string[]) => Promise<number[][]>;

export interface LessonServiceDeps {
  store: LessonStore;
  logger: Logger;
  embed?: Embedder | undefined;
  /** When given, each new lesson is announced as `lesson.extracted`. */
  events?: Pick<EventLog, "append"> | undefined;
  now?: () => number;
}

export interface LessonQueryInput {
  goal: string;
  inputs: Record<string, unknown>;
  skill: string | null;
  /** Lessons are only shared within one repo (null: among sessions without a repo). */
  repoId: string | null;
  /** The asking session itself, which must not learn from its own lesson. */
  excludeSessionId?: string | undefined;
}

/** A retrieved lesson; `similarity` is the cosine to the query when embeddings ranked it. */
export interface RetrievedLesson extends LessonMatch {
  similarity: number | null;
}

export interface BackfillResult {
  /** Finished sessions in the window that had no lesson of the current extractor version. */
  scanned: number;
  added: number;
  /** Scanned sessions that gave no new lesson: extraction failed, or another worker added it first. */
  skipped: number;
}

export const DEFAULT_BACKFILL_WINDOW_DAYS = 7;
/** Embeddings re-rank this many full-text candidates per lesson wanted. */
export const EMBEDDING_CANDIDATES_PER_RESULT = 4;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Cosine similarity; null when the vectors cannot be compared (length, zero, not finite). */
export function cosineSimilarity(a: readonly number[], b: readonly number[]): number | null {
  if (a.length === 0 || a.length !== b.length) return null;
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    normA += x * x;
    normB += y * y;
  }
  const similarity = dot / Math.sqrt(normA * normB);
  return Number.isFinite(similarity) ? similarity : null;
}

function isVector(value: unknown): value is number[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((n) => typeof n === "number" && Number.isFinite(n))
  );
}

/**
 * Lessons (SPEC C6 "Lessons"): extracted when a session finishes, offered to the first agent of
 * a similar new session, and back-filled nightly for sessions whose extraction was missed. A
 * lesson is a by-product: nothing here may fail the session it is about.
 */
export class LessonService {
  readonly #deps: LessonServiceDeps;
  readonly #now: () => number;

  constructor(deps: LessonServiceDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
  }

  /**
   * Extracts and stores the lesson of a finished session; null when the session is not finished
   * (or does not exist) or when anything failed — failures are logged, never thrown.
   */
  async extractOnTerminal(sessionId: string): Promise<LessonRecord | null> {
    return (await this.#extract(sessionId))?.lesson ?? null;
  }

  async #extract(sessionId: string): Promise<AddedLesson | null> {
    const { store, logger } = this.#deps;
    try {
      const source = await store.readSource(sessionId);
      if (source === null) return null;
      const draft = extractLesson(source);
      if (draft === null) return null;
      const [embedding] = await this.#embed([draft.text], { sessionId });
      const added = await store.add(
        draft,
        {
          sessionId,
          skill: source.skill,
          repoId: source.repoId,
          extractorVersion: LESSON_EXTRACTOR_VERSION,
        },
        this.#now(),
        embedding ?? null,
      );
      if (added.created) await this.#announce(added.lesson);
      return added;
    } catch (error) {
      logger.warn({ sessionId, err: error }, "lesson extraction failed");
      return null;
    }
  }

  async #announce(lesson: LessonRecord): Promise<void> {
    if (!this.#deps.events) return;
    try {
      await this.#deps.events.append({
        kind: "lesson.extracted",
        sessionId: lesson.sourceSessionId,
        payload: {
          lessonId: lesson.id,
          extractorVersion: lesson.extractorVersion,
          outcome: lesson.outcome.kind,
        },
      });
    } catch (error) {
      // The lesson is stored; a missing event only costs a live view an update.
      this.#deps.logger.warn(
        { sessionId: lesson.sourceSessionId, lessonId: lesson.id, err: error },
        "lesson event append failed",
      );
    }
  }

  /**
   * Embeddings of `texts`, or nulls when there is no embedder or it failed (logged) or answered
   * something that is not one finite vector per text.
   */
  async #embed(texts: string[], context: Record<string, unknown>): Promise<(number[] | null)[]> {
    const embed = this.#deps.embed;
    if (!embed) return texts.map(() => null);
    try {
      const vectors: unknown = await embed(texts);
      if (!Array.isArray(vectors) || vectors.length !== texts.length || !vectors.every(isVector)) {
        throw new Error("the embedder did not return one finite vector per text");
      }
      return vectors;
    } catch (error) {
      this.#deps.logger.warn({ ...context, err: error }, "lesson embedding failed");
      return texts.map(() => null);
    }
  }

  /** The lessons extracted from one session (deleted ones left out). */
  listBySession(sessionId: string): Promise<LessonRecord[]> {
    return this.#deps.store.listBySession(sessionId);
  }

  /**
   * The `k` lessons most similar to a new session: full-text ranking, then — with an embedder —
   * the top `k × 4` full-text candidates re-ranked by cosine similarity to the query. Candidates
   * without a comparable embedding follow the embedded ones, in full-text order. An embedding
   * failure falls back to the full-text order; a search failure gives no lessons. Both are logged.
   */
  async retrieveFor(query: LessonQueryInput, k = 3): Promise<RetrievedLesson[]> {
    const wanted = Math.max(0, Math.trunc(k));
    if (wanted === 0) return [];
    const text = lessonQuery(query.goal, query.inputs, query.skill);
    let candidates: LessonMatch[];
    try {
      candidates = await this.#deps.store.search({
        text,
        limit: this.#deps.embed ? wanted * EMBEDDING_CANDIDATES_PER_RESULT : wanted,
        skill: query.skill ?? undefined,
        repoId: query.repoId,
        excludeSessionId: query.excludeSessionId,
      });
    } catch (error) {
      // Lessons are advice: a session starts without them rather than not at all.
      this.#deps.logger.warn(
        { excludeSessionId: query.excludeSessionId, err: error },
        "lesson retrieval failed",
      );
      return [];
    }
    const fullText = (): RetrievedLesson[] =>
      candidates.slice(0, wanted).map((lesson) => ({ ...lesson, similarity: null }));
    if (!this.#deps.embed || candidates.length === 0) return fullText();
    const [vector] = await this.#embed([text], { excludeSessionId: query.excludeSessionId });
    if (!vector) return fullText();
    const scored = candidates.map((lesson, rank) => ({
      lesson,
      rank,
      similarity: lesson.embedding === null ? null : cosineSimilarity(vector, lesson.embedding),
    }));
    scored.sort((a, b) => {
      if (a.similarity !== null && b.similarity !== null && a.similarity !== b.similarity) {
        return b.similarity - a.similarity;
      }
      if ((a.similarity === null) !== (b.similarity === null)) return a.similarity === null ? 1 : -1;
      return a.rank - b.rank;
    });
    return scored.slice(0, wanted).map(({ lesson, similarity }) => ({ ...lesson, similarity }));
  }

  /**
   * Extracts the lessons missing for sessions that finished in the last `windowDays`. Idempotent:
   * a lesson is unique per session and extractor version, so a second run finds nothing to do.
   */
  async backfill(options: { windowDays?: number; now?: number } = {}): Promise<BackfillResult> {
    const windowDays = options.windowDays ?? DEFAULT_BACKFILL_WINDOW_DAYS;
    if (!(Number.isFinite(windowDays) && windowDays > 0)) {
      throw new RangeError(`windowDays must be a positive number, got ${String(windowDays)}`);
    }
    const now = options.now ?? this.#now();
    const sessionIds = await this.#deps.store.missingFor(
      { since: now - windowDays * DAY_MS },
      LESSON_EXTRACTOR_VERSION,
    );
    let added = 0;
    for (const sessionId of sessionIds) {
      if ((await this.#extract(sessionId))?.created) added++;
    }
    const result = { scanned: sessionIds.length, added, skipped: sessionIds.length - added };
    this.#deps.logger.info(result, "lesson backfill done");
    return result;
  }
}
