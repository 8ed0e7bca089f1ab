import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SecretRedactor } from "../../src/domain/redact.js";
import { createJobQueue, type JobQueueSettings } from "../../src/queue/create-job-queue.js";
import type { JobQueue } from "../../src/queue/job-queue.js";
import { createTestDatabase, type DatabaseKind, type TestDatabase } from "./databases.js";

export const QUEUE_CANARY = "ghp_" + "Q".repeat(36);

export interface QueueHarness {
  kind: DatabaseKind;
  /** A new, started queue instance on the shared database, as another process would have. */
  newQueue(): Promise<JobQueue>;
  /** Starts a child process that claims one job of `queue`, says so on stdout, and hangs. */
  spawnClaimingChild(queue: string): Promise<ChildProcess>;
  cleanup(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));

function settingsFor(testDb: TestDatabase, redactor?: SecretRedactor): JobQueueSettings {
  return {
    // pg-boss's heartbeat lease cannot be shorter than 10 s; the embedded queue's can.
    leaseMs: testDb.kind === "sqlite" ? 1000 : 10_000,
    postgresUrl: testDb.target.kind === "postgres" ? testDb.target.url : undefined,
    superviseIntervalSeconds: 1,
    pollMs: 100,
    redact: redactor ? (text) => redactor.redact(text) : undefined,
  };
}

export async function createQueueHarness(kind: DatabaseKind): Promise<QueueHarness> {
  const testDb = await createTestDatabase(kind);
  const redactor = new SecretRedactor();
  redactor.add(QUEUE_CANARY);
  const queues: JobQueue[] = [];
  const children: ChildProcess[] = [];
  return {
    kind,
    async newQueue() {
      const queue = await createJobQueue(await testDb.open(), settingsFor(testDb, redactor));
      await queue.start();
      queues.push(queue);
      return queue;
    },
    async spawnClaimingChild(queue) {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", path.join(here, "queue-claiming-child.ts"), queue],
        {
          env: { ...process.env, QUEUE_CHILD_TARGET: JSON.stringify(testDb.target) },
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      children.push(child);
      await new Promise<void>((resolve, reject) => {
        let out = "";
        child.stdout?.on("data", (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes("claimed")) resolve();
        });
        child.on("exit", (code) => reject(new Error(`claiming child exited early with ${code}`)));
      });
      return child;
    },
    async cleanup() {
      for (const child of children) child.kill("SIGKILL");
      await Promise.allSettled(queues.map((queue) => queue.stop({ graceMs: 0 })));
      await testDb.cleanup();
    },
  };
}
