import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DeferJobError, PermanentJobError, type JobQueue } from "../../src/queue/job-queue.js";
import { createQueueHarness, QUEUE_CANARY, type QueueHarness } from "../support/queue-harness.js";
import type { DatabaseKind } from "../support/databases.js";
import { deferred, waitFor } from "../support/wait-for.js";

/** The behaviour every JobQueue implementation must have (src/queue/job-queue.ts). */
export function jobQueueContract(kind: DatabaseKind): void {
  describe(`JobQueue contract (${kind})`, () => {
    let harness: QueueHarness;
    let queue: JobQueue;

    beforeEach(async () => {
      harness = await createQueueHarness(kind);
      queue = await harness.newQueue();
    });

    afterEach(async () => {
      await harness.cleanup();
    });

    it("runs a job with its payload and records it completed", async () => {
      const seen: unknown[] = [];
      await queue.work<{ n: number }>("alpha", { concurrency: 1 }, async (job) => {
        seen.push({ payload: job.payload, attempt: job.attempt, queue: job.queue });
      });
      const { id, deduplicated } = await queue.enqueue("alpha", { n: 7 });
      expect(deduplicated).toBe(false);
      await waitFor(async () => (await queue.getJob("alpha", id))?.state === "completed");
      expect(seen).toEqual([{ payload: { n: 7 }, attempt: 1, queue: "alpha" }]);
      const info = await queue.getJob("alpha", id);
      expect(info).toMatchObject({ id, queue: "alpha", attempts: 1, payload: { n: 7 }, lastError: null });
    });

    it("returns the in-flight job for a repeated dedup key, and a new job once it has finished", async () => {
      const first = await queue.enqueue("dedup", { v: 1 }, { dedupKey: "proposal-1" });
      const second = await queue.enqueue("dedup", { v: 2 }, { dedupKey: "proposal-1" });
      const other = await queue.enqueue("dedup", { v: 3 }, { dedupKey: "proposal-2" });
      expect(second).toEqual({ id: first.id, deduplicated: true });
      expect(other.id).not.toBe(first.id);

      const ran: unknown[] = [];
      await queue.work("dedup", { concurrency: 2 }, async (job) => {
        ran.push(job.payload);
      });
      await waitFor(async () => (await queue.getJob("dedup", first.id))?.state === "completed");
      await waitFor(async () => (await queue.getJob("dedup", other.id))?.state === "completed");
      expect(ran).toHaveLength(2);

      const again = await queue.enqueue("dedup", { v: 4 }, { dedupKey: "proposal-1" });
      expect(again.deduplicated).toBe(false);
      expect(again.id).not.toBe(first.id);
    });

    it("creates exactly one job when the same dedup key is enqueued concurrently", async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => queue.enqueue("race", { i }, { dedupKey: "same" })),
      );
      const ids = new Set(results.map((r) => r.id));
      expect(ids.size).toBe(1);
      expect(results.filter((r) => !r.deduplicated)).toHaveLength(1);
      const depth = await queue.depth();
      expect(depth.find((d) => d.queue === "race")?.queued).toBe(1);
    });

    it("does not start a delayed job before its time", async () => {
      let startedAt = 0;
      await queue.work("later", { concurrency: 1 }, async () => {
        startedAt = Date.now();
      });
      const enqueuedAt = Date.now();
      const { id } = await queue.enqueue("later", null, { delayMs: 1500 });
      expect((await queue.getJob("later", id))?.state).toBe("queued");
      await waitFor(async () => (await queue.getJob("later", id))?.state === "completed");
      // Lower bound only (correctness, not speed); 100 ms for the clock of the database server.
      expect(startedAt - enqueuedAt).toBeGreaterThanOrEqual(1400);
    });

    it("retries a failing job with growing delays until it succeeds", async () => {
      const attempts: { attempt: number; at: number }[] = [];
      await queue.work("flaky", { concurrency: 1 }, async (job) => {
        attempts.push({ attempt: job.attempt, at: Date.now() });
        if (job.attempt < 3) throw new Error(`boom ${job.attempt}`);
      });
      const { id } = await queue.enqueue("flaky", {}, { maxAttempts: 3, backoffMs: 1000 });
      await waitFor(async () => (await queue.getJob("flaky", id))?.state === "completed", {
        timeoutMs: 20_000,
      });
      expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
      const gaps = attempts.slice(1).map((a, i) => a.at - (attempts[i]?.at ?? 0));
      expect(gaps[0]).toBeGreaterThanOrEqual(700);
      expect(gaps[1]).toBeGreaterThanOrEqual(1400);
      expect((await queue.getJob("flaky", id))?.attempts).toBe(3);
    });

    it("stops after maxAttempts and keeps the (redacted) last error", async () => {
      let calls = 0;
      await queue.work("doomed", { concurrency: 1 }, async () => {
        calls++;
        throw new Error(`push failed with token ${QUEUE_CANARY}`);
      });
      const { id } = await queue.enqueue("doomed", {}, { maxAttempts: 2, backoffMs: 1000 });
      const info = await waitFor(
        async () => {
          const job = await queue.getJob("doomed", id);
          return job?.state === "failed" ? job : null;
        },
        { timeoutMs: 20_000 },
      );
      expect(calls).toBe(2);
      expect(info.lastError).toContain("push failed with token");
      expect(info.lastError).not.toContain(QUEUE_CANARY);
    });

    it("fails a job at once on PermanentJobError", async () => {
      let calls = 0;
      await queue.work("permanent", { concurrency: 1 }, async () => {
        calls++;
        throw new PermanentJobError("no point retrying");
      });
      const { id } = await queue.enqueue("permanent", {}, { maxAttempts: 5, backoffMs: 1000 });
      await waitFor(async () => (await queue.getJob("permanent", id))?.state === "failed");
      // Give a wrongly scheduled retry time to happen before counting.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(calls).toBe(1);
    });

    it("runs a deferred job again after its delay without spending an attempt, and says since when", async () => {
      const runs: { attempt: number; deferredSince: number | null; at: number }[] = [];
      await queue.work("busy", { concurrency: 1 }, async (job) => {
        runs.push({ attempt: job.attempt, deferredSince: job.deferredSince, at: Date.now() });
        if (runs.length <= 2) throw new DeferJobError(1000, "resource busy");
      });
      const { id } = await queue.enqueue("busy", {}, { maxAttempts: 1 });
      await waitFor(async () => (await queue.getJob("busy", id))?.state === "completed", {
        timeoutMs: 20_000,
      });
      // maxAttempts 1 and three runs: the two deferrals did not count as attempts.
      expect(runs.map((run) => run.attempt)).toEqual([1, 1, 1]);
      const [first, second, third] = runs;
      expect(first?.deferredSince).toBeNull();
      expect(second?.deferredSince).toEqual(expect.any(Number));
      // The first deferral's time is kept, not reset by the second.
      expect(third?.deferredSince).toBe(second?.deferredSince);
      expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(900);
      expect((await queue.getJob("busy", id))?.attempts).toBe(1);
    });

    it("never runs more jobs of a queue at once than its concurrency", async () => {
      let running = 0;
      let maxRunning = 0;
      const gate = deferred();
      await queue.work("limited", { concurrency: 2 }, async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await gate.promise;
        running--;
      });
      const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => queue.enqueue("limited", { i })));
      await waitFor(() => running === 2);
      // Let the worker try to over-claim if it is going to.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(running).toBe(2);
      gate.resolve();
      for (const { id } of ids) {
        await waitFor(async () => (await queue.getJob("limited", id))?.state === "completed");
      }
      expect(maxRunning).toBe(2);
    });

    it("runs again a job whose process died while holding it", async () => {
      const { id } = await queue.enqueue("crashy", { step: "push" }, { maxAttempts: 3 });
      const child = await harness.spawnClaimingChild("crashy");
      expect((await queue.getJob("crashy", id))?.state).toBe("active");
      child.kill("SIGKILL");

      const attempts: number[] = [];
      const survivor = await harness.newQueue();
      await survivor.work("crashy", { concurrency: 1 }, async (job) => {
        attempts.push(job.attempt);
      });
      await waitFor(async () => (await survivor.getJob("crashy", id))?.state === "completed", {
        timeoutMs: 40_000,
        message: "the job held by the killed process was never run again",
      });
      expect(attempts).toEqual([2]);
    }, 60_000);

    it("finishes running jobs on a graceful stop", async () => {
      const started = deferred();
      let finished = 0;
      await queue.work("graceful", { concurrency: 1 }, async () => {
        started.resolve();
        await new Promise((resolve) => setTimeout(resolve, 300));
        finished++;
      });
      const { id } = await queue.enqueue("graceful", {});
      await started.promise;
      await queue.stop({ graceMs: 5000 });
      expect(finished).toBe(1);
      const observer = await harness.newQueue();
      expect((await observer.getJob("graceful", id))?.state).toBe("completed");
    });

    it("releases jobs still running when the grace period ends, without spending an attempt", async () => {
      const started = deferred();
      let abortedWith: unknown = null;
      await queue.work("stuck", { concurrency: 1 }, async (job) => {
        started.resolve();
        await new Promise<void>((resolve) => {
          job.signal.addEventListener("abort", () => {
            abortedWith = job.signal.reason;
            resolve();
          });
        });
      });
      const { id } = await queue.enqueue("stuck", { keep: true }, { maxAttempts: 1 });
      await started.promise;
      await queue.stop({ graceMs: 200 });
      expect(abortedWith).toBeInstanceOf(Error);

      const next = await harness.newQueue();
      const released = await next.getJob("stuck", id);
      expect(released?.state).toBe("queued");
      expect(released?.attempts).toBe(0);
      const payloads: unknown[] = [];
      await next.work("stuck", { concurrency: 1 }, async (job) => {
        payloads.push(job.payload);
      });
      await waitFor(async () => (await next.getJob("stuck", id))?.state === "completed");
      expect(payloads).toEqual([{ keep: true }]);
    });

    it("reports depth per queue and answers ping", async () => {
      await queue.enqueue("depth-a", {});
      await queue.enqueue("depth-a", {});
      await queue.enqueue("depth-b", {}, { delayMs: 60_000 });
      const depth = await queue.depth();
      expect(depth.find((d) => d.queue === "depth-a")).toMatchObject({ queued: 2, active: 0 });
      expect(depth.find((d) => d.queue === "depth-b")).toMatchObject({ queued: 1 });
      await expect(queue.ping()).resolves.toBeUndefined();
    });

    it("refuses malformed queue names", async () => {
      await expect(queue.enqueue("Bad Name", {})).rejects.toThrow(/invalid queue name/);
    });
  });
}
