import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LESSON_EXTRACTOR_VERSION } from "../../src/domain/lesson.js";
import type { SessionOutcome } from "../../src/domain/session.js";
import {
  cosineSimilarity,
  LessonService,
  type Embedder,
  type LessonServiceDeps,
} from "../../src/services/lesson-service.js";
import type { AppendEvent } from "../../src/services/event-log.js";
import type { StoredEvent } from "../../src/store/event-store.js";
import type { Database } from "../../src/store/database.js";
import { LessonStore } from "../../src/store/lesson-store.js";
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from "../support/databases.js";
import { SEED_NOW, seedRepo, seedRun, seedSession, seedToolCall } from "../support/lesson-seed.js";
import { LogCapture } from "../support/log-capture.js";

const DAY = 24 * 60 * 60 * 1000;

/** A deterministic embedder: texts about doing something carefully point one way, the rest the other. */
const careful: Embedder = async (texts) =>
  texts.map((text) => (/\b(safely|rollback|carefully)\b/i.test(text) ? [1, 0] : [0, 1]));

describe("cosineSimilarity", () => {
  it.each<[string, number[], number[], number | null]>([
    ["identical", [1, 2], [1, 2], 1],
    ["orthogonal", [1, 0], [0, 1], 0],
    ["opposite", [1, 0], [-1, 0], -1],
    ["scaled", [1, 1], [3, 3], 1],
    ["different lengths", [1, 0], [1, 0, 0], null],
    ["empty", [], [], null],
    ["a zero vector", [0, 0], [1, 0], null],
  ])("%s", (_name, a, b, expected) => {
    const similarity = cosineSimilarity(a, b);
    if (expected === null) expect(similarity).toBeNull();
    else expect(similarity).toBeCloseTo(expected, 10);
  });
});

describe.each(DATABASE_KINDS)("LessonService on $kind", ({ kind, skip }) => {
  let testDb: TestDatabase;
  let database: Database;
  let store: LessonStore;
  let logs: LogCapture;
  let events: AppendEvent[];

  beforeEach(async () => {
    if (skip) return;
    testDb = await createTestDatabase(kind);
    database = await testDb.open();
    store = new LessonStore(database.db, database.dialect);
    logs = new LogCapture();
    events = [];
  });

  afterEach(async () => {
    await testDb?.cleanup();
  });

  function service(over: Partial<LessonServiceDeps> = {}): LessonService {
    return new LessonService({
      store,
      logger: pino({ level: "debug" }, logs),
      events: {
        append: async (event) => {
          events.push(event);
          return { seq: events.length } as unknown as StoredEvent;
        },
      },
      now: () => SEED_NOW + DAY,
      ...over,
    });
  }

  function logged(msg: string): Record<string, unknown>[] {
    return logs.records().filter((record) => record.msg === msg);
  }

  /** A finished session with one run that ends with `content`. */
  async function finished(
    goal: string,
    options: { content?: string; outcome?: SessionOutcome; repoId?: string | null; endedAt?: number } = {},
  ): Promise<string> {
    const sessionId = await seedSession(database.db, {
      goal,
      repoId: options.repoId ?? null,
      outcome: options.outcome ?? { kind: "resolved" },
      endedAt: options.endedAt ?? SEED_NOW,
    });
    await seedRun(database.db, sessionId, {
      startedAt: SEED_NOW - 1000,
      envelope: { content: options.content ?? goal, confidence: 0.8, rationale: "r", signal: null },
      confidence: 0.8,
    });
    return sessionId;
  }

  describe.skipIf(skip)("extractOnTerminal", () => {
    it("extracts the lesson of a finished session from its runs and tool calls", async () => {
      const repoId = await seedRepo(database.db, "payments");
      const sessionId = await seedSession(database.db, {
        goal: "Fix the failing CI of the payments service",
        repoId,
        skill: "ci-doctor",
        inputs: { service: "payments", attempt: 2, context: { pr: 7 } },
        outcome: { kind: "resolved", detail: "green again" },
      });
      const triage = await seedRun(database.db, sessionId, {
        agent: "triage",
        startedAt: SEED_NOW - 5000,
        envelope: { content: "A flaky test", confidence: 0.6, rationale: "seen before", signal: "fix" },
        signal: "fix",
        confidence: 0.6,
      });
      const fixer = await seedRun(database.db, sessionId, {
        agent: "fixer",
        startedAt: SEED_NOW - 3000,
        envelope: { content: "Pinned the clock in the flaky test.", confidence: 0.9, rationale: "ran it" },
        confidence: 0.9,
      });
      const calls: [string, string, string, string][] = [
        [triage, "builtin", "read_file", "succeeded"],
        [triage, "builtin", "read_file", "succeeded"],
        [fixer, "repo", "propose_change", "failed"],
        [fixer, "builtin", "mark_resolved", "succeeded"],
      ];
      for (const [index, [runId, server, tool, status]] of calls.entries()) {
        await seedToolCall(database.db, sessionId, runId, {
          server,
          tool,
          status,
          createdAt: SEED_NOW - 4000 + index * 500,
        });
      }

      const lesson = await service().extractOnTerminal(sessionId);
      expect(lesson).toMatchObject({
        sourceSessionId: sessionId,
        extractorVersion: LESSON_EXTRACTOR_VERSION,
        skill: "ci-doctor",
        repoId,
        outcome: { kind: "resolved", detail: "green again" },
        summary: "Pinned the clock in the flaky test.",
        signals: { service: "payments", attempt: 2, last_signal: "fix", outcome: "resolved" },
        toolSequence: [
          { tool: "builtin:read_file", status: "succeeded", count: 2 },
          { tool: "repo:propose_change", status: "failed", count: 1 },
          { tool: "builtin:mark_resolved", status: "succeeded", count: 1 },
        ],
        confidenceFinal: 0.9,
        embedding: null,
        createdAt: SEED_NOW + DAY,
        deletedAt: null,
      });
      expect(lesson?.text).toContain("Goal: Fix the failing CI of the payments service");
      expect(lesson?.text).toContain(
        "Key tools: builtin:read_file, repo:propose_change, builtin:mark_resolved",
      );
      expect(await store.listBySession(sessionId)).toEqual([lesson]);
      expect(events).toEqual([
        {
          kind: "lesson.extracted",
          sessionId,
          payload: { lessonId: lesson?.id, extractorVersion: LESSON_EXTRACTOR_VERSION, outcome: "resolved" },
        },
      ]);
    });

    it("returns the same lesson a second time, without a second row or event", async () => {
      const sessionId = await finished("Fix the build");
      const lessons = service();
      const first = await lessons.extractOnTerminal(sessionId);
      const second = await lessons.extractOnTerminal(sessionId);
      expect(second).toEqual(first);
      expect(await store.listBySession(sessionId, { includeDeleted: true })).toHaveLength(1);
      expect(events).toHaveLength(1);
    });

    it("extracts nothing from an unfinished or unknown session", async () => {
      const running = await seedSession(database.db, { outcome: null });
      expect(await service().extractOnTerminal(running)).toBeNull();
      expect(await service().extractOnTerminal("ses_missing")).toBeNull();
      expect(await store.listBySession(running, { includeDeleted: true })).toEqual([]);
      expect(events).toEqual([]);
    });

    it("logs and swallows a failure instead of failing the session", async () => {
      const sessionId = await finished("Fix the build");
      await database.db
        .updateTable("sessions")
        .set({ outcome: '{"kind":"exploded"}' })
        .where("id", "=", sessionId)
        .execute();
      expect(await service().extractOnTerminal(sessionId)).toBeNull();
      expect(logged("lesson extraction failed")).toEqual([expect.objectContaining({ level: 40, sessionId })]);
    });

    it("keeps the lesson when announcing it fails", async () => {
      const sessionId = await finished("Fix the build");
      const lesson = await service({
        events: { append: () => Promise.reject(new Error("event log down")) },
      }).extractOnTerminal(sessionId);
      expect(lesson?.sourceSessionId).toBe(sessionId);
      expect(logged("lesson event append failed")).toHaveLength(1);
    });

    it("stores the embedding of the lesson's text when an embedder is given", async () => {
      const sessionId = await finished("Deploy the payments service safely");
      const embed = vi.fn(careful);
      const lesson = await service({ embed }).extractOnTerminal(sessionId);
      expect(lesson?.embedding).toEqual([1, 0]);
      expect(embed).toHaveBeenCalledWith([lesson?.text]);
    });

    it.each<[string, Embedder]>([
      ["throws", () => Promise.reject(new Error("model offline"))],
      ["answers no vector", async () => []],
      ["answers a vector that is not finite", async (texts) => texts.map(() => [Number.NaN, 1])],
    ])("stores the lesson without an embedding when the embedder %s", async (_name, embed) => {
      const sessionId = await finished("Deploy the payments service");
      const lesson = await service({ embed }).extractOnTerminal(sessionId);
      expect(lesson?.embedding).toBeNull();
      expect(logged("lesson embedding failed")).toEqual([expect.objectContaining({ sessionId })]);
    });
  });

  describe.skipIf(skip)("backfill", () => {
    it("adds the missing lessons of the window once; a second run adds none", async () => {
      const now = SEED_NOW + DAY;
      const recent = [
        await finished("Fix the build", { endedAt: now - DAY }),
        await finished("Fix the docs", { endedAt: now - 6 * DAY }),
        await finished("Fix the cache", { endedAt: now - 2 * DAY, outcome: { kind: "failed", detail: "x" } }),
      ];
      const alreadyDone = await finished("Fix the release", { endedAt: now - DAY });
      await service().extractOnTerminal(alreadyDone);
      await finished("Too old", { endedAt: now - 8 * DAY });
      await seedSession(database.db, { outcome: null });
      events = [];

      const lessons = service();
      expect(await lessons.backfill({ now })).toEqual({ scanned: 3, added: 3, skipped: 0 });
      for (const sessionId of recent) expect(await store.listBySession(sessionId)).toHaveLength(1);
      expect(events).toHaveLength(3);
      expect(await lessons.backfill({ now })).toEqual({ scanned: 0, added: 0, skipped: 0 });
      expect(await lessons.backfill({ now, windowDays: 30 })).toEqual({ scanned: 1, added: 1, skipped: 0 });
      expect(await lessons.backfill({ now, windowDays: 30 })).toEqual({ scanned: 0, added: 0, skipped: 0 });
    });

    it("counts a session whose extraction fails as skipped, and goes on", async () => {
      const now = SEED_NOW + DAY;
      const broken = await finished("Broken", { endedAt: now - DAY });
      await database.db
        .updateTable("sessions")
        .set({ outcome: "not json" })
        .where("id", "=", broken)
        .execute();
      const fine = await finished("Fine", { endedAt: now - DAY + 1 });
      expect(await service().backfill({ now })).toEqual({ scanned: 2, added: 1, skipped: 1 });
      expect(await store.listBySession(fine)).toHaveLength(1);
      expect(logged("lesson extraction failed")).toEqual([expect.objectContaining({ sessionId: broken })]);
    });

    it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])("refuses a window of %s days", async (days) => {
      await expect(service().backfill({ windowDays: days })).rejects.toThrow(RangeError);
    });
  });

  describe.skipIf(skip)("retrieveFor", () => {
    const query = { inputs: {}, skill: "ci-doctor", repoId: null } as const;

    it("gives the most relevant lessons of the same repo, never the asking session's own", async () => {
      const repoId = await seedRepo(database.db, "payments");
      const lessons = service();
      const relevant = await finished("Fix the flaky payments test in CI", { repoId });
      const own = await finished("Fix the flaky payments test in CI again", { repoId });
      const otherRepo = await finished("Fix the flaky payments test in CI", { repoId: null });
      await finished("Update the onboarding documentation", { repoId });
      for (const id of [relevant, own, otherRepo]) await lessons.extractOnTerminal(id);

      const found = await lessons.retrieveFor({
        ...query,
        goal: "The payments CI has a flaky test",
        repoId,
        excludeSessionId: own,
      });
      expect(found.map((lesson) => lesson.sourceSessionId)).toEqual([relevant]);
      expect(found[0]?.similarity).toBeNull();
    });

    it("returns at most k lessons", async () => {
      const lessons = service();
      for (let i = 0; i < 5; i++) await lessons.extractOnTerminal(await finished(`Flaky test ${i}`));
      expect(await lessons.retrieveFor({ ...query, goal: "flaky test" })).toHaveLength(3);
      expect(await lessons.retrieveFor({ ...query, goal: "flaky test" }, 1)).toHaveLength(1);
      expect(await lessons.retrieveFor({ ...query, goal: "flaky test" }, 0)).toEqual([]);
    });

    /** Two lessons: full text prefers `repeated`, the embedder prefers `careful`. */
    async function twoLessons(embed: Embedder | undefined): Promise<{ repeated: string; careful: string }> {
      const lessons = service({ embed });
      const repeated = await finished("Deploy payments", {
        content: "Deploy payments: the payments deploy went out, payments deploy done",
      });
      const careful = await finished("Deploy payments", { content: "Deployed with a rollback plan" });
      await lessons.extractOnTerminal(repeated);
      await lessons.extractOnTerminal(careful);
      return { repeated, careful };
    }

    it("ranks by full text without an embedder", async () => {
      const seeded = await twoLessons(undefined);
      const found = await service().retrieveFor({ ...query, goal: "Deploy payments safely" });
      expect(found.map((lesson) => lesson.sourceSessionId)).toEqual([seeded.repeated, seeded.careful]);
    });

    it("re-ranks the full-text candidates by embedding similarity", async () => {
      const seeded = await twoLessons(careful);
      const lessons = service({ embed: careful });
      const search = vi.spyOn(store, "search");
      const found = await lessons.retrieveFor({ ...query, goal: "Deploy payments safely" }, 2);
      expect(found.map((lesson) => [lesson.sourceSessionId, lesson.similarity])).toEqual([
        [seeded.careful, 1],
        [seeded.repeated, 0],
      ]);
      expect(search).toHaveBeenCalledWith(expect.objectContaining({ limit: 8 }));
    });

    it("puts candidates without an embedding after the embedded ones", async () => {
      const seeded = await twoLessons(undefined);
      const late = await finished("Deploy payments", { content: "Deploy payments, embedded later" });
      await service({ embed: async (texts) => texts.map(() => [0, 1]) }).extractOnTerminal(late);
      const found = await service({ embed: careful }).retrieveFor({
        ...query,
        goal: "Deploy payments safely",
      });
      expect(found.map((lesson) => lesson.sourceSessionId)).toEqual([late, seeded.repeated, seeded.careful]);
    });

    it.each<[string, Embedder]>([
      ["throws", () => Promise.reject(new Error("model offline"))],
      [
        "answers two vectors for one text",
        async () => [
          [1, 0],
          [0, 1],
        ],
      ],
    ])("falls back to the full-text order when the embedder %s", async (_name, broken) => {
      const seeded = await twoLessons(careful);
      const found = await service({ embed: broken }).retrieveFor({
        ...query,
        goal: "Deploy payments safely",
      });
      expect(found.map((lesson) => [lesson.sourceSessionId, lesson.similarity])).toEqual([
        [seeded.repeated, null],
        [seeded.careful, null],
      ]);
      expect(logged("lesson embedding failed")).toHaveLength(1);
    });

    it("gives no lessons, logged, when the search fails", async () => {
      const lessons = service();
      vi.spyOn(store, "search").mockRejectedValue(new Error("database gone"));
      expect(await lessons.retrieveFor({ ...query, goal: "anything" })).toEqual([]);
      expect(logged("lesson retrieval failed")).toHaveLength(1);
    });
  });
});
