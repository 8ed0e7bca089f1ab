import { describe } from "vitest";
import { HAS_PG } from "../support/databases.js";
import { jobQueueContract } from "./job-queue.contract.js";

describe.skipIf(!HAS_PG)("pg-boss (PostgreSQL)", () => {
  jobQueueContract("postgres");
});
