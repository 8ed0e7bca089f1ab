/**
 * A process that claims one job and then hangs until it is killed: the "crashed worker" of the
 * queue contract's lease test. Run with `node --import tsx`.
 */
import type { DatabaseTarget } from "../../src/config/config-schema.js";
import { createJobQueue } from "../../src/queue/create-job-queue.js";
import { openDatabase } from "../../src/store/database.js";

const target = JSON.parse(process.env.QUEUE_CHILD_TARGET ?? "") as DatabaseTarget;
const queueName = process.argv[2] ?? "";
const database = await openDatabase(target);
const queue = await createJobQueue(database, {
  leaseMs: target.kind === "sqlite" ? 1000 : 10_000,
  postgresUrl: target.kind === "postgres" ? target.url : undefined,
  superviseIntervalSeconds: 1,
  pollMs: 100,
});
await queue.start();
await queue.work(queueName, { concurrency: 1 }, async (job) => {
  process.stdout.write(`claimed ${job.id}\n`);
  await new Promise(() => undefined);
});
